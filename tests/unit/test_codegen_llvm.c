/* The LLVM backend on LOOPS kernels, checked against the reference
 * interpreter: elementwise chains with broadcasting, reductions (sum, max,
 * prod; along rows and along columns), a softmax of three statements sharing
 * the row loop, transposes and gathers through index expressions, casts
 * between f32/f16/bf16/f64/i32/i64/i8/bool/i4/u4, views, symbolic and derived
 * sizes, on shapes of 1, primes, non-multiples of the vector width and 0,
 * each with 1 and 2 threads. Tolerances: f32 math is 1e-5 relative (the
 * interpreter computes in f64), f16/bf16 one unit in the last place.
 */
#include <pthread.h>

#include "codegen_llvm_harness.h"

static const harness_opts_t F32_TOL = {.rel_tol = 2e-6, .abs_tol = 1e-6};

typedef struct prog {
  lathe_kprogram_t *p;
  lathe_kbuffer_t *in[4], *out[2];
  uint32_t n; /* param N */
} prog_t;

static const lathe_kexpr_t *it(lathe_kprogram_t *p, uint32_t i) { return lathe_kexpr_iter(p, i); }
static const lathe_kexpr_t *ld(lathe_kprogram_t *p, const lathe_kbuffer_t *b,
                               const lathe_kexpr_t *i0, const lathe_kexpr_t *i1) {
  const lathe_kexpr_t *idx[2] = {i0, i1};
  return lathe_kexpr_load(p, b, idx);
}
static const lathe_kexpr_t *bin(lathe_kprogram_t *p, lathe_kop_t op, const lathe_kexpr_t *a,
                                const lathe_kexpr_t *b) {
  return lathe_kexpr_binary(p, op, a, b);
}
static const lathe_kexpr_t *un(lathe_kprogram_t *p, lathe_kop_t op, const lathe_kexpr_t *a) {
  return lathe_kexpr_unary(p, op, a);
}
static const lathe_kexpr_t *fc(lathe_kprogram_t *p, double v) {
  return lathe_kexpr_float(p, LATHE_DTYPE_F32, v);
}

/* Runs f32 program p on x[n, c] (input 0) and optionally a second input,
 * for 1 and 2 threads. */
static void check2(const lathe_kprogram_t *p, const int64_t *d0, const void *x0, const int64_t *d1,
                   const void *x1, const harness_opts_t *o) {
  const int64_t *dims[2] = {d0, d1};
  const void *ins[2] = {x0, x1};
  for (int32_t t = 1; t <= 2; ++t) harness_check(p, dims, ins, t, o);
}

/* ---- elementwise ---- */

/* y[i, j] = gelu-ish chain of x[i, j] and bias b[j] (a constant) */
static lathe_kprogram_t *build_chain(int64_t cols, lathe_weight_t *w) {
  lathe_kprogram_t *p = lathe_kprogram_create("chain");
  uint32_t n = lathe_kprogram_add_input_param(p, "N", 0, 0);
  lathe_kdim_t dims[2] = {lathe_kdim_param((int32_t)n), lathe_kdim_static(cols)};
  lathe_kbuffer_t *x =
      lathe_kprogram_add_buffer(p, "x", LATHE_DTYPE_F32, 2, dims, LATHE_KBUF_INPUT);
  lathe_kbuffer_t *b =
      lathe_kprogram_add_buffer(p, "b", LATHE_DTYPE_F32, 1, &dims[1], LATHE_KBUF_CONST);
  b->weight = w;
  lathe_kbuffer_t *y =
      lathe_kprogram_add_buffer(p, "y", LATHE_DTYPE_F32, 2, dims, LATHE_KBUF_OUTPUT);
  lathe_kprogram_set_input(p, 0, x->id);
  lathe_kprogram_set_output(p, 0, y->id);
  const lathe_kexpr_t *j = it(p, 1), *idx[2] = {it(p, 0), j};
  const lathe_kexpr_t *v =
      bin(p, LATHE_KOP_ADD, lathe_kexpr_load(p, x, idx), lathe_kexpr_load(p, b, &j));
  /* 0.5 * v * (1 + erf(v / sqrt 2)) + tanh(v) * sigmoid(v) - max(v, 0) */
  const lathe_kexpr_t *gelu =
      bin(p, LATHE_KOP_MUL, bin(p, LATHE_KOP_MUL, fc(p, 0.5), v),
          bin(p, LATHE_KOP_ADD, fc(p, 1.0),
              un(p, LATHE_KOP_ERF, bin(p, LATHE_KOP_MUL, v, fc(p, 0.70710678f)))));
  const lathe_kexpr_t *t =
      bin(p, LATHE_KOP_MUL, un(p, LATHE_KOP_TANH, v), un(p, LATHE_KOP_SIGMOID, v));
  const lathe_kexpr_t *r =
      bin(p, LATHE_KOP_SUB, bin(p, LATHE_KOP_ADD, gelu, t), bin(p, LATHE_KOP_MAX, v, fc(p, 0.0)));
  lathe_kernel_t *k = lathe_kprogram_add_loops_kernel(p, "k0_chain");
  lathe_kstmt_desc_t d = {
      .num_iters = 2, .extents = dims, .target = y, .target_index = idx, .value = r};
  assert_non_null(lathe_kernel_add_stmt(p, k, &d));
  OK(lathe_kprogram_finish(p));
  return p;
}

