/* Functions the backend emits and the plumbing they share: the runtime ABI
 * as LLVM types, the prologue that reads buffer pointers and params out of
 * lathe_rt_kernel_args_t, counted loops in the shape LLVM's vectorizer wants,
 * alias scopes and loop metadata.
 *
 * Every function has an `entry` block that only collects allocas and the
 * loads of buffer pointers and params, each made the first time code asks
 * for it; the code itself starts in `start`. So a kernel loads exactly what
 * it uses, once, where every later block can see it, and mem2reg promotes
 * the allocas.
 *
 * Aliasing: every access to a buffer carries its root buffer's alias scope
 * and noalias against the other roots the kernel touches. Without that,
 * LLVM must assume a store to the output may change any input, and then it
 * neither hoists loads nor keeps a reduction in a register. Distinct roots
 * never overlap (temporaries are planned apart; callers pass distinct
 * inputs and outputs), and a view shares its root's scope, which is exactly
 * the aliasing the kernel IR has. Scratch memory (GEMM packing buffers) has a
 * scope of its own, apart from every buffer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <llvm-c/DebugInfo.h>

#include "codegen/llvm/internal.h"

void *cg_fail(cg_t *cg, lathe_status_code_t code, const char *fmt, ...) {
  if (cg->error) return NULL;
  va_list ap;
  va_start(ap, fmt);
  lathe_status_t st = lathe_status_makev(code, fmt, ap);
  va_end(ap);
  if (cg->kernel_name) st = lathe_status_annotate(st, "kernel '%s'", cg->kernel_name);
  cg->error = st;
  return NULL;
}

void cg_types_init(cg_t *cg) {
  LLVMContextRef c = cg->ctx;
  cg->void_t = LLVMVoidTypeInContext(c);
  cg->i1 = LLVMInt1TypeInContext(c);
  cg->i8 = LLVMInt8TypeInContext(c);
  cg->i16 = LLVMInt16TypeInContext(c);
  cg->i32 = LLVMInt32TypeInContext(c);
  cg->i64 = LLVMInt64TypeInContext(c);
  cg->f16 = LLVMHalfTypeInContext(c);
  cg->f32 = LLVMFloatTypeInContext(c);
  cg->f64 = LLVMDoubleTypeInContext(c);
  cg->i8p = LLVMPointerType(cg->i8, 0);
  cg->i64p = LLVMPointerType(cg->i64, 0);
  /* void task(void *closure, int64_t begin, int64_t end) */
  LLVMTypeRef task_params[3] = {cg->i8p, cg->i64, cg->i64};
  cg->task_t = LLVMFunctionType(cg->void_t, task_params, 3, 0);
  /* lathe_rt_functions_t */
  LLVMTypeRef pf_params[6] = {cg->i8p, cg->i64, cg->i64, cg->i64, LLVMPointerType(cg->task_t, 0),
                              cg->i8p};
  LLVMTypeRef pf = cg->pfor_t = LLVMFunctionType(cg->void_t, pf_params, 6, 0);
  LLVMTypeRef sc_params[2] = {cg->i8p, cg->i64};
  LLVMTypeRef sc = cg->scratch_t = LLVMFunctionType(cg->i8p, sc_params, 2, 0);
  /* void fill(void *closure, void *block) */
  LLVMTypeRef fill_params[2] = {cg->i8p, cg->i8p};
  cg->fill_t = LLVMFunctionType(cg->void_t, fill_params, 2, 0);
  LLVMTypeRef dv_params[6] = {cg->i8p, cg->i32, cg->i8p, cg->i64, LLVMPointerType(cg->fill_t, 0),
                              cg->i8p};
  LLVMTypeRef dv = cg->derived_t = LLVMFunctionType(cg->i8p, dv_params, 6, 0);
  cg->rt_t = LLVMStructCreateNamed(c, "lathe_rt_functions");
  LLVMTypeRef rt_fields[5] = {cg->i32, cg->i32, LLVMPointerType(pf, 0), LLVMPointerType(sc, 0),
                              LLVMPointerType(dv, 0)};
  LLVMStructSetBody(cg->rt_t, rt_fields, 5, 0);
  /* lathe_rt_kernel_args_t */
  cg->args_t = LLVMStructCreateNamed(c, "lathe_rt_kernel_args");
  LLVMTypeRef a_fields[4] = {LLVMPointerType(cg->i8p, 0), cg->i64p, LLVMPointerType(cg->rt_t, 0),
                             cg->i8p};
  LLVMStructSetBody(cg->args_t, a_fields, 4, 0);
  LLVMTypeRef args_p = LLVMPointerType(cg->args_t, 0);
  cg->kernel_t = LLVMFunctionType(cg->i32, &args_p, 1, 0);
  cg->md_scope = LLVMGetMDKindIDInContext(c, "alias.scope", 11);
  cg->md_noalias = LLVMGetMDKindIDInContext(c, "noalias", 7);
  cg->md_loop = LLVMGetMDKindIDInContext(c, "llvm.loop", 9);
}

