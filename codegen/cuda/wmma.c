/* GEMM kernels on tensor cores, when A and B are both f16 or both bf16 and
 * the accumulator is f32 (every architecture the backend targets, sm_80 and
 * up, has WMMA for both).
 *
 * One block of 4 warps computes a 64x64 tile of C through K in steps of 16:
 * the A tile is staged in __shared__ memory as [m][k] (ldm 24) and the B tile
 * as [k][n] (ldm 72), raw f16/bf16 elements, zero outside the matrix, with
 * transposes resolved while staging (as in gemm.c). Each warp owns a 32x32
 * quarter: 2x2 accumulator fragments of 16x16, fed by 2 A and 2 B fragments
 * per step. At the end the accumulators go through a __shared__ f32 tile
 * (ldm 68) and the block applies the epilogue per element exactly as the
 * SIMT kernel does. Leading dimensions keep every fragment pointer 32-byte
 * aligned (the arrays are __align__(32)), as load/store_matrix_sync require.
 */
#include "codegen/cuda/internal.h"

#define BM 64
#define BN 64
#define BK 16
#define LDA 24
#define LDB 72
#define LDC 68
#define THREADS 128

bool cu_gemm_wmma(const gen_t *g, const lathe_kgemm_t *gm) {
  lathe_dtype_t a = g->p->buffers[gm->a.buffer]->dtype, b = g->p->buffers[gm->b.buffer]->dtype;
  return g->wmma_ok && a == b && (a == LATHE_DTYPE_F16 || a == LATHE_DTYPE_BF16) &&
         gm->acc_dtype == LATHE_DTYPE_F32;
}

void cu_wmma_kernel(gen_t *g, const lathe_kernel_t *k, lathe_cuda_launch_t *launch) {
  const lathe_kgemm_t *gm = k->gemm;
  bool bf16 = g->p->buffers[gm->a.buffer]->dtype == LATHE_DTYPE_BF16;
  const char *H = bf16 ? "__nv_bfloat16" : "__half";
  const char *zero = bf16 ? "__float2bfloat16_rn(0.0f)" : "__float2half_rn(0.0f)";
  g->need_wmma = true;
  const char *As = gen_shared(g, H, BM * LDA, 2, 32);
  const char *Bs = gen_shared(g, H, BK * LDB, 2, 32);
  const char *Cs = gen_shared(g, "float", BM * LDC, 4, 32);
  launch->block[0] = THREADS, launch->block[1] = launch->block[2] = 1;
  launch->grid[0] = cu_grid_dim(cu_work(&gm->n, 1), BN, 65535);
  launch->grid[1] = cu_grid_dim(cu_work(&gm->m, 1), BM, 65535);
  launch->grid[2] = cu_grid_dim(cu_work(&gm->batch, 1), 1, 65535);

  cu_gemm_open_tiles(g, gm, BM, BN);
  gen_line(g, "const int wm = ((tid >> 5) >> 1) * 32, wn = ((tid >> 5) & 1) * 32;");
  gen_line(g, "nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> fc[2][2];");
  gen_line(g, "#pragma unroll");
  gen_line(g, "for (int i = 0; i < 4; ++i) nvcuda::wmma::fill_fragment(fc[i >> 1][i & 1], 0.0f);");
  gen_line(g, "for (long long k0 = 0; k0 < K; k0 += %d) {", BK);
  g->indent++;
  cu_gemm_stage(g, &gm->a, "aoff", BM, BK, "m0", "k0", "M", "K", As, gen_str(g, "r * %d + c", LDA),
                zero, LATHE_DTYPE_INVALID);
  cu_gemm_stage(g, &gm->b, "boff", BK, BN, "k0", "n0", "K", "N", Bs, gen_str(g, "r * %d + c", LDB),
                zero, LATHE_DTYPE_INVALID);
  gen_line(g, "__syncthreads();");
  gen_line(g,
           "nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, %s, "
           "nvcuda::wmma::row_major> fa[2];",
           H);
  gen_line(g,
           "nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 16, %s, "
           "nvcuda::wmma::row_major> fb[2];",
           H);
  gen_line(g, "#pragma unroll");
  gen_line(g, "for (int i = 0; i < 2; ++i) {");
  g->indent++;
  gen_line(g, "nvcuda::wmma::load_matrix_sync(fa[i], %s + (wm + 16 * i) * %d, %d);", As, LDA, LDA);
  gen_line(g, "nvcuda::wmma::load_matrix_sync(fb[i], %s + wn + 16 * i, %d);", Bs, LDB);
  g->indent--;
  gen_line(g, "}");
  gen_line(g, "#pragma unroll");
  gen_line(g, "for (int i = 0; i < 4; ++i)");
  gen_line(
      g, "  nvcuda::wmma::mma_sync(fc[i >> 1][i & 1], fa[i >> 1], fb[i & 1], fc[i >> 1][i & 1]);");
  gen_line(g, "__syncthreads();");
  g->indent--;
  gen_line(g, "}");
  gen_line(g, "#pragma unroll");
  gen_line(g, "for (int i = 0; i < 4; ++i)");
  gen_line(g,
           "  nvcuda::wmma::store_matrix_sync(%s + (wm + 16 * (i >> 1)) * %d + wn + 16 * (i & 1), "
           "fc[i >> 1][i & 1], %d, nvcuda::wmma::mem_row_major);",
           Cs, LDC, LDC);
  gen_line(g, "__syncthreads();");
  gen_line(g, "for (int l = tid; l < %d; l += (int)blockDim.x) {", BM * BN);
  g->indent++;
  gen_line(g, "const long long m = m0 + l / %d, n = n0 + l %% %d;", BN, BN);
  gen_line(g, "const float acc = %s[(l / %d) * %d + l %% %d];", Cs, BN, LDC, BN);
  cu_gemm_store(g, gm, "bz", "m", "n", "acc", "M", "N");
  g->indent--;
  gen_line(g, "}");
  gen_line(g, "__syncthreads();");
  cu_gemm_close_tiles(g);
}
