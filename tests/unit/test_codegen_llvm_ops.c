/* The LLVM backend's scalar op table and casts against the interpreter, op
 * by op and dtype by dtype, on the values where semantics are easy to get
 * wrong: 0 and -0, +-1, NaN and infinities, huge values, the minimum and
 * maximum of each integer type (INT_MIN / -1), shift counts past the width,
 * negative divisors, ties for rounding. One program per dtype holds one
 * kernel per op (one compile per dtype), each writing its own output.
 *
 * Integers and bools must match exactly. Floats: f32 within 4e-6 relative
 * (f32 libm against the interpreter's f64, one rounding), f64 within 1e-12,
 * f16/bf16 within one unit in the last place of the result type.
 */
#include "codegen_llvm_harness.h"

#define N 32

static const lathe_dtype_t ALL[] = {
    LATHE_DTYPE_F32, LATHE_DTYPE_F64, LATHE_DTYPE_F16,  LATHE_DTYPE_BF16, LATHE_DTYPE_I8,
    LATHE_DTYPE_U8,  LATHE_DTYPE_I16, LATHE_DTYPE_U16,  LATHE_DTYPE_I32,  LATHE_DTYPE_U32,
    LATHE_DTYPE_I64, LATHE_DTYPE_U64, LATHE_DTYPE_BOOL, LATHE_DTYPE_I4,   LATHE_DTYPE_U4};
#define NUM_ALL (sizeof ALL / sizeof ALL[0])

static bool accepts(lathe_kop_operands_t cls, lathe_dtype_t t) {
  bool fl = lathe_dtype_is_float(t), in = lathe_dtype_is_integer(t);
  switch (cls) {
  case LATHE_KOPD_NUM: return fl || in;
  case LATHE_KOPD_FLOAT: return fl;
  case LATHE_KOPD_INT: return in;
  case LATHE_KOPD_LOGIC: return in || t == LATHE_DTYPE_BOOL;
  case LATHE_KOPD_ANY: return true;
  }
  return false;
}

/* Interesting values, as doubles (floats) or int64 (ints, wrapped by the
 * store). a and b pair them up in different orders. */
static const double FVALS[N] = {0.0,  -0.0, 1.0,   -1.0,     0.5,       -2.5, 3.7,   1e-3,
                                100,  -100, NAN,   INFINITY, -INFINITY, 1e30, 2.5,   0.49,
                                -0.5, 1.5,  -1.5,  0.75,     7.0,       -7.0, 0.1,   6.25,
                                -3.3, 2.0,  -1e-3, 31,       -0.25,     64.0, 1e-30, -6.0};
static const int64_t IVALS[N] = {0,
                                 1,
                                 -1,
                                 2,
                                 -2,
                                 7,
                                 -8,
                                 INT64_MIN,
                                 INT64_MAX,
                                 3,
                                 5,
                                 31,
                                 32,
                                 63,
                                 64,
                                 100,
                                 -100,
                                 127,
                                 -128,
                                 255,
                                 256,
                                 65535,
                                 -32768,
                                 2147483647,
                                 -2147483647 - 1,
                                 4294967295LL,
                                 9,
                                 -9,
                                 15,
                                 16,
                                 4,
                                 6};

/* Writes value i of the list (for operand `which`) into element e of a
 * buffer of dtype t, wrapping/rounding like a store. */
static void put(lathe_dtype_t t, void *data, int e, int i) {
  uint8_t *p = data;
  double f = FVALS[i];
  int64_t v = IVALS[i];
  switch (t) {
  case LATHE_DTYPE_F32: ((float *)data)[e] = (float)f; break;
  case LATHE_DTYPE_F64: ((double *)data)[e] = f; break;
  case LATHE_DTYPE_F16: ((uint16_t *)data)[e] = lathe_f32_to_f16((float)f); break;
  case LATHE_DTYPE_BF16: ((uint16_t *)data)[e] = lathe_f32_to_bf16((float)f); break;
  case LATHE_DTYPE_BOOL: p[e] = (uint8_t)(v & 1); break;
  case LATHE_DTYPE_I4:
  case LATHE_DTYPE_U4:
    p[e / 2] = (uint8_t)((p[e / 2] & ~(0xf << (4 * (e & 1)))) | ((v & 0xf) << (4 * (e & 1))));
    break;
  default: memcpy(p + (size_t)e * lathe_dtype_bits(t) / 8, &v, lathe_dtype_bits(t) / 8); break;
  }
}

