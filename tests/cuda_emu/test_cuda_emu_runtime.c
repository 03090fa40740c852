/* The CUDA emulator on hand-written kernels in the generated code's subset
 * and ABI: block reductions through shuffles and shared partials, a shared
 * tile transpose, WMMA fragments (f16, bf16, row- and column-major), f16/bf16
 * rounding, and the strictness the codegen tests rely on:
 *   - a transpose missing its __syncthreads gives wrong results under the
 *     reverse and random orders (reads of tile elements not yet written);
 *   - reading another lane's WMMA store without a barrier sees poison;
 *   - shared memory is poisoned per block (no stale data from the last one);
 *   - divergent __syncthreads, divergent shuffles and partial shuffle masks
 *     are statuses, not hangs; malformed launches are refused;
 *   - an access one element past a buffer kills the process with a message
 *     naming the buffer and the CUDA thread (checked in a child process).
 */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/half.h"
#include "tests/cuda_emu/emu.h"

#define OK(expr)                                                    \
  do {                                                              \
    lathe_status_t st_ = (expr);                                    \
    if (st_) fail_msg("%s: %s", #expr, lathe_status_message(st_)); \
  } while (0)

#ifndef LATHE_EMU_KERNELS
#error "LATHE_EMU_KERNELS must name tests/cuda_emu/kernels/selftest.cu (CMake sets it)"
#endif

/* kernels/selftest.cu, compiled once for every test. */
static lathe_emu_image_t *image;

static int setup(void **state) {
  (void)state;
  FILE *f = fopen(LATHE_EMU_KERNELS, "rb");
  if (!f) return -1;
  static char src[1 << 16];
  size_t n = fread(src, 1, sizeof src - 1, f);
  fclose(f);
  src[n] = 0;
  lathe_status_t st = lathe_emu_image_compile(src, true, &image);
  if (st) {
    fprintf(stderr, "%s\n", lathe_status_message(st));
    lathe_status_free(st);
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  lathe_emu_image_destroy(image);
  return 0;
}

static lathe_emu_kernel_t kernel(lathe_emu_image_t *img, const char *name) {
  lathe_emu_kernel_t k = NULL;
  OK(lathe_emu_image_kernel(img, name, &k));
  return k;
}

static lathe_status_t launch(lathe_emu_image_t *img, const char *name, uint32_t grid, uint32_t block,
                             void *const *b, const long long *p, lathe_emu_order_t order,
                             uint64_t seed) {
  const uint32_t g[3] = {grid, 1, 1}, t[3] = {block, 1, 1};
  lathe_emu_launch_opts_t o = {.order = order, .seed = seed, .poison = 0xff, .name = name};
  return lathe_emu_launch(img, kernel(img, name), g, t, b, p, &o, NULL);
}

static const lathe_emu_order_t orders[] = {LATHE_EMU_ORDER_FORWARD, LATHE_EMU_ORDER_REVERSE,
                                           LATHE_EMU_ORDER_RANDOM};

/* ---- block reduction: per-thread partials, shuffles, shared partials ---- */

static void test_block_reduction(void **state) {
  (void)state;
  lathe_emu_image_t *img = image;
  const long long rows = 7, cols = 1000;
  long long *x = lathe_emu_alloc(rows * cols * 8, 8, 0, "x");
  long long *y = lathe_emu_alloc(rows * 8, 8, 0xff, "y");
  for (long long i = 0; i < rows * cols; ++i) x[i] = (i * 7919) % 1009 - 500;
  const long long p[2] = {rows, cols};
  void *b[2] = {x, y};
  for (size_t o = 0; o < 3; ++o)
    for (uint32_t block = 32; block <= 256; block *= 2) {
      memset(y, 0xff, rows * 8);
      OK(launch(img, "rowsum", 3, block, b, p, orders[o], 7 + block));
      for (long long r = 0; r < rows; ++r) {
        long long want = 0;
        for (long long c = 0; c < cols; ++c) want += x[r * cols + c];
        assert_int_equal(y[r], want);
      }
    }
  lathe_emu_free(x), lathe_emu_free(y);
}

/* ---- a shared tile transpose, with and without its barrier ---- */

/* Runs one transpose variant; returns how many elements came out wrong. */
static long long run_transpose(lathe_emu_image_t *img, const char *name, long long n,
                               lathe_emu_order_t order, uint64_t seed) {
  float *x = lathe_emu_alloc((size_t)(n * n) * 4, 4, 0, "x");
  float *y = lathe_emu_alloc((size_t)(n * n) * 4, 4, 0xff, "y");
  for (long long i = 0; i < n * n; ++i) x[i] = (float)i;
  void *b[2] = {x, y};
  const long long p[1] = {n};
  OK(launch(img, name, 5, 128, b, p, order, seed));
  long long wrong = 0;
  for (long long i = 0; i < n; ++i)
    for (long long j = 0; j < n; ++j) wrong += !(y[i * n + j] == x[j * n + i]);
  lathe_emu_free(x), lathe_emu_free(y);
  return wrong;
}

static void test_transpose_and_race(void **state) {
  (void)state;
  lathe_emu_image_t *img = image;
  static const long long sizes[] = {1, 31, 32, 67};
  for (size_t s = 0; s < 4; ++s)
    for (size_t o = 0; o < 3; ++o)
      assert_int_equal(run_transpose(img, "transpose", sizes[s], orders[o], 3), 0);
  /* Forward order happens to hide this race (each thread's reads come after
   * the writes of the threads before it... not all of them): the emulator's
   * other orders must expose it. */
  assert_true(run_transpose(img, "transpose_racy", 67, LATHE_EMU_ORDER_REVERSE, 0) > 0);
  for (uint64_t seed = 1; seed <= 3; ++seed)
    assert_true(run_transpose(img, "transpose_racy", 67, LATHE_EMU_ORDER_RANDOM, seed) > 0);
}

/* ---- shared memory is fresh (poisoned) in every block ---- */

static void test_shared_is_per_block(void **state) {
  (void)state;
  lathe_emu_image_t *img = image;
  assert_true(lathe_emu_image_shared_bytes(img) >= 32 * 4);
  unsigned int *y = lathe_emu_alloc(2 * 32 * 4, 4, 0, "y");
  void *b[1] = {y};
  OK(launch(img, "stale", 2, 32, b, NULL, LATHE_EMU_ORDER_FORWARD, 0));
  for (int i = 0; i < 32; ++i) assert_int_equal(y[i], 7u), assert_int_equal(y[32 + i], 0xffffffffu);
  lathe_emu_free(y);
}

/* ---- divergence and malformed launches are errors ---- */

static void expect_error(lathe_status_t st, const char *needle) {
  assert_non_null(st);
  if (!strstr(lathe_status_message(st), needle))
    fail_msg("status '%s' does not mention '%s'", lathe_status_message(st), needle);
  lathe_status_free(st);
}

static void test_divergence_and_launch_errors(void **state) {
  (void)state;
  lathe_emu_image_t *img = image;
  int *y = lathe_emu_alloc(64 * 4, 4, 0, "y");
  void *b[1] = {y};
  expect_error(launch(img, "bad_sync", 1, 64, b, NULL, LATHE_EMU_ORDER_FORWARD, 0),
               "__syncthreads not reached by every thread");
  expect_error(launch(img, "bad_shfl", 1, 64, b, NULL, LATHE_EMU_ORDER_RANDOM, 1),
               "divergent warp collective");
  expect_error(launch(img, "bad_mask", 1, 32, b, NULL, LATHE_EMU_ORDER_FORWARD, 0), "partial mask");
  OK(launch(img, "shfl_xor_idx", 1, 64, b, NULL, LATHE_EMU_ORDER_REVERSE, 0));
  for (int t = 0; t < 64; ++t) assert_int_equal(y[t], ((t % 32) ^ 5) + (t / 32) * 32 + 1000 * ((t / 32) * 32 + 3));
  expect_error(launch(img, "shfl_xor_idx", 1, 48, b, NULL, LATHE_EMU_ORDER_FORWARD, 0), "multiple of 32");
  expect_error(launch(img, "shfl_xor_idx", 0, 32, b, NULL, LATHE_EMU_ORDER_FORWARD, 0), "grid");
  lathe_emu_free(y);
}

/* ---- f16/bf16 conversions are support/half's ---- */

static void test_half_rounding(void **state) {
  (void)state;
  lathe_emu_image_t *img = image;
  const long long n = 4099;
  float *x = lathe_emu_alloc(n * 4, 4, 0, "x");
  uint16_t *h = lathe_emu_alloc(n * 2, 2, 0, "h"), *bf = lathe_emu_alloc(n * 2, 2, 0, "bf");
  for (long long i = 0; i < n; ++i) x[i] = lathe_f32_from_bits((uint32_t)(i * 1048573u + 12345u));
  void *b[3] = {x, h, bf};
  const long long p[1] = {n};
  OK(launch(img, "round16", 1, 96, b, p, LATHE_EMU_ORDER_FORWARD, 0));
  for (long long i = 0; i < n; ++i) {
    uint16_t wh = lathe_f32_to_f16(x[i]), wb = lathe_f32_to_bf16(x[i]);
    assert_int_equal(h[i], wh);
    assert_int_equal(bf[i], wb);
  }
  lathe_emu_free(x), lathe_emu_free(h), lathe_emu_free(bf);
}

/* ---- WMMA: two warps, each a 16x16 tile of C over K in steps of 16 ---- */

/* Runs one WMMA kernel on pseudo-random operands; returns the number of
 * elements off by more than the f32-accumulation tolerance. */
static int run_wmma(lathe_emu_image_t *img, const char *name, bool bf16, bool sync,
                    lathe_emu_order_t order) {
  const long long K = 48;
  uint16_t *a = lathe_emu_alloc(32 * K * 2, 2, 0, "a"), *b = lathe_emu_alloc(K * 16 * 2, 2, 0, "b");
  float *c = lathe_emu_alloc(32 * 16 * 4, 4, 0xff, "c");
  float fa[32 * 48], fb[48 * 16];
  for (long long i = 0; i < 32 * K; ++i) {
    float v = (float)((i * 37) % 19) / 8.0f - 1.1f;
    a[i] = bf16 ? lathe_f32_to_bf16(v) : lathe_f32_to_f16(v);
    fa[i] = bf16 ? lathe_bf16_to_f32(a[i]) : lathe_f16_to_f32(a[i]);
  }
  for (long long i = 0; i < K * 16; ++i) {
    float v = (float)((i * 53) % 23) / 11.0f - 0.9f;
    b[i] = bf16 ? lathe_f32_to_bf16(v) : lathe_f32_to_f16(v);
    fb[i] = bf16 ? lathe_bf16_to_f32(b[i]) : lathe_f16_to_f32(b[i]);
  }
  void *bufs[3] = {a, b, c};
  const long long p[2] = {K, sync};
  OK(launch(img, name, 1, 64, bufs, p, order, 5));
  int wrong = 0;
  for (int m = 0; m < 32; ++m)
    for (int n = 0; n < 16; ++n) {
      double want = 0, mag = 0;
      for (int k = 0; k < K; ++k)
        want += (double)fa[m * K + k] * fb[k * 16 + n], mag += fabs((double)fa[m * K + k] * fb[k * 16 + n]);
      wrong += !(fabs(c[m * 16 + n] - want) <= 1e-6 * mag + 1e-6);
    }
  lathe_emu_free(a), lathe_emu_free(b), lathe_emu_free(c);
  return wrong;
}

static void test_wmma(void **state) {
  (void)state;
  lathe_emu_image_t *img = image;
  static const char *const names[] = {"mm_f16", "mm_f16_col", "mm_bf16", "mm_bf16_col"};
  for (int k = 0; k < 4; ++k)
    for (size_t o = 0; o < 3; ++o) assert_int_equal(run_wmma(img, names[k], k >= 2, true, orders[o]), 0);
}

/* Without the barrier after store_matrix_sync a lane reads the other lanes'
 * parts of the tile before they are stored: poison, in every order. */
static void test_wmma_race(void **state) {
  (void)state;
  lathe_emu_image_t *img = image;
  for (size_t o = 0; o < 3; ++o) assert_true(run_wmma(img, "mm_f16", false, false, orders[o]) > 0);
}

/* ---- one element past a buffer is a fault that names it ---- */

static void test_out_of_bounds_faults(void **state) {
  (void)state;
  lathe_emu_image_t *img = image;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], STDERR_FILENO);
    signal(SIGSEGV, SIG_DFL); /* not cmocka's handler: die of the fault */
    const long long n = 100;
    float *y = lathe_emu_alloc(n * 4, 4, 0, "y");
    void *b[1] = {y};
    lathe_status_t st = launch(img, "oob", 4, 32, b, &n, LATHE_EMU_ORDER_FORWARD, 0);
    _exit(st ? 3 : 0); /* reaching here means no fault: the test fails */
  }
  close(fds[1]);
  char out[2048] = {0};
  size_t used = 0;
  ssize_t r;
  while (used < sizeof out - 1 && (r = read(fds[0], out + used, sizeof out - 1 - used)) > 0)
    used += (size_t)r;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  assert_true(WIFSIGNALED(status));
  if (!strstr(out, "0 bytes past the end of buffer 'y' (400 bytes)") ||
      !strstr(out, "kernel 'oob': block (3,0,0) thread (4,0,0)"))
    fail_msg("unexpected fault report: %s", out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_block_reduction),   cmocka_unit_test(test_transpose_and_race),
      cmocka_unit_test(test_shared_is_per_block), cmocka_unit_test(test_divergence_and_launch_errors),
      cmocka_unit_test(test_half_rounding),     cmocka_unit_test(test_wmma),
      cmocka_unit_test(test_wmma_race),         cmocka_unit_test(test_out_of_bounds_faults),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