LLVMValueRef cg_i64(cg_t *cg, int64_t v) { return LLVMConstInt(cg->i64, (unsigned long long)v, 1); }

void fn_begin(fn_t *f, cg_t *cg, const lathe_kernel_t *kernel, const char *name, LLVMTypeRef type) {
  memset(f, 0, sizeof *f);
  f->cg = cg;
  f->kernel = kernel;
  f->fn = LLVMAddFunction(cg->mod, name, type);
  f->entry = LLVMAppendBasicBlockInContext(cg->ctx, f->fn, "entry");
  f->start = LLVMAppendBasicBlockInContext(cg->ctx, f->fn, "start");
  f->b = LLVMCreateBuilderInContext(cg->ctx);
  f->eb = LLVMCreateBuilderInContext(cg->ctx);
  LLVMPositionBuilderAtEnd(f->b, f->start);
  LLVMPositionBuilderAtEnd(f->eb, f->entry);
  f->bufs = LATHE_ARENA_NEW_ARRAY(&cg->arena, LLVMValueRef, cg->p->num_buffers + 1);
  f->params = LATHE_ARENA_NEW_ARRAY(&cg->arena, LLVMValueRef, cg->p->num_params + 1);
  /* nounwind: generated code never throws; lets LLVM drop unwind tables. */
  unsigned kind = LLVMGetEnumAttributeKindForName("nounwind", 8);
  LLVMAddAttributeAtIndex(f->fn, LLVMAttributeFunctionIndex,
                          LLVMCreateEnumAttribute(cg->ctx, kind, 0));
}

static LLVMValueRef field(fn_t *f, LLVMValueRef ptr, LLVMTypeRef st, unsigned i, const char *name) {
  LLVMValueRef gep = LLVMBuildStructGEP2(f->eb, st, ptr, i, "");
  return LLVMBuildLoad2(f->eb, LLVMStructGetTypeAtIndex(st, i), gep, name);
}

void fn_load_args(fn_t *f, LLVMValueRef args) {
  f->args = args;
  f->rt = field(f, args, f->cg->args_t, 2, "rt");
  f->rt_ctx = field(f, args, f->cg->args_t, 3, "rt.ctx");
}

LLVMValueRef fn_buffer(fn_t *f, uint32_t id) {
  if (f->bufs[id]) return f->bufs[id];
  cg_t *cg = f->cg;
  LLVMValueRef table = field(f, f->args, cg->args_t, 0, "buffers");
  LLVMValueRef idx = cg_i64(cg, id);
  LLVMValueRef slot = LLVMBuildInBoundsGEP2(f->eb, cg->i8p, table, &idx, 1, "");
  const lathe_kbuffer_t *kb = cg->p->buffers[id];
  LLVMValueRef raw = LLVMBuildLoad2(f->eb, cg->i8p, slot, kb->name);
  LLVMTypeRef st = cg_storage_type(cg, kb->dtype);
  f->bufs[id] = LLVMBuildBitCast(f->eb, raw, LLVMPointerType(st, 0), kb->name);
  return f->bufs[id];
}