static void test_elementwise_chain(void **state) {
  static const int64_t shapes[][2] = {{1, 1}, {3, 17}, {7, 16}, {2, 33}, {0, 5}, {4, 0}, {13, 61}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
    int64_t n = shapes[s][0], c = shapes[s][1];
    float *bias = calloc((size_t)c + 1, sizeof(float)),
          *x = calloc((size_t)(n * c) + 1, sizeof(float));
    harness_fill(bias, (size_t)c, 1, -1, 1);
    harness_fill(x, (size_t)(n * c), 2, -3, 3);
    lathe_weight_t w = {.kind = LATHE_WEIGHT_INLINE,
                        .dtype = LATHE_DTYPE_F32,
                        .num_bytes = (uint64_t)c * 4,
                        .data = (const uint8_t *)bias};
    lathe_kprogram_t *p = build_chain(c, &w);
    int64_t d[2] = {n, c};
    check2(p, d, x, NULL, NULL, &F32_TOL);
    lathe_kprogram_destroy(p);
    free(bias);
    free(x);
  }
}

/* ---- reductions ---- */

/* y[i] = OP_r x[i, r] (rows) or y[j] = OP_r x[r, j] (columns) */
static lathe_kprogram_t *build_reduce(int64_t rows, int64_t cols, lathe_kcombiner_t comb,
                                      bool along_rows) {
  lathe_kprogram_t *p = lathe_kprogram_create("reduce");
  lathe_kdim_t xd[2] = {lathe_kdim_static(rows), lathe_kdim_static(cols)};
  lathe_kbuffer_t *x = lathe_kprogram_add_buffer(p, "x", LATHE_DTYPE_F32, 2, xd, LATHE_KBUF_INPUT);
  lathe_kdim_t yd = along_rows ? xd[0] : xd[1], rd = along_rows ? xd[1] : xd[0];
  lathe_kbuffer_t *y =
      lathe_kprogram_add_buffer(p, "y", LATHE_DTYPE_F32, 1, &yd, LATHE_KBUF_OUTPUT);
  lathe_kprogram_set_input(p, 0, x->id);
  lathe_kprogram_set_output(p, 0, y->id);
  lathe_kdim_t ext[2] = {yd, rd};
  const lathe_kexpr_t *i = it(p, 0), *r = it(p, 1);
  static const double inits[] = {0, 0, 1, -INFINITY, INFINITY};
  lathe_kernel_t *k = lathe_kprogram_add_loops_kernel(p, "k0_reduce");
  lathe_kstmt_desc_t d = {.num_iters = 2,
                          .extents = ext,
                          .num_reduce = 1,
                          .target = y,
                          .target_index = &i,
                          .value = along_rows ? ld(p, x, i, r) : ld(p, x, r, i),
                          .combiner = comb,
                          .init = fc(p, inits[comb])};
  assert_non_null(lathe_kernel_add_stmt(p, k, &d));
  OK(lathe_kprogram_finish(p));
  return p;
}