static void *make_input(lathe_dtype_t t, int shift) {
  void *d = calloc(N * 8, 1);
  for (int e = 0; e < N; ++e) put(t, d, e, (e * (shift ? 7 : 1) + shift) % N);
  return d;
}

static harness_opts_t tol_for(lathe_dtype_t t) {
  switch (t) {
  case LATHE_DTYPE_F32: return (harness_opts_t){.rel_tol = 4e-6, .abs_tol = 1e-7};
  case LATHE_DTYPE_F64: return (harness_opts_t){.rel_tol = 1e-12, .abs_tol = 1e-15};
  case LATHE_DTYPE_F16: return (harness_opts_t){.rel_tol = 1.0 / 1024, .abs_tol = 1e-7};
  case LATHE_DTYPE_BF16: return (harness_opts_t){.rel_tol = 1.0 / 128, .abs_tol = 1e-7};
  default: return (harness_opts_t){0};
  }
}

static void run_dtype_program(lathe_kprogram_t *p, lathe_dtype_t t) {
  OK(lathe_kprogram_finish(p));
  void *a = make_input(t, 0), *b = make_input(t, 3);
  int64_t dims[1] = {N};
  const int64_t *d[2] = {dims, dims};
  const void *ins[2] = {a, b};
  harness_opts_t o = tol_for(t);
  harness_check(p, d, ins, 1, &o);
  free(a), free(b);
}

/* One program per dtype: y_op[i] = op(a[i][, b[i]]) for every op that takes it. */
static void test_ops(void **state) {
  for (size_t ti = 0; ti < NUM_ALL; ++ti) {
    lathe_dtype_t t = ALL[ti];
    lathe_kprogram_t *p = lathe_kprogram_create("ops");
    lathe_kdim_t n = lathe_kdim_static(N);
    lathe_kbuffer_t *a = lathe_kprogram_add_buffer(p, "a", t, 1, &n, LATHE_KBUF_INPUT);
    lathe_kbuffer_t *b = lathe_kprogram_add_buffer(p, "b", t, 1, &n, LATHE_KBUF_INPUT);
    lathe_kprogram_set_input(p, 0, a->id);
    lathe_kprogram_set_input(p, 1, b->id);
    const lathe_kexpr_t *i = lathe_kexpr_iter(p, 0);
    uint32_t outs = 0;
    for (int op = 0; op < LATHE_KOP_COUNT; ++op) {
      const lathe_kop_info_t *info = lathe_kop_info((lathe_kop_t)op);
      if (!accepts(info->operands, t)) continue;
      lathe_dtype_t rt = info->result == LATHE_KRES_BOOL ? LATHE_DTYPE_BOOL : t;
      lathe_kbuffer_t *y = lathe_kprogram_add_buffer(p, info->name, rt, 1, &n, LATHE_KBUF_OUTPUT);
      lathe_kprogram_set_output(p, outs++, y->id);
      const lathe_kexpr_t *x = lathe_kexpr_load(p, a, &i), *v;
      if (info->arity == 1) v = lathe_kexpr_unary(p, (lathe_kop_t)op, x);
      else v = lathe_kexpr_binary(p, (lathe_kop_t)op, x, lathe_kexpr_load(p, b, &i));
      char name[64];
      snprintf(name, sizeof name, "k_%s", info->name);
      lathe_kernel_t *k = lathe_kprogram_add_loops_kernel(p, name);
      lathe_kstmt_desc_t s = {
          .num_iters = 1, .extents = &n, .target = y, .target_index = &i, .value = v};
      assert_non_null(lathe_kernel_add_stmt(p, k, &s));
    }
    run_dtype_program(p, t);
    lathe_kprogram_destroy(p);
  }
}