LLVMValueRef fn_param(fn_t *f, uint32_t k) {
  if (f->params[k]) return f->params[k];
  cg_t *cg = f->cg;
  LLVMValueRef table = field(f, f->args, cg->args_t, 1, "params");
  LLVMValueRef idx = cg_i64(cg, k);
  LLVMValueRef slot = LLVMBuildInBoundsGEP2(f->eb, cg->i64, table, &idx, 1, "");
  f->params[k] = LLVMBuildLoad2(f->eb, cg->i64, slot, cg->p->params[k]->name);
  return f->params[k];
}

LLVMValueRef fn_dim(fn_t *f, lathe_kdim_t d) {
  return lathe_kdim_is_static(d) ? cg_i64(f->cg, d.size) : fn_param(f, (uint32_t)d.param);
}

void fn_end(fn_t *f) {
  LLVMBuildBr(f->eb, f->start);
  LLVMDisposeBuilder(f->b);
  LLVMDisposeBuilder(f->eb);
  f->b = f->eb = NULL;
}

LLVMBasicBlockRef fn_block(fn_t *f, const char *name) {
  return LLVMAppendBasicBlockInContext(f->cg->ctx, f->fn, name);
}

LLVMValueRef fn_alloca(fn_t *f, LLVMTypeRef type, const char *name) {
  LLVMValueRef a = LLVMBuildAlloca(f->eb, type, name);
  LLVMSetAlignment(a, 64);
  return a;
}

/* ---- metadata ---- */

/* A distinct node !{!self, ops...}: a self-reference makes LLVM keep it
 * distinct, which alias scopes and loop ids need. */
static LLVMMetadataRef self_node(cg_t *cg, LLVMMetadataRef *ops, unsigned n) {
  LLVMMetadataRef all[8];
  LLVMMetadataRef tmp = LLVMTemporaryMDNode(cg->ctx, NULL, 0);
  all[0] = tmp;
  for (unsigned i = 0; i < n && i < 7; ++i) all[i + 1] = ops[i];
  LLVMMetadataRef node = LLVMMDNodeInContext2(cg->ctx, all, n + 1);
  LLVMMetadataReplaceAllUsesWith(tmp, node);
  return node;
}

static LLVMMetadataRef md_str(cg_t *cg, const char *s) {
  return LLVMMDStringInContext2(cg->ctx, s, strlen(s));
}

static LLVMMetadataRef scope_of(cg_t *cg, uint32_t root) {
  if (!cg->scope_domain) {
    LLVMMetadataRef name = md_str(cg, "lathe");
    cg->scope_domain = self_node(cg, &name, 1);
    cg->scopes = LATHE_ARENA_NEW_ARRAY(&cg->arena, LLVMMetadataRef, cg->p->num_buffers + 2);
  }
  if (!cg->scopes[root]) {
    const char *name = root == cg->p->num_buffers ? "scratch" : cg->p->buffers[root]->name;
    LLVMMetadataRef ops[2] = {cg->scope_domain, md_str(cg, name)};
    cg->scopes[root] = self_node(cg, ops, 2);
  }
  return cg->scopes[root];
}

uint32_t cg_root(const lathe_kprogram_t *p, uint32_t buffer) {
  int32_t v = p->buffers[buffer]->view_of;
  return v >= 0 ? (uint32_t)v : buffer;
}

/* The roots a kernel touches, each once, and the scratch pseudo-root. */
static uint32_t kernel_roots(const lathe_kprogram_t *p, const lathe_kernel_t *k, uint32_t *out) {
  uint32_t n = 0;
  out[n++] = p->num_buffers;
  for (uint32_t i = 0; i < k->num_reads + k->num_writes; ++i) {
    uint32_t b = i < k->num_reads ? k->reads[i] : k->writes[i - k->num_reads];
    uint32_t r = cg_root(p, b), j = 0;
    while (j < n && out[j] != r) ++j;
    if (j == n) out[n++] = r;
  }
  return n;
}