static void test_reductions(void **state) {
  static const int64_t shapes[][2] = {{1, 1}, {5, 13}, {16, 16}, {3, 67},
                                      {0, 4}, {4, 0},  {9, 1000}};
  static const lathe_kcombiner_t combs[] = {LATHE_KCOMB_SUM, LATHE_KCOMB_MAX, LATHE_KCOMB_MIN,
                                            LATHE_KCOMB_PROD};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s)
    for (size_t c = 0; c < 4; ++c)
      for (int rows = 0; rows < 2; ++rows) {
        int64_t r = shapes[s][0], n = shapes[s][1];
        float *x = calloc((size_t)(r * n) + 1, sizeof(float));
        /* products stay finite: values near 1 */
        harness_fill(x, (size_t)(r * n), 3, combs[c] == LATHE_KCOMB_PROD ? 0.99f : -2.0f,
                     combs[c] == LATHE_KCOMB_PROD ? 1.01f : 2.0f);
        if (r * n > 3 && combs[c] == LATHE_KCOMB_MAX) x[2] = NAN; /* max propagates NaN */
        lathe_kprogram_t *p = build_reduce(r, n, combs[c], rows);
        int64_t d[2] = {r, n};
        harness_opts_t o = {.rel_tol = 1e-5, .abs_tol = 1e-5 * (double)(r > n ? r : n)};
        check2(p, d, x, NULL, NULL, &o);
        lathe_kprogram_destroy(p);
        free(x);
      }
}

/* ---- softmax: three statements sharing the row loop ---- */

static lathe_kprogram_t *build_softmax(int64_t cols) {
  lathe_kprogram_t *p = lathe_kprogram_create("softmax");
  uint32_t n = lathe_kprogram_add_input_param(p, "N", 0, 0);
  lathe_kdim_t xd[2] = {lathe_kdim_param((int32_t)n), lathe_kdim_static(cols)};
  lathe_kbuffer_t *x = lathe_kprogram_add_buffer(p, "x", LATHE_DTYPE_F32, 2, xd, LATHE_KBUF_INPUT);
  lathe_kbuffer_t *y = lathe_kprogram_add_buffer(p, "y", LATHE_DTYPE_F32, 2, xd, LATHE_KBUF_OUTPUT);
  lathe_kbuffer_t *m = lathe_kprogram_add_buffer(p, "m", LATHE_DTYPE_F32, 1, xd, LATHE_KBUF_TEMP);
  lathe_kbuffer_t *s = lathe_kprogram_add_buffer(p, "s", LATHE_DTYPE_F32, 1, xd, LATHE_KBUF_TEMP);
  m->local_to = s->local_to = 0;
  lathe_kprogram_set_input(p, 0, x->id);
  lathe_kprogram_set_output(p, 0, y->id);
  const lathe_kexpr_t *i = it(p, 0), *j = it(p, 1);
  const lathe_kexpr_t *e =
      un(p, LATHE_KOP_EXP, bin(p, LATHE_KOP_SUB, ld(p, x, i, j), lathe_kexpr_load(p, m, &i)));
  lathe_kernel_t *k = lathe_kprogram_add_loops_kernel(p, "k0_softmax");
  const lathe_kexpr_t *yi[2] = {i, j};
  lathe_kstmt_desc_t s0 = {.num_iters = 2,
                           .extents = xd,
                           .num_reduce = 1,
                           .target = m,
                           .target_index = &i,
                           .value = ld(p, x, i, j),
                           .combiner = LATHE_KCOMB_MAX,
                           .init = fc(p, -INFINITY)};
  lathe_kstmt_desc_t s1 = {.num_iters = 2,
                           .extents = xd,
                           .num_reduce = 1,
                           .target = s,
                           .target_index = &i,
                           .value = e,
                           .combiner = LATHE_KCOMB_SUM,
                           .init = fc(p, 0)};
  lathe_kstmt_desc_t s2 = {.num_iters = 2,
                           .extents = xd,
                           .target = y,
                           .target_index = yi,
                           .value = bin(p, LATHE_KOP_DIV, e, lathe_kexpr_load(p, s, &i))};
  assert_non_null(lathe_kernel_add_stmt(p, k, &s0));
  assert_non_null(lathe_kernel_add_stmt(p, k, &s1));
  assert_non_null(lathe_kernel_add_stmt(p, k, &s2));
  lathe_kernel_set_num_shared(k, 1);
  OK(lathe_kprogram_finish(p));
  return p;
}

