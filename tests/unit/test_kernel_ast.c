/* Unit tests for kernel/: hand-built kernel programs run by the reference
 * interpreter against values computed here, the isl AST they run by (marks,
 * statement calls, params) and schedule independence: a tiled, permuted or
 * unrolled schedule must give bit-identical results to the default one.
 * Shapes hit the edges: 1, primes, non-multiples of the vector width, 0. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernel/kernel.h"

#define OK(expr)                                                   \
  do {                                                             \
    lathe_status_t st_ = (expr);                                   \
    if (st_) fail_msg("%s: %s", #expr, lathe_status_message(st_)); \
  } while (0)

/* y[i, j] = exp(x[i, j]) * 2 over f32[N, C]. */
static lathe_kprogram_t *build_exp2(int64_t cols) {
  lathe_kprogram_t *p = lathe_kprogram_create("exp2");
  uint32_t n = lathe_kprogram_add_input_param(p, "N", 0, 0);
  lathe_kdim_t dims[2] = {lathe_kdim_param((int32_t)n), lathe_kdim_static(cols)};
  lathe_kbuffer_t *x =
      lathe_kprogram_add_buffer(p, "x", LATHE_DTYPE_F32, 2, dims, LATHE_KBUF_INPUT);
  lathe_kbuffer_t *y =
      lathe_kprogram_add_buffer(p, "y", LATHE_DTYPE_F32, 2, dims, LATHE_KBUF_OUTPUT);
  lathe_kprogram_set_input(p, 0, x->id);
  lathe_kprogram_set_output(p, 0, y->id);
  const lathe_kexpr_t *idx[2] = {lathe_kexpr_iter(p, 0), lathe_kexpr_iter(p, 1)};
  const lathe_kexpr_t *v = lathe_kexpr_binary(
      p, LATHE_KOP_MUL, lathe_kexpr_unary(p, LATHE_KOP_EXP, lathe_kexpr_load(p, x, idx)),
      lathe_kexpr_float(p, LATHE_DTYPE_F32, 2.0));
  lathe_kernel_t *k = lathe_kprogram_add_loops_kernel(p, "k0_exp_mul");
  lathe_kstmt_desc_t d = {
      .num_iters = 2, .extents = dims, .target = y, .target_index = idx, .value = v};
  assert_non_null(lathe_kernel_add_stmt(p, k, &d));
  OK(lathe_kprogram_finish(p));
  return p;
}

static void run1(const lathe_kprogram_t *p, int64_t n, int64_t c, const float *x, float *y,
                 lathe_kschedule_chooser_t choose, void *ctx) {
  int64_t dims[2] = {n, c}, params[8];
  const int64_t *in_dims[1] = {dims};
  OK(lathe_kprogram_bind_params(p, in_dims, params));
  const void *ins[1] = {x};
  void *outs[1] = {y};
  OK(lathe_kprogram_run_reference(p, params, ins, outs, choose, ctx));
}

static void test_elementwise_shapes(void **state) {
  static const int64_t shapes[][2] = {{1, 1}, {3, 17}, {7, 16}, {2, 33}, {0, 5}, {4, 0}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
    int64_t n = shapes[s][0], c = shapes[s][1];
    lathe_kprogram_t *p = build_exp2(c);
    size_t count = (size_t)(n * c);
    float *x = calloc(count + 1, sizeof *x), *y = calloc(count + 1, sizeof *y);
    for (size_t i = 0; i < count; ++i) x[i] = (float)i * 0.01f - 1.0f;
    run1(p, n, c, x, y, NULL, NULL);
    for (size_t i = 0; i < count; ++i) assert_float_equal(y[i], (float)(exp(x[i]) * 2.0), 0);
    free(x);
    free(y);
    lathe_kprogram_destroy(p);
  }
}

/* The default schedule marks the outer loop parallel and the tiled inner
 * loop vector; user nodes call S0 with both iterator values. */