void cg_tag_access(cg_t *cg, const lathe_kernel_t *kernel, LLVMValueRef inst, uint32_t buffer) {
  const lathe_kprogram_t *p = cg->p;
  if (cg->tag_kernel != kernel) {
    cg->tag_kernel = kernel;
    cg->scope_lists = LATHE_ARENA_NEW_ARRAY(&cg->arena, LLVMValueRef, p->num_buffers + 2);
    cg->noalias_lists = LATHE_ARENA_NEW_ARRAY(&cg->arena, LLVMValueRef, p->num_buffers + 2);
  }
  uint32_t root = buffer == p->num_buffers ? buffer : cg_root(p, buffer);
  if (!cg->scope_lists[root]) {
    uint32_t *roots = LATHE_ARENA_NEW_ARRAY(&cg->arena, uint32_t, p->num_buffers + 2);
    uint32_t n = kernel_roots(p, kernel, roots), m = 0;
    LLVMMetadataRef *others = LATHE_ARENA_NEW_ARRAY(&cg->arena, LLVMMetadataRef, n + 1);
    for (uint32_t i = 0; i < n; ++i)
      if (roots[i] != root) others[m++] = scope_of(cg, roots[i]);
    LLVMMetadataRef mine = scope_of(cg, root);
    cg->scope_lists[root] = LLVMMetadataAsValue(cg->ctx, LLVMMDNodeInContext2(cg->ctx, &mine, 1));
    cg->noalias_lists[root] =
        LLVMMetadataAsValue(cg->ctx, LLVMMDNodeInContext2(cg->ctx, others, m));
  }
  LLVMSetMetadata(inst, cg->md_scope, cg->scope_lists[root]);
  LLVMSetMetadata(inst, cg->md_noalias, cg->noalias_lists[root]);
}

void cg_tag_scratch(cg_t *cg, const lathe_kernel_t *kernel, LLVMValueRef inst) {
  cg_tag_access(cg, kernel, inst, cg->p->num_buffers);
}

void cg_loop_hint(cg_t *cg, LLVMValueRef latch_br, bool vectorize, uint32_t width, bool no_unroll) {
  LLVMMetadataRef props[3];
  unsigned n = 0;
  LLVMMetadataRef kv[2] = {md_str(cg, "llvm.loop.vectorize.enable"),
                           LLVMValueAsMetadata(LLVMConstInt(cg->i1, vectorize, 0))};
  props[n++] = LLVMMDNodeInContext2(cg->ctx, kv, 2);
  if (vectorize && width > 1) {
    LLVMMetadataRef kw[2] = {md_str(cg, "llvm.loop.vectorize.width"),
                             LLVMValueAsMetadata(LLVMConstInt(cg->i32, width, 0))};
    props[n++] = LLVMMDNodeInContext2(cg->ctx, kw, 2);
  }
  if (no_unroll) {
    LLVMMetadataRef ku = md_str(cg, "llvm.loop.unroll.disable");
    props[n++] = LLVMMDNodeInContext2(cg->ctx, &ku, 1);
  }
  LLVMSetMetadata(latch_br, cg->md_loop, LLVMMetadataAsValue(cg->ctx, self_node(cg, props, n)));
}

/* ---- calls ---- */

static LLVMValueRef rt_fn(fn_t *f, unsigned i, LLVMTypeRef type) {
  LLVMValueRef gep = LLVMBuildStructGEP2(f->b, f->cg->rt_t, f->rt, i, "");
  return LLVMBuildLoad2(f->b, LLVMPointerType(type, 0), gep, "");
}

void fn_parallel_for(fn_t *f, LLVMValueRef begin, LLVMValueRef end, LLVMValueRef grain,
                     LLVMValueRef task, LLVMValueRef closure) {
  LLVMValueRef args[6] = {f->rt_ctx, begin, end,
                          grain,     task,  LLVMBuildBitCast(f->b, closure, f->cg->i8p, "")};
  LLVMBuildCall2(f->b, f->cg->pfor_t, rt_fn(f, 2, f->cg->pfor_t), args, 6, "");
}

