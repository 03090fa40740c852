/* codegen/cuda's GEMM kernels, emulated, against the interpreter, on the
 * cases text graphs reach awkwardly: every transpose combination, batch
 * broadcasting of either operand, M/N/K of 0, 1, primes and non-multiples
 * of the 64x64x16 tile, a symbolic M, a fused epilogue reading a weight, and
 * operand dtypes f32, f16 and bf16 (tensor cores: the check asserts WMMA
 * ran), f64 and i8 (i32 accumulation, exact).
 * Tolerance: f32 1e-5 relative plus 2e-6 per K step absolute (sums
 * reassociated); 16-bit outputs one rounding more (2^-9, 2^-6).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "support/half.h"
#include "tests/cuda_emu/emu_program.h"

#define OK(expr)                                                    \
  do {                                                              \
    lathe_status_t st_ = (expr);                                    \
    if (st_) fail_msg("%s: %s", #expr, lathe_status_message(st_)); \
  } while (0)

typedef struct gcase {
  int64_t batch, m, n, k;
  bool ta, tb, bcast_a, bcast_b, symbolic_m;
  lathe_dtype_t in, out, acc;
} gcase_t;

static lathe_kprogram_t *build(const gcase_t *c, lathe_weight_t *bias_w) {
  lathe_kprogram_t *p = lathe_kprogram_create("gemm");
  lathe_kdim_t m = lathe_kdim_static(c->m);
  if (c->symbolic_m) m = lathe_kdim_param((int32_t)lathe_kprogram_add_input_param(p, "M", 0, 1));
  lathe_kdim_t bd = lathe_kdim_static(c->batch), kd = lathe_kdim_static(c->k), nd = lathe_kdim_static(c->n);
  lathe_kdim_t ad[3] = {c->bcast_a ? lathe_kdim_static(1) : bd, c->ta ? kd : m, c->ta ? m : kd};
  lathe_kdim_t bdims[3] = {c->bcast_b ? lathe_kdim_static(1) : bd, c->tb ? nd : kd, c->tb ? kd : nd};
  lathe_kdim_t cd[3] = {bd, m, nd};
  lathe_kbuffer_t *a = lathe_kprogram_add_buffer(p, "a", c->in, 3, ad, LATHE_KBUF_INPUT);
  lathe_kbuffer_t *b = lathe_kprogram_add_buffer(p, "b", c->in, 3, bdims, LATHE_KBUF_INPUT);
  lathe_kbuffer_t *bias = lathe_kprogram_add_buffer(p, "bias", c->out, 1, &nd, LATHE_KBUF_CONST);
  bias->weight = bias_w;
  lathe_kbuffer_t *out = lathe_kprogram_add_buffer(p, "c", c->out, 3, cd, LATHE_KBUF_OUTPUT);
  lathe_kprogram_set_input(p, 0, a->id);
  lathe_kprogram_set_input(p, 1, b->id);
  lathe_kprogram_set_output(p, 0, out->id);
  lathe_kgemm_t g = {.a = {a->id, c->ta, c->bcast_a}, .b = {b->id, c->tb, c->bcast_b}, .c = out->id,
                     .batch = bd, .m = m, .n = nd, .k = kd, .acc_dtype = c->acc};
  /* relu(cast(acc) + bias[n]) */
  const lathe_kexpr_t *in = lathe_kexpr_iter(p, 2);
  const lathe_kexpr_t *v = lathe_kexpr_binary(p, LATHE_KOP_ADD, lathe_kexpr_cast(p, c->out, lathe_kexpr_acc(p, c->acc)),
                                              lathe_kexpr_load(p, bias, &in));
  const lathe_kexpr_t *zero = lathe_dtype_is_float(c->out) ? lathe_kexpr_float(p, c->out, 0)
                                                           : lathe_kexpr_int(p, c->out, 0);
  g.epilogue = lathe_kexpr_binary(p, LATHE_KOP_MAX, v, zero);
  assert_non_null(lathe_kprogram_add_gemm_kernel(p, "k0_matmul", &g));
  OK(lathe_kprogram_finish(p));
  return p;
}

/* n values of dtype t in [-1, 1) (i8: -3..3). */
static void *make_data(lathe_dtype_t t, int64_t n, uint32_t seed) {
  size_t count = (size_t)(n > 0 ? n : 0);
  uint8_t *out = calloc(count * 8 + 8, 1);
  uint32_t s = seed * 2654435761u + 1;
  for (size_t i = 0; i < count; ++i) {
    s = s * 1664525u + 1013904223u;
    float f = -1.0f + 2.0f * (float)(s >> 8) / (float)(1u << 24);
    switch (t) {
    case LATHE_DTYPE_F32: ((float *)out)[i] = f; break;
    case LATHE_DTYPE_F64: ((double *)out)[i] = f; break;
    case LATHE_DTYPE_F16: ((uint16_t *)out)[i] = lathe_f32_to_f16(f); break;
    case LATHE_DTYPE_BF16: ((uint16_t *)out)[i] = lathe_f32_to_bf16(f); break;
    case LATHE_DTYPE_I8: ((int8_t *)out)[i] = (int8_t)lrintf(f * 3); break;
    case LATHE_DTYPE_I32: ((int32_t *)out)[i] = (int32_t)lrintf(f * 3); break;
    default: fail_msg("make_data: dtype %d", (int)t);
    }
  }
  return out;
}