static void test_softmax(void **state) {
  static const int64_t shapes[][2] = {{1, 1}, {4, 7}, {8, 128}, {3, 1001}, {0, 3}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
    int64_t n = shapes[s][0], c = shapes[s][1];
    float *x = calloc((size_t)(n * c) + 1, sizeof(float));
    harness_fill(x, (size_t)(n * c), 4, -5, 5);
    lathe_kprogram_t *p = build_softmax(c);
    int64_t d[2] = {n, c};
    harness_opts_t o = {.rel_tol = 1e-5, .abs_tol = 1e-7};
    check2(p, d, x, NULL, NULL, &o);
    lathe_kprogram_destroy(p);
    free(x);
  }
}

/* ---- data movement: transpose and gather ---- */

/* y[i, j] = x[j, i] (y: [C, N]) and z[i, j] = table[idx[i], j] */
static lathe_kprogram_t *build_movement(int64_t rows, int64_t cols, int64_t vocab) {
  lathe_kprogram_t *p = lathe_kprogram_create("movement");
  lathe_kdim_t xd[2] = {lathe_kdim_static(rows), lathe_kdim_static(cols)};
  lathe_kdim_t yd[2] = {xd[1], xd[0]}, td[2] = {lathe_kdim_static(vocab), xd[1]};
  lathe_kbuffer_t *x = lathe_kprogram_add_buffer(p, "x", LATHE_DTYPE_F32, 2, xd, LATHE_KBUF_INPUT);
  lathe_kbuffer_t *ix =
      lathe_kprogram_add_buffer(p, "idx", LATHE_DTYPE_I64, 1, xd, LATHE_KBUF_INPUT);
  lathe_kbuffer_t *tb =
      lathe_kprogram_add_buffer(p, "tab", LATHE_DTYPE_F32, 2, td, LATHE_KBUF_INPUT);
  lathe_kbuffer_t *y = lathe_kprogram_add_buffer(p, "y", LATHE_DTYPE_F32, 2, yd, LATHE_KBUF_OUTPUT);
  lathe_kbuffer_t *z = lathe_kprogram_add_buffer(p, "z", LATHE_DTYPE_F32, 2, xd, LATHE_KBUF_OUTPUT);
  lathe_kprogram_set_input(p, 0, x->id);
  lathe_kprogram_set_input(p, 1, ix->id);
  lathe_kprogram_set_input(p, 2, tb->id);
  lathe_kprogram_set_output(p, 0, y->id);
  lathe_kprogram_set_output(p, 1, z->id);
  const lathe_kexpr_t *i = it(p, 0), *j = it(p, 1), *yi[2] = {i, j};
  lathe_kernel_t *k0 = lathe_kprogram_add_loops_kernel(p, "k0_transpose");
  lathe_kstmt_desc_t s0 = {
      .num_iters = 2, .extents = yd, .target = y, .target_index = yi, .value = ld(p, x, j, i)};
  assert_non_null(lathe_kernel_add_stmt(p, k0, &s0));
  lathe_kernel_t *k1 = lathe_kprogram_add_loops_kernel(p, "k1_gather");
  lathe_kstmt_desc_t s1 = {.num_iters = 2,
                           .extents = xd,
                           .target = z,
                           .target_index = yi,
                           .value = ld(p, tb, lathe_kexpr_load(p, ix, &i), j)};
  assert_non_null(lathe_kernel_add_stmt(p, k1, &s1));
  OK(lathe_kprogram_finish(p));
  return p;
}

static void test_transpose_gather(void **state) {
  static const int64_t shapes[][3] = {{1, 1, 1}, {5, 13, 3}, {16, 9, 7}, {31, 37, 50}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
    int64_t r = shapes[s][0], c = shapes[s][1], v = shapes[s][2];
    float *x = calloc((size_t)(r * c), sizeof(float)),
          *tab = calloc((size_t)(v * c), sizeof(float));
    int64_t *idx = calloc((size_t)r, sizeof(int64_t));
    harness_fill(x, (size_t)(r * c), 5, -1, 1);
    harness_fill(tab, (size_t)(v * c), 6, -1, 1);
    for (int64_t e = 0; e < r; ++e) idx[e] = (e * 7 + 3) % v;
    lathe_kprogram_t *p = build_movement(r, c, v);
    int64_t dx[2] = {r, c}, di[1] = {r}, dt[2] = {v, c};
    const int64_t *dims[3] = {dx, di, dt};
    const void *ins[3] = {x, idx, tab};
    for (int32_t t = 1; t <= 2; ++t) harness_check(p, dims, ins, t, &F32_TOL);
    lathe_kprogram_destroy(p);
    free(x), free(tab), free(idx);
  }
}

