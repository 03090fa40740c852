/* GEMM tile stores: what happens to an MR x NR tile of accumulators after
 * the micro-kernel (see gemm.c). A full tile goes straight from registers:
 * partial sums of earlier K blocks are added, stored back unless this is
 * the last K block, and on the last the epilogue runs over the tile (a loop
 * LLVM vectorizes) or, with nothing to evaluate, C is stored directly. An
 * edge tile goes through a stack buffer element by element. Partial sums
 * live in C itself or in scratch (gemm_t.partial_in_c) and their rows are
 * prefetched while the micro-kernel runs.
 */
#include <string.h>

#include "codegen/llvm/gemm.h"

static LLVMValueRef vec_ptr(gemm_t *g, LLVMValueRef p) {
  return LLVMBuildBitCast(g->f->b, p, LLVMPointerType(g->vt, 0), "");
}

void gemm_acc_to_tile(gemm_t *g, const LLVMValueRef *acc) {
  uint32_t nv = g->NR / g->W;
  for (uint32_t r = 0; r < g->MR; ++r)
    for (uint32_t v = 0; v < nv; ++v) {
      LLVMValueRef p = vec_ptr(g, elem_ptr(g, g->tile, c64(g, r * g->NR + v * g->W)));
      LLVMSetAlignment(LLVMBuildStore(g->f->b, acc[r * nv + v], p), g->W * g->esize);
    }
}

/* Over the valid part of the tile: s = tile (+ partial unless first, when
 * add_partial); then C = epilogue(s) when `last`, else partial = s. */
static void store_tile(gemm_t *g, const tile_at_t *t, bool last, bool full, bool add_partial) {
  fn_t *f = g->f;
  const lathe_kgemm_t *gm = g->g;
  loop_t li, lj;
  fn_loop_begin(f, &li, c64(g, 0), full ? c64(g, g->MR) : t->rows, c64(g, 1), "st.i");
  fn_loop_begin(f, &lj, c64(g, 0), full ? c64(g, g->NR) : t->cols, c64(g, 1), "st.j");
  LLVMValueRef m = add(g, t->m, li.iv), n = add(g, t->n, lj.iv);
  LLVMValueRef s = LLVMBuildLoad2(
      f->b, g->et, elem_ptr(g, g->tile, add(g, mul(g, li.iv, c64(g, g->NR)), lj.iv)), "");
  LLVMValueRef cflat = add(g, mul(g, add(g, mul(g, t->b, g->M), m), g->N), n);
  LLVMValueRef pptr = NULL;
  if (g->need_partial && (add_partial || !last)) {
    LLVMValueRef prev;
    if (g->partial_in_c) {
      prev = fn_load_elem(f, gm->c, cflat);
    } else {
      LLVMValueRef pflat = add(g, mul(g, add(g, t->prow, m), t->ncpad), sub(g, n, t->jc));
      pptr = elem_ptr(g, g->pp, pflat);
      prev = load_s(g, g->et, pptr);
    }
    if (add_partial) s = LLVMBuildSelect(f->b, t->first, s, acc_add(g, s, prev), "");
  }
  lathe_dtype_t ct = g->cg->p->buffers[gm->c]->dtype;
  if (last) {
    LLVMValueRef v;
    if (gm->epilogue) {
      LLVMValueRef iters[3] = {t->b, m, n};
      eval_t e;
      eval_init(&e, f, iters, s);
      v = eval_expr(&e, gm->epilogue);
      eval_free(&e);
      if (v) v = fn_cast(f, ct, gm->epilogue->dtype, v);
    } else {
      v = fn_cast(f, ct, g->acc, s);
    }
    if (v) fn_store_elem(f, gm->c, cflat, v);
  } else if (g->partial_in_c) {
    fn_store_elem(f, gm->c, cflat, s);
  } else {
    store_s(g, s, pptr);
  }
  LLVMValueRef br = fn_loop_end(f, &lj);
  if (full) cg_loop_hint(g->cg, br, true, g->W, true);
  else quiet(g, br);
  fn_loop_end(f, &li);
}

/* An edge tile: through the stack buffer, element by element. */
void gemm_store_edge(gemm_t *g, const tile_at_t *t, const LLVMValueRef *acc, LLVMValueRef last) {
  fn_t *f = g->f;
  gemm_acc_to_tile(g, acc);
  LLVMBasicBlockRef done = fn_block(f, "edge.done");
  LLVMBasicBlockRef when[2] = {fn_block(f, "edge.partial"), fn_block(f, "edge.last")};
  LLVMBuildCondBr(f->b, last, when[1], when[0]);
  for (int l = 0; l < 2; ++l) {
    LLVMPositionBuilderAtEnd(f->b, when[l]);
    if (l || g->need_partial) store_tile(g, t, l, false, true);
    LLVMBuildBr(f->b, done);
  }
  LLVMPositionBuilderAtEnd(f->b, done);
}

/* Row r of the tile's partial sums (C itself or scratch), as an acc pointer. */
static LLVMValueRef partial_row(gemm_t *g, const tile_at_t *t, uint32_t r) {
  LLVMValueRef m = add(g, t->m, c64(g, r));
  if (g->partial_in_c)
    return elem_ptr(g, fn_buffer(g->f, g->g->c),
                    add(g, mul(g, add(g, mul(g, t->b, g->M), m), g->N), t->n));
  return elem_ptr(g, g->pp, add(g, mul(g, add(g, t->prow, m), t->ncpad), sub(g, t->n, t->jc)));
}

