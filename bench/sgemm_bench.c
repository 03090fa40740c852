/* sgemm_bench: Lathe's GEMM kernel (the LLVM backend's packed micro-kernel,
 * JIT-compiled for this machine) against OpenBLAS cblas_sgemm, row-major
 * C = A * B with f32 matrices, on 1 and 2 threads.
 *
 *   sgemm_bench [SIZE...]        default sizes 512 1024 2048; a SIZE is n
 *                                (square) or MxNxK (a model's shape, e.g.
 *                                128x3072x768 for a transformer's FFN)
 *   SGEMM_BENCH_ASM=FILE         also write the kernel's assembly to FILE
 *   SGEMM_BENCH_IR=FILE          ... and its optimised LLVM IR
 *   SGEMM_BENCH_SO=FILE          run the kernel from a shared library written
 *                                to FILE and dlopen'ed (profilers see symbols)
 *
 * Prints the median GFLOP/s of each and the ratio Lathe/OpenBLAS, and checks
 * that both agree (max relative error). A benchmark, not a test: numbers
 * depend on the machine and its load.
 */
#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/backend.h"
#include "kernel/kernel.h"
#include "runtime/runtime.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void die(lathe_status_t st, const char *what) {
  if (!st) return;
  fprintf(stderr, "sgemm_bench: %s: %s\n", what, lathe_status_message(st));
  exit(1);
}

typedef struct shape {
  int m, n, k;
} shape_t;

static lathe_kprogram_t *build(shape_t s) {
  lathe_kprogram_t *p = lathe_kprogram_create("sgemm");
  lathe_kdim_t one = lathe_kdim_static(1), m = lathe_kdim_static(s.m), n = lathe_kdim_static(s.n),
               k = lathe_kdim_static(s.k);
  lathe_kdim_t da[3] = {one, m, k}, db[3] = {one, k, n}, dc[3] = {one, m, n};
  lathe_kbuffer_t *a = lathe_kprogram_add_buffer(p, "a", LATHE_DTYPE_F32, 3, da, LATHE_KBUF_INPUT);
  lathe_kbuffer_t *b = lathe_kprogram_add_buffer(p, "b", LATHE_DTYPE_F32, 3, db, LATHE_KBUF_INPUT);
  lathe_kbuffer_t *c = lathe_kprogram_add_buffer(p, "c", LATHE_DTYPE_F32, 3, dc, LATHE_KBUF_OUTPUT);
  lathe_kprogram_set_input(p, 0, a->id);
  lathe_kprogram_set_input(p, 1, b->id);
  lathe_kprogram_set_output(p, 0, c->id);
  lathe_kgemm_t g = {.a = {a->id, false, false},
                     .b = {b->id, false, false},
                     .c = c->id,
                     .batch = one,
                     .m = m,
                     .n = n,
                     .k = k,
                     .acc_dtype = LATHE_DTYPE_F32};
  lathe_kprogram_add_gemm_kernel(p, "k0_matmul", &g);
  die(lathe_kprogram_finish(p), "building the program");
  return p;
}

/* Median seconds of `reps` timed calls after one warm-up. */
typedef void (*run_fn)(void *ctx);
static double median_time(run_fn fn, void *ctx, int reps) {
  double t[64];
  fn(ctx);
  for (int r = 0; r < reps; ++r) {
    double t0 = now();
    fn(ctx);
    t[r] = now() - t0;
  }
  qsort(t, (size_t)reps, sizeof t[0], cmp);
  return t[reps / 2];
}

typedef struct lathe_run {
  const lathe_rt_program_t *prog;
  lathe_rt_context_t *ctx;
  lathe_rt_tensor_t in[2], out[1];
} lathe_run_t;

static void run_lathe(void *p) {
  lathe_run_t *r = p;
  die(lathe_rt_program_run(r->prog, NULL, r->ctx, r->in, 2, r->out, 1), "run");
}

typedef struct blas_run {
  shape_t s;
  const float *a, *b;
  float *c;
} blas_run_t;

static void run_blas(void *p) {
  blas_run_t *r = p;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r->s.m, r->s.n, r->s.k, 1.0f, r->a, r->s.k,
              r->b, r->s.n, 0.0f, r->c, r->s.n);
}

