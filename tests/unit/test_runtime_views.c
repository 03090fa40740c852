/* Unit tests for views and derived sizes in runtime/program.c and params.c.
 *
 * The kernel IR turns reshapes into views (the same bytes under another
 * shape) and sizes like N*4 into derived params, so the executor must: point
 * a view at its root's memory, count a use of a view as a use of its root
 * when planning, refuse views whose byte size differs from the root's, and
 * evaluate derived sizes with the integer semantics of kernel/scalar_ops.def
 * (floored div/mod, division by zero gives 0, no traps on hostile values).
 *
 * The program (N from x, M = N*4 derived):
 *   k0_double: t[M]     = xf[M] * 2      (xf: view of x, t: temporary)
 *   k1_inc:    out[N,4] = tv[N,4] + 1    (tv: view of t)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/runtime.h"

enum { B_X, B_XF, B_T, B_TV, B_OUT, NUM_BUFFERS };

static int32_t k0_double(const lathe_rt_kernel_args_t *a) {
  const float *xf = a->buffers[B_XF];
  float *t = a->buffers[B_T];
  for (int64_t i = 0; i < a->params[1]; ++i) t[i] = xf[i] * 2;
  return 0;
}

static int32_t k1_inc(const lathe_rt_kernel_args_t *a) {
  const float *tv = a->buffers[B_TV];
  float *out = a->buffers[B_OUT];
  for (int64_t i = 0; i < a->params[0] * 4; ++i) out[i] = tv[i] + 1;
  return 0;
}

static const lathe_rt_dim_t dims_n4[] = {{0, 0, 0}, {4, -1, 0}};
static const lathe_rt_dim_t dims_m[] = {{0, 1, 0}};
static const lathe_rt_param_op_t n_times_4[] = {{LATHE_RT_PARAM_OP_PARAM, 0, 0},
                                                {LATHE_RT_PARAM_OP_CONST, 0, 4},
                                                {LATHE_RT_PARAM_OP_MUL, 0, 0}};
static const lathe_rt_param_desc_t params[] = {{"N", 0, 0, 0, 0, NULL},
                                               {"M", -1, 0, 3, 0, n_times_4}};
static const lathe_rt_buffer_desc_t buffers[NUM_BUFFERS] = {
    [B_X] = {"x", LATHE_RT_BUFFER_INPUT, 0, LATHE_RT_DTYPE_F32, 2, dims_n4},
    [B_XF] = {"xf", LATHE_RT_BUFFER_VIEW, B_X, LATHE_RT_DTYPE_F32, 1, dims_m},
    [B_T] = {"t", LATHE_RT_BUFFER_TEMP, 0, LATHE_RT_DTYPE_F32, 1, dims_m},
    [B_TV] = {"tv", LATHE_RT_BUFFER_VIEW, B_T, LATHE_RT_DTYPE_F32, 2, dims_n4},
    [B_OUT] = {"out", LATHE_RT_BUFFER_OUTPUT, 0, LATHE_RT_DTYPE_F32, 2, dims_n4},
};
static const int32_t k0_bufs[] = {B_XF, B_T};
static const int32_t k1_bufs[] = {B_TV, B_OUT};
static const lathe_rt_kernel_desc_t kernels[] = {{"k0_double", k0_double, 2, 0, k0_bufs},
                                                 {"k1_inc", k1_inc, 2, 0, k1_bufs}};
static const lathe_rt_program_t program = {
    LATHE_RT_ABI_VERSION, 2, 1, 1, NUM_BUFFERS, 2, 0, 0, params, buffers, kernels,
};

static void test_views_share_their_roots_memory(void **state) {
  assert_null(lathe_rt_program_validate(&program));
  lathe_rt_context_t *ctx;
  assert_null(lathe_rt_context_create(NULL, &ctx));
  for (int64_t n = 0; n < 40; n += 13) {
    float x[40 * 4], out[40 * 4];
    for (int i = 0; i < n * 4; ++i) x[i] = (float)i;
    lathe_rt_tensor_t in, o;
    int64_t d[] = {n, 4};
    assert_null(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 2, d, x, sizeof x, &in));
    assert_null(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 2, d, out, sizeof out, &o));
    assert_null(lathe_rt_program_run(&program, NULL, ctx, &in, 1, &o, 1));
    for (int i = 0; i < n * 4; ++i) assert_float_equal(out[i], 2.0f * (float)i + 1, 0);
  }
  /* t is the only storage: the views cost nothing, and t lives across
   * both kernels through its view. */
  int64_t bound[2] = {3, 12};
  uint64_t offsets[NUM_BUFFERS], peak;
  assert_null(lathe_rt_program_plan(&program, bound, offsets, &peak));
  assert_int_equal(peak, 64);
  lathe_rt_context_destroy(ctx);
}

