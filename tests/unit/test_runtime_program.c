/* Unit tests for runtime/program.c: the program executor and the kernel ABI.
 *
 * The kernels here are hand-written C following the ABI in
 * include/lathe/runtime.h exactly as a backend would emit them: buffers by
 * program-wide id, sizes from args->params, loops through rt->parallel_for.
 * The program (N is symbolic):
 *
 *   k0_mul:    t0[N, 4] = x[N, 4] * w'[4]         (w: constant, weight 0; w' its
 *                                                  copy through rt->derived, as a
 *                                                  GEMM packs its weight once)
 *   k1_sum:    t1[N]    = sum_j t0[i, j]
 *   k2_gather: out[N]   = t1[idx[i]]               (idx out of range -> error code)
 *
 * Checked: results at several N (the arena grows), the plan's peak, one
 * program run from several threads at once with their own contexts (the
 * derived copy of w made once per weights table and shared), every
 * run-time input error naming the input with expected vs given types, and
 * malformed program descriptions rejected by validation.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/runtime.h"

enum { B_X, B_W, B_T0, B_T1, B_OUT, B_IDX, B_UNUSED, NUM_BUFFERS };

typedef struct {
  const lathe_rt_kernel_args_t *a;
  int32_t error;
  const float *w; /* k0: the derived copy of the weight */
} closure_t;

static atomic_int fills; /* calls of copy_weight */

static void copy_weight(void *c, void *block) {
  atomic_fetch_add(&fills, 1);
  memcpy(block, ((closure_t *)c)->a->buffers[B_W], 4 * sizeof(float));
}

static void mul_rows(void *c, int64_t b, int64_t e) {
  const lathe_rt_kernel_args_t *a = ((closure_t *)c)->a;
  const float *x = a->buffers[B_X], *w = ((closure_t *)c)->w;
  float *t0 = a->buffers[B_T0];
  for (int64_t i = b; i < e; ++i)
    for (int j = 0; j < 4; ++j) t0[i * 4 + j] = x[i * 4 + j] * w[j];
}

static int32_t k0_mul(const lathe_rt_kernel_args_t *a) {
  closure_t c = {a, 0, NULL};
  c.w = a->rt->derived(a->ctx, 0, a->buffers[B_W], 4 * sizeof(float), copy_weight, &c);
  if (!c.w) return LATHE_RT_KERNEL_OUT_OF_MEMORY;
  a->rt->parallel_for(a->ctx, 0, a->params[0], 8, mul_rows, &c);
  return c.error;
}

static void sum_rows(void *c, int64_t b, int64_t e) {
  const lathe_rt_kernel_args_t *a = ((closure_t *)c)->a;
  const float *t0 = a->buffers[B_T0];
  float *t1 = a->buffers[B_T1];
  for (int64_t i = b; i < e; ++i) t1[i] = t0[i * 4] + t0[i * 4 + 1] + t0[i * 4 + 2] + t0[i * 4 + 3];
}

static int32_t k1_sum(const lathe_rt_kernel_args_t *a) {
  closure_t c = {a, 0, NULL};
  a->rt->parallel_for(a->ctx, 0, a->params[0], 1, sum_rows, &c);
  return c.error;
}

static int32_t k2_gather(const lathe_rt_kernel_args_t *a) {
  const float *t1 = a->buffers[B_T1];
  const int64_t *idx = a->buffers[B_IDX];
  float *out = a->buffers[B_OUT];
  int64_t n = a->params[0];
  for (int64_t i = 0; i < n; ++i) {
    if (idx[i] < 0 || idx[i] >= n) return LATHE_RT_KERNEL_INDEX_OUT_OF_RANGE;
    out[i] = t1[idx[i]];
  }
  return LATHE_RT_KERNEL_OK;
}