/* One program per source dtype: y_to[i] = cast<to>(a[i]) for every dtype. */
static void test_casts(void **state) {
  for (size_t fi = 0; fi < NUM_ALL; ++fi) {
    lathe_dtype_t from = ALL[fi];
    lathe_kprogram_t *p = lathe_kprogram_create("casts");
    lathe_kdim_t n = lathe_kdim_static(N);
    lathe_kbuffer_t *a = lathe_kprogram_add_buffer(p, "a", from, 1, &n, LATHE_KBUF_INPUT);
    lathe_kbuffer_t *b = lathe_kprogram_add_buffer(p, "b", from, 1, &n, LATHE_KBUF_INPUT);
    lathe_kprogram_set_input(p, 0, a->id);
    lathe_kprogram_set_input(p, 1, b->id);
    const lathe_kexpr_t *i = lathe_kexpr_iter(p, 0);
    for (size_t ti = 0; ti < NUM_ALL; ++ti) {
      lathe_kbuffer_t *y = lathe_kprogram_add_buffer(p, lathe_dtype_name(ALL[ti]), ALL[ti], 1, &n,
                                                     LATHE_KBUF_OUTPUT);
      lathe_kprogram_set_output(p, (uint32_t)ti, y->id);
      lathe_kernel_t *k = lathe_kprogram_add_loops_kernel(p, "k_cast");
      lathe_kstmt_desc_t s = {.num_iters = 1,
                              .extents = &n,
                              .target = y,
                              .target_index = &i,
                              .value = lathe_kexpr_cast(p, ALL[ti], lathe_kexpr_load(p, a, &i))};
      assert_non_null(lathe_kernel_add_stmt(p, k, &s));
    }
    /* Outputs have many dtypes: the tolerance of the widest float is not
     * enough for f16, so compare at the narrowest float's. */
    run_dtype_program(p, LATHE_DTYPE_BF16);
    lathe_kprogram_destroy(p);
  }
}

/* exp, tanh, erf and sigmoid on f32 are polynomials (codegen/llvm/vmath.c):
 * dense sweeps over their whole range, overflow, gradual underflow and the
 * branch points included, against the interpreter's f64 libm. */
static void test_f32_math_dense(void **state) {
  enum { M = 40001 };
  static const lathe_kop_t ops[] = {LATHE_KOP_EXP, LATHE_KOP_TANH, LATHE_KOP_ERF,
                                    LATHE_KOP_SIGMOID};
  lathe_kprogram_t *p = lathe_kprogram_create("math");
  lathe_kdim_t n = lathe_kdim_static(M);
  lathe_kbuffer_t *a = lathe_kprogram_add_buffer(p, "a", LATHE_DTYPE_F32, 1, &n, LATHE_KBUF_INPUT);
  lathe_kprogram_set_input(p, 0, a->id);
  const lathe_kexpr_t *i = lathe_kexpr_iter(p, 0);
  for (uint32_t k = 0; k < 4; ++k) {
    lathe_kbuffer_t *y = lathe_kprogram_add_buffer(p, lathe_kop_info(ops[k])->name, LATHE_DTYPE_F32,
                                                   1, &n, LATHE_KBUF_OUTPUT);
    lathe_kprogram_set_output(p, k, y->id);
    lathe_kernel_t *kern = lathe_kprogram_add_loops_kernel(p, "k_math");
    lathe_kstmt_desc_t s = {.num_iters = 1,
                            .extents = &n,
                            .target = y,
                            .target_index = &i,
                            .value = lathe_kexpr_unary(p, ops[k], lathe_kexpr_load(p, a, &i))};
    assert_non_null(lathe_kernel_add_stmt(p, kern, &s));
  }
  OK(lathe_kprogram_finish(p));
  float *x = malloc(M * sizeof(float));
  for (int e = 0; e < M; ++e) /* half the points over [-110, 110], half over [-4.5, 4.5] */
    x[e] = e < M / 2 ? -110.0f + 220.0f * (float)e / (M / 2)
                     : -4.5f + 9.0f * (float)(e - M / 2) / (M / 2);
  int64_t dims[1] = {M};
  const int64_t *d[1] = {dims};
  const void *ins[1] = {x};
  /* 2 ulp; near underflow a few denormal steps (sigmoid(-103) is 1 / (1 + inf) = 0
   * in f32, 4e-45 in the f64 reference) */
  harness_opts_t o = {.rel_tol = 4e-7, .abs_tol = 1e-44};
  double worst = harness_check(p, d, ins, 2, &o);
  (void)worst;
  free(x);
  lathe_kprogram_destroy(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ops),
      cmocka_unit_test(test_casts),
      cmocka_unit_test(test_f32_math_dense),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
