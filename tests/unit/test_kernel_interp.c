/* Unit tests for kernel/ semantics and lowering through the C API:
 *   - scalar semantics the backends must match (integer division and modulo
 *     signs, division by zero, wrap-around, shifts, NaN in max, saturating
 *     casts, half-to-even rounding, f16 rounding on store), run on loaded
 *     values so nothing is constant-folded;
 *   - text IR lowered and interpreted on edge shapes (an empty batch, an
 *     empty reduction, K = 0 in a GEMM, primes) against hand-computed values;
 *   - the fuse pass through the pipeline API: kernel count and kinds.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir/text.h"
#include "kernel/kernel.h"
#include "passes/passes.h"
#include "support/half.h"

#define OK(expr)                                                   \
  do {                                                             \
    lathe_status_t st_ = (expr);                                   \
    if (st_) fail_msg("%s: %s", #expr, lathe_status_message(st_)); \
  } while (0)

/* out[i] = op(a[i], b[i]) (b unused for unary ops, cast when op < 0) over n
 * elements of `in` dtype, result of `out` dtype. */
static void run_op(int op, lathe_dtype_t in, lathe_dtype_t out, size_t n, const void *a,
                   const void *b, void *result) {
  lathe_kprogram_t *p = lathe_kprogram_create("op");
  lathe_kdim_t dim = lathe_kdim_static((int64_t)n);
  lathe_kbuffer_t *ba = lathe_kprogram_add_buffer(p, "a", in, 1, &dim, LATHE_KBUF_INPUT);
  lathe_kbuffer_t *bb = lathe_kprogram_add_buffer(p, "b", in, 1, &dim, LATHE_KBUF_INPUT);
  lathe_kbuffer_t *y = lathe_kprogram_add_buffer(p, "y", out, 1, &dim, LATHE_KBUF_OUTPUT);
  lathe_kprogram_set_input(p, 0, ba->id);
  lathe_kprogram_set_input(p, 1, bb->id);
  lathe_kprogram_set_output(p, 0, y->id);
  const lathe_kexpr_t *i = lathe_kexpr_iter(p, 0);
  const lathe_kexpr_t *x = lathe_kexpr_load(p, ba, &i), *z = lathe_kexpr_load(p, bb, &i), *v;
  if (op < 0) v = lathe_kexpr_cast(p, out, x);
  else if (lathe_kop_info((lathe_kop_t)op)->arity == 1)
    v = lathe_kexpr_unary(p, (lathe_kop_t)op, x);
  else v = lathe_kexpr_binary(p, (lathe_kop_t)op, x, z);
  lathe_kernel_t *k = lathe_kprogram_add_loops_kernel(p, "k0");
  lathe_kstmt_desc_t d = {
      .num_iters = 1, .extents = &dim, .target = y, .target_index = &i, .value = v};
  assert_non_null(lathe_kernel_add_stmt(p, k, &d));
  OK(lathe_kprogram_finish(p));
  const void *ins[2] = {a, b};
  void *outs[1] = {result};
  OK(lathe_kprogram_run_reference(p, NULL, ins, outs, NULL, NULL));
  lathe_kprogram_destroy(p);
}