LLVMValueRef fn_scratch(fn_t *f, LLVMValueRef bytes) {
  LLVMValueRef args[2] = {f->rt_ctx, bytes};
  return LLVMBuildCall2(f->b, f->cg->scratch_t, rt_fn(f, 3, f->cg->scratch_t), args, 2, "");
}

LLVMValueRef fn_derived(fn_t *f, uint32_t slot, LLVMValueRef source, LLVMValueRef bytes,
                        LLVMValueRef fill, LLVMValueRef closure) {
  cg_t *cg = f->cg;
  LLVMValueRef args[6] = {f->rt_ctx,
                          LLVMConstInt(cg->i32, slot, 0),
                          LLVMBuildBitCast(f->b, source, cg->i8p, ""),
                          bytes,
                          fill,
                          LLVMBuildBitCast(f->b, closure, cg->i8p, "")};
  return LLVMBuildCall2(f->b, cg->derived_t, rt_fn(f, 4, cg->derived_t), args, 6, "");
}

LLVMValueRef cg_intrinsic(fn_t *f, const char *name, LLVMTypeRef *types, unsigned num_types,
                          LLVMValueRef *args, unsigned num_args) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  if (!id) return cg_fail(f->cg, LATHE_STATUS_INTERNAL, "LLVM has no intrinsic %s", name);
  LLVMValueRef decl = LLVMGetIntrinsicDeclaration(f->cg->mod, id, types, num_types);
  LLVMTypeRef type = LLVMIntrinsicGetType(f->cg->ctx, id, types, num_types);
  return LLVMBuildCall2(f->b, type, decl, args, num_args, "");
}

LLVMValueRef cg_call_extern(fn_t *f, const char *name, LLVMTypeRef ret, LLVMValueRef *args,
                            unsigned num_args) {
  LLVMTypeRef params[4];
  for (unsigned i = 0; i < num_args && i < 4; ++i) params[i] = LLVMTypeOf(args[i]);
  LLVMTypeRef type = LLVMFunctionType(ret, params, num_args, 0);
  LLVMValueRef decl = LLVMGetNamedFunction(f->cg->mod, name);
  if (!decl) {
    decl = LLVMAddFunction(f->cg->mod, name, type);
    unsigned kind = LLVMGetEnumAttributeKindForName("nounwind", 8);
    LLVMAddAttributeAtIndex(decl, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(f->cg->ctx, kind, 0));
  }
  return LLVMBuildCall2(f->b, type, decl, args, num_args, "");
}

/* ---- loops ---- */

void fn_loop_begin(fn_t *f, loop_t *l, LLVMValueRef lo, LLVMValueRef hi, LLVMValueRef step,
                   const char *name) {
  l->pre = LLVMGetInsertBlock(f->b);
  l->header = fn_block(f, name);
  l->body = fn_block(f, "body");
  l->exit = fn_block(f, "exit");
  l->step = step;
  l->hi = hi;
  LLVMBuildBr(f->b, l->header);
  LLVMPositionBuilderAtEnd(f->b, l->header);
  l->iv = LLVMBuildPhi(f->b, f->cg->i64, name);
  LLVMAddIncoming(l->iv, &lo, &l->pre, 1);
  LLVMBuildCondBr(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, l->iv, hi, ""), l->body, l->exit);
  LLVMPositionBuilderAtEnd(f->b, l->body);
}

LLVMValueRef fn_loop_end(fn_t *f, loop_t *l) {
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(f->b);
  LLVMValueRef next = LLVMBuildNSWAdd(f->b, l->iv, l->step, "");
  LLVMValueRef br = LLVMBuildBr(f->b, l->header);
  LLVMAddIncoming(l->iv, &next, &latch, 1);
  LLVMPositionBuilderAtEnd(f->b, l->exit);
  return br;
}