int main(int argc, char **argv) {
  shape_t sizes[16] = {{512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048}};
  int num_sizes = 3;
  if (argc > 1) {
    num_sizes = 0;
    for (int i = 1; i < argc && num_sizes < 16; ++i) {
      shape_t s = {0, 0, 0};
      if (sscanf(argv[i], "%dx%dx%d", &s.m, &s.n, &s.k) != 3) s.m = s.n = s.k = atoi(argv[i]);
      sizes[num_sizes++] = s;
    }
  }
  const lathe_backend_t *be = lathe_backend_find("llvm");
  printf("%16s %7s %12s %12s %7s %10s\n", "MxNxK", "threads", "lathe GF/s", "openblas GF/s",
         "ratio", "max relerr");
  for (int s = 0; s < num_sizes; ++s) {
    shape_t sh = sizes[s];
    if (sh.m <= 0 || sh.n <= 0 || sh.k <= 0) continue;
    size_t na = (size_t)sh.m * (size_t)sh.k, nb = (size_t)sh.k * (size_t)sh.n,
           count = (size_t)sh.m * (size_t)sh.n;
    float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc(count * 4),
          *ref = malloc(count * 4);
    for (size_t i = 0; i < na; ++i) a[i] = (float)((i * 7919u) % 1000) / 500.0f - 1.0f;
    for (size_t i = 0; i < nb; ++i) b[i] = (float)((i * 104729u) % 1000) / 500.0f - 1.0f;
    lathe_kprogram_t *p = build(sh);
    lathe_codegen_options_t opts;
    lathe_codegen_options_init(&opts);
    lathe_codegen_artifact_t *art;
    die(be->compile(p, &opts, &art), "compile");
    if (getenv("SGEMM_BENCH_ASM")) /* for looking at the micro-kernel */
      die(be->emit_file(art, LATHE_CODEGEN_FILE_ASM, getenv("SGEMM_BENCH_ASM")), "emit");
    if (getenv("SGEMM_BENCH_IR")) {
      lathe_strbuf_t sb;
      lathe_strbuf_init(&sb);
      die(be->emit_text(art, &sb), "emit");
      FILE *fp = fopen(getenv("SGEMM_BENCH_IR"), "w");
      if (fp) fputs(lathe_strbuf_cstr(&sb), fp), fclose(fp);
      lathe_strbuf_destroy(&sb);
    }
    lathe_codegen_jit_t *jit;
    die(be->jit(art, &jit), "jit");
    lathe_run_t lr = {.prog = be->jit_program(jit)};
    void *so = NULL;
    if (getenv("SGEMM_BENCH_SO")) { /* run from a shared library instead (profilers see symbols) */
      die(be->emit_file(art, LATHE_CODEGEN_FILE_SHARED, getenv("SGEMM_BENCH_SO")), "emit .so");
      so = dlopen(getenv("SGEMM_BENCH_SO"), RTLD_NOW | RTLD_LOCAL);
      if (!so || !(lr.prog = dlsym(so, "lathe_program"))) {
        fprintf(stderr, "sgemm_bench: %s\n", dlerror());
        return 1;
      }
    }
    int64_t da[3] = {1, sh.m, sh.k}, db[3] = {1, sh.k, sh.n}, dc[3] = {1, sh.m, sh.n};
    die(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 3, da, a, na * 4, &lr.in[0]), "tensor");
    die(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 3, db, b, nb * 4, &lr.in[1]), "tensor");
    die(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 3, dc, c, count * 4, &lr.out[0]), "tensor");
    double flops = 2.0 * sh.m * (double)sh.n * sh.k;
    int reps = (int)fmin(31, fmax(3, 3e10 / flops));
    for (int threads = 1; threads <= 2; ++threads) {
      lathe_rt_pool_t *pool;
      die(lathe_rt_pool_create(threads, &pool), "pool");
      die(lathe_rt_context_create(pool, &lr.ctx), "context");
      double tl = median_time(run_lathe, &lr, reps);
      openblas_set_num_threads(threads);
      blas_run_t br = {sh, a, b, ref};
      double tb = median_time(run_blas, &br, reps);
      double err = 0;
      for (size_t i = 0; i < count; ++i)
        err = fmax(err, fabs(c[i] - ref[i]) / (fabs(ref[i]) + 1.0));
      char name[48];
      snprintf(name, sizeof name, "%dx%dx%d", sh.m, sh.n, sh.k);
      printf("%16s %7d %12.1f %12.1f %7.2f %10.2e\n", name, threads, flops / tl * 1e-9,
             flops / tb * 1e-9, tb / tl, err);
      fflush(stdout);
      lathe_rt_context_destroy(lr.ctx);
      lathe_rt_pool_destroy(pool);
    }
    if (so) dlclose(so);
    be->jit_destroy(jit);
    be->destroy(art);
    lathe_kprogram_destroy(p);
    free(a), free(b), free(c), free(ref);
  }
  return 0;
}