static void test_integer_semantics(void **state) {
  const int32_t a[] = {-7, 7, -7, 7, 5, INT32_MIN, 0};
  const int32_t b[] = {2, -2, -2, 0, 0, -1, 3};
  int32_t r[7];
  run_op(LATHE_KOP_DIV, LATHE_DTYPE_I32, LATHE_DTYPE_I32, 7, a, b, r);
  const int32_t div[] = {-3, -3, 3, 0, 0, INT32_MIN, 0}; /* trunc; /0 -> 0; wraps */
  assert_memory_equal(r, div, sizeof r);
  run_op(LATHE_KOP_FLOORDIV, LATHE_DTYPE_I32, LATHE_DTYPE_I32, 7, a, b, r);
  const int32_t fdiv[] = {-4, -4, 3, 0, 0, INT32_MIN, 0};
  assert_memory_equal(r, fdiv, sizeof r);
  run_op(LATHE_KOP_MOD, LATHE_DTYPE_I32, LATHE_DTYPE_I32, 7, a, b, r);
  const int32_t mod[] = {1, -1, -1, 0, 0, 0, 0}; /* sign of the divisor */
  assert_memory_equal(r, mod, sizeof r);
  run_op(LATHE_KOP_FMOD, LATHE_DTYPE_I32, LATHE_DTYPE_I32, 7, a, b, r);
  const int32_t fmod_[] = {-1, 1, -1, 0, 0, 0, 0}; /* sign of the dividend */
  assert_memory_equal(r, fmod_, sizeof r);

  const int8_t c[] = {127, -128, 100}, d[] = {1, -1, 100};
  int8_t s[3];
  run_op(LATHE_KOP_ADD, LATHE_DTYPE_I8, LATHE_DTYPE_I8, 3, c, d, s);
  const int8_t wrapped[] = {-128, 127, -56};
  assert_memory_equal(s, wrapped, sizeof s);

  const int32_t sh[] = {1, -8, 1, -8}, cnt[] = {40, 1, -1, 31};
  run_op(LATHE_KOP_SHL, LATHE_DTYPE_I32, LATHE_DTYPE_I32, 4, sh, cnt, r);
  assert_int_equal(r[0], 0);
  assert_int_equal(r[2], 0);
  run_op(LATHE_KOP_SHR, LATHE_DTYPE_I32, LATHE_DTYPE_I32, 4, sh, cnt, r);
  assert_int_equal(r[1], -4); /* arithmetic */
  assert_int_equal(r[3], -1);
  const uint8_t u[] = {0xF0}, four[] = {4};
  uint8_t ur[1];
  run_op(LATHE_KOP_SHR, LATHE_DTYPE_U8, LATHE_DTYPE_U8, 1, u, four, ur);
  assert_int_equal(ur[0], 0x0F); /* logical */
}

static void test_float_semantics(void **state) {
  const float a[] = {NAN, 1.0f, -0.0f, 2.5f}, b[] = {1.0f, NAN, 0.0f, -2.5f};
  float r[4];
  run_op(LATHE_KOP_MAX, LATHE_DTYPE_F32, LATHE_DTYPE_F32, 4, a, b, r);
  assert_true(isnan(r[0]) && isnan(r[1]));
  assert_float_equal(r[3], 2.5f, 0);
  bool eq[4], ne[4];
  run_op(LATHE_KOP_EQ, LATHE_DTYPE_F32, LATHE_DTYPE_BOOL, 4, a, b, eq);
  run_op(LATHE_KOP_NE, LATHE_DTYPE_F32, LATHE_DTYPE_BOOL, 4, a, b, ne);
  assert_false(eq[0]);
  assert_true(ne[0]);
  assert_true(eq[2]); /* -0 == 0 */
  const float h[] = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 3.5f};
  float rr[6];
  run_op(LATHE_KOP_ROUND, LATHE_DTYPE_F32, LATHE_DTYPE_F32, 6, h, h, rr);
  const float even[] = {0.0f, 2.0f, 2.0f, -0.0f, -2.0f, 4.0f};
  assert_memory_equal(rr, even, sizeof rr);
  float m[4];
  const float x[] = {-7.5f, 7.5f, -7.5f, 1.0f}, y[] = {2.0f, -2.0f, -2.0f, 0.0f};
  run_op(LATHE_KOP_MOD, LATHE_DTYPE_F32, LATHE_DTYPE_F32, 4, x, y, m);
  assert_float_equal(m[0], 0.5f, 0);
  assert_float_equal(m[1], -0.5f, 0);
  assert_float_equal(m[2], -1.5f, 0);
}

