/* GEMM kernels: C[b, m, n] = epilogue(sum_k A(b, m, k) * B(b, k, n)) as a
 * packed, register-blocked matrix product (the structure of Goto's and
 * BLIS's kernels, written here for LLVM).
 *
 * The kernel function walks "groups" of columns (up to a few thousand, fewer
 * when K is deep, so a group's packed B stays a few MB) and, when B differs
 * per batch entry, groups of batch entries. Per group, two parallel_for
 * rounds:
 *   pack     B's group, every K block (KC deep) and every NR-column panel,
 *            into the calling thread's scratch, converted to the accumulator
 *            type (f16/bf16/i8/i4 operands, transposes, batch broadcasting
 *            are all the packing loop's business) and zero-padded to full
 *            panels; one task per (K block, panel)
 *   compute  work units of MC rows x a run of panels (split finer when there
 *            are few row blocks, so every thread gets work); per unit and K
 *            block, A's MC x KC block is packed into MR-row panels on the
 *            task's stack, then for every panel pair the micro-kernel runs
 * A constant B (a weight) is packed once, on the first run, into the weights'
 * derived data and the pack round is skipped after that. With one row block
 * (M <= MC: a batch of 64, a sequence of 128) every unit would pack the same
 * A block, so a third round packs A once, per batch entry and K block, into
 * scratch, and the units read it from there. gemm_kernel.c holds the kernel
 * function that runs these rounds and lays out the scratch.
 * The micro-kernel keeps an MR x NR tile of accumulators in vector registers:
 * per k, NR/W vector loads of the B panel, MR broadcasts of A, MR*NR/W fused
 * multiply-adds (llvm.fmuladd). The tile goes to a stack buffer; the tile
 * store then adds the partial sums of earlier K blocks and, on the last K
 * block, evaluates the epilogue (bias, residual, activation...) on the tile
 * and writes C: C is written once, with no extra pass over it. Edge tiles
 * are computed in full on the zero padding and stored in part.
 *
 * Tasks never ask for scratch (a task on the calling thread would invalidate
 * the packed B); a unit's own A block lives on the task's stack (<= 132 KB).
 * Partial sums between K blocks live in C itself when C has the accumulator
 * dtype and the epilogue does not read C; otherwise in the calling thread's
 * scratch after the packed B. With K <= KC known at compile time there are none.
 *
 * GEMMs with at most GEMV_M_MAX rows take the streaming path of gemv.c.
 *
 * Register blocking follows the target (target.c measures it): W lanes of
 * the accumulator type per vector, NR = 2W, MR = 6 with 16 vector registers
 * (AVX2: 6x16 f32, 12 accumulators + 2 B vectors + 1 broadcast) or 12 with
 * 32 (AVX-512: 12x32 f32, 24 accumulators).
 */
#include <stdio.h>
#include <string.h>

#include "codegen/llvm/gemm.h"

/* ---- the plan ---- */

bool cg_gemm_plan(gemm_t *g) {
  cg_t *cg = g->cg;
  g->acc = g->g->acc_dtype;
  switch (g->acc) {
  case LATHE_DTYPE_F32:
    g->et = cg->f32;
    g->esize = 4;
    break;
  case LATHE_DTYPE_F64:
    g->et = cg->f64;
    g->esize = 8;
    break;
  case LATHE_DTYPE_I32:
  case LATHE_DTYPE_U32:
    g->et = cg->i32;
    g->esize = 4;
    break;
  case LATHE_DTYPE_I64:
  case LATHE_DTYPE_U64:
    g->et = cg->i64;
    g->esize = 8;
    break;
  default:
    cg_fail(cg, LATHE_STATUS_UNSUPPORTED, "gemm accumulator dtype %s", lathe_dtype_name(g->acc));
    return false;
  }
  uint32_t bits = cg->target.vector_bits ? cg->target.vector_bits : 128;
  g->W = bits / (8 * g->esize);
  if (g->W < 1) g->W = 1;
  g->NR = 2 * g->W;
  bool many_regs = cg->target.num_vector_regs >= 32;
  g->MR = many_regs ? 12 : 6;
  g->KC = g->esize == 8 ? 128 : 256;
  /* A block: MC x KC x esize = 96 KB (AVX-512) or 132 KB (AVX2: 128 rows,
   * a transformer's sequence, in one block), in L2 */
  g->MC = g->MR * (many_regs ? 8 : 22);
  g->vt = LLVMVectorType(g->et, g->W);
  g->ep = LLVMPointerType(g->et, 0);
  const lathe_kgemm_t *gm = g->g;
  g->need_partial = !(lathe_kdim_is_static(gm->k) && gm->k.size <= (int64_t)g->KC);
  uint32_t croot = cg_root(cg->p, gm->c);
  g->partial_in_c =
      cg->p->buffers[gm->c]->dtype == g->acc && !expr_reads_root(cg->p, gm->epilogue, croot);
  return true;
}