static const lathe_rt_dim_t dims_n4[] = {{0, 0, 0}, {4, -1, 0}};
static const lathe_rt_dim_t dims_n[] = {{0, 0, 0}};
static const lathe_rt_dim_t dims_4[] = {{4, -1, 0}};
static const lathe_rt_dim_t dims_1000[] = {{1000, -1, 0}};
static const lathe_rt_param_desc_t params[] = {{.name = "N", .input = 0, .dim = 0}};
static const lathe_rt_buffer_desc_t buffers[NUM_BUFFERS] = {
    [B_X] = {"x", LATHE_RT_BUFFER_INPUT, 0, LATHE_RT_DTYPE_F32, 2, dims_n4},
    [B_W] = {"w", LATHE_RT_BUFFER_CONST, 0, LATHE_RT_DTYPE_F32, 1, dims_4},
    [B_T0] = {"t0", LATHE_RT_BUFFER_TEMP, 0, LATHE_RT_DTYPE_F32, 2, dims_n4},
    [B_T1] = {"t1", LATHE_RT_BUFFER_TEMP, 0, LATHE_RT_DTYPE_F32, 1, dims_n},
    [B_OUT] = {"out", LATHE_RT_BUFFER_OUTPUT, 0, LATHE_RT_DTYPE_F32, 1, dims_n},
    [B_IDX] = {"idx", LATHE_RT_BUFFER_INPUT, 1, LATHE_RT_DTYPE_I64, 1, dims_n},
    [B_UNUSED] = {"unused", LATHE_RT_BUFFER_TEMP, 0, LATHE_RT_DTYPE_F32, 1, dims_1000},
};
static const int32_t k0_bufs[] = {B_X, B_W, B_T0};
static const int32_t k1_bufs[] = {B_T0, B_T1};
static const int32_t k2_bufs[] = {B_T1, B_IDX, B_OUT};
static const lathe_rt_kernel_desc_t kernels[] = {
    {"k0_mul", k0_mul, 3, 0, k0_bufs},
    {"k1_sum", k1_sum, 2, 0, k1_bufs},
    {"k2_gather", k2_gather, 3, 0, k2_bufs},
};
static const lathe_rt_program_t program = {
    LATHE_RT_ABI_VERSION, 1, 2, 1, NUM_BUFFERS, 3, 1, 0, params, buffers, kernels,
};
static const float weight[4] = {1, 2, 3, 4};

/* Inputs for N rows: x[i, j] = i + j, idx reversed; the expected output. */
typedef struct {
  int64_t n;
  float *x, *out, *want;
  int64_t *idx;
  lathe_rt_tensor_t in[2], outs[1];
} case_t;

static void case_make(case_t *c, int64_t n) {
  c->n = n;
  size_t m = (size_t)(n ? n : 1);
  c->x = malloc(m * 4 * sizeof *c->x);
  c->out = malloc(m * sizeof *c->out);
  c->want = malloc(m * sizeof *c->want);
  c->idx = malloc(m * sizeof *c->idx);
  assert_true(c->x && c->out && c->want && c->idx);
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < 4; ++j) c->x[i * 4 + j] = (float)(i + j);
    c->idx[i] = n - 1 - i;
  }
  for (int64_t i = 0; i < n; ++i) {
    int64_t r = n - 1 - i; /* sum_j (r + j) * w[j] = 10r + 20 */
    c->want[i] = (float)(10 * r + 20);
  }
  int64_t xd[] = {n, 4}, nd[] = {n};
  assert_null(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 2, xd, c->x, (uint64_t)n * 16, &c->in[0]));
  assert_null(lathe_rt_tensor_init(LATHE_RT_DTYPE_I64, 1, nd, c->idx, (uint64_t)n * 8, &c->in[1]));
  assert_null(
      lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 1, nd, c->out, (uint64_t)n * 4, &c->outs[0]));
}

static void case_free(case_t *c) {
  free(c->x);
  free(c->out);
  free(c->want);
  free(c->idx);
}

static lathe_rt_weights_t *make_weights(void) {
  lathe_rt_weights_t *w;
  assert_null(lathe_rt_weights_create(1, &w));
  assert_null(lathe_rt_weights_set_memory(w, 0, weight, sizeof weight));
  return w;
}

static void test_validate_ok(void **state) { assert_null(lathe_rt_program_validate(&program)); }

static void test_runs_at_several_sizes(void **state) {
  lathe_rt_weights_t *w = make_weights();
  lathe_rt_pool_t *pool;
  assert_null(lathe_rt_pool_create(3, &pool));
  lathe_rt_context_t *ctx;
  assert_null(lathe_rt_context_create(pool, &ctx));
  const int64_t sizes[] = {3, 3, 1, 1000, 17, 0, 5000, 2};
  uint64_t last_arena = 0;
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; ++s) {
    case_t c;
    case_make(&c, sizes[s]);
    assert_null(lathe_rt_program_run(&program, w, ctx, c.in, 2, c.outs, 1));
    for (int64_t i = 0; i < c.n; ++i) assert_float_equal(c.out[i], c.want[i], 0);
    /* The arena only grows, and only as far as the largest plan. */
    uint64_t arena = lathe_rt_context_arena_bytes(ctx);
    assert_true(arena >= last_arena);
    last_arena = arena;
    case_free(&c);
  }
  assert_true(last_arena >= 5000 * 16);
  lathe_rt_context_destroy(ctx);
  lathe_rt_pool_destroy(pool);
  lathe_rt_weights_destroy(w);
}