static void run_case(const gcase_t *c) {
  int64_t na = (c->bcast_a ? 1 : c->batch) * c->m * c->k, nb = (c->bcast_b ? 1 : c->batch) * c->k * c->n;
  void *a = make_data(c->in, na, 11), *b = make_data(c->in, nb, 12), *bias = make_data(c->out, c->n, 14);
  lathe_weight_t w = {.kind = LATHE_WEIGHT_INLINE, .dtype = c->out,
                      .num_bytes = (uint64_t)c->n * lathe_dtype_bits(c->out) / 8, .data = bias};
  lathe_kprogram_t *p = build(c, &w);
  int64_t da[3] = {c->bcast_a ? 1 : c->batch, c->ta ? c->k : c->m, c->ta ? c->m : c->k};
  int64_t db[3] = {c->bcast_b ? 1 : c->batch, c->tb ? c->n : c->k, c->tb ? c->k : c->n};
  const int64_t *dims[2] = {da, db};
  const void *ins[2] = {a, b};
  lathe_emu_check_opts_t o = {.rel_tol = 1e-5, .abs_tol = 2e-6 * (double)(c->k + 1)};
  if (c->out == LATHE_DTYPE_F16) o.rel_tol = 1.0 / 512, o.abs_tol = 1.0 / 256;
  if (c->out == LATHE_DTYPE_BF16) o.rel_tol = 1.0 / 64, o.abs_tol = 1.0 / 32;
  if (!lathe_dtype_is_float(c->out)) o.rel_tol = o.abs_tol = 0;
  lathe_emu_check_report_t r;
  lathe_status_t st = lathe_emu_check_program(p, dims, ins, &o, &r);
  if (st)
    fail_msg("batch %lld m %lld n %lld k %lld ta %d tb %d: %s", (long long)c->batch, (long long)c->m,
             (long long)c->n, (long long)c->k, c->ta, c->tb, lathe_status_message(st));
  bool sixteen = c->in == LATHE_DTYPE_F16 || c->in == LATHE_DTYPE_BF16;
  if (sixteen && c->acc == LATHE_DTYPE_F32) assert_true(r.uses_wmma);
  lathe_kprogram_destroy(p);
  free(a), free(b), free(bias);
}

static gcase_t f32_case(int64_t batch, int64_t m, int64_t n, int64_t k) {
  return (gcase_t){.batch = batch, .m = m, .n = n, .k = k, .in = LATHE_DTYPE_F32,
                   .out = LATHE_DTYPE_F32, .acc = LATHE_DTYPE_F32};
}

static void test_shapes(void **state) {
  (void)state;
  static const int64_t shapes[][4] = {{1, 1, 1, 1},   {1, 7, 13, 5},  {2, 64, 64, 16}, {1, 67, 131, 37},
                                      {1, 0, 4, 4},   {1, 4, 5, 0},   {0, 4, 4, 4},    {1, 65, 1, 17}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
    gcase_t c = f32_case(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3]);
    run_case(&c);
  }
}

static void test_transposes_and_broadcast(void **state) {
  (void)state;
  for (int t = 0; t < 6; ++t) { /* the four transposes, then each broadcast */
    gcase_t c = f32_case(3, 19, 23, 29);
    c.ta = t & 1, c.tb = (t >> 1) & 1, c.bcast_a = t == 4, c.bcast_b = t == 5;
    run_case(&c);
  }
  gcase_t c = f32_case(1, 70, 9, 33);
  c.symbolic_m = true;
  run_case(&c);
}

static void test_dtypes(void **state) {
  (void)state;
  static const struct {
    lathe_dtype_t in, out, acc;
  } types[] = {{LATHE_DTYPE_F16, LATHE_DTYPE_F16, LATHE_DTYPE_F32},
               {LATHE_DTYPE_BF16, LATHE_DTYPE_BF16, LATHE_DTYPE_F32},
               {LATHE_DTYPE_F16, LATHE_DTYPE_F32, LATHE_DTYPE_F32},
               {LATHE_DTYPE_F64, LATHE_DTYPE_F64, LATHE_DTYPE_F64},
               {LATHE_DTYPE_I8, LATHE_DTYPE_I32, LATHE_DTYPE_I32}};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; ++i) {
    gcase_t c = {.batch = 2, .m = 33, .n = 70, .k = 45, .tb = i % 2, .in = types[i].in,
                 .out = types[i].out, .acc = types[i].acc};
    run_case(&c);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shapes),
      cmocka_unit_test(test_transposes_and_broadcast),
      cmocka_unit_test(test_dtypes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