void cg_gemm_load_sizes(gemm_t *g) {
  const lathe_kgemm_t *gm = g->g;
  g->B = fn_dim(g->f, gm->batch);
  g->M = fn_dim(g->f, gm->m);
  g->N = fn_dim(g->f, gm->n);
  g->K = fn_dim(g->f, gm->k);
  g->kblocks = smax(g, ceil_div(g, g->K, c64(g, g->KC)), c64(g, 1));
  g->kpad = mul(g, g->kblocks, c64(g, g->KC));
}

/* Row blocks: as many as MC-row blocks would need. When that is at least
 * the thread count, it is rounded up to a multiple of it, then the blocks
 * are evened out (a multiple of MR each), so that threads get equal shares
 * instead of one thread finishing a short last block while the other idles.
 * Fewer rows than that (a batch of 64, a sequence of 128) stay in one block
 * and the threads split the columns instead: each then streams only its
 * part of B, once, where split rows would make every thread read all of B. */
void cg_gemm_row_blocks(gemm_t *g, LLVMValueRef threads) {
  LLVMValueRef want = ceil_div(g, g->M, c64(g, g->MC));
  LLVMValueRef rounded = mul(g, ceil_div(g, want, threads), threads);
  want = LLVMBuildSelect(g->f->b, LLVMBuildICmp(g->f->b, LLVMIntSGE, want, threads, ""), rounded,
                         want, "");
  LLVMValueRef mc = mul(g, ceil_div(g, ceil_div(g, g->M, want), c64(g, g->MR)), c64(g, g->MR));
  g->mc = smax(g, smin(g, mc, c64(g, g->MC)), c64(g, g->MR));
  g->mblocks = ceil_div(g, g->M, g->mc);
}

/* ---- packing ---- */

static void copy_elem(gemm_t *g, uint32_t buffer, LLVMValueRef flat, LLVMValueRef dst) {
  lathe_dtype_t t = g->cg->p->buffers[buffer]->dtype;
  LLVMValueRef v = fn_cast(g->f, g->acc, t, fn_load_elem(g->f, buffer, flat));
  store_s(g, v, dst);
}

/* One panel: element (r, k), r < rows, k < kc, lives at flat
 * base + r*stride_r + k*stride_k of `buffer`; it goes to dst[k * R + r],
 * and rows..R are zero. The loop order reads memory contiguously; a full
 * panel with r innermost gets a constant trip count (vectorizable). */