static void test_plan_peak(void **state) {
  /* N = 3: t0 (48 -> 64 bytes) lives [k0, k1], t1 (12 -> 64) lives [k1, k2]:
   * they meet at k1, so 128 bytes; the unused temporary costs nothing. */
  int64_t n = 3;
  uint64_t offsets[NUM_BUFFERS], peak;
  assert_null(lathe_rt_program_plan(&program, &n, offsets, &peak));
  assert_int_equal(peak, 128);
  assert_int_not_equal(offsets[B_T0], offsets[B_T1]);
  int64_t dims[LATHE_RT_MAX_RANK];
  uint64_t bytes;
  assert_null(lathe_rt_program_buffer_shape(&program, B_T0, &n, dims, &bytes));
  assert_int_equal(dims[0], 3);
  assert_int_equal(dims[1], 4);
  assert_int_equal(bytes, 48);
  lathe_status_t s = lathe_rt_program_buffer_shape(&program, NUM_BUFFERS, &n, dims, &bytes);
  assert_non_null(s);
  lathe_status_free(s);
}

/* Runs and expects a failure whose message equals `want`. */
static void expect_error(lathe_rt_context_t *ctx, const lathe_rt_weights_t *w,
                         const lathe_rt_tensor_t *in, int32_t nin, lathe_rt_tensor_t *out,
                         int32_t nout, const char *want) {
  lathe_status_t s = lathe_rt_program_run(&program, w, ctx, in, nin, out, nout);
  if (!s) fail_msg("expected error: %s", want);
  if (strcmp(lathe_status_message(s), want) != 0)
    fail_msg("got '%s'\nwant '%s'", lathe_status_message(s), want);
  lathe_status_free(s);
}

static void test_input_errors_name_the_input(void **state) {
  lathe_rt_weights_t *w = make_weights();
  lathe_rt_context_t *ctx;
  assert_null(lathe_rt_context_create(NULL, &ctx));
  case_t c;
  case_make(&c, 3);
  lathe_rt_tensor_t in[2];

  memcpy(in, c.in, sizeof in);
  in[0].dtype = LATHE_RT_DTYPE_F64;
  expect_error(ctx, w, in, 2, c.outs, 1, "input 'x' (#0): expected f32[N, 4], got f64[3, 4]");
  memcpy(in, c.in, sizeof in);
  in[0].rank = 1;
  expect_error(ctx, w, in, 2, c.outs, 1, "input 'x' (#0): expected f32[N, 4], got f32[3]");
  memcpy(in, c.in, sizeof in);
  in[0].dims[1] = 5;
  expect_error(ctx, w, in, 2, c.outs, 1, "input 'x' (#0): expected f32[N, 4], got f32[3, 5]");
  memcpy(in, c.in, sizeof in);
  in[1].dims[0] = 5; /* N is 3 from x; idx disagrees */
  expect_error(ctx, w, in, 2, c.outs, 1,
               "input 'idx' (#1): expected i64[N] with N = 3, got i64[5]");
  memcpy(in, c.in, sizeof in);
  in[0].dims[0] = -2;
  expect_error(ctx, w, in, 2, c.outs, 1, "input 'x' (#0): expected f32[N, 4], got f32[-2, 4]");
  memcpy(in, c.in, sizeof in);
  in[0].byte_size = 47;
  expect_error(ctx, w, in, 2, c.outs, 1, "input 'x' (#0): needs 48 bytes of data, got 47");
  memcpy(in, c.in, sizeof in);
  in[1].data = NULL;
  expect_error(ctx, w, in, 2, c.outs, 1, "input 'idx' (#1): needs 24 bytes of data, got 24 (NULL)");
  memcpy(in, c.in, sizeof in);
  in[0].flags = LATHE_RT_TENSOR_STRIDED;
  in[0].strides[0] = 8, in[0].strides[1] = 2;
  expect_error(ctx, w, in, 2, c.outs, 1,
               "input 'x' (#0): expected f32[N, 4] with N = 3, got f32[3, 4] (strided; dense "
               "row-major needed)");
  expect_error(ctx, w, c.in, 1, c.outs, 1, "expected 2 inputs, got 1");
  expect_error(ctx, w, c.in, 2, c.outs, 0, "expected 1 outputs, got 0");

  lathe_rt_tensor_t out = c.outs[0];
  out.dims[0] = 4;
  expect_error(ctx, w, c.in, 2, &out, 1,
               "output 'out' (#0): expected f32[N] with N = 3, got f32[4]");
  out = c.outs[0];
  out.dtype = LATHE_RT_DTYPE_F16;
  expect_error(ctx, w, c.in, 2, &out, 1,
               "output 'out' (#0): expected f32[N] with N = 3, got f16[3]");

  /* Data-dependent failure inside a kernel. */
  c.idx[1] = 3;
  expect_error(ctx, w, c.in, 2, c.outs, 1,
               "kernel 2 'k2_gather' failed: an index in the data is out of range (code 1)");
  c.idx[1] = 1;
  assert_null(lathe_rt_program_run(&program, w, ctx, c.in, 2, c.outs, 1));

  /* Weights: missing table, unset weight, too small. */
  expect_error(ctx, NULL, c.in, 2, c.outs, 1, "constant 'w' needs a weights table");
  lathe_rt_weights_t *empty;
  assert_null(lathe_rt_weights_create(1, &empty));
  expect_error(ctx, empty, c.in, 2, c.outs, 1, "constant 'w': weight 0 was never set");
  assert_null(lathe_rt_weights_set_memory(empty, 0, weight, 12));
  expect_error(ctx, empty, c.in, 2, c.outs, 1,
               "constant 'w': weight 0 has 12 bytes, the type needs 16");
  lathe_rt_weights_destroy(empty);
  case_free(&c);
  lathe_rt_context_destroy(ctx);
  lathe_rt_weights_destroy(w);
}

