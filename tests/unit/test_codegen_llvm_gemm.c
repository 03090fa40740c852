/* The LLVM backend's GEMM kernels against the reference interpreter's naive
 * triple loop: every transpose combination, batch broadcasting of either
 * operand, a fused epilogue (bias + residual + relu, or a plain cast),
 * operand dtypes f32/f16/bf16/f64/i8/u4 (integers accumulate in i32), K over
 * several K blocks, M/N/K of 0, 1, primes and non-multiples of the register
 * tile, the streaming path for at most 16 rows, a symbolic M bound at run
 * time, a constant B (packed once, reused by a second run), on 1 and 2
 * threads.
 * Tolerance: relative 1e-5 of the sum of |a*b| terms for f32 (the reference
 * sums in f64; the kernel in f32 with a different order), exact for ints.
 */
#include "codegen_llvm_harness.h"

typedef struct gcase {
  int64_t batch, m, n, k;
  bool ta, tb, bcast_a, bcast_b, epilogue, symbolic_m, const_b;
  lathe_dtype_t at, bt, ct, acc;
} gcase_t;

static lathe_kprogram_t *build_gemm(const gcase_t *c, lathe_weight_t *bias_w, lathe_weight_t *b_w) {
  lathe_kprogram_t *p = lathe_kprogram_create("gemm");
  lathe_kdim_t m = lathe_kdim_static(c->m);
  if (c->symbolic_m) m = lathe_kdim_param((int32_t)lathe_kprogram_add_input_param(p, "M", 0, 1));
  lathe_kdim_t bd = lathe_kdim_static(c->batch), kd = lathe_kdim_static(c->k),
               nd = lathe_kdim_static(c->n);
  lathe_kdim_t ad[3] = {c->bcast_a ? lathe_kdim_static(1) : bd, c->ta ? kd : m, c->ta ? m : kd};
  lathe_kdim_t bdims[3] = {c->bcast_b ? lathe_kdim_static(1) : bd, c->tb ? nd : kd,
                           c->tb ? kd : nd};
  lathe_kdim_t cd[3] = {bd, m, nd};
  lathe_kbuffer_t *a = lathe_kprogram_add_buffer(p, "a", c->at, 3, ad, LATHE_KBUF_INPUT);
  lathe_kbuffer_t *b = lathe_kprogram_add_buffer(p, "b", c->bt, 3, bdims,
                                                 c->const_b ? LATHE_KBUF_CONST : LATHE_KBUF_INPUT);
  b->weight = c->const_b ? b_w : NULL;
  lathe_kbuffer_t *r = lathe_kprogram_add_buffer(p, "r", c->ct, 3, cd, LATHE_KBUF_INPUT);
  lathe_kbuffer_t *bias = lathe_kprogram_add_buffer(p, "bias", c->ct, 1, &nd, LATHE_KBUF_CONST);
  bias->weight = bias_w;
  lathe_kbuffer_t *out = lathe_kprogram_add_buffer(p, "c", c->ct, 3, cd, LATHE_KBUF_OUTPUT);
  lathe_kprogram_set_input(p, 0, a->id);
  if (!c->const_b) lathe_kprogram_set_input(p, 1, b->id);
  lathe_kprogram_set_input(p, c->const_b ? 1 : 2, r->id);
  lathe_kprogram_set_output(p, 0, out->id);
  lathe_kgemm_t g = {.a = {a->id, c->ta, c->bcast_a},
                     .b = {b->id, c->tb, c->bcast_b},
                     .c = out->id,
                     .batch = bd,
                     .m = m,
                     .n = nd,
                     .k = kd,
                     .acc_dtype = c->acc};
  if (c->epilogue) {
    const lathe_kexpr_t *ib = lathe_kexpr_iter(p, 0), *im = lathe_kexpr_iter(p, 1),
                        *in = lathe_kexpr_iter(p, 2), *ri[3] = {ib, im, in};
    const lathe_kexpr_t *acc = lathe_kexpr_cast(p, c->ct, lathe_kexpr_acc(p, c->acc));
    const lathe_kexpr_t *v =
        lathe_kexpr_binary(p, LATHE_KOP_ADD, acc, lathe_kexpr_load(p, bias, &in));
    v = lathe_kexpr_binary(p, LATHE_KOP_ADD, v, lathe_kexpr_load(p, r, ri));
    const lathe_kexpr_t *zero =
        lathe_dtype_is_float(c->ct) ? lathe_kexpr_float(p, c->ct, 0) : lathe_kexpr_int(p, c->ct, 0);
    g.epilogue = lathe_kexpr_binary(p, LATHE_KOP_MAX, v, zero); /* relu */
  }
  assert_non_null(lathe_kprogram_add_gemm_kernel(p, "k0_matmul", &g));
  OK(lathe_kprogram_finish(p));
  return p;
}

