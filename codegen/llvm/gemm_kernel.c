/* The GEMM kernel function (the tasks it runs are in gemm.c): the few-rows
 * path or the packed one, the loops over column and batch groups, B packed
 * once into the weights' derived data when it is a constant, and the layout
 * of the calling thread's scratch (B packed per run, partial sums, A packed
 * once for all units).
 */
#include <stdio.h>

#include "codegen/llvm/gemm.h"

/* Column groups of ncr columns (a multiple of NR) so that one packed copy of
 * B stays under PACK_LIMIT, and batch groups of nbg entries when B differs
 * per batch entry; npad is N rounded up to whole panels. */
typedef struct groups {
  LLVMValueRef ncr, nbg, npad, count_b;
} groups_t;

static groups_t group_sizes(gemm_t *g) {
  const lathe_kgemm_t *gm = g->g;
  groups_t s;
  LLVMValueRef NR = c64(g, g->NR);
  s.npad = mul(g, ceil_div(g, g->N, NR), NR);
  LLVMValueRef ncr = mul(g, sdiv(g, sdiv(g, c64(g, PACK_LIMIT), g->kpad), NR), NR);
  s.ncr = smin(g, smax(g, ncr, NR), c64(g, NC_MAX));
  LLVMValueRef copy = mul(g, g->kpad, smin(g, s.ncr, s.npad));
  s.nbg =
      gm->b.broadcast ? g->B : smin(g, smax(g, sdiv(g, c64(g, PACK_LIMIT), copy), c64(g, 1)), g->B);
  s.count_b = gm->b.broadcast ? c64(g, 1) : ceil_div(g, g->B, s.nbg);
  return s;
}

/* The loops over groups. Per group: pack its B (when pack_task) and compute
 * its tiles (when compute_task, which needs g->mc and `threads`). With
 * `packed` (all of B, packed once: batch copies of kpad x npad, each column
 * group's panels at jc * kpad in its copy) each group points into it;
 * otherwise CL_BP already holds the scratch one group is packed into at a
 * time. */
static void group_loops(gemm_t *g, const groups_t *s, LLVMValueRef packed, LLVMValueRef pack_task,
                        LLVMValueRef packa_task, LLVMValueRef compute_task, LLVMValueRef threads) {
  const lathe_kgemm_t *gm = g->g;
  fn_t *f = g->f;
  LLVMValueRef NR = c64(g, g->NR);
  loop_t lb, ln;
  fn_loop_begin(f, &lb, c64(g, 0), s->count_b, c64(g, 1), "group.b");
  LLVMValueRef b0 = gm->b.broadcast ? c64(g, 0) : mul(g, lb.iv, s->nbg);
  LLVMValueRef nbh = gm->b.broadcast ? g->B : smin(g, s->nbg, sub(g, g->B, b0));
  if (packa_task) { /* A's blocks for every column group, when CL_AP is set */
    set_slot(g, CL_B0, b0);
    LLVMValueRef ap = LLVMBuildLoad2(f->b, g->cg->i64, slot_ptr(g, f->b, CL_AP), "");
    LLVMValueRef items = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntNE, ap, c64(g, 0), ""),
                                         mul(g, nbh, g->kblocks), c64(g, 0), "");
    fn_parallel_for(f, c64(g, 0), items, c64(g, 1), packa_task, g->cl);
  }
  fn_loop_begin(f, &ln, c64(g, 0), g->N, s->ncr, "group.n");
  LLVMValueRef nc = smin(g, s->ncr, sub(g, g->N, ln.iv));
  LLVMValueRef npanels = ceil_div(g, nc, NR);
  set_slot(g, CL_B0, b0);
  set_slot(g, CL_JC, ln.iv);
  set_slot(g, CL_NC, nc);
  set_slot(g, CL_NPANELS, npanels);
  if (packed) {
    LLVMValueRef cstride = mul(g, g->kpad, s->npad);
    LLVMValueRef at =
        add(g, mul(g, gm->b.broadcast ? c64(g, 0) : b0, cstride), mul(g, ln.iv, g->kpad));
    set_slot(g, CL_CSTRIDE, cstride);
    set_slot(g, CL_BP, LLVMBuildPtrToInt(f->b, elem_ptr(g, packed, at), g->cg->i64, ""));
  } else {
    set_slot(g, CL_CSTRIDE, mul(g, g->kpad, mul(g, npanels, NR)));
  }
  if (pack_task) {
    LLVMValueRef items = mul(g, gm->b.broadcast ? c64(g, 1) : nbh, mul(g, g->kblocks, npanels));
    fn_parallel_for(f, c64(g, 0), items, c64(g, 1), pack_task, g->cl);
  }
  if (compute_task) {
    /* split the columns when row blocks alone would leave threads idle */
    LLVMValueRef units_m = mul(g, nbh, g->mblocks);
    LLVMValueRef nsplit = ceil_div(g, mul(g, threads, c64(g, 2)), units_m);
    nsplit = smin(g, smax(g, nsplit, c64(g, 1)), npanels);
    LLVMValueRef nu = mul(g, ceil_div(g, npanels, nsplit), NR);
    LLVMValueRef nsubs = ceil_div(g, nc, nu);
    set_slot(g, CL_NU, nu);
    set_slot(g, CL_NSUBS, nsubs);
    fn_parallel_for(f, c64(g, 0), mul(g, units_m, nsubs), c64(g, 1), compute_task, g->cl);
  }
  fn_loop_end(f, &ln);
  fn_loop_end(f, &lb);
}

