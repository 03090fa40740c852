/* Internals shared by gemm.c (plan, packing, micro-kernel, tasks),
 * gemm_kernel.c (the kernel function: paths, groups, packed weights, scratch)
 * and gemm_store.c (tile stores, partial sums, epilogue); not an API. See
 * gemm.c for the algorithm. */
#ifndef LATHE_CODEGEN_LLVM_GEMM_H
#define LATHE_CODEGEN_LLVM_GEMM_H

#include "codegen/llvm/internal.h"

typedef struct gemm {
  cg_t *cg;
  fn_t *f;
  const lathe_kernel_t *k;
  const lathe_kgemm_t *g;
  lathe_dtype_t acc;
  LLVMTypeRef et, vt, ep; /* accumulator scalar, vector, scalar pointer */
  uint32_t W, MR, NR, KC, MC, esize;
  bool need_partial, partial_in_c;
  /* per function: sizes and derived counts (i64) */
  LLVMValueRef B, M, N, K, kblocks, kpad;
  LLVMValueRef mc, mblocks; /* rows per block (<= MC, a multiple of MR) and their count */
  LLVMValueRef cl;          /* closure: i64 slots */
  LLVMValueRef bp, pp, apack, tile;
} gemm_t;

typedef struct tile_at {
  LLVMValueRef b, m, n;         /* C coordinates of the tile's corner */
  LLVMValueRef rows, cols;      /* valid part */
  LLVMValueRef first;           /* i1: first K block */
  LLVMValueRef prow, jc, ncpad; /* partials: row (bl*M + m) base, group column, row length */
} tile_at_t;

/* ---- small helpers ---- */

static inline LLVMValueRef c64(gemm_t *g, int64_t v) { return cg_i64(g->cg, v); }
static inline LLVMValueRef add(gemm_t *g, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildNSWAdd(g->f->b, a, b, "");
}
static inline LLVMValueRef mul(gemm_t *g, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildNSWMul(g->f->b, a, b, "");
}
static inline LLVMValueRef sub(gemm_t *g, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildNSWSub(g->f->b, a, b, "");
}
static inline LLVMValueRef sdiv(gemm_t *g, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSDiv(g->f->b, a, b, "");
}
static inline LLVMValueRef srem(gemm_t *g, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSRem(g->f->b, a, b, "");
}
static inline LLVMValueRef pick(gemm_t *g, LLVMIntPredicate p, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(g->f->b, LLVMBuildICmp(g->f->b, p, a, b, ""), a, b, "");
}
static inline LLVMValueRef smin(gemm_t *g, LLVMValueRef a, LLVMValueRef b) {
  return pick(g, LLVMIntSLT, a, b);
}
static inline LLVMValueRef smax(gemm_t *g, LLVMValueRef a, LLVMValueRef b) {
  return pick(g, LLVMIntSGT, a, b);
}
static inline LLVMValueRef ceil_div(gemm_t *g, LLVMValueRef a, LLVMValueRef d) {
  return sdiv(g, add(g, a, sub(g, d, c64(g, 1))), d);
}
static inline LLVMValueRef elem_ptr(gemm_t *g, LLVMValueRef base, LLVMValueRef idx) {
  return LLVMBuildInBoundsGEP2(g->f->b, g->et, base, &idx, 1, "");
}
static inline LLVMValueRef zero_acc(gemm_t *g) {
  return lathe_dtype_is_float(g->acc) ? LLVMConstReal(g->et, 0) : LLVMConstInt(g->et, 0, 0);
}
static inline LLVMValueRef acc_add(gemm_t *g, LLVMValueRef a, LLVMValueRef b) {
  return lathe_dtype_is_float(g->acc) ? LLVMBuildFAdd(g->f->b, a, b, "")
                                      : LLVMBuildAdd(g->f->b, a, b, "");
}
/* Loads and stores of scratch memory carry the scratch alias scope. */
static inline LLVMValueRef load_s(gemm_t *g, LLVMTypeRef t, LLVMValueRef ptr) {
  LLVMValueRef v = LLVMBuildLoad2(g->f->b, t, ptr, "");
  cg_tag_scratch(g->cg, g->k, v);
  return v;
}
static inline LLVMValueRef store_s(gemm_t *g, LLVMValueRef v, LLVMValueRef ptr) {
  LLVMValueRef s = LLVMBuildStore(g->f->b, v, ptr);
  cg_tag_scratch(g->cg, g->k, s);
  return s;
}

/* ---- the closure: i64 slots shared by the kernel and its tasks ---- */

/* Elements of packed B per group (16 MB of f32). */
#define PACK_LIMIT (4 << 20)
#define NC_MAX 4096

enum {
  CL_ARGS,
  CL_BP,      /* the group's packed B (its first batch copy) */
  CL_CSTRIDE, /* elements from one batch copy of packed B to the next */
  CL_PP,
  CL_B0,
  CL_JC,
  CL_NC,
  CL_NPANELS,
  CL_NU,
  CL_NSUBS,
  CL_MC,
  CL_AP, /* A packed once for every unit (one row block), or 0: each unit packs its own */
  CL_COUNT
};

static inline LLVMValueRef slot_ptr(gemm_t *g, LLVMBuilderRef b, int i) {
  LLVMValueRef idx = c64(g, i);
  return LLVMBuildInBoundsGEP2(b, g->cg->i64, g->cl, &idx, 1, "");
}
static inline LLVMValueRef get_slot(gemm_t *g, int i) {
  return LLVMBuildLoad2(g->f->eb, g->cg->i64, slot_ptr(g, g->f->eb, i), "");
}
static inline void set_slot(gemm_t *g, int i, LLVMValueRef v) {
  LLVMBuildStore(g->f->b, v, slot_ptr(g, g->f->b, i));
}

/* Loops that run rarely (edges, padding) or cannot gain from vectorizing
 * stay plain: vectorized and unrolled, each would cost compile time and
 * code size for nothing. */
static inline void quiet(gemm_t *g, LLVMValueRef latch_br) {
  cg_loop_hint(g->cg, latch_br, false, 0, true);
}

/* The plan (register tile, blocking) from the target; false after cg_fail. */
bool cg_gemm_plan(gemm_t *g);
/* Sizes of the current function (g->f): B, M, N, K, kblocks, kpad. */
void cg_gemm_load_sizes(gemm_t *g);
/* g->mc and g->mblocks for `threads` (i64). */
void cg_gemm_row_blocks(gemm_t *g, LLVMValueRef threads);
/* The tasks (gemm.c): B's panels per group, A's blocks once (one row block),
 * the compute units. Each reads its sizes from the closure's slots. */
LLVMValueRef cg_gemm_pack_task(gemm_t *g, const char *symbol);
LLVMValueRef cg_gemm_packa_task(gemm_t *g, const char *symbol);
LLVMValueRef cg_gemm_compute_task(gemm_t *g, const char *symbol);

/* Tile stores (gemm_store.c). acc holds MR x NR/W vectors, row-major. */
void gemm_acc_to_tile(gemm_t *g, const LLVMValueRef *acc);
void gemm_store_edge(gemm_t *g, const tile_at_t *t, const LLVMValueRef *acc, LLVMValueRef last);
void gemm_store_full(gemm_t *g, const tile_at_t *t, const LLVMValueRef *acc, LLVMValueRef last);
void gemm_prefetch_partials(gemm_t *g, const tile_at_t *t);

#endif