static void pack_panel(gemm_t *g, uint32_t buffer, LLVMValueRef dst, uint32_t R, LLVMValueRef rows,
                       LLVMValueRef kc, LLVMValueRef base, LLVMValueRef stride_r,
                       LLVMValueRef stride_k, bool k_contiguous) {
  fn_t *f = g->f;
  loop_t l1, l2;
  if (k_contiguous) { /* for r: for k */
    fn_loop_begin(f, &l1, c64(g, 0), rows, c64(g, 1), "pack.r");
    LLVMValueRef src = add(g, base, mul(g, l1.iv, stride_r));
    fn_loop_begin(f, &l2, c64(g, 0), kc, c64(g, 1), "pack.k");
    copy_elem(g, buffer, add(g, src, l2.iv),
              elem_ptr(g, dst, add(g, mul(g, l2.iv, c64(g, R)), l1.iv)));
    quiet(g, fn_loop_end(f, &l2)); /* strided stores: nothing to vectorize */
    fn_loop_end(f, &l1);
    fn_loop_begin(f, &l1, rows, c64(g, R), c64(g, 1), "pad.r");
    fn_loop_begin(f, &l2, c64(g, 0), kc, c64(g, 1), "pad.k");
    store_s(g, zero_acc(g), elem_ptr(g, dst, add(g, mul(g, l2.iv, c64(g, R)), l1.iv)));
    quiet(g, fn_loop_end(f, &l2));
    quiet(g, fn_loop_end(f, &l1));
    return;
  }
  /* for k: for r, with a constant-trip copy for full panels */
  LLVMBasicBlockRef full = fn_block(f, "pack.full"), part = fn_block(f, "pack.part"),
                    done = fn_block(f, "pack.done");
  LLVMBuildCondBr(f->b, LLVMBuildICmp(f->b, LLVMIntEQ, rows, c64(g, R), ""), full, part);
  for (int is_full = 1; is_full >= 0; --is_full) {
    LLVMPositionBuilderAtEnd(f->b, is_full ? full : part);
    fn_loop_begin(f, &l1, c64(g, 0), kc, c64(g, 1), "pack.k");
    LLVMValueRef src = add(g, base, mul(g, l1.iv, stride_k));
    LLVMValueRef row = elem_ptr(g, dst, mul(g, l1.iv, c64(g, R)));
    fn_loop_begin(f, &l2, c64(g, 0), is_full ? c64(g, R) : rows, c64(g, 1), "pack.r");
    copy_elem(g, buffer, add(g, src, mul(g, l2.iv, stride_r)), elem_ptr(g, row, l2.iv));
    LLVMValueRef br = fn_loop_end(f, &l2);
    if (!is_full) { /* the one edge panel: plain loops */
      quiet(g, br);
      fn_loop_begin(f, &l2, rows, c64(g, R), c64(g, 1), "pad.r");
      store_s(g, zero_acc(g), elem_ptr(g, row, l2.iv));
      quiet(g, fn_loop_end(f, &l2));
    }
    /* the full copy is a few vector moves already: no need to unroll around it */
    cg_loop_hint(g->cg, fn_loop_end(f, &l1), false, 0, true);
    LLVMBuildBr(f->b, done);
  }
  LLVMPositionBuilderAtEnd(f->b, done);
}

/* ---- the micro-kernel ---- */

static LLVMValueRef splat(gemm_t *g, LLVMValueRef s) {
  LLVMBuilderRef b = g->f->b;
  LLVMValueRef v =
      LLVMBuildInsertElement(b, LLVMGetUndef(g->vt), s, LLVMConstInt(g->cg->i32, 0, 0), "");
  LLVMValueRef mask = LLVMConstNull(LLVMVectorType(g->cg->i32, g->W));
  return LLVMBuildShuffleVector(b, v, LLVMGetUndef(g->vt), mask, "");
}

static LLVMValueRef fma_acc(gemm_t *g, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
  if (!lathe_dtype_is_float(g->acc))
    return LLVMBuildAdd(g->f->b, LLVMBuildMul(g->f->b, a, b, ""), c, "");
  LLVMValueRef args[3] = {a, b, c};
  return cg_intrinsic(g->f, "llvm.fmuladd", &g->vt, 1, args, 3);
}

/* acc = A panel (kc x MR) * B panel (kc x NR), MR * NR/W vectors of
 * accumulators in registers (phis of the k loop); out_acc gets their values
 * after the loop, row-major (row r, vector v at r * NR/W + v). */
