/* GEMM kernels on CUDA cores: C[b] = epilogue(A[b] x B[b]).
 *
 * One block computes a T x T tile of C (T = 64 with 256 threads; T = 32 with
 * 64 threads when M or N is a static size of at most 32, as in attention
 * heads), stepping through K 16 at a time: the A and B tiles are staged in __shared__ memory in the
 * accumulator type (f16/bf16/integer elements converted on the way, so the
 * inner loop is one type), As as [k][m] and Bs as [k][n] with 4 elements of
 * padding per row against bank conflicts. Transposed or batch-broadcast
 * operands only change the staging loads, whose thread order follows the
 * operand's contiguous dim so a warp reads consecutive addresses. Each
 * thread then owns a 4x4 register sub-tile at rows ty + T/4 i, columns
 * tx + T/4 j (tx = tid % (T/4), ty = tid / (T/4)), so a warp's stores to C
 * are contiguous; the epilogue runs per element at that store, with the
 * accumulator and (b, m, n) in registers. Batches, row tiles and column
 * tiles are grid-z/y/x stride loops, so any grid is correct; the block size
 * must be the launch table's.
 *
 * Tensor-core GEMMs (f16/bf16 operands) are wmma.c's; both share the
 * epilogue store below.
 */
#include "codegen/cuda/internal.h"

#define BK 16
#define PAD 4

void cu_gemm_store(gen_t *g, const lathe_kgemm_t *gm, const char *b, const char *m, const char *n,
                   const char *acc, const char *M, const char *N) {
  gen_line(g, "if (%s < %s && %s < %s) {", m, M, n, N);
  g->indent++;
  const char *iters[3] = {b, m, n};
  ev_t e;
  ev_init(&e, g, iters, acc);
  lathe_dtype_t ct = g->p->buffers[gm->c]->dtype;
  const char *v = gm->epilogue ? ev_expr(&e, gm->epilogue) : acc;
  lathe_dtype_t vt = gm->epilogue ? gm->epilogue->dtype : gm->acc_dtype;
  if (v) {
    const char *flat = gen_str(g, "((%s * %s + %s) * %s + %s)", b, M, m, N, n);
    cu_store(g, gm->c, flat, cu_cast(g, ct, vt, v));
  }
  ev_free(&e);
  g->indent--;
  gen_line(g, "}");
}

void cu_gemm_open_tiles(gen_t *g, const lathe_kgemm_t *gm, int bm, int bn) {
  gen_line(g, "const long long M = %s, N = %s, K = %s, NB = %s;", cu_dim(g, gm->m),
           cu_dim(g, gm->n), cu_dim(g, gm->k), cu_dim(g, gm->batch));
  gen_line(g, "const int tid = (int)threadIdx.x;");
  gen_line(g, "for (long long bz = blockIdx.z; bz < NB; bz += gridDim.z) {");
  g->indent++;
  gen_line(g, "const long long aoff = %s, boff = %s;", gm->a.broadcast ? "0LL" : "bz * M * K",
           gm->b.broadcast ? "0LL" : "bz * K * N");
  gen_line(
      g,
      "for (long long m0 = (long long)blockIdx.y * %d; m0 < M; m0 += (long long)gridDim.y * %d) {",
      bm, bm);
  g->indent++;
  gen_line(
      g,
      "for (long long n0 = (long long)blockIdx.x * %d; n0 < N; n0 += (long long)gridDim.x * %d) {",
      bn, bn);
  g->indent++;
}

void cu_gemm_close_tiles(gen_t *g) {
  for (int i = 0; i < 3; ++i) {
    g->indent--;
    gen_line(g, "}");
  }
}

void cu_gemm_stage(gen_t *g, const lathe_kgemm_operand_t *op, const char *off, int rows, int cols,
                   const char *r0, const char *c0, const char *R, const char *C, const char *dst,
                   const char *dst_index, const char *zero, lathe_dtype_t to) {
  /* consecutive threads walk the operand's contiguous dim */
  bool cols_fast = !op->trans;
  gen_line(g, "for (int l = tid; l < %d; l += (int)blockDim.x) {", rows * cols);
  g->indent++;
  if (cols_fast) gen_line(g, "const int r = l / %d, c = l %% %d;", cols, cols);
  else gen_line(g, "const int c = l / %d, r = l %% %d;", rows, rows);
  gen_line(g, "const long long gr = %s + r, gc = %s + c;", r0, c0);
  const char *flat = op->trans ? gen_str(g, "(%s + gc * %s + gr)", off, R)
                               : gen_str(g, "(%s + gr * %s + gc)", off, C);
  lathe_dtype_t from = g->p->buffers[op->buffer]->dtype;
  const char *v = to == LATHE_DTYPE_INVALID ? gen_str(g, "%s[%s]", gen_buffer(g, op->buffer), flat)
                                            : cu_cast(g, to, from, cu_load(g, op->buffer, flat));
  gen_line(g, "%s[%s] = (gr < %s && gc < %s) ? %s : %s;", dst, dst_index, R, C, v, zero);
  g->indent--;
  gen_line(g, "}");
}