static void tag_partial(gemm_t *g, LLVMValueRef inst) {
  if (g->partial_in_c) cg_tag_access(g->cg, g->k, inst, g->g->c);
  else cg_tag_scratch(g->cg, g->k, inst);
  LLVMSetAlignment(inst, g->esize);
}

/* Prefetches the tile's partial-sum rows (both cache lines a row of NR
 * elements may touch) so that they arrive while the micro-kernel runs: the
 * partials of a large C come from memory, once per K block. Addresses past
 * an edge are harmless: a prefetch never faults. */
void gemm_prefetch_partials(gemm_t *g, const tile_at_t *t) {
  fn_t *f = g->f;
  LLVMTypeRef i8p = g->cg->i8p;
  for (uint32_t r = 0; r < g->MR; ++r) {
    LLVMValueRef m = add(g, t->m, c64(g, r)), idx;
    LLVMValueRef base = g->partial_in_c ? fn_buffer(f, g->g->c) : g->pp;
    idx = g->partial_in_c ? add(g, mul(g, add(g, mul(g, t->b, g->M), m), g->N), t->n)
                          : add(g, mul(g, add(g, t->prow, m), t->ncpad), sub(g, t->n, t->jc));
    for (uint32_t e = 0; e < 2; ++e) {
      LLVMValueRef at = LLVMBuildAdd(f->b, idx, c64(g, e ? g->NR - 1 : 0), "");
      LLVMValueRef p = LLVMBuildGEP2(f->b, g->et, base, &at, 1, "");
      LLVMValueRef args[4] = {LLVMBuildBitCast(f->b, p, i8p, ""), LLVMConstInt(g->cg->i32, 1, 0),
                              LLVMConstInt(g->cg->i32, 3, 0), LLVMConstInt(g->cg->i32, 1, 0)};
      cg_intrinsic(f, "llvm.prefetch", &i8p, 1, args, 4);
    }
  }
}

/* A full tile straight from the registers: add the partial sums unless this
 * is the first K block; store them back unless it is the last; on the last,
 * store C directly when there is nothing to evaluate, else run the epilogue
 * over the tile. */
void gemm_store_full(gemm_t *g, const tile_at_t *t, const LLVMValueRef *in, LLVMValueRef last) {
  fn_t *f = g->f;
  uint32_t nv = g->NR / g->W, nacc = g->MR * nv;
  LLVMValueRef acc[64];
  memcpy(acc, in, nacc * sizeof *acc);
  LLVMBasicBlockRef done = fn_block(f, "full.done");
  if (g->need_partial) {
    LLVMBasicBlockRef from = LLVMGetInsertBlock(f->b), addb = fn_block(f, "full.add"),
                      join = fn_block(f, "full.join");
    LLVMBuildCondBr(f->b, t->first, join, addb);
    LLVMPositionBuilderAtEnd(f->b, addb);
    LLVMValueRef sum[64];
    for (uint32_t r = 0; r < g->MR; ++r) {
      LLVMValueRef row = partial_row(g, t, r);
      for (uint32_t v = 0; v < nv; ++v) {
        LLVMValueRef p =
            LLVMBuildLoad2(f->b, g->vt, vec_ptr(g, elem_ptr(g, row, c64(g, v * g->W))), "");
        tag_partial(g, p);
        sum[r * nv + v] = acc_add(g, acc[r * nv + v], p);
      }
    }
    LLVMBasicBlockRef added = LLVMGetInsertBlock(f->b);
    LLVMBuildBr(f->b, join);
    LLVMPositionBuilderAtEnd(f->b, join);
    for (uint32_t i = 0; i < nacc; ++i) {
      LLVMValueRef phi = LLVMBuildPhi(f->b, g->vt, "");
      LLVMValueRef vals[2] = {acc[i], sum[i]};
      LLVMBasicBlockRef blocks[2] = {from, added};
      LLVMAddIncoming(phi, vals, blocks, 2);
      acc[i] = phi;
    }
    LLVMBasicBlockRef partb = fn_block(f, "full.partial"), lastb = fn_block(f, "full.last");
    LLVMBuildCondBr(f->b, last, lastb, partb);
    LLVMPositionBuilderAtEnd(f->b, partb);
    for (uint32_t r = 0; r < g->MR; ++r) {
      LLVMValueRef row = partial_row(g, t, r);
      for (uint32_t v = 0; v < nv; ++v)
        tag_partial(g, LLVMBuildStore(f->b, acc[r * nv + v],
                                      vec_ptr(g, elem_ptr(g, row, c64(g, v * g->W)))));
    }
    LLVMBuildBr(f->b, done);
    LLVMPositionBuilderAtEnd(f->b, lastb);
  }
  const lathe_kgemm_t *gm = g->g;
  if (!gm->epilogue && g->cg->p->buffers[gm->c]->dtype == g->acc) {
    LLVMValueRef cbase = fn_buffer(f, gm->c);
    for (uint32_t r = 0; r < g->MR; ++r) {
      LLVMValueRef m = add(g, t->m, c64(g, r));
      LLVMValueRef row =
          elem_ptr(g, cbase, add(g, mul(g, add(g, mul(g, t->b, g->M), m), g->N), t->n));
      for (uint32_t v = 0; v < nv; ++v) {
        LLVMValueRef st =
            LLVMBuildStore(f->b, acc[r * nv + v], vec_ptr(g, elem_ptr(g, row, c64(g, v * g->W))));
        cg_tag_access(g->cg, g->k, st, gm->c);
        LLVMSetAlignment(st, g->esize);
      }
    }
  } else {
    gemm_acc_to_tile(g, acc);
    store_tile(g, t, true, true, false);
  }
  LLVMBuildBr(f->b, done);
  LLVMPositionBuilderAtEnd(f->b, done);
}
