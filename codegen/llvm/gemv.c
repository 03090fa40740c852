/* The few-rows path of GEMM kernels (M <= GEMV_M_MAX per batch entry: a
 * decoding step of a language model, a small batch).
 *
 * With so few rows each element of B is used a handful of times, so packing
 * B (read it, write it, read it again) would cost more than the product.
 * Instead each task takes a run of GEMV_NCHUNK columns of one batch entry
 * and streams B once, in its contiguous direction:
 *   B as [K, N]: acc[m][0..n) = 0; then for every k and every m,
 *                acc[m][j] += A(m, k) * B(k, n0 + j): a vectorized axpy over
 *                a row of B, which stays in L1 while every m uses it (acc,
 *                M x GEMV_NCHUNK, lives on the stack, in L1)
 *   B as [N, K]: for each column j and each m, a dot product over k (LLVM
 *                vectorizes it as a reordered reduction); the row of B is
 *                reused from L1 by every m
 * then the epilogue runs on acc (vectorized) and C is written once.
 * Operands of any dtype are converted on load, as the packing would.
 */
#include <stdio.h>

#include "codegen/llvm/internal.h"

static LLVMValueRef c64(fn_t *f, int64_t v) { return cg_i64(f->cg, v); }
static LLVMValueRef add(fn_t *f, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildNSWAdd(f->b, a, b, "");
}
static LLVMValueRef mul(fn_t *f, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildNSWMul(f->b, a, b, "");
}

/* acc + a * b in the accumulator type. */
static LLVMValueRef mul_add(fn_t *f, lathe_dtype_t acc, LLVMValueRef a, LLVMValueRef b,
                            LLVMValueRef c) {
  if (!lathe_dtype_is_float(acc)) return LLVMBuildAdd(f->b, LLVMBuildMul(f->b, a, b, ""), c, "");
  LLVMValueRef args[3] = {a, b, c};
  LLVMTypeRef t = LLVMTypeOf(a);
  return cg_intrinsic(f, "llvm.fmuladd", &t, 1, args, 3);
}

/* Operand element at `flat`, in the accumulator type. */
static LLVMValueRef operand(fn_t *f, uint32_t buffer, LLVMValueRef flat, lathe_dtype_t acc) {
  return fn_cast(f, acc, f->cg->p->buffers[buffer]->dtype, fn_load_elem(f, buffer, flat));
}

/* C[b, m, n] = epilogue(s) (or s cast to C's dtype). */
static void store_c(fn_t *f, const lathe_kgemm_t *g, LLVMValueRef b, LLVMValueRef m, LLVMValueRef n,
                    LLVMValueRef M, LLVMValueRef N, LLVMValueRef s) {
  lathe_dtype_t ct = f->cg->p->buffers[g->c]->dtype;
  LLVMValueRef v;
  if (g->epilogue) {
    LLVMValueRef iters[3] = {b, m, n};
    eval_t e;
    eval_init(&e, f, iters, s);
    v = eval_expr(&e, g->epilogue);
    eval_free(&e);
    if (v) v = fn_cast(f, ct, g->epilogue->dtype, v);
  } else {
    v = fn_cast(f, ct, g->acc_dtype, s);
  }
  if (v) fn_store_elem(f, g->c, add(f, mul(f, add(f, mul(f, b, M), m), N), n), v);
}