/* ---- casts ---- */

/* out_t[i] = cast<t>(x[i] * 37.5) for a list of dtypes, then back to f32 for
 * a second output through f16 and bf16 */
static void test_casts(void **state) {
  static const lathe_dtype_t types[] = {LATHE_DTYPE_F16, LATHE_DTYPE_BF16, LATHE_DTYPE_F64,
                                        LATHE_DTYPE_I32, LATHE_DTYPE_I64,  LATHE_DTYPE_I8,
                                        LATHE_DTYPE_U8,  LATHE_DTYPE_U16,  LATHE_DTYPE_BOOL,
                                        LATHE_DTYPE_I4,  LATHE_DTYPE_U4,   LATHE_DTYPE_U64};
  static const int64_t lens[] = {1, 7, 64, 129};
  for (size_t t = 0; t < sizeof types / sizeof types[0]; ++t)
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; ++l) {
      int64_t n = lens[l];
      lathe_kprogram_t *p = lathe_kprogram_create("cast");
      lathe_kdim_t d = lathe_kdim_static(n);
      lathe_kbuffer_t *x =
          lathe_kprogram_add_buffer(p, "x", LATHE_DTYPE_F32, 1, &d, LATHE_KBUF_INPUT);
      lathe_kbuffer_t *y = lathe_kprogram_add_buffer(p, "y", types[t], 1, &d, LATHE_KBUF_OUTPUT);
      lathe_kbuffer_t *z =
          lathe_kprogram_add_buffer(p, "z", LATHE_DTYPE_F32, 1, &d, LATHE_KBUF_OUTPUT);
      lathe_kprogram_set_input(p, 0, x->id);
      lathe_kprogram_set_output(p, 0, y->id);
      lathe_kprogram_set_output(p, 1, z->id);
      const lathe_kexpr_t *i = it(p, 0);
      const lathe_kexpr_t *v = bin(p, LATHE_KOP_MUL, lathe_kexpr_load(p, x, &i), fc(p, 37.5));
      lathe_kernel_t *k = lathe_kprogram_add_loops_kernel(p, "k0_cast");
      lathe_kstmt_desc_t s0 = {.num_iters = 1,
                               .extents = &d,
                               .target = y,
                               .target_index = &i,
                               .value = lathe_kexpr_cast(p, types[t], v)};
      assert_non_null(lathe_kernel_add_stmt(p, k, &s0));
      /* read it back in a second kernel: z = cast<f32>(y) + 0.25 */
      lathe_kernel_t *k1 = lathe_kprogram_add_loops_kernel(p, "k1_back");
      lathe_kstmt_desc_t s1 = {
          .num_iters = 1,
          .extents = &d,
          .target = z,
          .target_index = &i,
          .value =
              bin(p, LATHE_KOP_ADD,
                  lathe_kexpr_cast(p, LATHE_DTYPE_F32, lathe_kexpr_load(p, y, &i)), fc(p, 0.25))};
      assert_non_null(lathe_kernel_add_stmt(p, k1, &s1));
      OK(lathe_kprogram_finish(p));
      float *xs = calloc((size_t)n + 1, sizeof(float));
      harness_fill(xs, (size_t)n, 7, -4, 4);
      if (n > 5) xs[1] = NAN, xs[2] = INFINITY, xs[3] = -INFINITY, xs[4] = 1e30f, xs[5] = -0.0f;
      int64_t dims[1] = {n};
      harness_opts_t o = {.rel_tol = 1e-7, .abs_tol = 0};
      check2(p, dims, xs, NULL, NULL, &o);
      lathe_kprogram_destroy(p);
      free(xs);
    }
}

