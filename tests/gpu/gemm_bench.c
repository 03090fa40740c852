/* gemm_bench: Lathe's fp16 GEMM kernel against cuBLAS on the same GPU.
 *
 *   gemm_bench LIB.so M K N [ITERS]
 *
 * LIB.so is `lathe compile tests/gpu/models/gemm_f16.lir --target cuda:sm_NN`
 * (one GEMM kernel: f16 operands, f32 accumulation on tensor cores, f16
 * result). The kernel is loaded from the artifact's image for this GPU and
 * launched with the artifact's launch table, exactly as runtime/cuda would;
 * cuBLAS runs cublasGemmEx with the same types (CUBLAS_COMPUTE_32F). Both
 * are timed with CUDA events over ITERS launches after a warm-up, kernels
 * only (no copies), and the two results are compared. Prints one line:
 *   gemm_bench: M=.. K=.. N=..: lathe T ms (X TFLOP/s), cublas T ms (X TFLOP/s),
 *   lathe/cublas=R, max_rel_diff=D
 * Built by tests/gpu/run.sh with the toolkit's headers and libraries.
 */
#include <cublas_v2.h>
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cuda/cuda.h"
#include "runtime/runtime.h"
#include "support/half.h"

#define CHECK_CU(x)                                                                   \
  do {                                                                                \
    CUresult r_ = (x);                                                                \
    if (r_ != CUDA_SUCCESS) {                                                         \
      const char *s_ = "?";                                                           \
      cuGetErrorName(r_, &s_);                                                        \
      fprintf(stderr, "gemm_bench: %s failed: %s\n", #x, s_);                         \
      exit(1);                                                                        \
    }                                                                                 \
  } while (0)
#define CHECK_RT(x)                                                                   \
  do {                                                                                \
    cudaError_t r_ = (x);                                                             \
    if (r_ != cudaSuccess) {                                                          \
      fprintf(stderr, "gemm_bench: %s failed: %s\n", #x, cudaGetErrorString(r_));     \
      exit(1);                                                                        \
    }                                                                                 \
  } while (0)
#define CHECK_BLAS(x)                                                                 \
  do {                                                                                \
    cublasStatus_t r_ = (x);                                                          \
    if (r_ != CUBLAS_STATUS_SUCCESS) {                                                \
      fprintf(stderr, "gemm_bench: %s failed: status %d\n", #x, (int)r_);             \
      exit(1);                                                                        \
    }                                                                                 \
  } while (0)

static void die(const char *what, lathe_status_t st) {
  fprintf(stderr, "gemm_bench: %s: %s\n", what, st ? lathe_status_message(st) : "failed");
  exit(1);
}

static uint16_t *random_f16(size_t n, uint32_t seed) {
  uint16_t *h = malloc(n * sizeof *h);
  uint32_t s = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    h[i] = lathe_f32_to_f16(-1.0f + 2.0f * (float)(s >> 8) / (float)(1u << 24));
  }
  return h;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: gemm_bench LIB.so M K N [ITERS]\n");
    return 2;
  }
  long long M = atoll(argv[2]), K = atoll(argv[3]), N = atoll(argv[4]);
  int iters = argc > 5 ? atoi(argv[5]) : 20;
  char lib[1024];
  snprintf(lib, sizeof lib, "%s%s", strchr(argv[1], '/') ? "" : "./", argv[1]);
  void *dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!dl) die(dlerror(), NULL);
  const lathe_rt_program_t *prog = dlsym(dl, "lathe_program");
  const lathe_cuda_program_t *cuda = dlsym(dl, "lathe_program_cuda");
  if (!prog || !cuda || prog->num_kernels != 1 || prog->num_inputs != 2)
    die("the library is not a one-kernel CUDA GEMM artifact", NULL);

  /* Sizes: bind the params from the operand shapes (only dtype and dims are read). */
  static uint16_t dummy;
  lathe_rt_tensor_t in[2];
  int64_t da[2] = {M, K}, db[2] = {K, N}, params[64] = {0};
  lathe_status_t st = lathe_rt_tensor_init(LATHE_RT_DTYPE_F16, 2, da, &dummy, (uint64_t)(M * K * 2), &in[0]);
  if (!st) st = lathe_rt_tensor_init(LATHE_RT_DTYPE_F16, 2, db, &dummy, (uint64_t)(K * N * 2), &in[1]);
  if (!st && prog->num_params > 64) die("too many params", NULL);
  if (!st) st = lathe_rt_program_bind(prog, in, 2, params);
  if (st) die("binding sizes", st);

  CHECK_RT(cudaSetDevice(0));
  CHECK_RT(cudaFree(0)); /* creates the primary context the driver calls below use */
  CUdevice dev;
  CHECK_CU(cuCtxGetDevice(&dev));
  int major = 0, minor = 0;
  CHECK_CU(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
  CHECK_CU(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev));
  const lathe_cuda_image_t *img = lathe_cuda_pick_image(cuda, major * 10 + minor);
  if (!img) die("no image in the artifact runs on this GPU", NULL);
  CUmodule mod;
  CUfunction fn;
  CHECK_CU(cuModuleLoadData(&mod, img->data));
  const lathe_cuda_launch_t *launch = &cuda->launches[0];
  CHECK_CU(cuModuleGetFunction(&fn, mod, launch->symbol));

  size_t na = (size_t)(M * K), nb = (size_t)(K * N), nc = (size_t)(M * N);
  uint16_t *ha = random_f16(na, 1), *hb = random_f16(nb, 2);
  void *dA, *dB, *dC, *dRef, *dBuf, *dPar;
  CHECK_RT(cudaMalloc(&dA, na * 2));
  CHECK_RT(cudaMalloc(&dB, nb * 2));
  CHECK_RT(cudaMalloc(&dC, nc * 2));
  CHECK_RT(cudaMalloc(&dRef, nc * 2));
  CHECK_RT(cudaMemcpy(dA, ha, na * 2, cudaMemcpyHostToDevice));
  CHECK_RT(cudaMemcpy(dB, hb, nb * 2, cudaMemcpyHostToDevice));

  /* The kernel ABI's two tables: a device pointer per buffer id, the params. */
  void **table = calloc((size_t)prog->num_buffers + 1, sizeof *table);
  for (int32_t b = 0; b < prog->num_buffers; ++b) {
    const lathe_rt_buffer_desc_t *d = &prog->buffers[b];
    const lathe_rt_buffer_desc_t *root = d->role == LATHE_RT_BUFFER_VIEW ? &prog->buffers[d->index] : d;
    if (root->role == LATHE_RT_BUFFER_INPUT) table[b] = root->index == 0 ? dA : dB;
    else if (root->role == LATHE_RT_BUFFER_OUTPUT) table[b] = dC;
    else die("the GEMM artifact has temporaries or weights", NULL);
  }
  CHECK_RT(cudaMalloc(&dBuf, (size_t)prog->num_buffers * sizeof(void *) + 8));
  CHECK_RT(cudaMalloc(&dPar, 64 * sizeof(int64_t)));
  CHECK_RT(cudaMemcpy(dBuf, table, (size_t)prog->num_buffers * sizeof(void *), cudaMemcpyHostToDevice));
  CHECK_RT(cudaMemcpy(dPar, params, sizeof params, cudaMemcpyHostToDevice));
  uint32_t grid[3];
  lathe_cuda_launch_grid(launch, params, grid);
  void *kargs[2] = {&dBuf, &dPar};

  cublasHandle_t blas;
  CHECK_BLAS(cublasCreate(&blas));
  const float one = 1.0f, zero = 0.0f;
  cudaEvent_t e0, e1;
  CHECK_RT(cudaEventCreate(&e0));
  CHECK_RT(cudaEventCreate(&e1));
  float ms_lathe = 0, ms_blas = 0;
  for (int pass = 0; pass < 2; ++pass) { /* pass 0 warms up */
    int n = pass ? iters : 2;
    CHECK_RT(cudaEventRecord(e0, 0));
    for (int i = 0; i < n; ++i)
      CHECK_CU(cuLaunchKernel(fn, grid[0], grid[1], grid[2], launch->block[0], launch->block[1],
                              launch->block[2], 0, 0, kargs, NULL));
    CHECK_RT(cudaEventRecord(e1, 0));
    CHECK_RT(cudaEventSynchronize(e1));
    CHECK_RT(cudaEventElapsedTime(&ms_lathe, e0, e1));
    CHECK_RT(cudaEventRecord(e0, 0));
    for (int i = 0; i < n; ++i) /* row-major C = A B is column-major C^T = B^T A^T */
      CHECK_BLAS(cublasGemmEx(blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)N, (int)M, (int)K, &one, dB,
                              CUDA_R_16F, (int)N, dA, CUDA_R_16F, (int)K, &zero, dRef, CUDA_R_16F,
                              (int)N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    CHECK_RT(cudaEventRecord(e1, 0));
    CHECK_RT(cudaEventSynchronize(e1));
    CHECK_RT(cudaEventElapsedTime(&ms_blas, e0, e1));
  }
  ms_lathe /= (float)iters, ms_blas /= (float)iters;

  uint16_t *hc = malloc(nc * 2), *hr = malloc(nc * 2);
  CHECK_RT(cudaMemcpy(hc, dC, nc * 2, cudaMemcpyDeviceToHost));
  CHECK_RT(cudaMemcpy(hr, dRef, nc * 2, cudaMemcpyDeviceToHost));
  double worst = 0;
  for (size_t i = 0; i < nc; ++i) {
    double g = lathe_f16_to_f32(hc[i]), w = lathe_f16_to_f32(hr[i]);
    double d = fabs(g - w) / (fabs(w) + 1e-2 * sqrt((double)K));
    if (!(d <= worst)) worst = d; /* NaN wins */
  }
  double flop = 2.0 * (double)M * (double)N * (double)K;
  printf("gemm_bench: M=%lld K=%lld N=%lld: lathe %.4f ms (%.1f TFLOP/s), cublas %.4f ms "
         "(%.1f TFLOP/s), lathe/cublas=%.3f, max_rel_diff=%.3g\n",
         M, K, N, ms_lathe, flop / ms_lathe / 1e9, ms_blas, flop / ms_blas / 1e9,
         ms_blas / ms_lathe, worst);
  cublasDestroy(blas);
  return worst <= 2e-2 ? 0 : 1;
}
