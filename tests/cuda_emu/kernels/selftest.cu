// Hand-written kernels for test_cuda_emu_runtime.c: the generated code's
// subset and ABI (every kernel takes the buffer table and the param table),
// compiled once by the host C++ compiler against cuda_emu.h. Each kernel's
// comment says what the test checks with it.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#define KERNEL(threads, name)                                                                      \
  extern "C" __global__ void __launch_bounds__(threads)                                           \
  name(void *const *__restrict__ lathe_B, const long long *__restrict__ lathe_P)

// Row sums of a [rows, cols] i64 matrix: one block per row (grid-stride),
// per-thread partials, shuffles within warps, one shared partial per warp,
// then the first warp finishes. Exact in every order and block size.
KERNEL(256, rowsum) {
  __shared__ long long part[8];
  const long long *x = (const long long *)lathe_B[0];
  long long *y = (long long *)lathe_B[1];
  long long rows = lathe_P[0], cols = lathe_P[1];
  for (long long r = (long long)blockIdx.x; r < rows; r += (long long)gridDim.x) {
    long long acc = 0;
    for (long long c = (long long)threadIdx.x; c < cols; c += (long long)blockDim.x)
      acc += x[r * cols + c];
    for (int off = 16; off > 0; off /= 2) acc += __shfl_down_sync(0xffffffffu, acc, off);
    long long lane = (long long)threadIdx.x % 32, warp = (long long)threadIdx.x / 32;
    if (lane == 0) part[warp] = acc;
    __syncthreads();
    if (warp == 0) {
      acc = lane < (long long)blockDim.x / 32 ? part[lane] : 0;
      for (int off = 16; off > 0; off /= 2) acc += __shfl_down_sync(0xffffffffu, acc, off);
      if (lane == 0) y[r] = acc;
    }
    __syncthreads();
  }
}

// y = x^T for an [n, n] f32 matrix through a padded 32x33 shared tile; the
// racy twin lacks the barrier between the tile's writes and reads.
#define TRANSPOSE(name, SYNC)                                                                      \
  KERNEL(256, name) {                                                                              \
    __shared__ float tile[32][33];                                                                 \
    const float *x = (const float *)lathe_B[0];                                                   \
    float *y = (float *)lathe_B[1];                                                                \
    long long n = lathe_P[0], tiles = (n + 31) / 32;                                               \
    for (long long t = (long long)blockIdx.x; t < tiles * tiles; t += (long long)gridDim.x) {      \
      long long ti = t / tiles, tj = t % tiles;                                                    \
      for (long long e = (long long)threadIdx.x; e < 1024; e += (long long)blockDim.x) {           \
        long long i = ti * 32 + e / 32, j = tj * 32 + e % 32;                                      \
        if (i < n && j < n) tile[e / 32][e % 32] = x[i * n + j];                                   \
      }                                                                                            \
      SYNC                                                                                         \
      for (long long e = (long long)threadIdx.x; e < 1024; e += (long long)blockDim.x) {           \
        long long i = tj * 32 + e / 32, j = ti * 32 + e % 32;                                      \
        if (i < n && j < n) y[i * n + j] = tile[e % 32][e / 32];                                   \
      }                                                                                            \
      __syncthreads();                                                                             \
    }                                                                                              \
  }
TRANSPOSE(transpose, __syncthreads();)
TRANSPOSE(transpose_racy, )

// Block 0 fills shared memory, every block reads it: block 1 must see the
// poison, not block 0's data.
KERNEL(32, stale) {
  __shared__ unsigned int s[32];
  unsigned int *y = (unsigned int *)lathe_B[0];
  if (blockIdx.x == 0) s[threadIdx.x] = 7u;
  __syncthreads();
  y[blockIdx.x * 32 + threadIdx.x] = s[threadIdx.x];
}