static void test_ast_shape(void **state) {
  lathe_kprogram_t *p = build_exp2(37);
  isl_ctx *ctx = isl_ctx_alloc();
  isl_ast_node *ast = NULL;
  OK(lathe_kernel_build_ast(p, p->kernels[0], ctx, NULL, &ast));
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  lathe_kast_print(&sb, ast, 0);
  const char *text = lathe_strbuf_cstr(&sb);
  assert_non_null(strstr(text, "// parallel"));
  assert_non_null(strstr(text, "// vector"));
  assert_non_null(strstr(text, "S0("));
  assert_non_null(strstr(text, "N"));
  /* The first node under the root is the parallel mark. */
  isl_ast_node *node = isl_ast_node_copy(ast);
  while (isl_ast_node_get_type(node) == isl_ast_node_if) {
    isl_ast_node *then = isl_ast_node_if_get_then_node(node);
    isl_ast_node_free(node);
    node = then;
  }
  assert_int_equal(isl_ast_node_get_type(node), isl_ast_node_mark);
  lathe_kmark_kind_t kind;
  uint32_t width;
  OK(lathe_kast_mark(node, &kind, &width));
  assert_int_equal(kind, LATHE_KMARK_PARALLEL);
  isl_ast_node_free(node);
  isl_ast_node_free(ast);
  lathe_strbuf_destroy(&sb);
  isl_ctx_free(ctx);
  lathe_kprogram_destroy(p);
}

/* y[i] = sum_j A[i, j] * x[j] (matrix-vector), then z[i] = y[i] / max_j A[i, j]
 * with the row loop shared: two statements, one outer nest. */
static lathe_kprogram_t *build_matvec(int64_t rows, int64_t cols) {
  lathe_kprogram_t *p = lathe_kprogram_create("mv");
  lathe_kdim_t ad[2] = {lathe_kdim_static(rows), lathe_kdim_static(cols)};
  lathe_kbuffer_t *a = lathe_kprogram_add_buffer(p, "a", LATHE_DTYPE_F64, 2, ad, LATHE_KBUF_INPUT);
  lathe_kbuffer_t *x =
      lathe_kprogram_add_buffer(p, "x", LATHE_DTYPE_F64, 1, &ad[1], LATHE_KBUF_INPUT);
  lathe_kbuffer_t *m =
      lathe_kprogram_add_buffer(p, "m", LATHE_DTYPE_F64, 1, &ad[0], LATHE_KBUF_TEMP);
  lathe_kbuffer_t *y =
      lathe_kprogram_add_buffer(p, "y", LATHE_DTYPE_F64, 1, &ad[0], LATHE_KBUF_OUTPUT);
  lathe_kprogram_set_input(p, 0, a->id);
  lathe_kprogram_set_input(p, 1, x->id);
  lathe_kprogram_set_output(p, 0, y->id);
  const lathe_kexpr_t *i = lathe_kexpr_iter(p, 0), *j = lathe_kexpr_iter(p, 1);
  const lathe_kexpr_t *aij[2] = {i, j};
  lathe_kernel_t *k = lathe_kprogram_add_loops_kernel(p, "k0_mv");
  lathe_kstmt_desc_t s0 = {.num_iters = 2,
                           .extents = ad,
                           .num_reduce = 1,
                           .target = m,
                           .target_index = &i,
                           .value = lathe_kexpr_load(p, a, aij),
                           .combiner = LATHE_KCOMB_MAX,
                           .init = lathe_kexpr_float(p, LATHE_DTYPE_F64, -INFINITY)};
  lathe_kstmt_desc_t s1 = {
      .num_iters = 2,
      .extents = ad,
      .num_reduce = 1,
      .target = y,
      .target_index = &i,
      .value = lathe_kexpr_binary(p, LATHE_KOP_DIV,
                                  lathe_kexpr_binary(p, LATHE_KOP_MUL, lathe_kexpr_load(p, a, aij),
                                                     lathe_kexpr_load(p, x, &j)),
                                  lathe_kexpr_load(p, m, &i)),
      .combiner = LATHE_KCOMB_SUM,
      .init = lathe_kexpr_float(p, LATHE_DTYPE_F64, 0.0)};
  assert_non_null(lathe_kernel_add_stmt(p, k, &s0));
  assert_non_null(lathe_kernel_add_stmt(p, k, &s1));
  lathe_kernel_set_num_shared(k, 1);
  OK(lathe_kprogram_finish(p));
  return p;
}

typedef struct {
  lathe_kschedule_t s[2];
} two_t;

static const lathe_kschedule_t *choose_two(void *ctx, const lathe_kernel_t *k) {
  (void)k;
  return ((two_t *)ctx)->s;
}

static void run_mv(const lathe_kprogram_t *p, const double *a, const double *x, double *y,
                   two_t *sched) {
  const void *ins[2] = {a, x};
  void *outs[1] = {y};
  OK(lathe_kprogram_run_reference(p, NULL, ins, outs, sched ? choose_two : NULL, sched));
}

