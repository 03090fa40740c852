/* runtime/cuda's run path against a fake CUDA driver, so the plumbing is
 * tested on machines without a GPU: which image is loaded for the device,
 * kernels resolved by symbol, device memory for inputs, outputs and the
 * temporaries' arena, the buffer-pointer and param tables the kernels get,
 * grids from the launch table, weights uploaded once, outputs copied back,
 * and driver errors turned into statuses naming the call and the kernel.
 *
 * The fake (C source below, compiled with the system C compiler into a
 * shared library that $LATHE_CUDA_DRIVER points at) keeps "device" memory on
 * the host and "runs" the three kernels of the test program itself (one per
 * op: exp, add the weight, row sum; two temporaries in the arena), reading
 * their arguments exactly as the generated code would.
 */
#include <dlfcn.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "codegen/backend.h"
#include "codegen/cuda/cuda.h"
#include "ir/text.h"
#include "kernel/kernel.h"

#define OK(expr)                                                   \
  do {                                                             \
    lathe_status_t st_ = (expr);                                   \
    if (st_) fail_msg("%s: %s", #expr, lathe_status_message(st_)); \
  } while (0)

static const char fake_driver[] =
    "#include <math.h>\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "typedef unsigned long long ptr_t;\n"
    "int fake_launches, fake_uploads, fake_fail_launch, fake_grid[3], fake_block, "
    "fake_image_kind;\n"
    "int cuInit(unsigned f) { (void)f; return 0; }\n"
    "int cuDeviceGet(int *d, int o) { *d = o; return 0; }\n"
    "int cuDeviceGetAttribute(int *v, int a, int d) { (void)d; *v = a == 75 ? 9 : 0; return 0; }\n"
    "int cuDevicePrimaryCtxRetain(void **c, int d) { (void)d; *c = (void *)1; return 0; }\n"
    "int cuDevicePrimaryCtxRelease_v2(int d) { (void)d; return 0; }\n"
    "int cuCtxSetCurrent(void *c) { (void)c; return 0; }\n"
    "int cuModuleLoadData(void **m, const void *image) {\n"
    "  fake_image_kind = memcmp(image, \"\\177ELF\", 4) == 0 ? 2 : 1; *m = (void *)2; return 0;\n"
    "}\n"
    "int cuModuleUnload(void *m) { (void)m; return 0; }\n"
    "int cuModuleGetFunction(void **f, void *m, const char *name) {\n"
    "  (void)m; *f = (void *)name; return 0; /* the caller's launch table outlives it */\n"
    "}\n"
    "int cuMemAlloc_v2(ptr_t *p, size_t n) { *p = (ptr_t)calloc(1, n); return *p ? 0 : 2; }\n"
    "int cuMemFree_v2(ptr_t p) { free((void *)p); return 0; }\n"
    "int cuMemcpyHtoD_v2(ptr_t d, const void *s, size_t n) {\n"
    "  ++fake_uploads; memcpy((void *)d, s, n); return 0;\n"
    "}\n"
    "int cuMemcpyHtoDAsync_v2(ptr_t d, const void *s, size_t n, void *st) {\n"
    "  (void)st; memcpy((void *)d, s, n); return 0;\n"
    "}\n"
    "int cuMemcpyDtoHAsync_v2(void *d, ptr_t s, size_t n, void *st) {\n"
    "  (void)st; memcpy(d, (void *)s, n); return 0;\n"
    "}\n"
    "int cuStreamCreate(void **s, unsigned f) { (void)f; *s = (void *)3; return 0; }\n"
    "int cuStreamDestroy_v2(void *s) { (void)s; return 0; }\n"
    "int cuStreamSynchronize(void *s) { (void)s; return 0; }\n"
    /* buffers: 0 x[N,8], 1 w[8] (const), 2 and 3 [N,8] (temps), 4 z[N] (output) */
    "int cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,\n"
    "                   unsigned by, unsigned bz, unsigned sh, void *st, void **args, void **ex) "
    "{\n"
    "  (void)by, (void)bz, (void)sh, (void)st, (void)ex;\n"
    "  if (fake_fail_launch) return 1;\n"
    "  ++fake_launches; fake_grid[0] = gx, fake_grid[1] = gy, fake_grid[2] = gz, fake_block = bx;\n"
    "  float **B = *(float ***)args[0]; const long long *P = *(const long long **)args[1];\n"
    "  long long n = P[0];\n"
    "  if (strstr((const char *)f, \"k0_exp\"))\n"
    "    for (long long i = 0; i < n * 8; ++i) B[2][i] = expf(B[0][i]);\n"
    "  else if (strstr((const char *)f, \"k1_add\"))\n"
    "    for (long long i = 0; i < n * 8; ++i) B[3][i] = B[2][i] + B[1][i % 8];\n"
    "  else\n"
    "    for (long long r = 0; r < n; ++r) {\n"
    "      B[4][r] = 0;\n"
    "      for (int c = 0; c < 8; ++c) B[4][r] += B[3][r * 8 + c];\n"
    "    }\n"
    "  return 0;\n"
    "}\n"
    "int cuGetErrorName(int r, const char **s) { *s = r == 1 ? \"CUDA_ERROR_INVALID_VALUE\" : "
    "\"?\"; return 0; }\n"
    "int cuGetErrorString(int r, const char **s) { *s = r == 1 ? \"invalid argument\" : \"?\"; "
    "return 0; }\n";

typedef struct fixture {
  char dir[64], lib[96];
  void *handle; /* the fake, to read its counters */
  lathe_module_t *module;
  lathe_kprogram_t *program;
  lathe_arena_t arena;
  const lathe_rt_program_t *desc;
  lathe_cuda_source_t *source;
  lathe_cuda_image_t images[2];
  lathe_cuda_program_t cuda;
  lathe_rt_weights_t *weights;
} fixture_t;

static const char graph[] = "graph @g(%x: f32[N, 8]) -> (f32[N]) {\n"
                            "  %w = const dense[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0] : f32[8]\n"
                            "  %0 = exp %x : f32[N, 8]\n"
                            "  %1 = add %0, %w : f32[N, 8]\n"
                            "  %2 = reduce_sum %1 {axes = [1], keepdims = 0} : f32[N]\n"
                            "  return %2\n"
                            "}\n";
static const char ptx80[] = "// fake PTX\n.target sm_80\n";
static const unsigned char cubin80[] = {0x7f, 'E', 'L', 'F', 80};

static int32_t not_on_host(const lathe_rt_kernel_args_t *args) {
  (void)args;
  return LATHE_RT_KERNEL_INVALID_VALUE;
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/lathe_fake_cuda_XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  char src[96];
  snprintf(src, sizeof src, "%s/fake.c", f->dir);
  snprintf(f->lib, sizeof f->lib, "%s/libfakecuda.so", f->dir);
  FILE *out = fopen(src, "w");
  if (!out || fputs(fake_driver, out) < 0 || fclose(out)) return -1;
  const char *cc = getenv("CC");
  char *argv[] = {
      (char *)(cc && *cc ? cc : "cc"), "-shared", "-fPIC", "-o", f->lib, src, "-lm", NULL};
  lathe_status_t st = lathe_codegen_spawn(argv);
  if (st) {
    fprintf(stderr, "cannot build the fake driver: %s\n", lathe_status_message(st));
    lathe_status_free(st);
    return -1;
  }
  unlink(src);
  f->handle = dlopen(f->lib, RTLD_NOW);
  lathe_arena_init(&f->arena);
  if (lathe_module_parse(graph, strlen(graph), "g.lir", NULL, &f->module) ||
      lathe_kernel_lower_graph(lathe_module_first_graph(f->module), &f->program) ||
      lathe_codegen_describe(f->program, &f->arena, not_on_host, &f->desc) ||
      lathe_cuda_generate(f->program, NULL, &f->source) ||
      lathe_rt_weights_create(lathe_codegen_num_weights(f->program), &f->weights))
    return -1;
  for (uint32_t b = 0; b < f->program->num_buffers; ++b) {
    int32_t id = lathe_codegen_weight_id(f->program, b);
    const lathe_weight_t *w = f->program->buffers[b]->weight;
    if (id >= 0 && lathe_rt_weights_set_memory(f->weights, id, w->data, w->num_bytes)) return -1;
  }
  f->images[0] = (lathe_cuda_image_t){LATHE_CUDA_IMAGE_PTX, 80, sizeof ptx80, ptx80};
  f->images[1] = (lathe_cuda_image_t){LATHE_CUDA_IMAGE_CUBIN, 80, sizeof cubin80, cubin80};
  f->cuda = (lathe_cuda_program_t){.abi_version = LATHE_CUDA_ABI_VERSION,
                                   .num_kernels = (int32_t)f->source->num_kernels,
                                   .num_images = 2,
                                   .launches = f->source->launches,
                                   .images = f->images};
  setenv("LATHE_CUDA_DRIVER", f->lib, 1);
  *state = f;
  return f->handle ? 0 : -1;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  unsetenv("LATHE_CUDA_DRIVER");
  lathe_rt_weights_destroy(f->weights);
  lathe_cuda_source_destroy(f->source);
  lathe_arena_destroy(&f->arena);
  lathe_kprogram_destroy(f->program);
  lathe_module_destroy(f->module);
  dlclose(f->handle);
  unlink(f->lib);
  rmdir(f->dir);
  free(f);
  return 0;
}

static int *counter(fixture_t *f, const char *name) {
  int *p = dlsym(f->handle, name);
  assert_non_null(p);
  return p;
}

static void run(lathe_rt_cuda_t *rt, const lathe_rt_weights_t *w, int64_t n, float *z) {
  float *x = calloc((size_t)n * 8 + 1, sizeof *x);
  for (int64_t i = 0; i < n * 8; ++i) x[i] = (float)(i % 5) * 0.25f;
  const int64_t dx[2] = {n, 8}, dz[1] = {n};
  lathe_rt_tensor_t in, out;
  OK(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 2, dx, x, (uint64_t)n * 32, &in));
  OK(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 1, dz, z, (uint64_t)n * 4, &out));
  OK(lathe_rt_cuda_run(rt, w, &in, 1, &out, 1));
  for (int64_t r = 0; r < n; ++r) {
    float want = 0;
    for (int c = 0; c < 8; ++c) want += expf(x[r * 8 + c]) + (float)c;
    assert_true(fabsf(z[r] - want) <= 1e-4f * want);
  }
  free(x);
}