static void micro(gemm_t *g, LLVMValueRef kc, LLVMValueRef apanel, LLVMValueRef bpanel,
                  LLVMValueRef *out_acc) {
  fn_t *f = g->f;
  uint32_t nv = g->NR / g->W, nacc = g->MR * nv;
  LLVMValueRef acc[64], next[64];
  loop_t l;
  fn_loop_begin(f, &l, c64(g, 0), kc, c64(g, 1), "micro.k");
  LLVMPositionBuilderBefore(f->b, LLVMGetNextInstruction(l.iv));
  for (uint32_t i = 0; i < nacc; ++i) acc[i] = LLVMBuildPhi(f->b, g->vt, "acc");
  LLVMPositionBuilderAtEnd(f->b, l.body);
  LLVMTypeRef vp = LLVMPointerType(g->vt, 0);
  LLVMValueRef brow = elem_ptr(g, bpanel, mul(g, l.iv, c64(g, g->NR)));
  LLVMValueRef arow = elem_ptr(g, apanel, mul(g, l.iv, c64(g, g->MR)));
  LLVMValueRef bv[8];
  for (uint32_t v = 0; v < nv; ++v) {
    LLVMValueRef p = LLVMBuildBitCast(f->b, elem_ptr(g, brow, c64(g, v * g->W)), vp, "");
    bv[v] = load_s(g, g->vt, p);
    LLVMSetAlignment(bv[v], g->W * g->esize);
  }
  for (uint32_t r = 0; r < g->MR; ++r) {
    LLVMValueRef a = splat(g, LLVMBuildLoad2(f->b, g->et, elem_ptr(g, arow, c64(g, r)), "a"));
    for (uint32_t v = 0; v < nv; ++v) next[r * nv + v] = fma_acc(g, a, bv[v], acc[r * nv + v]);
  }
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(f->b);
  cg_loop_hint(g->cg, fn_loop_end(f, &l), false, 0, true);
  LLVMValueRef zero = LLVMConstNull(g->vt);
  for (uint32_t i = 0; i < nacc; ++i) {
    LLVMValueRef in[2] = {zero, next[i]};
    LLVMBasicBlockRef from[2] = {l.pre, latch};
    LLVMAddIncoming(acc[i], in, from, 2);
    out_acc[i] = acc[i];
  }
}

/* ---- tasks ---- */

/* A task function over [begin, end) reading the closure; leaves the builder
 * in its body with g->f pointing at it. */
static void task_begin(gemm_t *g, fn_t *tf, const char *name) {
  cg_t *cg = g->cg;
  fn_begin(tf, cg, g->k, name, cg->task_t);
  LLVMSetLinkage(tf->fn, LLVMInternalLinkage);
  g->f = tf;
  g->cl = LLVMBuildBitCast(tf->eb, LLVMGetParam(tf->fn, 0), cg->i64p, "cl");
  LLVMValueRef args =
      LLVMBuildIntToPtr(tf->eb, get_slot(g, CL_ARGS), LLVMPointerType(cg->args_t, 0), "args");
  fn_load_args(tf, args);
  cg_gemm_load_sizes(g);
  g->bp = LLVMBuildIntToPtr(tf->eb, get_slot(g, CL_BP), g->ep, "bp");
  g->pp = LLVMBuildIntToPtr(tf->eb, get_slot(g, CL_PP), g->ep, "pp");
}

static void task_end(gemm_t *g, fn_t *tf) {
  LLVMBuildRetVoid(tf->b);
  fn_end(tf);
}