static void test_casts(void **state) {
  const float f[] = {300.0f, -1e10f, NAN, -5.7f, 126.9f, INFINITY};
  int8_t i8[6];
  run_op(-1, LATHE_DTYPE_F32, LATHE_DTYPE_I8, 6, f, f, i8);
  const int8_t sat[] = {127, -128, 0, -5, 126, 127};
  assert_memory_equal(i8, sat, sizeof i8);
  uint8_t u8[6];
  run_op(-1, LATHE_DTYPE_F32, LATHE_DTYPE_U8, 6, f, f, u8);
  assert_int_equal(u8[3], 0);
  assert_int_equal(u8[0], 255);
  /* f32 -> f16 rounds on store: 65520 overflows, 1 + 2^-11 ties to even. */
  const float g[] = {65520.0f, 1.0f + 0x1p-11f, 1.0f + 0x1p-10f};
  uint16_t hb[3];
  run_op(-1, LATHE_DTYPE_F32, LATHE_DTYPE_F16, 3, g, g, hb);
  assert_true(isinf(lathe_f16_to_f32(hb[0])));
  assert_float_equal(lathe_f16_to_f32(hb[1]), 1.0f, 0);
  assert_float_equal(lathe_f16_to_f32(hb[2]), 1.0f + 0x1p-10f, 0);
  bool bo[3];
  const int64_t iv[] = {0, -3, 1};
  run_op(-1, LATHE_DTYPE_I64, LATHE_DTYPE_BOOL, 3, iv, iv, bo);
  assert_false(bo[0]);
  assert_true(bo[1] && bo[2]);
}

/* ---- lowering text IR ---- */

typedef struct {
  lathe_module_t *m;
  lathe_kprogram_t *p;
} lowered_t;

static lowered_t lower_text(const char *text, const char *pipeline) {
  lowered_t l = {0};
  OK(lathe_module_parse(text, strlen(text), "test.lir", NULL, &l.m));
  if (pipeline) {
    lathe_pipeline_t *pl = NULL;
    OK(lathe_pipeline_parse(pipeline, &pl));
    OK(lathe_pipeline_run(pl, l.m, NULL));
    lathe_pipeline_destroy(pl);
  }
  OK(lathe_kernel_lower_graph(lathe_module_first_graph(l.m), &l.p));
  return l;
}

static void drop(lowered_t *l) {
  lathe_kprogram_destroy(l->p);
  lathe_module_destroy(l->m);
}

/* Runs a one-input one-output f32 program; returns the output element count. */
static int64_t run1(const lowered_t *l, const int64_t *in_dims, const float *in, float *out) {
  int64_t params[8] = {0}, count;
  const int64_t *dims[1] = {in_dims};
  OK(lathe_kprogram_bind_params(l->p, dims, params));
  OK(lathe_kbuffer_num_elements(l->p->buffers[l->p->outputs[0]], params, &count));
  const void *ins[1] = {in};
  void *outs[1] = {out};
  OK(lathe_kprogram_run_reference(l->p, params, ins, outs, NULL, NULL));
  return count;
}

static const char mlp[] = "graph @mlp(%x: f32[N, 3]) -> (f32[N, 2]) {\n"
                          "  %w = const dense[1.0, 2.0, 3.0, 4.0, 5.0, 6.0] : f32[3, 2]\n"
                          "  %b = const dense[0.5, -100.0] : f32[2]\n"
                          "  %0 = matmul %x, %w : f32[N, 2]\n"
                          "  %1 = add %0, %b : f32[N, 2]\n"
                          "  %2 = relu %1 : f32[N, 2]\n"
                          "  return %2\n"
                          "}\n";

static void test_mlp_edge_batches(void **state) {
  lowered_t l = lower_text(mlp, "fuse");
  assert_int_equal(l.p->num_kernels, 1);
  assert_int_equal(l.p->kernels[0]->kind, LATHE_KERNEL_GEMM);
  for (int64_t n = 0; n <= 7; n += 7) { /* an empty batch, then a prime one */
    float x[21], y[14];
    for (int i = 0; i < 21; ++i) x[i] = (float)(i % 5) - 2.0f;
    int64_t dims[2] = {n, 3};
    assert_int_equal(run1(&l, dims, x, y), 2 * n);
    for (int64_t r = 0; r < n; ++r) {
      float h0 = x[r * 3] * 1 + x[r * 3 + 1] * 3 + x[r * 3 + 2] * 5 + 0.5f;
      assert_float_equal(y[r * 2], h0 > 0 ? h0 : 0, 1e-6);
      assert_float_equal(y[r * 2 + 1], 0.0f, 0); /* -100 bias: relu clamps */
    }
  }
  drop(&l);
}