/* n values of dtype t from pseudo-random floats in [-1, 1) (integers: -3..3,
 * u4: 0..15). */
static void *make_data(lathe_dtype_t t, int64_t n, uint32_t seed) {
  size_t count = (size_t)(n > 0 ? n : 0);
  float *f = calloc(count + 1, sizeof(float));
  harness_fill(f, count, seed, -1, 1);
  uint8_t *out = calloc(count * 8 + 8, 1);
  for (size_t i = 0; i < count; ++i) {
    int iv = (int)lrintf(f[i] * 3);
    switch (t) {
    case LATHE_DTYPE_F32: ((float *)out)[i] = f[i]; break;
    case LATHE_DTYPE_F64: ((double *)out)[i] = f[i]; break;
    case LATHE_DTYPE_F16: ((uint16_t *)out)[i] = lathe_f32_to_f16(f[i]); break;
    case LATHE_DTYPE_BF16: ((uint16_t *)out)[i] = lathe_f32_to_bf16(f[i]); break;
    case LATHE_DTYPE_I8: ((int8_t *)out)[i] = (int8_t)iv; break;
    case LATHE_DTYPE_I32: ((int32_t *)out)[i] = iv; break;
    case LATHE_DTYPE_U4:
      out[i / 2] |= (uint8_t)(((unsigned)(iv + 3) * 2 & 15) << (4 * (i & 1)));
      break;
    default: fail_msg("make_data: dtype %d", (int)t);
    }
  }
  free(f);
  return out;
}

static void run_case(const gcase_t *c) {
  int64_t na = (c->bcast_a ? 1 : c->batch) * c->m * c->k,
          nb = (c->bcast_b ? 1 : c->batch) * c->k * c->n;
  int64_t nc = c->batch * c->m * c->n;
  void *a = make_data(c->at, na, 11), *b = make_data(c->bt, nb, 12), *r = make_data(c->ct, nc, 13);
  void *bias = make_data(c->ct, c->n, 14);
  lathe_weight_t w = {.kind = LATHE_WEIGHT_INLINE,
                      .dtype = c->ct,
                      .num_bytes = (uint64_t)c->n * lathe_dtype_bits(c->ct) / 8,
                      .data = (const uint8_t *)bias};
  uint64_t b_bytes = ((uint64_t)nb * lathe_dtype_bits(c->bt) + 7) / 8;
  lathe_weight_t bw = {
      .kind = LATHE_WEIGHT_INLINE, .dtype = c->bt, .num_bytes = b_bytes, .data = b};
  lathe_kprogram_t *p = build_gemm(c, &w, &bw);
  int64_t da[3] = {c->bcast_a ? 1 : c->batch, c->ta ? c->k : c->m, c->ta ? c->m : c->k};
  int64_t db[3] = {c->bcast_b ? 1 : c->batch, c->tb ? c->n : c->k, c->tb ? c->k : c->n};
  int64_t dr[3] = {c->batch, c->m, c->n};
  const int64_t *dims[3] = {da, db, dr};
  const void *ins[3] = {a, b, r};
  if (c->const_b) dims[1] = dr, ins[1] = r;
  harness_opts_t o = {.rel_tol = 1e-5,
                      .abs_tol = 2e-6 * (double)(c->k + 1),
                      .derived =
                          c->const_b && c->m > 16 /* not the streaming path */ && c->n && c->k};
  if (c->ct == LATHE_DTYPE_F16 || c->ct == LATHE_DTYPE_BF16) /* one rounding of the output */
    o.rel_tol = c->ct == LATHE_DTYPE_F16 ? 1.0 / 1024 : 1.0 / 128, o.abs_tol *= 8;
  if (!lathe_dtype_is_float(c->ct)) o.rel_tol = o.abs_tol = 0;
  for (int32_t t = 1; t <= 2; ++t) harness_check(p, dims, ins, t, &o);
  lathe_kprogram_destroy(p);
  free(a), free(b), free(r), free(bias);
}

static gcase_t f32_case(int64_t batch, int64_t m, int64_t n, int64_t k) {
  return (gcase_t){.batch = batch,
                   .m = m,
                   .n = n,
                   .k = k,
                   .epilogue = true,
                   .at = LATHE_DTYPE_F32,
                   .bt = LATHE_DTYPE_F32,
                   .ct = LATHE_DTYPE_F32,
                   .acc = LATHE_DTYPE_F32};
}