/* ---- malformed descriptions ---- */

static void expect_invalid(const lathe_rt_program_t *p, const char *want) {
  lathe_status_t s = lathe_rt_program_validate(p);
  if (!s) fail_msg("expected invalid: %s", want);
  if (!strstr(lathe_status_message(s), want))
    fail_msg("got '%s'\nwant it to contain '%s'", lathe_status_message(s), want);
  lathe_status_free(s);
}

static void test_validation(void **state) {
  expect_invalid(NULL, "NULL");
  lathe_rt_program_t p = program;
  p.abi_version = 99;
  expect_invalid(&p, "built for runtime ABI 99");
  p = program;
  p.num_kernels = -1;
  expect_invalid(&p, "negative count");
  p = program;
  p.kernels = NULL;
  expect_invalid(&p, "missing table");

  lathe_rt_buffer_desc_t bufs[NUM_BUFFERS];
  lathe_rt_program_t q = program;
  q.buffers = bufs;
  struct {
    int32_t id;
    lathe_rt_buffer_desc_t desc;
    const char *want;
  } cases[] = {
      {B_IDX,
       {"idx", LATHE_RT_BUFFER_INPUT, 0, LATHE_RT_DTYPE_I64, 1, dims_n},
       "buffer 5 ('idx'): binds an input/output twice"},
      {B_OUT,
       {"out", LATHE_RT_BUFFER_TEMP, 0, LATHE_RT_DTYPE_F32, 1, dims_n},
       "no buffer for output 0"},
      {B_OUT,
       {"out", LATHE_RT_BUFFER_OUTPUT, 1, LATHE_RT_DTYPE_F32, 1, dims_n},
       "index out of range"},
      {B_W,
       {"w", LATHE_RT_BUFFER_CONST, 1, LATHE_RT_DTYPE_F32, 1, dims_4},
       "weight index out of range"},
      {B_W, {"w", 9, 0, LATHE_RT_DTYPE_F32, 1, dims_4}, "unknown role"},
      {B_W, {"w", LATHE_RT_BUFFER_CONST, 0, 77, 1, dims_4}, "unknown dtype"},
      {B_W, {"w", LATHE_RT_BUFFER_CONST, 0, LATHE_RT_DTYPE_F32, 9, dims_4}, "bad rank"},
      {B_W, {"w", LATHE_RT_BUFFER_CONST, 0, LATHE_RT_DTYPE_F32, 1, NULL}, "no dims"},
      {B_T1,
       {"t1", LATHE_RT_BUFFER_TEMP, 0, LATHE_RT_DTYPE_F32, 1, (const lathe_rt_dim_t[]){{0, 1, 0}}},
       "unknown param"},
      {B_T1,
       {"t1", LATHE_RT_BUFFER_TEMP, 0, LATHE_RT_DTYPE_F32, 1,
        (const lathe_rt_dim_t[]){{-3, -1, 0}}},
       "negative dim"},
      /* x no longer declares N at dim 0, though N is bound there. */
      {B_X,
       {"x", LATHE_RT_BUFFER_INPUT, 0, LATHE_RT_DTYPE_F32, 2,
        (const lathe_rt_dim_t[]){{3, -1, 0}, {4, -1, 0}}},
       "param 0 ('N'): its input does not declare it at that dim"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    memcpy(bufs, buffers, sizeof bufs);
    bufs[cases[i].id] = cases[i].desc;
    expect_invalid(&q, cases[i].want);
  }

  lathe_rt_kernel_desc_t ks[3];
  lathe_rt_program_t r = program;
  r.kernels = ks;
  memcpy(ks, kernels, sizeof ks);
  ks[1].fn = NULL;
  expect_invalid(&r, "kernel 1 ('k1_sum'): no function");
  memcpy(ks, kernels, sizeof ks);
  ks[2].buffers = (const int32_t[]){B_T1, NUM_BUFFERS, B_OUT};
  expect_invalid(&r, "kernel 2 ('k2_gather'): unknown buffer id");
  memcpy(ks, kernels, sizeof ks);
  ks[0].num_buffers = -1;
  expect_invalid(&r, "bad buffer list");

  lathe_rt_param_desc_t ps[1] = {{.name = "N", .input = 2, .dim = 0}};
  lathe_rt_program_t t = program;
  t.params = ps;
  expect_invalid(&t, "param 0 ('N'): unknown input");
  ps[0] = (lathe_rt_param_desc_t){.name = "N", .input = 0, .dim = 2};
  expect_invalid(&t, "its input does not declare it");

  /* run() validates too: no kernel ever sees a bad description. */
  lathe_rt_context_t *ctx;
  assert_null(lathe_rt_context_create(NULL, &ctx));
  lathe_status_t s = lathe_rt_program_run(&r, NULL, ctx, NULL, 0, NULL, 0);
  assert_non_null(s);
  lathe_status_free(s);
  s = lathe_rt_program_run(&program, NULL, NULL, NULL, 0, NULL, 0);
  assert_non_null(s);
  lathe_status_free(s);
  lathe_rt_context_destroy(ctx);
}

/* ---- one program, several threads ---- */

typedef struct {
  lathe_rt_pool_t *pool;
  const lathe_rt_weights_t *weights;
  int id, failures;
} runner_t;

static void *runner_main(void *arg) {
  runner_t *r = arg;
  lathe_rt_context_t *ctx;
  lathe_status_t s = lathe_rt_context_create(r->pool, &ctx);
  if (s) {
    lathe_status_free(s);
    r->failures = -1;
    return NULL;
  }
  for (int round = 0; round < 60; ++round) {
    int64_t n = 1 + (round * 131 + r->id * 977) % 3000;
    case_t c;
    case_make(&c, n);
    s = lathe_rt_program_run(&program, r->weights, ctx, c.in, 2, c.outs, 1);
    if (s) {
      lathe_status_free(s);
      ++r->failures;
    } else if (memcmp(c.out, c.want, (size_t)n * sizeof *c.out) != 0) {
      ++r->failures;
    }
    case_free(&c);
  }
  lathe_rt_context_destroy(ctx);
  return NULL;
}

static void test_concurrent_runs(void **state) {
  enum { RUNNERS = 5 };
  lathe_rt_weights_t *w = make_weights();
  lathe_rt_pool_t *pool;
  assert_null(lathe_rt_pool_create(4, &pool));
  pthread_t threads[RUNNERS];
  runner_t runners[RUNNERS];
  atomic_store(&fills, 0);
  for (int i = 0; i < RUNNERS; ++i) {
    runners[i] = (runner_t){pool, w, i, 0};
    assert_int_equal(pthread_create(&threads[i], NULL, runner_main, &runners[i]), 0);
  }
  for (int i = 0; i < RUNNERS; ++i) {
    pthread_join(threads[i], NULL);
    assert_int_equal(runners[i].failures, 0);
  }
  assert_int_equal(atomic_load(&fills), 1);
  assert_int_equal(lathe_rt_weights_derived_bytes(w), 4 * sizeof(float));
  lathe_rt_pool_destroy(pool);
  lathe_rt_weights_destroy(w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_validate_ok), cmocka_unit_test(test_runs_at_several_sizes),
      cmocka_unit_test(test_plan_peak),   cmocka_unit_test(test_input_errors_name_the_input),
      cmocka_unit_test(test_validation),  cmocka_unit_test(test_concurrent_runs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