static void expect_invalid(const lathe_rt_program_t *p, const char *want) {
  lathe_status_t s = lathe_rt_program_validate(p);
  if (!s) fail_msg("expected invalid: %s", want);
  if (!strstr(lathe_status_message(s), want))
    fail_msg("got '%s'\nwant it to contain '%s'", lathe_status_message(s), want);
  lathe_status_free(s);
}

static void test_bad_views(void **state) {
  lathe_rt_buffer_desc_t bufs[NUM_BUFFERS];
  lathe_rt_program_t p = program;
  p.buffers = bufs;
  const struct {
    int32_t index, dtype;
    const char *want;
  } cases[] = {
      {NUM_BUFFERS, LATHE_RT_DTYPE_F32, "views an unknown buffer"},
      {-1, LATHE_RT_DTYPE_F32, "views an unknown buffer"},
      {B_TV, LATHE_RT_DTYPE_F32, "views an unknown buffer"}, /* itself */
      {B_XF, LATHE_RT_DTYPE_F32, "views a view"},
      {B_T, LATHE_RT_DTYPE_I32, "differs from its root in dtype"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    memcpy(bufs, buffers, sizeof bufs);
    bufs[B_TV].index = cases[i].index;
    bufs[B_TV].dtype = cases[i].dtype;
    expect_invalid(&p, cases[i].want);
  }
  /* A view whose size differs from its root's under the binding is caught
   * at run time, before any kernel runs. */
  memcpy(bufs, buffers, sizeof bufs);
  static const lathe_rt_dim_t dims_5[] = {{5, -1, 0}};
  bufs[B_XF].dims = dims_5;
  lathe_rt_context_t *ctx;
  assert_null(lathe_rt_context_create(NULL, &ctx));
  float x[8] = {0}, out[8];
  int64_t d[] = {2, 4};
  lathe_rt_tensor_t in, o;
  assert_null(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 2, d, x, sizeof x, &in));
  assert_null(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 2, d, out, sizeof out, &o));
  lathe_status_t s = lathe_rt_program_run(&p, NULL, ctx, &in, 1, &o, 1);
  assert_non_null(s);
  assert_int_equal(lathe_status_code(s), LATHE_STATUS_INTERNAL);
  assert_string_equal(lathe_status_message(s), "view 'xf' has 20 bytes but its root 'x' has 32");
  lathe_status_free(s);
  lathe_rt_context_destroy(ctx);
}

/* ---- derived sizes ---- */

/* A one-input program whose params are N (from x dim 0) and one derived
 * size computed by `ops`; returns the status of binding x = f32[n]. */
static lathe_status_t derive(const lathe_rt_param_op_t *ops, int32_t num_ops, int64_t n,
                             int64_t *out_value) {
  static const lathe_rt_dim_t dims[] = {{0, 0, 0}};
  const lathe_rt_param_desc_t ps[] = {{"N", 0, 0, 0, 0, NULL}, {"D", -1, 0, num_ops, 0, ops}};
  const lathe_rt_buffer_desc_t bs[] = {
      {"x", LATHE_RT_BUFFER_INPUT, 0, LATHE_RT_DTYPE_U8, 1, dims},
      {"y", LATHE_RT_BUFFER_OUTPUT, 0, LATHE_RT_DTYPE_U8, 1, dims}};
  const lathe_rt_program_t p = {LATHE_RT_ABI_VERSION, 2, 1, 1, 2, 0, 0, 0, ps, bs, NULL};
  lathe_rt_tensor_t in;
  assert_null(lathe_rt_tensor_init(LATHE_RT_DTYPE_U8, 1, &n, NULL, 0, &in));
  in.data = (void *)ps; /* any readable address; nothing reads it */
  in.byte_size = (uint64_t)n;
  int64_t values[2];
  LATHE_RETURN_IF_ERROR(lathe_rt_program_bind(&p, &in, 1, values));
  assert_int_equal(values[0], n);
  *out_value = values[1];
  return NULL;
}