/* Packs item i = (copy, K block, panel) of the group's B. */
LLVMValueRef cg_gemm_pack_task(gemm_t *g, const char *symbol) {
  const lathe_kgemm_t *gm = g->g;
  char name[512];
  snprintf(name, sizeof name, "%s.packb", symbol);
  fn_t tf;
  task_begin(g, &tf, name);
  LLVMValueRef b0 = get_slot(g, CL_B0), jc = get_slot(g, CL_JC), nc = get_slot(g, CL_NC);
  LLVMValueRef npanels = get_slot(g, CL_NPANELS), ncpad = mul(g, npanels, c64(g, g->NR));
  LLVMValueRef per_copy = mul(g, g->kblocks, npanels), cstride = get_slot(g, CL_CSTRIDE);
  loop_t lu;
  fn_loop_begin(&tf, &lu, LLVMGetParam(tf.fn, 1), LLVMGetParam(tf.fn, 2), c64(g, 1), "item");
  LLVMValueRef bl = sdiv(g, lu.iv, per_copy), r = srem(g, lu.iv, per_copy);
  LLVMValueRef kb = sdiv(g, r, npanels), jp = srem(g, r, npanels);
  LLVMValueRef p0 = mul(g, kb, c64(g, g->KC));
  LLVMValueRef kc = smax(g, smin(g, c64(g, g->KC), sub(g, g->K, p0)), c64(g, 0));
  LLVMValueRef col0 = mul(g, jp, c64(g, g->NR));
  LLVMValueRef cols = smin(g, c64(g, g->NR), sub(g, nc, col0));
  LLVMValueRef dst =
      elem_ptr(g, g->bp, add(g, mul(g, bl, cstride), add(g, mul(g, p0, ncpad), mul(g, col0, kc))));
  LLVMValueRef bbase = gm->b.broadcast ? c64(g, 0) : mul(g, add(g, b0, bl), mul(g, g->K, g->N));
  LLVMValueRef n0 = add(g, jc, col0);
  if (gm->b.trans) /* B stored [N, K] */
    pack_panel(g, gm->b.buffer, dst, g->NR, cols, kc, add(g, bbase, add(g, mul(g, n0, g->K), p0)),
               g->K, c64(g, 1), true);
  else /* B stored [K, N] */
    pack_panel(g, gm->b.buffer, dst, g->NR, cols, kc, add(g, bbase, add(g, mul(g, p0, g->N), n0)),
               c64(g, 1), g->N, false);
  fn_loop_end(&tf, &lu);
  task_end(g, &tf);
  return tf.fn;
}

/* Rows [m0, m0 + mc) of A's K block at p0 (kc deep), batch base abase,
 * into MR-row panels at dst (panel r0 at dst + r0 * kc). */
static void pack_a_block(gemm_t *g, LLVMValueRef dst, LLVMValueRef abase, LLVMValueRef m0,
                         LLVMValueRef mc, LLVMValueRef p0, LLVMValueRef kc) {
  const lathe_kgemm_t *gm = g->g;
  loop_t lp;
  fn_loop_begin(g->f, &lp, c64(g, 0), ceil_div(g, mc, c64(g, g->MR)), c64(g, 1), "packa");
  LLVMValueRef r0 = mul(g, lp.iv, c64(g, g->MR)), rows = smin(g, c64(g, g->MR), sub(g, mc, r0));
  LLVMValueRef adst = elem_ptr(g, dst, mul(g, r0, kc)), am = add(g, m0, r0);
  if (gm->a.trans) /* A stored [K, M] */
    pack_panel(g, gm->a.buffer, adst, g->MR, rows, kc, add(g, abase, add(g, mul(g, p0, g->M), am)),
               c64(g, 1), g->M, false);
  else /* A stored [M, K] */
    pack_panel(g, gm->a.buffer, adst, g->MR, rows, kc, add(g, abase, add(g, mul(g, am, g->K), p0)),
               g->K, c64(g, 1), true);
  fn_loop_end(g->f, &lp);
}

static LLVMValueRef a_base(gemm_t *g, LLVMValueRef b) {
  return g->g->a.broadcast ? c64(g, 0) : mul(g, b, mul(g, g->M, g->K));
}