/* B is a constant with static sizes: pack it once, the first time the
 * kernel runs, into a block the runtime keeps with the weights. */
static bool prepackable(gemm_t *g) {
  const lathe_kgemm_t *gm = g->g;
  const lathe_kprogram_t *p = g->cg->p;
  return p->buffers[cg_root(p, gm->b.buffer)]->role == LATHE_KBUF_CONST &&
         lathe_kdim_is_static(gm->n) && lathe_kdim_is_static(gm->k) &&
         (gm->b.broadcast || lathe_kdim_is_static(gm->batch));
}

/* void fill(closure, block): packs all of B into block (rt->derived's fill). */
static LLVMValueRef emit_fill(gemm_t *g, const char *symbol, LLVMValueRef pack_task) {
  cg_t *cg = g->cg;
  char name[512];
  snprintf(name, sizeof name, "%s.fillb", symbol);
  fn_t ff;
  fn_begin(&ff, cg, g->k, name, cg->fill_t);
  LLVMSetLinkage(ff.fn, LLVMInternalLinkage);
  g->f = &ff;
  g->cl = LLVMBuildBitCast(ff.eb, LLVMGetParam(ff.fn, 0), cg->i64p, "cl");
  LLVMValueRef args =
      LLVMBuildIntToPtr(ff.eb, get_slot(g, CL_ARGS), LLVMPointerType(cg->args_t, 0), "args");
  fn_load_args(&ff, args);
  cg_gemm_load_sizes(g);
  groups_t s = group_sizes(g);
  group_loops(g, &s, LLVMBuildBitCast(ff.b, LLVMGetParam(ff.fn, 1), g->ep, ""), pack_task, NULL,
              NULL, NULL);
  LLVMBuildRetVoid(ff.b);
  fn_end(&ff);
  return ff.fn;
}

/* CL_AP: where A is packed once (use) or 0 (each unit packs its own). */
static void set_ap(gemm_t *g, LLVMValueRef use, LLVMValueRef at) {
  LLVMValueRef v = LLVMBuildPtrToInt(g->f->b, at, g->cg->i64, "");
  set_slot(g, CL_AP, LLVMBuildSelect(g->f->b, use, v, c64(g, 0), ""));
}

/* Returns OUT_OF_MEMORY from the kernel when `ptr` is NULL; continues in a
 * new block otherwise. */