/* ---- views and derived sizes ---- */

/* x: f32[N, 6] seen as [N*3, 2] (a view of the input); y[r, c] = v[r, c] * r */
static void test_views_and_derived(void **state) {
  static const int64_t ns[] = {0, 1, 5, 17};
  for (size_t s = 0; s < sizeof ns / sizeof ns[0]; ++s) {
    lathe_kprogram_t *p = lathe_kprogram_create("views");
    uint32_t n = lathe_kprogram_add_input_param(p, "N", 0, 0);
    lathe_kdim_t xd[2] = {lathe_kdim_param((int32_t)n), lathe_kdim_static(6)};
    lathe_kbuffer_t *x =
        lathe_kprogram_add_buffer(p, "x", LATHE_DTYPE_F32, 2, xd, LATHE_KBUF_INPUT);
    lathe_kdim_t n3 = lathe_kprogram_dim_of(
        p, bin(p, LATHE_KOP_MUL, lathe_kexpr_param(p, n), lathe_kexpr_int(p, LATHE_DTYPE_I64, 3)));
    lathe_kdim_t vd[2] = {n3, lathe_kdim_static(2)};
    lathe_kbuffer_t *v = lathe_kprogram_add_view(p, "xv", x, 2, vd);
    lathe_kbuffer_t *y =
        lathe_kprogram_add_buffer(p, "y", LATHE_DTYPE_F32, 2, vd, LATHE_KBUF_OUTPUT);
    lathe_kprogram_set_input(p, 0, x->id);
    lathe_kprogram_set_output(p, 0, y->id);
    const lathe_kexpr_t *i = it(p, 0), *j = it(p, 1), *yi[2] = {i, j};
    lathe_kernel_t *k = lathe_kprogram_add_loops_kernel(p, "k0_scale");
    lathe_kstmt_desc_t s0 = {
        .num_iters = 2,
        .extents = vd,
        .target = y,
        .target_index = yi,
        .value = bin(p, LATHE_KOP_MUL, ld(p, v, i, j), lathe_kexpr_cast(p, LATHE_DTYPE_F32, i))};
    assert_non_null(lathe_kernel_add_stmt(p, k, &s0));
    OK(lathe_kprogram_finish(p));
    float *xs = calloc((size_t)(ns[s] * 6) + 1, sizeof(float));
    harness_fill(xs, (size_t)(ns[s] * 6), 8, -1, 1);
    int64_t d[2] = {ns[s], 6};
    check2(p, d, xs, NULL, NULL, &F32_TOL);
    lathe_kprogram_destroy(p);
    free(xs);
  }
}

/* ---- options ---- */

/* vector_width forces the lanes of innermost loops; -O0 and -O1 compile the
 * same program to the same results. */
static void test_options(void **state) {
  float bias[17], x[3 * 17];
  harness_fill(bias, 17, 1, -1, 1);
  harness_fill(x, 3 * 17, 2, -3, 3);
  lathe_weight_t w = {.kind = LATHE_WEIGHT_INLINE,
                      .dtype = LATHE_DTYPE_F32,
                      .num_bytes = sizeof bias,
                      .data = (const uint8_t *)bias};
  lathe_kprogram_t *p = build_chain(17, &w);
  const lathe_backend_t *be = lathe_backend_find("llvm");
  lathe_codegen_options_t opts;
  lathe_codegen_options_init(&opts);
  opts.target = "x86-64-v3";
  opts.vector_width = 4;
  lathe_codegen_artifact_t *art = NULL;
  OK(be->compile(p, &opts, &art));
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  OK(be->emit_text(art, &sb));
  assert_non_null(strstr(lathe_strbuf_cstr(&sb), "<4 x float>"));
  assert_null(strstr(lathe_strbuf_cstr(&sb), "<8 x float>"));
  lathe_strbuf_destroy(&sb);
  be->destroy(art);
  int64_t d[2] = {3, 17};
  for (uint32_t level = 0; level <= 2; ++level) {
    harness_opts_t o = F32_TOL;
    o.vector_width = level == 2 ? 4 : 0;
    o.opt0 = level == 0;
    o.opt_level = level == 1 ? 1 : 0;
    check2(p, d, x, NULL, NULL, &o);
  }
  lathe_kprogram_destroy(p);
}