static void test_schedules_agree(void **state) {
  static const int64_t shapes[][2] = {{1, 1}, {5, 13}, {16, 16}, {17, 3}, {31, 32}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
    int64_t rows = shapes[s][0], cols = shapes[s][1];
    lathe_kprogram_t *p = build_matvec(rows, cols);
    double *a = malloc(sizeof(double) * (size_t)(rows * cols)),
           *x = malloc(sizeof(double) * (size_t)cols);
    double *y0 = calloc((size_t)rows, sizeof(double)), *y1 = calloc((size_t)rows, sizeof(double));
    for (int64_t e = 0; e < rows * cols; ++e) a[e] = sin((double)e) + 1.5;
    for (int64_t e = 0; e < cols; ++e) x[e] = cos((double)e);
    run_mv(p, a, x, y0, NULL);
    for (int64_t r = 0; r < rows; ++r) {
      double mx = -INFINITY, sum = 0;
      for (int64_t c = 0; c < cols; ++c) mx = fmax(mx, a[r * cols + c]);
      for (int64_t c = 0; c < cols; ++c) sum += a[r * cols + c] * x[c] / mx;
      assert_float_equal(y0[r], sum, 1e-12);
    }
    /* Tiled rows (shared band) and tiled, unrolled reduction loops. */
    two_t sched = {{p->kernels[0]->stmts[0]->schedule, p->kernels[0]->stmts[1]->schedule}};
    for (int t = 0; t < 2; ++t) {
      sched.s[t].tile[0] = 4;
      sched.s[t].tile[1] = 3;
      sched.s[t].unroll[1] = true;
    }
    run_mv(p, a, x, y1, &sched);
    assert_memory_equal(y0, y1, sizeof(double) * (size_t)rows);
    free(a);
    free(x);
    free(y0);
    free(y1);
    lathe_kprogram_destroy(p);
  }
}

/* A permuted order on a statement without shared loops: j outer, i inner. */
static void test_permuted_order(void **state) {
  lathe_kprogram_t *p = build_exp2(19);
  lathe_kschedule_t s = p->kernels[0]->stmts[0]->schedule;
  s.order[0] = 1;
  s.order[1] = 0;
  s.parallel = 1;
  s.vector = 0;
  s.vector_width = 4;
  s.tile[1] = 0;
  s.tile[0] = 4;
  OK(lathe_kschedule_check(p->kernels[0]->stmts[0], &s));
  float x[5 * 19], y0[5 * 19], y1[5 * 19];
  for (int i = 0; i < 5 * 19; ++i) x[i] = (float)i / 17.0f;
  run1(p, 5, 19, x, y0, NULL, NULL);
  two_t two = {{s}};
  run1(p, 5, 19, x, y1, choose_two, &two);
  assert_memory_equal(y0, y1, sizeof y0);
  lathe_kprogram_destroy(p);
}

static void test_bad_schedule(void **state) {
  lathe_kprogram_t *p = build_exp2(8);
  const lathe_kstmt_t *st = p->kernels[0]->stmts[0];
  lathe_kschedule_t s = st->schedule;
  s.order[1] = 0; /* not a permutation */
  lathe_status_t e = lathe_kschedule_check(st, &s);
  assert_non_null(e);
  lathe_status_free(e);
  s = st->schedule;
  s.parallel = 1; /* not outermost */
  e = lathe_kschedule_check(st, &s);
  assert_non_null(e);
  lathe_status_free(e);
  lathe_kprogram_destroy(p);
}

/* Inputs whose dims disagree with the program are refused. */
static void test_bind_mismatch(void **state) {
  lathe_kprogram_t *p = build_exp2(8);
  int64_t dims[2] = {3, 9}, params[1];
  const int64_t *in_dims[1] = {dims};
  lathe_status_t e = lathe_kprogram_bind_params(p, in_dims, params);
  assert_non_null(e);
  assert_non_null(strstr(lathe_status_message(e), "expected 8"));
  lathe_status_free(e);
  lathe_kprogram_destroy(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_elementwise_shapes), cmocka_unit_test(test_ast_shape),
      cmocka_unit_test(test_schedules_agree),    cmocka_unit_test(test_permuted_order),
      cmocka_unit_test(test_bad_schedule),       cmocka_unit_test(test_bind_mismatch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