// Contract breaches the emulator must report: a barrier only some threads
// reach, a shuffle only some lanes reach, a partial mask.
KERNEL(64, bad_sync) {
  if (threadIdx.x < 32) __syncthreads();
}
KERNEL(64, bad_shfl) {
  int v = (int)threadIdx.x;
  if (threadIdx.x % 32 < 16) v = __shfl_down_sync(0xffffffffu, v, 1);
  __syncthreads();
  ((int *)lathe_B[0])[threadIdx.x] = v;
}
KERNEL(32, bad_mask) {
  int v = __shfl_xor_sync(0xffffu, (int)threadIdx.x, 1);
  ((int *)lathe_B[0])[threadIdx.x] = v;
}
// xor and indexed shuffles of doubles and ints, per warp.
KERNEL(64, shfl_xor_idx) {
  double v = __shfl_xor_sync(0xffffffffu, (double)threadIdx.x, 5);
  int w = __shfl_sync(0xffffffffu, (int)threadIdx.x, 3);
  ((int *)lathe_B[0])[threadIdx.x] = (int)v + 1000 * w;
}

// f32 -> f16/bf16 -> f32 -> f16/bf16, which must match support/half.h.
KERNEL(128, round16) {
  const float *x = (const float *)lathe_B[0];
  __half *h = (__half *)lathe_B[1];
  __nv_bfloat16 *bf = (__nv_bfloat16 *)lathe_B[2];
  for (long long i = (long long)threadIdx.x; i < lathe_P[0]; i += (long long)blockDim.x) {
    h[i] = __float2half_rn(__half2float(__float2half_rn(x[i])));
    bf[i] = __float2bfloat16_rn(__bfloat162float(__float2bfloat16_rn(x[i])));
  }
}

// C[32, 16] = A[32, K] x B[K, 16] with WMMA: two warps, each one 16x16 tile,
// K in steps of 16 staged in shared memory (B transposed for col_major).
// lathe_P[1] == 0 drops the barrier between store_matrix_sync and the reads
// of the stored tile (a race the emulator must expose).
template <class T, class LB, bool COL>
__device__ void wmma_tile(void *const *__restrict__ lathe_B, const long long *__restrict__ lathe_P,
                          T (*sa)[256], T (*sb)[256], float (*sc)[256]) {
  const T *a = (const T *)lathe_B[0];
  const T *b = (const T *)lathe_B[1];
  float *c = (float *)lathe_B[2];
  long long K = lathe_P[0], warp = (long long)threadIdx.x / 32, lane = (long long)threadIdx.x % 32;
  nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> acc;
  nvcuda::wmma::fill_fragment(acc, 0.0f);
  for (long long k0 = 0; k0 < K; k0 += 16) {
    for (long long e = lane; e < 256; e += 32) {
      long long r = e / 16, q = e % 16;
      sa[warp][e] = a[(warp * 16 + r) * K + k0 + q];
      sb[warp][e] = COL ? b[(k0 + q) * 16 + r] : b[(k0 + r) * 16 + q];
    }
    __syncthreads();
    nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, T, nvcuda::wmma::row_major> fa;
    nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 16, T, LB> fb;
    nvcuda::wmma::load_matrix_sync(fa, sa[warp], 16);
    nvcuda::wmma::load_matrix_sync(fb, sb[warp], 16);
    nvcuda::wmma::mma_sync(acc, fa, fb, acc);
    __syncthreads();
  }
  nvcuda::wmma::store_matrix_sync(sc[warp], acc, 16, nvcuda::wmma::mem_row_major);
  if (lathe_P[1]) __syncthreads();
  for (long long e = lane; e < 256; e += 32) c[(warp * 16 + e / 16) * 16 + e % 16] = sc[warp][e];
}
#define WMMA(name, T, LB, COL)                                                                     \
  KERNEL(64, name) {                                                                               \
    __shared__ __align__(32) T sa[2][256];                                                         \
    __shared__ __align__(32) T sb[2][256];                                                         \
    __shared__ __align__(32) float sc[2][256];                                                     \
    wmma_tile<T, nvcuda::wmma::LB, COL>(lathe_B, lathe_P, sa, sb, sc);                            \
  }
WMMA(mm_f16, __half, row_major, false)
WMMA(mm_f16_col, __half, col_major, true)
WMMA(mm_bf16, __nv_bfloat16, row_major, false)
WMMA(mm_bf16_col, __nv_bfloat16, col_major, true)

// Writes y[0..n] inclusive: the classic off-by-one, one element past y.
KERNEL(32, oob) {
  float *y = (float *)lathe_B[0];
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= lathe_P[0]) y[i] = 1.0f;
}