/* Packs item i = (batch entry of the group, K block) of A, all M rows, at
 * CL_AP + i * MC * KC: once for every compute unit when there is one row
 * block (M <= MC), where each unit would otherwise pack the same block. */
LLVMValueRef cg_gemm_packa_task(gemm_t *g, const char *symbol) {
  char name[512];
  snprintf(name, sizeof name, "%s.packa", symbol);
  fn_t tf;
  task_begin(g, &tf, name);
  LLVMValueRef b0 = get_slot(g, CL_B0);
  LLVMValueRef ap = LLVMBuildIntToPtr(tf.eb, get_slot(g, CL_AP), g->ep, "ap");
  loop_t lu;
  fn_loop_begin(&tf, &lu, LLVMGetParam(tf.fn, 1), LLVMGetParam(tf.fn, 2), c64(g, 1), "item");
  LLVMValueRef bl = sdiv(g, lu.iv, g->kblocks), kb = srem(g, lu.iv, g->kblocks);
  LLVMValueRef p0 = mul(g, kb, c64(g, g->KC));
  LLVMValueRef kc = smax(g, smin(g, c64(g, g->KC), sub(g, g->K, p0)), c64(g, 0));
  pack_a_block(g, elem_ptr(g, ap, mul(g, lu.iv, c64(g, g->MC * g->KC))), a_base(g, add(g, b0, bl)),
               c64(g, 0), g->M, p0, kc);
  fn_loop_end(&tf, &lu);
  task_end(g, &tf);
  return tf.fn;
}