static void test_runs(void **state) {
  fixture_t *f = *state;
  assert_int_equal(f->source->num_kernels, 3);
  lathe_rt_cuda_t *rt;
  OK(lathe_rt_cuda_create(f->desc, &f->cuda, &rt));
  assert_int_equal(*counter(f, "fake_launches"), 0); /* creating touches no driver */
  float z[13];
  run(rt, f->weights, 13, z);
  assert_int_equal(*counter(f, "fake_image_kind"),
                   1); /* sm_90 device: the sm_80 PTX, not its CUBIN */
  assert_int_equal(*counter(f, "fake_launches"), 3);
  uint32_t grid[3];
  int64_t params[4] = {13};
  lathe_cuda_launch_grid(&f->cuda.launches[2], params, grid);
  assert_int_equal(counter(f, "fake_grid")[0], (int)grid[0]);
  assert_int_equal(*counter(f, "fake_block"), (int)f->cuda.launches[2].block[0]);
  int uploads = *counter(f, "fake_uploads");
  assert_int_equal(uploads, 1); /* the one weight */
  run(rt, f->weights, 3, z);    /* other sizes, same weights: no new upload */
  assert_int_equal(*counter(f, "fake_uploads"), uploads);
  assert_int_equal(*counter(f, "fake_launches"), 6);
  lathe_rt_cuda_destroy(rt);
}