LLVMValueRef cg_gemv_task(cg_t *cg, const lathe_kernel_t *k, const char *symbol) {
  const lathe_kgemm_t *g = k->gemm;
  LLVMTypeRef et = cg_reg_type(cg, g->acc_dtype);
  char name[512];
  snprintf(name, sizeof name, "%s.gemv", symbol);
  fn_t tf, *f = &tf;
  fn_begin(f, cg, k, name, cg->task_t);
  LLVMSetLinkage(f->fn, LLVMInternalLinkage);
  LLVMValueRef cl = LLVMBuildBitCast(f->eb, LLVMGetParam(f->fn, 0), cg->i64p, "");
  fn_load_args(f, LLVMBuildIntToPtr(f->eb, LLVMBuildLoad2(f->eb, cg->i64, cl, ""),
                                    LLVMPointerType(cg->args_t, 0), "args"));
  LLVMValueRef M = fn_dim(f, g->m), N = fn_dim(f, g->n), K = fn_dim(f, g->k);
  LLVMValueRef acc =
      LLVMBuildBitCast(f->eb, fn_alloca(f, LLVMArrayType(et, GEMV_M_MAX * GEMV_NCHUNK), "acc"),
                       LLVMPointerType(et, 0), "");
  LLVMValueRef zero =
      lathe_dtype_is_float(g->acc_dtype) ? LLVMConstReal(et, 0) : LLVMConstInt(et, 0, 0);
  LLVMValueRef chunks =
      LLVMBuildSDiv(f->b, add(f, N, c64(f, GEMV_NCHUNK - 1)), c64(f, GEMV_NCHUNK), "");
  loop_t lu, lm, lk, lj;
  fn_loop_begin(f, &lu, LLVMGetParam(f->fn, 1), LLVMGetParam(f->fn, 2), c64(f, 1), "item");
  LLVMValueRef b = LLVMBuildSDiv(f->b, lu.iv, chunks, "");
  LLVMValueRef n0 = mul(f, LLVMBuildSRem(f->b, lu.iv, chunks, ""), c64(f, GEMV_NCHUNK));
  LLVMValueRef rest = LLVMBuildNSWSub(f->b, N, n0, "");
  LLVMValueRef nlen =
      LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, rest, c64(f, GEMV_NCHUNK), ""), rest,
                      c64(f, GEMV_NCHUNK), "");
  LLVMValueRef abase = g->a.broadcast ? c64(f, 0) : mul(f, b, mul(f, M, K));
  LLVMValueRef bbase = g->b.broadcast ? c64(f, 0) : mul(f, b, mul(f, K, N));
  LLVMValueRef astep = g->a.trans ? M : c64(f, 1), arstride = g->a.trans ? c64(f, 1) : K;
  if (!g->b.trans) { /* axpys over rows of B, each row reused from L1 by every m */
    fn_loop_begin(f, &lj, c64(f, 0), mul(f, M, c64(f, GEMV_NCHUNK)), c64(f, 1), "zero");
    LLVMBuildStore(f->b, zero, LLVMBuildInBoundsGEP2(f->b, et, acc, &lj.iv, 1, ""));
    fn_loop_end(f, &lj);
    fn_loop_begin(f, &lk, c64(f, 0), K, c64(f, 1), "k");
    LLVMValueRef brow = add(f, bbase, add(f, mul(f, lk.iv, N), n0));
    fn_loop_begin(f, &lm, c64(f, 0), M, c64(f, 1), "row");
    LLVMValueRef a =
        operand(f, g->a.buffer,
                add(f, abase, add(f, mul(f, lm.iv, arstride), mul(f, lk.iv, astep))), g->acc_dtype);
    LLVMValueRef arow = LLVMBuildInBoundsGEP2(
        f->b, et, acc, (LLVMValueRef[]){mul(f, lm.iv, c64(f, GEMV_NCHUNK))}, 1, "");
    fn_loop_begin(f, &lj, c64(f, 0), nlen, c64(f, 1), "axpy");
    LLVMValueRef p = LLVMBuildInBoundsGEP2(f->b, et, arow, &lj.iv, 1, "");
    LLVMValueRef bv = operand(f, g->b.buffer, add(f, brow, lj.iv), g->acc_dtype);
    LLVMBuildStore(f->b, mul_add(f, g->acc_dtype, a, bv, LLVMBuildLoad2(f->b, et, p, "")), p);
    cg_loop_hint(cg, fn_loop_end(f, &lj), true, 0, false);
    fn_loop_end(f, &lm);
    fn_loop_end(f, &lk);
    fn_loop_begin(f, &lm, c64(f, 0), M, c64(f, 1), "row");
    fn_loop_begin(f, &lj, c64(f, 0), nlen, c64(f, 1), "store");
    LLVMValueRef at = add(f, mul(f, lm.iv, c64(f, GEMV_NCHUNK)), lj.iv);
    LLVMValueRef s = LLVMBuildLoad2(f->b, et, LLVMBuildInBoundsGEP2(f->b, et, acc, &at, 1, ""), "");
    store_c(f, g, b, lm.iv, add(f, n0, lj.iv), M, N, s);
    cg_loop_hint(cg, fn_loop_end(f, &lj), true, 0, false);
    fn_loop_end(f, &lm);
  } else { /* dot products with rows of B stored [N, K], each reused by every m */
    fn_loop_begin(f, &lj, c64(f, 0), nlen, c64(f, 1), "col");
    LLVMValueRef bcol = add(f, bbase, mul(f, add(f, n0, lj.iv), K));
    fn_loop_begin(f, &lm, c64(f, 0), M, c64(f, 1), "row");
    LLVMValueRef arow = add(f, abase, mul(f, lm.iv, arstride));
    fn_loop_begin(f, &lk, c64(f, 0), K, c64(f, 1), "dot");
    LLVMPositionBuilderBefore(f->b, LLVMGetNextInstruction(lk.iv));
    LLVMValueRef sum = LLVMBuildPhi(f->b, et, "sum");
    LLVMPositionBuilderAtEnd(f->b, lk.body);
    LLVMValueRef a = operand(f, g->a.buffer, add(f, arow, mul(f, lk.iv, astep)), g->acc_dtype);
    LLVMValueRef bv = operand(f, g->b.buffer, add(f, bcol, lk.iv), g->acc_dtype);
    LLVMValueRef next = mul_add(f, g->acc_dtype, a, bv, sum);
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(f->b);
    cg_loop_hint(cg, fn_loop_end(f, &lk), true, 0, false); /* reordered into vector partial sums */
    LLVMValueRef in[2] = {zero, next};
    LLVMBasicBlockRef from[2] = {lk.pre, latch};
    LLVMAddIncoming(sum, in, from, 2);
    store_c(f, g, b, lm.iv, add(f, n0, lj.iv), M, N, sum);
    fn_loop_end(f, &lm);
    fn_loop_end(f, &lj);
  }
  fn_loop_end(f, &lu);
  LLVMBuildRetVoid(f->b);
  fn_end(f);
  return f->fn;
}