/* ---- threads ---- */

/* Compiles softmax programs in several threads at once (one LLVM context
 * each), and runs one JIT'd program from several threads at once (one
 * runtime context each): nothing in the backend or the generated code is
 * shared mutable state. */
typedef struct job {
  int64_t cols;
  lathe_status_t st;
  const lathe_rt_program_t *prog; /* run mode: the shared program */
  float *x, *y;
  int64_t rows;
} job_t;

static void *compile_job(void *arg) {
  job_t *j = arg;
  lathe_kprogram_t *p = build_softmax(j->cols);
  const lathe_backend_t *be = lathe_backend_find("llvm");
  lathe_codegen_artifact_t *art = NULL;
  lathe_codegen_jit_t *jit = NULL;
  j->st = be->compile(p, NULL, &art);
  if (!j->st) j->st = be->jit(art, &jit);
  be->jit_destroy(jit);
  be->destroy(art);
  lathe_kprogram_destroy(p);
  return NULL;
}

static void *run_job(void *arg) {
  job_t *j = arg;
  lathe_rt_context_t *ctx = NULL;
  lathe_rt_pool_t *pool = NULL;
  int64_t dims[2] = {j->rows, j->cols};
  lathe_rt_tensor_t in, out;
  j->st = lathe_rt_pool_create(2, &pool);
  if (!j->st) j->st = lathe_rt_context_create(pool, &ctx);
  if (!j->st)
    j->st = lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 2, dims, j->x,
                                 (uint64_t)(j->rows * j->cols) * 4, &in);
  if (!j->st)
    j->st = lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 2, dims, j->y,
                                 (uint64_t)(j->rows * j->cols) * 4, &out);
  for (int r = 0; r < 20 && !j->st; ++r)
    j->st = lathe_rt_program_run(j->prog, NULL, ctx, &in, 1, &out, 1);
  lathe_rt_context_destroy(ctx);
  lathe_rt_pool_destroy(pool);
  return NULL;
}

static void test_threads(void **state) {
  enum { T = 3 };
  job_t jobs[T];
  pthread_t th[T];
  for (int i = 0; i < T; ++i) {
    jobs[i] = (job_t){.cols = 31 + 10 * i};
    assert_int_equal(pthread_create(&th[i], NULL, compile_job, &jobs[i]), 0);
  }
  for (int i = 0; i < T; ++i) {
    pthread_join(th[i], NULL);
    OK(jobs[i].st);
  }
  /* one program, T threads running it on different rows counts */
  lathe_kprogram_t *p = build_softmax(50);
  const lathe_backend_t *be = lathe_backend_find("llvm");
  lathe_codegen_artifact_t *art = NULL;
  lathe_codegen_jit_t *jit = NULL;
  OK(be->compile(p, NULL, &art));
  OK(be->jit(art, &jit));
  for (int i = 0; i < T; ++i) {
    int64_t rows = 5 + 7 * i;
    jobs[i] = (job_t){.cols = 50, .rows = rows, .prog = be->jit_program(jit)};
    jobs[i].x = malloc((size_t)(rows * 50) * sizeof(float));
    jobs[i].y = malloc((size_t)(rows * 50) * sizeof(float));
    harness_fill(jobs[i].x, (size_t)(rows * 50), (uint32_t)i, -3, 3);
    assert_int_equal(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
  }
  for (int i = 0; i < T; ++i) {
    pthread_join(th[i], NULL);
    OK(jobs[i].st);
    for (int64_t r = 0; r < jobs[i].rows; ++r) { /* each row sums to 1 */
      double sum = 0;
      for (int c = 0; c < 50; ++c) sum += jobs[i].y[r * 50 + c];
      assert_float_equal(sum, 1.0, 1e-5);
    }
    free(jobs[i].x), free(jobs[i].y);
  }
  be->jit_destroy(jit);
  be->destroy(art);
  lathe_kprogram_destroy(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_elementwise_chain),
      cmocka_unit_test(test_reductions),
      cmocka_unit_test(test_softmax),
      cmocka_unit_test(test_transpose_gather),
      cmocka_unit_test(test_casts),
      cmocka_unit_test(test_views_and_derived),
      cmocka_unit_test(test_options),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