static void test_errors(void **state) {
  fixture_t *f = *state;
  lathe_rt_cuda_t *rt;
  OK(lathe_rt_cuda_create(f->desc, &f->cuda, &rt));
  float z[2];
  const int64_t dx[2] = {2, 8}, dz[1] = {2}, bad[2] = {2, 9};
  float x[18] = {0};
  lathe_rt_tensor_t in, out;
  OK(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 2, bad, x, sizeof x, &in));
  OK(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 1, dz, z, sizeof z, &out));
  lathe_status_t st = lathe_rt_cuda_run(rt, f->weights, &in, 1, &out, 1);
  assert_non_null(st); /* the runtime's binding message */
  assert_non_null(strstr(lathe_status_message(st), "input 'x'"));
  lathe_status_free(st);
  OK(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 2, dx, x, sizeof x, &in));
  st = lathe_rt_cuda_run(rt, NULL, &in, 1, &out, 1);
  assert_non_null(st);
  assert_non_null(strstr(lathe_status_message(st), "1 weights, none given"));
  lathe_status_free(st);
  *counter(f, "fake_fail_launch") = 1;
  st = lathe_rt_cuda_run(rt, f->weights, &in, 1, &out, 1);
  *counter(f, "fake_fail_launch") = 0;
  assert_non_null(st);
  if (!strstr(lathe_status_message(st),
              "CUDA error in cuLaunchKernel (kernel 'k0_exp'): CUDA_ERROR_INVALID_VALUE: invalid "
              "argument"))
    fail_msg("unexpected: %s", lathe_status_message(st));
  lathe_status_free(st);
  lathe_rt_cuda_destroy(rt);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_runs), cmocka_unit_test(test_errors)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