void cu_gemm_kernel(gen_t *g, const lathe_kernel_t *k, lathe_cuda_launch_t *launch) {
  const lathe_kgemm_t *gm = k->gemm;
  if (cu_gemm_wmma(g, gm)) {
    cu_wmma_kernel(g, k, launch);
    return;
  }
  lathe_dtype_t at = gm->acc_dtype;
  if (!cu_dtype_supported(at) || lathe_dtype_bits(at) < 32) {
    gen_fail(g, LATHE_STATUS_UNSUPPORTED, "GEMM accumulator dtype %s", lathe_dtype_name(at));
    return;
  }
  bool small = (lathe_kdim_is_static(gm->m) && gm->m.size <= 32) ||
               (lathe_kdim_is_static(gm->n) && gm->n.size <= 32);
  int T = small ? 32 : 64, S = T / 4; /* tile, and threads per tile row */
  const char *R = cu_reg_type(at), *zero = cu_const_int(g, at, 0);
  uint32_t bytes = lathe_dtype_bits(at) / 8;
  const char *As = gen_shared(g, R, BK * (T + PAD), bytes, 16);
  const char *Bs = gen_shared(g, R, BK * (T + PAD), bytes, 16);
  launch->block[0] = (uint32_t)(S * S), launch->block[1] = launch->block[2] = 1;
  launch->grid[0] = cu_grid_dim(cu_work(&gm->n, 1), T, 65535);
  launch->grid[1] = cu_grid_dim(cu_work(&gm->m, 1), T, 65535);
  launch->grid[2] = cu_grid_dim(cu_work(&gm->batch, 1), 1, 65535);

  cu_gemm_open_tiles(g, gm, T, T);
  gen_line(g, "const int tx = tid %% %d, ty = tid / %d;", S, S);
  gen_line(g, "%s acc[4][4];", R);
  gen_line(g, "#pragma unroll");
  gen_line(g, "for (int i = 0; i < 16; ++i) acc[i >> 2][i & 3] = %s;", zero);
  gen_line(g, "for (long long k0 = 0; k0 < K; k0 += %d) {", BK);
  g->indent++;
  cu_gemm_stage(g, &gm->a, "aoff", T, BK, "m0", "k0", "M", "K", As,
                gen_str(g, "c * %d + r", T + PAD), zero, at);
  cu_gemm_stage(g, &gm->b, "boff", BK, T, "k0", "n0", "K", "N", Bs,
                gen_str(g, "r * %d + c", T + PAD), zero, at);
  gen_line(g, "__syncthreads();");
  gen_line(g, "#pragma unroll");
  gen_line(g, "for (int kk = 0; kk < %d; ++kk) {", BK);
  g->indent++;
  gen_line(g, "%s a[4], b[4];", R);
  gen_line(g, "#pragma unroll");
  gen_line(g, "for (int i = 0; i < 4; ++i) a[i] = %s[kk * %d + ty + %d * i];", As, T + PAD, S);
  gen_line(g, "#pragma unroll");
  gen_line(g, "for (int j = 0; j < 4; ++j) b[j] = %s[kk * %d + tx + %d * j];", Bs, T + PAD, S);
  gen_line(g, "#pragma unroll");
  gen_line(g, "for (int i = 0; i < 16; ++i)");
  g->indent++;
  const char *prod = cu_op(g, LATHE_KOP_MUL, at, "a[i >> 2]", "b[i & 3]");
  gen_line(g, "acc[i >> 2][i & 3] = %s;",
           prod ? cu_op(g, LATHE_KOP_ADD, at, "acc[i >> 2][i & 3]", prod) : "0");
  g->indent -= 2;
  gen_line(g, "}");
  gen_line(g, "__syncthreads();");
  g->indent--;
  gen_line(g, "}");
  gen_line(g, "#pragma unroll");
  gen_line(g, "for (int i = 0; i < 16; ++i) {");
  g->indent++;
  gen_line(g, "const long long m = m0 + ty + %d * (i >> 2), n = n0 + tx + %d * (i & 3);", S, S);
  cu_gemm_store(g, gm, "bz", "m", "n", "acc[i >> 2][i & 3]", "M", "N");
  g->indent--;
  gen_line(g, "}");
  cu_gemm_close_tiles(g);
}