static void oom_check(gemm_t *g, LLVMValueRef ptr) {
  fn_t *f = g->f;
  LLVMBasicBlockRef oom = fn_block(f, "oom"), go = fn_block(f, "go");
  LLVMBuildCondBr(f->b, LLVMBuildIsNull(f->b, ptr, ""), oom, go);
  LLVMPositionBuilderAtEnd(f->b, oom);
  LLVMBuildRet(f->b, LLVMConstInt(g->cg->i32, LATHE_RT_KERNEL_OUT_OF_MEMORY, 0));
  LLVMPositionBuilderAtEnd(f->b, go);
}

LLVMValueRef cg_gemm_kernel(cg_t *cg, const lathe_kernel_t *k, const char *symbol) {
  if (!k->gemm) return cg_fail(cg, LATHE_STATUS_INTERNAL, "gemm kernel without a gemm");
  gemm_t g = {.cg = cg, .k = k, .g = k->gemm};
  if (!cg_gemm_plan(&g)) return NULL;
  const lathe_kgemm_t *gm = g.g;
  /* A static M picks one path at compile time; the tasks of the other would
   * only cost optimisation time before being dropped as dead. */
  bool few_only = lathe_kdim_is_static(gm->m) && gm->m.size <= GEMV_M_MAX;
  bool many_only = lathe_kdim_is_static(gm->m) && gm->m.size > GEMV_M_MAX;
  LLVMValueRef pack_task = few_only ? NULL : cg_gemm_pack_task(&g, symbol);
  LLVMValueRef compute_task = few_only ? NULL : cg_gemm_compute_task(&g, symbol);
  LLVMValueRef packa_task = few_only ? NULL : cg_gemm_packa_task(&g, symbol);
  LLVMValueRef gemv_task = many_only ? NULL : cg_gemv_task(cg, k, symbol);
  LLVMValueRef fill = !few_only && prepackable(&g) ? emit_fill(&g, symbol, pack_task) : NULL;
  fn_t f;
  fn_begin(&f, cg, k, symbol, cg->kernel_t);
  LLVMSetLinkage(f.fn, LLVMInternalLinkage); /* reached through the descriptor only */
  g.f = &f;
  fn_load_args(&f, LLVMGetParam(f.fn, 0));
  cg_gemm_load_sizes(&g);
  g.cl = LLVMBuildBitCast(f.eb, fn_alloca(&f, LLVMArrayType(cg->i64, CL_COUNT), "closure"),
                          cg->i64p, "");
  LLVMBasicBlockRef work = fn_block(&f, "work"), none = fn_block(&f, "none");
  LLVMValueRef empty =
      LLVMBuildICmp(f.b, LLVMIntEQ, mul(&g, g.B, mul(&g, g.M, g.N)), c64(&g, 0), "");
  LLVMBuildCondBr(f.b, empty, none, work);
  LLVMPositionBuilderAtEnd(f.b, none);
  LLVMBuildRet(f.b, LLVMConstInt(cg->i32, 0, 0));
  LLVMPositionBuilderAtEnd(f.b, work);
  set_slot(&g, CL_ARGS, LLVMBuildPtrToInt(f.b, f.args, cg->i64, ""));
  /* few rows: the streaming path of gemv.c */
  if (!many_only) {
    LLVMBasicBlockRef few = fn_block(&f, "few"), many = fn_block(&f, "many");
    LLVMValueRef is_few = LLVMBuildICmp(f.b, LLVMIntSLE, g.M, c64(&g, GEMV_M_MAX), "");
    LLVMBuildCondBr(f.b, few_only ? LLVMConstInt(cg->i1, 1, 0) : is_few, few, many);
    LLVMPositionBuilderAtEnd(f.b, few);
    fn_parallel_for(&f, c64(&g, 0), mul(&g, g.B, ceil_div(&g, g.N, c64(&g, GEMV_NCHUNK))),
                    c64(&g, 1), gemv_task, g.cl);
    LLVMBuildRet(f.b, LLVMConstInt(cg->i32, 0, 0));
    LLVMPositionBuilderAtEnd(f.b, many);
    if (few_only) { /* `many` is unreachable */
      LLVMBuildUnreachable(f.b);
      fn_end(&f);
      return cg->error ? NULL : f.fn;
    }
  }
  LLVMValueRef threads = LLVMBuildSExt(
      f.b, LLVMBuildLoad2(f.b, cg->i32, LLVMBuildStructGEP2(f.b, cg->rt_t, f.rt, 1, ""), ""),
      cg->i64, "");
  threads = smax(&g, threads, c64(&g, 1));
  cg_gemm_row_blocks(&g, threads);
  set_slot(&g, CL_MC, g.mc);
  groups_t s = group_sizes(&g);
  LLVMValueRef ncr_eff = smin(&g, s.ncr, s.npad);
  /* partial sums outside C: one group's rows x columns */
  LLVMValueRef pelems =
      g.need_partial && !g.partial_in_c ? mul(&g, mul(&g, s.nbg, g.M), ncr_eff) : c64(&g, 0);
  /* one row block: A packed once for all units, if it stays under PACK_LIMIT */
  LLVMValueRef aelems = mul(&g, mul(&g, s.nbg, g.kpad), c64(&g, g.MC));
  LLVMValueRef use_ap =
      LLVMBuildAnd(f.b, LLVMBuildICmp(f.b, LLVMIntEQ, g.mblocks, c64(&g, 1), ""),
                   LLVMBuildICmp(f.b, LLVMIntSLE, aelems, c64(&g, PACK_LIMIT), ""), "");
  aelems = LLVMBuildSelect(f.b, use_ap, aelems, c64(&g, 0), "");
  if (fill) {
    LLVMValueRef copies = gm->b.broadcast ? c64(&g, 1) : g.B;
    LLVMValueRef bytes = mul(&g, mul(&g, copies, mul(&g, g.kpad, s.npad)), c64(&g, g.esize));
    LLVMValueRef packed =
        fn_derived(&f, k->index, fn_buffer(&f, cg_root(cg->p, gm->b.buffer)), bytes, fill, g.cl);
    LLVMBasicBlockRef have = fn_block(&f, "prepacked"), per_run = fn_block(&f, "per_run");
    LLVMBuildCondBr(f.b, LLVMBuildIsNull(f.b, packed, ""), per_run, have);
    LLVMPositionBuilderAtEnd(f.b, have);
    LLVMValueRef raw = fn_scratch(&f, mul(&g, add(&g, pelems, aelems), c64(&g, g.esize)));
    oom_check(&g, raw);
    LLVMValueRef pp = LLVMBuildBitCast(f.b, raw, g.ep, "");
    set_slot(&g, CL_PP, LLVMBuildPtrToInt(f.b, pp, cg->i64, ""));
    set_ap(&g, use_ap, elem_ptr(&g, pp, pelems));
    group_loops(&g, &s, LLVMBuildBitCast(f.b, packed, g.ep, ""), NULL, packa_task, compute_task,
                threads);
    LLVMBuildRet(f.b, LLVMConstInt(cg->i32, 0, 0));
    LLVMPositionBuilderAtEnd(f.b, per_run); /* no weights table, or out of memory */
  }
  LLVMValueRef copies = gm->b.broadcast ? c64(&g, 1) : s.nbg;
  LLVMValueRef belems = mul(&g, copies, mul(&g, g.kpad, ncr_eff));
  LLVMValueRef raw =
      fn_scratch(&f, mul(&g, add(&g, add(&g, belems, pelems), aelems), c64(&g, g.esize)));
  oom_check(&g, raw);
  LLVMValueRef bp = LLVMBuildBitCast(f.b, raw, g.ep, "");
  set_slot(&g, CL_BP, LLVMBuildPtrToInt(f.b, bp, cg->i64, ""));
  set_slot(&g, CL_PP, LLVMBuildPtrToInt(f.b, elem_ptr(&g, bp, belems), cg->i64, ""));
  set_ap(&g, use_ap, elem_ptr(&g, bp, add(&g, belems, pelems)));
  group_loops(&g, &s, NULL, pack_task, packa_task, compute_task, threads);
  LLVMBuildRet(f.b, LLVMConstInt(cg->i32, 0, 0));
  fn_end(&f);
  return cg->error ? NULL : f.fn;
}