static void test_empty_reduction_and_k0(void **state) {
  const char text[] = "graph @g(%x: f32[4, 0]) -> (f32[4, 1], f32[4, 5]) {\n"
                      "  %w = const splat(1.0) : f32[0, 5]\n"
                      "  %0 = reduce_sum %x {axes = [1]} : f32[4, 1]\n"
                      "  %1 = matmul %x, %w : f32[4, 5]\n"
                      "  return %0, %1\n"
                      "}\n";
  lowered_t l = lower_text(text, NULL);
  float x[1] = {0}, s[4] = {9, 9, 9, 9}, mm[20];
  memset(mm, 0x7f, sizeof mm);
  int64_t dims[2] = {4, 0}, params[1];
  const int64_t *d[1] = {dims};
  OK(lathe_kprogram_bind_params(l.p, d, params));
  const void *ins[1] = {x};
  void *outs[2] = {s, mm};
  OK(lathe_kprogram_run_reference(l.p, params, ins, outs, NULL, NULL));
  for (int i = 0; i < 4; ++i) assert_float_equal(s[i], 0.0f, 0);
  for (int i = 0; i < 20; ++i) assert_float_equal(mm[i], 0.0f, 0);
  drop(&l);
}

static void test_softmax_rows_sum_to_one(void **state) {
  const char text[] = "graph @g(%x: f32[N, 17]) -> (f32[N, 17]) {\n"
                      "  %0 = softmax %x : f32[N, 17]\n"
                      "  return %0\n"
                      "}\n";
  lowered_t l = lower_text(text, "fuse");
  enum { R = 5 };
  float x[R * 17], y[R * 17];
  for (int i = 0; i < R * 17; ++i) x[i] = (float)((i * 37) % 11) * 10.0f; /* large: needs the max */
  int64_t dims[2] = {R, 17};
  run1(&l, dims, x, y);
  for (int r = 0; r < R; ++r) {
    double sum = 0;
    for (int c = 0; c < 17; ++c) sum += y[r * 17 + c];
    assert_float_equal(sum, 1.0, 1e-5);
  }
  drop(&l);
}

/* A mismatched input shape is an error, not a crash. */
static void test_bad_input_shape(void **state) {
  lowered_t l = lower_text(mlp, NULL);
  int64_t dims[2] = {2, 4}, params[1];
  const int64_t *d[1] = {dims};
  lathe_status_t st = lathe_kprogram_bind_params(l.p, d, params);
  assert_non_null(st);
  lathe_status_free(st);
  drop(&l);
}

static void test_unsupported_is_a_status(void **state) {
  const char text[] = "graph @g(%x: f32[6]) -> (i64[1, ?]) {\n"
                      "  %v = nonzero %x : i64[1, ?]\n"
                      "  return %v\n"
                      "}\n";
  lathe_module_t *m = NULL;
  OK(lathe_module_parse(text, strlen(text), "t.lir", NULL, &m));
  lathe_kprogram_t *p = NULL;
  lathe_status_t st = lathe_kernel_lower_graph(lathe_module_first_graph(m), &p);
  assert_non_null(st);
  assert_int_equal(lathe_status_code(st), LATHE_STATUS_UNSUPPORTED);
  assert_non_null(strstr(lathe_status_message(st), "unsupported op 'nonzero'"));
  assert_null(p);
  lathe_status_free(st);
  lathe_module_destroy(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_integer_semantics),
      cmocka_unit_test(test_float_semantics),
      cmocka_unit_test(test_casts),
      cmocka_unit_test(test_mlp_edge_batches),
      cmocka_unit_test(test_empty_reduction_and_k0),
      cmocka_unit_test(test_softmax_rows_sum_to_one),
      cmocka_unit_test(test_bad_input_shape),
      cmocka_unit_test(test_unsupported_is_a_status),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