/* Shapes at the edges of the register tile and of the K blocks. */
static void test_shapes(void **state) {
  static const int64_t shapes[][4] = {{1, 1, 1, 1},    {1, 7, 13, 5},     {2, 6, 16, 8},
                                      {1, 64, 64, 64}, {1, 67, 131, 259}, {3, 5, 3, 600},
                                      {1, 0, 4, 4},    {1, 4, 0, 4},      {1, 4, 5, 0},
                                      {0, 4, 4, 4},    {1, 97, 33, 1},    {1, 200, 2100, 3}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
    gcase_t c = f32_case(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3]);
    run_case(&c);
    c.epilogue = false;
    run_case(&c);
  }
}

/* Every transpose and broadcast combination, one K block; and partial sums
 * over two K blocks with every transpose pair (half of them broadcasting). */
static void test_transposes_broadcast(void **state) {
  for (int bits = 0; bits < 16; ++bits) {
    gcase_t c = f32_case(3, 19, 23, 37);
    c.ta = bits & 1, c.tb = bits & 2, c.bcast_a = bits & 4, c.bcast_b = bits & 8;
    run_case(&c);
    if ((bits >> 2) == (bits & 3)) { /* 0, 5, 10, 15: each transpose pair once */
      c.k = 300;
      run_case(&c);
    }
  }
}

static void test_dtypes(void **state) {
  static const lathe_dtype_t f[][3] = {
      {LATHE_DTYPE_F16, LATHE_DTYPE_F32, LATHE_DTYPE_F32},
      {LATHE_DTYPE_F32, LATHE_DTYPE_BF16, LATHE_DTYPE_F32},
      {LATHE_DTYPE_F16, LATHE_DTYPE_F16, LATHE_DTYPE_F16},
      {LATHE_DTYPE_BF16, LATHE_DTYPE_BF16, LATHE_DTYPE_BF16},
  };
  for (size_t i = 0; i < sizeof f / sizeof f[0]; ++i)
    for (int64_t k = 40; k <= 300; k += 260) {
      gcase_t c = f32_case(2, 9, 21, k);
      c.at = f[i][0], c.bt = f[i][1], c.ct = f[i][2];
      c.tb = i & 1;
      run_case(&c);
    }
  gcase_t d = f32_case(2, 9, 21, 300);
  d.at = d.bt = d.ct = d.acc = LATHE_DTYPE_F64;
  run_case(&d);
  gcase_t q = f32_case(2, 9, 21, 300); /* integer: i8 x u4 -> i32 */
  q.at = LATHE_DTYPE_I8, q.bt = LATHE_DTYPE_U4, q.ct = q.acc = LATHE_DTYPE_I32;
  run_case(&q);
  q.bt = LATHE_DTYPE_I8, q.ta = true;
  run_case(&q);
}

/* At most 16 rows: the streaming path (B unpacked), with every transpose and
 * broadcast, mixed dtypes and a column count over one chunk (256). */
static void test_few_rows(void **state) {
  for (int bits = 0; bits < 16; bits += 1 + (bits & 1)) { /* 0, 1, 3, 5, ...: M from 1 to 16 */
    gcase_t c = f32_case(2, 1 + bits, 37, 300);
    c.ta = bits & 1, c.tb = bits & 2, c.bcast_a = bits & 4, c.bcast_b = bits & 8;
    run_case(&c);
  }
  gcase_t w = f32_case(1, 3, 1100, 65);
  run_case(&w);
  w.tb = true, w.bt = LATHE_DTYPE_F16, w.ct = LATHE_DTYPE_BF16;
  run_case(&w);
  gcase_t q = f32_case(2, 2, 21, 40);
  q.at = LATHE_DTYPE_I8, q.bt = LATHE_DTYPE_U4, q.ct = q.acc = LATHE_DTYPE_I32;
  run_case(&q);
}

/* B a constant: packed once into the weights table's derived data, then
 * reused; with batch copies, a broadcast f16 B, two column groups
 * (4096 + 4) and K blocks. */
static void test_const_b(void **state) {
  gcase_t c = f32_case(2, 37, 45, 300);
  c.const_b = c.tb = true;
  run_case(&c);
  c.tb = false, c.bcast_b = true, c.bt = LATHE_DTYPE_F16;
  run_case(&c);
  gcase_t g = f32_case(2, 17, 4100, 20);
  g.const_b = true;
  g.epilogue = false;
  run_case(&g);
}

/* M bound at run time from the first input's dim 1. */
static void test_symbolic(void **state) {
  gcase_t c = f32_case(2, 1, 40, 33);
  c.symbolic_m = true;
  for (int64_t m = 0; m < 30; m += 7) {
    c.m = m;
    run_case(&c);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shapes),   cmocka_unit_test(test_transposes_broadcast),
      cmocka_unit_test(test_dtypes),   cmocka_unit_test(test_few_rows),
      cmocka_unit_test(test_symbolic), cmocka_unit_test(test_const_b),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