/* Computes work unit u = (batch entry, row block, run of panels). */
LLVMValueRef cg_gemm_compute_task(gemm_t *g, const char *symbol) {
  cg_t *cg = g->cg;
  const lathe_kgemm_t *gm = g->g;
  char name[512];
  snprintf(name, sizeof name, "%s.compute", symbol);
  fn_t tf;
  task_begin(g, &tf, name);
  g->apack = LLVMBuildBitCast(tf.eb, fn_alloca(&tf, LLVMArrayType(g->et, g->MC * g->KC), "apack"),
                              g->ep, "");
  g->tile = LLVMBuildBitCast(tf.eb, fn_alloca(&tf, LLVMArrayType(g->et, g->MR * g->NR), "tile"),
                             g->ep, "");
  LLVMValueRef b0 = get_slot(g, CL_B0), jc = get_slot(g, CL_JC), nc = get_slot(g, CL_NC);
  LLVMValueRef npanels = get_slot(g, CL_NPANELS), ncpad = mul(g, npanels, c64(g, g->NR));
  LLVMValueRef nu = get_slot(g, CL_NU), nsubs = get_slot(g, CL_NSUBS);
  g->mc = get_slot(g, CL_MC);
  g->mblocks = ceil_div(g, g->M, g->mc);
  LLVMValueRef per_b = mul(g, g->mblocks, nsubs);
  LLVMValueRef stack_apack = g->apack;
  loop_t lu, lk, lj, li;
  fn_loop_begin(&tf, &lu, LLVMGetParam(tf.fn, 1), LLVMGetParam(tf.fn, 2), c64(g, 1), "unit");
  LLVMValueRef bl = sdiv(g, lu.iv, per_b), r = srem(g, lu.iv, per_b);
  LLVMValueRef b = add(g, b0, bl);
  LLVMValueRef m0 = mul(g, sdiv(g, r, nsubs), g->mc);
  LLVMValueRef jr0 = mul(g, srem(g, r, nsubs), nu), jr1 = smin(g, add(g, jr0, nu), nc);
  LLVMValueRef mc = smin(g, g->mc, sub(g, g->M, m0));
  LLVMValueRef abase = a_base(g, b);
  LLVMValueRef copy = gm->b.broadcast ? c64(g, 0) : bl;
  fn_loop_begin(&tf, &lk, c64(g, 0), g->kblocks, c64(g, 1), "kblock");
  LLVMValueRef p0 = mul(g, lk.iv, c64(g, g->KC));
  LLVMValueRef kc = smax(g, smin(g, c64(g, g->KC), sub(g, g->K, p0)), c64(g, 0));
  LLVMValueRef first = LLVMBuildICmp(tf.b, LLVMIntEQ, lk.iv, c64(g, 0), "first");
  LLVMValueRef last = LLVMBuildICmp(tf.b, LLVMIntEQ, lk.iv, sub(g, g->kblocks, c64(g, 1)), "last");
  /* A's block: packed once for all units (CL_AP), else here on the stack */
  LLVMValueRef ap = get_slot(g, CL_AP);
  LLVMValueRef shared = LLVMBuildICmp(tf.b, LLVMIntNE, ap, c64(g, 0), "");
  LLVMValueRef ablock =
      elem_ptr(g, LLVMBuildIntToPtr(tf.b, ap, g->ep, ""),
               mul(g, add(g, mul(g, bl, g->kblocks), lk.iv), c64(g, g->MC * g->KC)));
  LLVMBasicBlockRef own = fn_block(&tf, "packa.own"), packed = fn_block(&tf, "packa.done");
  LLVMBuildCondBr(tf.b, shared, packed, own);
  LLVMPositionBuilderAtEnd(tf.b, own);
  pack_a_block(g, g->apack, abase, m0, mc, p0, kc);
  LLVMBuildBr(tf.b, packed);
  LLVMPositionBuilderAtEnd(tf.b, packed);
  g->apack = LLVMBuildSelect(tf.b, shared, ablock, g->apack, "ablock");
  LLVMValueRef bsrc =
      elem_ptr(g, g->bp, add(g, mul(g, copy, get_slot(g, CL_CSTRIDE)), mul(g, p0, ncpad)));
  fn_loop_begin(&tf, &lj, jr0, jr1, c64(g, g->NR), "jr");
  fn_loop_begin(&tf, &li, c64(g, 0), mc, c64(g, g->MR), "ir");
  LLVMValueRef acc[64];
  tile_at_t t = {.b = b,
                 .m = add(g, m0, li.iv),
                 .n = add(g, jc, lj.iv),
                 .rows = smin(g, c64(g, g->MR), sub(g, mc, li.iv)),
                 .cols = smin(g, c64(g, g->NR), sub(g, nc, lj.iv)),
                 .first = first,
                 .prow = mul(g, bl, g->M),
                 .jc = jc,
                 .ncpad = ncpad};
  if (g->need_partial) gemm_prefetch_partials(g, &t);
  micro(g, kc, elem_ptr(g, g->apack, mul(g, li.iv, kc)), elem_ptr(g, bsrc, mul(g, lj.iv, kc)), acc);
  LLVMValueRef full = LLVMBuildAnd(tf.b, LLVMBuildICmp(tf.b, LLVMIntEQ, t.rows, c64(g, g->MR), ""),
                                   LLVMBuildICmp(tf.b, LLVMIntEQ, t.cols, c64(g, g->NR), ""), "");
  LLVMBasicBlockRef fb = fn_block(&tf, "tile.full"), eb = fn_block(&tf, "tile.edge"),
                    tdone = fn_block(&tf, "tile.done");
  LLVMBuildCondBr(tf.b, full, fb, eb);
  LLVMPositionBuilderAtEnd(tf.b, fb);
  gemm_store_full(g, &t, acc, last);
  LLVMBuildBr(tf.b, tdone);
  LLVMPositionBuilderAtEnd(tf.b, eb);
  gemm_store_edge(g, &t, acc, last);
  LLVMBuildBr(tf.b, tdone);
  LLVMPositionBuilderAtEnd(tf.b, tdone);
  fn_loop_end(&tf, &li);
  fn_loop_end(&tf, &lj);
  g->apack = stack_apack;
  fn_loop_end(&tf, &lk);
  fn_loop_end(&tf, &lu);
  task_end(g, &tf);
  (void)cg;
  return tf.fn;
}
