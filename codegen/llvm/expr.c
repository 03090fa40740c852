/* Expression DAGs at one iteration point.
 *
 * An evaluator emits each node once (memoized by pointer: expressions are
 * shared, x * sigmoid(x) reads x once) and leaves redundancy across points to
 * LLVM (GVN, LICM with the alias scopes of func.c). Index arithmetic that is
 * affine in iterators and params (no loaded value inside) gets nsw flags, so
 * scalar evolution sees the strides it needs to vectorize; arithmetic on
 * loaded integers keeps the wrap-around semantics of the kernel IR.
 */
#include "codegen/llvm/internal.h"

void eval_init(eval_t *e, fn_t *f, const LLVMValueRef *iters, LLVMValueRef acc) {
  e->f = f;
  e->iters = iters;
  e->acc = acc;
  lathe_hashmap_init(&e->memo);
}

void eval_free(eval_t *e) { lathe_hashmap_destroy(&e->memo); }

/* No LOAD below x: its arithmetic is on iterators, params and constants. */
static bool affine_only(const lathe_kexpr_t *x, int depth) {
  if (x->kind == LATHE_KEXPR_LOAD || depth > 64) return false;
  for (uint32_t i = 0; i < x->num_args; ++i)
    if (!affine_only(x->args[i], depth + 1)) return false;
  return true;
}

static LLVMValueRef index_op(eval_t *e, const lathe_kexpr_t *x, LLVMValueRef a, LLVMValueRef b) {
  fn_t *f = e->f;
  if (x->dtype == LATHE_DTYPE_I64 && affine_only(x, 0)) {
    switch (x->op) {
    case LATHE_KOP_ADD: return LLVMBuildNSWAdd(f->b, a, b, "");
    case LATHE_KOP_SUB: return LLVMBuildNSWSub(f->b, a, b, "");
    case LATHE_KOP_MUL: return LLVMBuildNSWMul(f->b, a, b, "");
    default: break;
    }
  }
  return fn_scalar_op(f, x->op, x->args[0]->dtype, a, b);
}

LLVMValueRef eval_flat(eval_t *e, uint32_t buffer, const lathe_kexpr_t *const *idx) {
  fn_t *f = e->f;
  const lathe_kbuffer_t *kb = f->cg->p->buffers[buffer];
  LLVMValueRef flat = cg_i64(f->cg, 0);
  for (uint32_t d = 0; d < kb->rank; ++d) {
    LLVMValueRef i = eval_expr(e, idx[d]);
    if (!i) return NULL;
    flat = d == 0 ? i
                  : LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, flat, fn_dim(f, kb->dims[d]), ""),
                                    i, "");
  }
  return flat;
}

LLVMValueRef eval_expr(eval_t *e, const lathe_kexpr_t *x) {
  fn_t *f = e->f;
  cg_t *cg = f->cg;
  void *found;
  if (!x) return cg_fail(cg, LATHE_STATUS_INTERNAL, "missing expression");
  if (lathe_hashmap_get(&e->memo, &x, sizeof x, &found)) return found;
  LLVMValueRef v = NULL, a = NULL, b = NULL, c = NULL;
  if (x->kind != LATHE_KEXPR_LOAD) {
    LLVMValueRef *slots[3] = {&a, &b, &c};
    for (uint32_t i = 0; i < x->num_args && i < 3; ++i)
      if (!(*slots[i] = eval_expr(e, x->args[i]))) return NULL;
  }
  switch (x->kind) {
  case LATHE_KEXPR_ITER:
    v = e->iters ? e->iters[x->index] : NULL;
    if (!v) return cg_fail(cg, LATHE_STATUS_INTERNAL, "iterator %u has no value here", x->index);
    break;
  case LATHE_KEXPR_PARAM: v = fn_param(f, x->index); break;
  case LATHE_KEXPR_INT: v = cg_const_int(cg, x->dtype, x->i); break;
  case LATHE_KEXPR_FLOAT: v = cg_const_float(cg, x->dtype, x->f); break;
  case LATHE_KEXPR_ACC:
    v = e->acc;
    if (!v) return cg_fail(cg, LATHE_STATUS_INTERNAL, "acc outside a GEMM epilogue");
    break;
  case LATHE_KEXPR_LOAD: {
    if (x->index >= cg->p->num_buffers) return cg_fail(cg, LATHE_STATUS_INTERNAL, "bad buffer id");
    LLVMValueRef flat = eval_flat(e, x->index, x->args);
    if (!flat) return NULL;
    v = fn_load_elem(f, x->index, flat);
    break;
  }
  case LATHE_KEXPR_UNARY: v = fn_scalar_op(f, x->op, x->args[0]->dtype, a, NULL); break;
  case LATHE_KEXPR_BINARY: v = index_op(e, x, a, b); break;
  case LATHE_KEXPR_SELECT: v = LLVMBuildSelect(f->b, a, b, c, ""); break;
  case LATHE_KEXPR_CAST: v = fn_cast(f, x->dtype, x->args[0]->dtype, a); break;
  }
  if (!v) return cg_fail(cg, LATHE_STATUS_INTERNAL, "cannot emit an expression");
  lathe_hashmap_put(&e->memo, &x, sizeof x, v);
  return v;
}

bool expr_reads_root(const lathe_kprogram_t *p, const lathe_kexpr_t *x, uint32_t root) {
  if (!x) return false;
  if (x->kind == LATHE_KEXPR_LOAD && cg_root(p, x->index) == root) return true;
  for (uint32_t i = 0; i < x->num_args; ++i)
    if (expr_reads_root(p, x->args[i], root)) return true;
  return false;
}