#define OP(o, v) \
  { LATHE_RT_PARAM_OP_##o, 0, v }

static void test_derived_semantics(void **state) {
  /* (N - 7) op c for N = 2 (so a = -5) and several divisors. */
  const struct {
    int32_t op;
    int64_t c, want;
  } cases[] = {
      {LATHE_RT_PARAM_OP_DIV, 2, -2},      {LATHE_RT_PARAM_OP_FLOORDIV, 2, -3},
      {LATHE_RT_PARAM_OP_MOD, 3, 1},       {LATHE_RT_PARAM_OP_MOD, -3, -2},
      {LATHE_RT_PARAM_OP_FLOORDIV, -2, 2}, {LATHE_RT_PARAM_OP_DIV, 0, 0},
      {LATHE_RT_PARAM_OP_MOD, 0, 0},       {LATHE_RT_PARAM_OP_MAX, 9, 9},
      {LATHE_RT_PARAM_OP_MIN, 9, -5},      {LATHE_RT_PARAM_OP_SUB, -6, 1},
      {LATHE_RT_PARAM_OP_ADD, 5, 0},       {LATHE_RT_PARAM_OP_MUL, -1, 5},
      {LATHE_RT_PARAM_OP_DIV, -1, 5},      {LATHE_RT_PARAM_OP_MOD, -1, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    lathe_rt_param_op_t ops[] = {
        OP(PARAM, 0), OP(CONST, 7), OP(SUB, 0), OP(CONST, cases[i].c), {cases[i].op, 0, 0}};
    int64_t v = -99;
    lathe_status_t s = derive(ops, 5, 2, &v);
    if (cases[i].want < 0) {
      /* Negative sizes are refused. */
      assert_non_null(s);
      assert_non_null(
          strstr(lathe_status_message(s), "size 'D' derived from the inputs' dims is negative"));
      lathe_status_free(s);
    } else {
      assert_null(s);
      if (v != cases[i].want)
        fail_msg("case %zu: got %lld, want %lld", i, (long long)v, (long long)cases[i].want);
    }
  }
  /* abs and neg, and no trap on INT64_MIN / -1 or overflowing products. */
  lathe_rt_param_op_t absneg[] = {OP(PARAM, 0), OP(NEG, 0), OP(ABS, 0)};
  int64_t v;
  assert_null(derive(absneg, 3, 6, &v));
  assert_int_equal(v, 6);
  lathe_rt_param_op_t minmin[] = {OP(CONST, INT64_MIN), OP(CONST, -1), OP(DIV, 0),
                                  OP(ABS, 0),           OP(CONST, 1),  OP(MAX, 0)};
  assert_null(derive(minmin, 6, 1, &v));
  assert_int_equal(v, 1); /* wraps to INT64_MIN, stays negative under abs, max with 1 */
  lathe_rt_param_op_t huge[] = {OP(PARAM, 0), OP(CONST, INT64_MAX), OP(MUL, 0), OP(ABS, 0)};
  assert_null(derive(huge, 4, 3, &v)); /* wraps, never traps */
  assert_int_equal(v, INT64_MAX - 2);
}

static void test_bad_derived_programs(void **state) {
  const struct {
    lathe_rt_param_op_t ops[4];
    int32_t n;
    const char *want;
  } cases[] = {
      {{OP(CONST, 1), OP(ADD, 0)}, 2, "op 1 underflows the stack"},
      {{OP(CONST, 1), OP(CONST, 2)}, 2, "ops leave 2 values, not 1"},
      {{OP(PARAM, 1)}, 1, "op 0 reads a param that is not an earlier one"},
      {{OP(PARAM, -1)}, 1, "reads a param that is not an earlier one"},
      {{{99, 0, 0}}, 1, "op 0 is unknown"},
      {{{0, 0, 0}}, 1, "op 0 is unknown"},
      {{OP(CONST, 1)}, 0, "derived but has no ops"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    int64_t v;
    lathe_status_t s = derive(cases[i].ops, cases[i].n, 1, &v);
    assert_non_null(s);
    if (!strstr(lathe_status_message(s), cases[i].want))
      fail_msg("got '%s', want '%s'", lathe_status_message(s), cases[i].want);
    lathe_status_free(s);
  }
  lathe_rt_param_op_t deep[LATHE_RT_MAX_PARAM_STACK + 1];
  for (int i = 0; i <= LATHE_RT_MAX_PARAM_STACK; ++i) deep[i] = (lathe_rt_param_op_t)OP(CONST, 1);
  int64_t v;
  lathe_status_t s = derive(deep, LATHE_RT_MAX_PARAM_STACK + 1, 1, &v);
  assert_non_null(s);
  assert_non_null(strstr(lathe_status_message(s), "overflows the stack"));
  lathe_status_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_views_share_their_roots_memory),
      cmocka_unit_test(test_bad_views),
      cmocka_unit_test(test_derived_semantics),
      cmocka_unit_test(test_bad_derived_programs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
