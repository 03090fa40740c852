/* The scalar op table: every op of kernel/scalar_ops.def as LLVM code, in
 * one place, for float, signed-integer and unsigned-integer/bool operands.
 *
 * A form is an LLVM binary opcode, an intrinsic overloaded on the operand
 * type, a libm function (f32 and f64 names), a comparison predicate, or a
 * small emitter for what needs more than one instruction (the edge cases of
 * kernel/scalar.c: division by zero, shifts past the width, NaN in max/min).
 * tests/unit/test_codegen_llvm_ops.c checks that every op has the forms its
 * operand class needs, and compares each against the interpreter.
 */
#include <math.h>

#include "codegen/llvm/internal.h"

typedef LLVMValueRef (*emit_fn)(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b);

typedef enum { F_NONE, F_OPC, F_INTR, F_LIBM, F_FCMP, F_ICMP, F_EMIT } form_kind_t;

typedef struct form {
  form_kind_t kind;
  int code; /* LLVMOpcode, LLVMRealPredicate or LLVMIntPredicate */
  const char *name, *name64;
  emit_fn emit;
} form_t;

typedef struct opmap {
  form_t fl, si, un; /* float; signed int; unsigned int and bool */
} opmap_t;

static LLVMValueRef ci(LLVMValueRef like, int64_t v) {
  return LLVMConstInt(LLVMTypeOf(like), (unsigned long long)v, 1);
}
static LLVMValueRef cf(LLVMValueRef like, double v) { return LLVMConstReal(LLVMTypeOf(like), v); }
static LLVMValueRef sel(fn_t *f, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(f->b, c, a, b, "");
}
static LLVMValueRef icmp(fn_t *f, LLVMIntPredicate p, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildICmp(f->b, p, a, b, "");
}
static LLVMValueRef fcmp(fn_t *f, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFCmp(f->b, p, a, b, "");
}
static LLVMValueRef intr1(fn_t *f, const char *name, LLVMValueRef a) {
  LLVMTypeRef t = LLVMTypeOf(a);
  return cg_intrinsic(f, name, &t, 1, &a, 1);
}

/* ---- float emitters ---- */

static LLVMValueRef e_fneg(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFNeg(f->b, a, "");
}
static LLVMValueRef e_fsign(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef r = sel(f, fcmp(f, LLVMRealOLT, a, cf(a, 0)), cf(a, -1), a);
  return sel(f, fcmp(f, LLVMRealOGT, a, cf(a, 0)), cf(a, 1), r);
}
static LLVMValueRef e_rsqrt(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFDiv(f->b, cf(a, 1), intr1(f, "llvm.sqrt", a), "");
}
/* f32 registers (f32, f16, bf16) get the vectorizable implementations of
 * vmath.c; f64 keeps llvm.exp and libm. */
static bool is_f32(fn_t *f, LLVMValueRef a) { return LLVMTypeOf(a) == f->cg->f32; }
static LLVMValueRef e_exp(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return is_f32(f, a) ? vm_exp_f32(f, a) : intr1(f, "llvm.exp", a);
}
static LLVMValueRef e_tanh(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return is_f32(f, a) ? vm_tanh_f32(f, a) : cg_call_extern(f, "tanh", f->cg->f64, &a, 1);
}
static LLVMValueRef e_erf(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return is_f32(f, a) ? vm_erf_f32(f, a) : cg_call_extern(f, "erf", f->cg->f64, &a, 1);
}
/* With e = exp(-|x|): 1 / (1 + e) for x >= 0, e / (1 + e) below: never
 * overflows, and underflows gradually where the f64 reference does. */
static LLVMValueRef e_sigmoid(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef e = e_exp(f, t, LLVMBuildFNeg(f->b, intr1(f, "llvm.fabs", a), ""), NULL);
  LLVMValueRef r = LLVMBuildFDiv(f->b, cf(a, 1), LLVMBuildFAdd(f->b, cf(a, 1), e, ""), "");
  return sel(f, fcmp(f, LLVMRealOLT, a, cf(a, 0)), LLVMBuildFMul(f->b, e, r, ""), r);
}
static LLVMValueRef e_isnan(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return fcmp(f, LLVMRealUNO, a, a);
}
static LLVMValueRef e_isinf(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return fcmp(f, LLVMRealOEQ, intr1(f, "llvm.fabs", a), cf(a, INFINITY));
}
static LLVMValueRef e_ffloordiv(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return intr1(f, "llvm.floor", LLVMBuildFDiv(f->b, a, b, ""));
}
static LLVMValueRef e_fmod(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef r = LLVMBuildFRem(f->b, a, b, "");
  LLVMValueRef fix = LLVMBuildAnd(
      f->b, fcmp(f, LLVMRealONE, r, cf(r, 0)),
      LLVMBuildXor(f->b, fcmp(f, LLVMRealOLT, r, cf(r, 0)), fcmp(f, LLVMRealOLT, b, cf(b, 0)), ""),
      "");
  return sel(f, fix, LLVMBuildFAdd(f->b, r, b, ""), r);
}
/* a > b ? a : b, NaN when either is NaN: a NaN b loses the ordered compare
 * and is picked; a NaN a is picked by the outer select. */
static LLVMValueRef e_fmax(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return sel(f, fcmp(f, LLVMRealUNO, a, a), a, sel(f, fcmp(f, LLVMRealOGT, a, b), a, b));
}
static LLVMValueRef e_fmin(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return sel(f, fcmp(f, LLVMRealUNO, a, a), a, sel(f, fcmp(f, LLVMRealOLT, a, b), a, b));
}

/* ---- integer emitters (registers of i4/u4 are re-wrapped by the caller) ---- */

static LLVMValueRef e_ineg(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSub(f->b, ci(a, 0), a, "");
}
static LLVMValueRef e_iabs(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return sel(f, icmp(f, LLVMIntSLT, a, ci(a, 0)), LLVMBuildSub(f->b, ci(a, 0), a, ""), a);
}
static LLVMValueRef e_id(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) { return a; }
static LLVMValueRef e_isign(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return sel(f, icmp(f, LLVMIntSGT, a, ci(a, 0)), ci(a, 1),
             sel(f, icmp(f, LLVMIntSLT, a, ci(a, 0)), ci(a, -1), ci(a, 0)));
}
static LLVMValueRef e_usign(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildZExt(f->b, icmp(f, LLVMIntNE, a, ci(a, 0)), LLVMTypeOf(a), "");
}
static LLVMValueRef e_not(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildXor(f->b, a, ci(a, -1), "");
}

/* Signed division family: b == 0 gives 0 and b == -1 is negation (no trap on
 * INT_MIN / -1); `which` picks quotient, floored quotient, floored or
 * truncated remainder. */
enum { Q_DIV, Q_FLOORDIV, Q_MOD, Q_FMOD };
static LLVMValueRef sdivision(fn_t *f, LLVMValueRef a, LLVMValueRef b, int which) {
  LLVMValueRef zero = icmp(f, LLVMIntEQ, b, ci(b, 0)), m1 = icmp(f, LLVMIntEQ, b, ci(b, -1));
  LLVMValueRef safe = sel(f, LLVMBuildOr(f->b, zero, m1, ""), ci(b, 1), b);
  LLVMValueRef q = LLVMBuildSDiv(f->b, a, safe, ""), r = LLVMBuildSRem(f->b, a, safe, "");
  /* floored: adjust when the remainder is nonzero and its sign differs from b's */
  LLVMValueRef adjust =
      LLVMBuildAnd(f->b, icmp(f, LLVMIntNE, r, ci(r, 0)),
                   icmp(f, LLVMIntSLT, LLVMBuildXor(f->b, r, b, ""), ci(r, 0)), "");
  LLVMValueRef v, neg = LLVMBuildSub(f->b, ci(a, 0), a, "");
  switch (which) {
  case Q_DIV: return sel(f, zero, ci(a, 0), sel(f, m1, neg, q));
  case Q_FLOORDIV:
    v = LLVMBuildSub(f->b, q, LLVMBuildZExt(f->b, adjust, LLVMTypeOf(q), ""), "");
    return sel(f, zero, ci(a, 0), sel(f, m1, neg, v));
  case Q_MOD: v = sel(f, adjust, LLVMBuildAdd(f->b, r, b, ""), r); break;
  default: v = r; break;
  }
  return sel(f, LLVMBuildOr(f->b, zero, m1, ""), ci(a, 0), v);
}
static LLVMValueRef e_sdiv(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return sdivision(f, a, b, Q_DIV);
}
static LLVMValueRef e_sfloordiv(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return sdivision(f, a, b, Q_FLOORDIV);
}
static LLVMValueRef e_smod(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return sdivision(f, a, b, Q_MOD);
}
static LLVMValueRef e_sfmod(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return sdivision(f, a, b, Q_FMOD);
}
static LLVMValueRef udivision(fn_t *f, LLVMValueRef a, LLVMValueRef b, bool rem) {
  LLVMValueRef zero = icmp(f, LLVMIntEQ, b, ci(b, 0));
  LLVMValueRef safe = sel(f, zero, ci(b, 1), b);
  LLVMValueRef v = rem ? LLVMBuildURem(f->b, a, safe, "") : LLVMBuildUDiv(f->b, a, safe, "");
  return sel(f, zero, ci(a, 0), v);
}
static LLVMValueRef e_udiv(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return udivision(f, a, b, false);
}
static LLVMValueRef e_urem(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return udivision(f, a, b, true);
}
static LLVMValueRef e_smax(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return sel(f, icmp(f, LLVMIntSGT, a, b), a, b);
}
static LLVMValueRef e_smin(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return sel(f, icmp(f, LLVMIntSLT, a, b), a, b);
}
static LLVMValueRef e_umax(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return sel(f, icmp(f, LLVMIntUGT, a, b), a, b);
}
static LLVMValueRef e_umin(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  return sel(f, icmp(f, LLVMIntULT, a, b), a, b);
}
/* Shift counts outside [0, bits of the dtype) give 0 (shl, logical shr) or
 * the sign (arithmetic shr); an unsigned compare catches negative counts. */
static LLVMValueRef e_shl(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef ok = icmp(f, LLVMIntULT, b, ci(b, lathe_dtype_bits(t)));
  return sel(f, ok, LLVMBuildShl(f->b, a, sel(f, ok, b, ci(b, 0)), ""), ci(a, 0));
}
static LLVMValueRef e_ashr(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef ok = icmp(f, LLVMIntULT, b, ci(b, lathe_dtype_bits(t)));
  LLVMValueRef top = ci(b, (int64_t)LLVMGetIntTypeWidth(LLVMTypeOf(a)) - 1);
  return LLVMBuildAShr(f->b, a, sel(f, ok, b, top), "");
}
static LLVMValueRef e_lshr(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef ok = icmp(f, LLVMIntULT, b, ci(b, lathe_dtype_bits(t)));
  return sel(f, ok, LLVMBuildLShr(f->b, a, sel(f, ok, b, ci(b, 0)), ""), ci(a, 0));
}
/* a ** b by squaring; b < 0 gives 0 unless a is 1 or -1. A loop of at most
 * `bits` rounds, emitted inline. */
static LLVMValueRef e_ipow(fn_t *f, lathe_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
  bool is_signed = lathe_dtype_is_signed(t);
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(f->b), head = fn_block(f, "pow"),
                    done = fn_block(f, "pow.done");
  LLVMValueRef neg = is_signed ? icmp(f, LLVMIntSLT, b, ci(b, 0)) : LLVMConstInt(f->cg->i1, 0, 0);
  LLVMValueRef e0 = sel(f, neg, ci(b, 0), b);
  LLVMBuildBr(f->b, head);
  LLVMPositionBuilderAtEnd(f->b, head);
  LLVMValueRef r = LLVMBuildPhi(f->b, LLVMTypeOf(a), ""), x = LLVMBuildPhi(f->b, LLVMTypeOf(a), "");
  LLVMValueRef e = LLVMBuildPhi(f->b, LLVMTypeOf(b), "");
  LLVMValueRef odd = icmp(f, LLVMIntNE, LLVMBuildAnd(f->b, e, ci(e, 1), ""), ci(e, 0));
  LLVMValueRef r2 = sel(f, odd, LLVMBuildMul(f->b, r, x, ""), r);
  LLVMValueRef x2 = LLVMBuildMul(f->b, x, x, ""), e2 = LLVMBuildLShr(f->b, e, ci(e, 1), "");
  LLVMValueRef one = ci(a, 1), ins_r[2] = {one, r2}, ins_x[2] = {a, x2}, ins_e[2] = {e0, e2};
  LLVMBasicBlockRef from[2] = {pre, head};
  LLVMAddIncoming(r, ins_r, from, 2);
  LLVMAddIncoming(x, ins_x, from, 2);
  LLVMAddIncoming(e, ins_e, from, 2);
  LLVMBuildCondBr(f->b, icmp(f, LLVMIntNE, e2, ci(e2, 0)), head, done);
  LLVMPositionBuilderAtEnd(f->b, done);
  if (!is_signed) return r2;
  /* negative exponent: 1 for a == 1, +-1 for a == -1 (by parity), else 0 */
  LLVMValueRef b_odd = icmp(f, LLVMIntNE, LLVMBuildAnd(f->b, b, ci(b, 1), ""), ci(b, 0));
  LLVMValueRef m1 = sel(f, b_odd, ci(a, -1), ci(a, 1));
  LLVMValueRef nv = sel(f, icmp(f, LLVMIntEQ, a, ci(a, 1)), ci(a, 1),
                        sel(f, icmp(f, LLVMIntEQ, a, ci(a, -1)), m1, ci(a, 0)));
  return sel(f, neg, nv, r2);
}

/* ---- the table ---- */

#define NONE \
  { F_NONE, 0, NULL, NULL, NULL }
#define OPC(o) \
  { F_OPC, o, NULL, NULL, NULL }
#define INTR(n) \
  { F_INTR, 0, n, NULL, NULL }
#define LIBM(n) \
  { F_LIBM, 0, n "f", n, NULL }
#define FCMP(p) \
  { F_FCMP, p, NULL, NULL, NULL }
#define ICMP(p) \
  { F_ICMP, p, NULL, NULL, NULL }
#define EMIT(fn) \
  { F_EMIT, 0, NULL, NULL, fn }

static const opmap_t ops[LATHE_KOP_COUNT] = {
    [LATHE_KOP_NEG] = {EMIT(e_fneg), EMIT(e_ineg), EMIT(e_ineg)},
    [LATHE_KOP_ABS] = {INTR("llvm.fabs"), EMIT(e_iabs), EMIT(e_id)},
    [LATHE_KOP_SIGN] = {EMIT(e_fsign), EMIT(e_isign), EMIT(e_usign)},
    [LATHE_KOP_EXP] = {EMIT(e_exp), NONE, NONE},
    [LATHE_KOP_LOG] = {INTR("llvm.log"), NONE, NONE},
    [LATHE_KOP_SQRT] = {INTR("llvm.sqrt"), NONE, NONE},
    [LATHE_KOP_RSQRT] = {EMIT(e_rsqrt), NONE, NONE},
    [LATHE_KOP_TANH] = {EMIT(e_tanh), NONE, NONE},
    [LATHE_KOP_ERF] = {EMIT(e_erf), NONE, NONE},
    [LATHE_KOP_SIGMOID] = {EMIT(e_sigmoid), NONE, NONE},
    [LATHE_KOP_SIN] = {INTR("llvm.sin"), NONE, NONE},
    [LATHE_KOP_COS] = {INTR("llvm.cos"), NONE, NONE},
    [LATHE_KOP_TAN] = {LIBM("tan"), NONE, NONE},
    [LATHE_KOP_ASIN] = {LIBM("asin"), NONE, NONE},
    [LATHE_KOP_ACOS] = {LIBM("acos"), NONE, NONE},
    [LATHE_KOP_ATAN] = {LIBM("atan"), NONE, NONE},
    [LATHE_KOP_SINH] = {LIBM("sinh"), NONE, NONE},
    [LATHE_KOP_COSH] = {LIBM("cosh"), NONE, NONE},
    [LATHE_KOP_ASINH] = {LIBM("asinh"), NONE, NONE},
    [LATHE_KOP_ACOSH] = {LIBM("acosh"), NONE, NONE},
    [LATHE_KOP_ATANH] = {LIBM("atanh"), NONE, NONE},
    [LATHE_KOP_FLOOR] = {INTR("llvm.floor"), NONE, NONE},
    [LATHE_KOP_CEIL] = {INTR("llvm.ceil"), NONE, NONE},
    [LATHE_KOP_ROUND] = {INTR("llvm.roundeven"), NONE, NONE},
    [LATHE_KOP_ISNAN] = {EMIT(e_isnan), NONE, NONE},
    [LATHE_KOP_ISINF] = {EMIT(e_isinf), NONE, NONE},
    [LATHE_KOP_NOT] = {NONE, EMIT(e_not), EMIT(e_not)},
    [LATHE_KOP_ADD] = {OPC(LLVMFAdd), OPC(LLVMAdd), OPC(LLVMAdd)},
    [LATHE_KOP_SUB] = {OPC(LLVMFSub), OPC(LLVMSub), OPC(LLVMSub)},
    [LATHE_KOP_MUL] = {OPC(LLVMFMul), OPC(LLVMMul), OPC(LLVMMul)},
    [LATHE_KOP_DIV] = {OPC(LLVMFDiv), EMIT(e_sdiv), EMIT(e_udiv)},
    [LATHE_KOP_FLOORDIV] = {EMIT(e_ffloordiv), EMIT(e_sfloordiv), EMIT(e_udiv)},
    [LATHE_KOP_MOD] = {EMIT(e_fmod), EMIT(e_smod), EMIT(e_urem)},
    [LATHE_KOP_FMOD] = {OPC(LLVMFRem), EMIT(e_sfmod), EMIT(e_urem)},
    [LATHE_KOP_MAX] = {EMIT(e_fmax), EMIT(e_smax), EMIT(e_umax)},
    [LATHE_KOP_MIN] = {EMIT(e_fmin), EMIT(e_smin), EMIT(e_umin)},
    [LATHE_KOP_POW] = {INTR("llvm.pow"), EMIT(e_ipow), EMIT(e_ipow)},
    [LATHE_KOP_AND] = {NONE, OPC(LLVMAnd), OPC(LLVMAnd)},
    [LATHE_KOP_OR] = {NONE, OPC(LLVMOr), OPC(LLVMOr)},
    [LATHE_KOP_XOR] = {NONE, OPC(LLVMXor), OPC(LLVMXor)},
    [LATHE_KOP_SHL] = {NONE, EMIT(e_shl), EMIT(e_shl)},
    [LATHE_KOP_SHR] = {NONE, EMIT(e_ashr), EMIT(e_lshr)},
    [LATHE_KOP_EQ] = {FCMP(LLVMRealOEQ), ICMP(LLVMIntEQ), ICMP(LLVMIntEQ)},
    [LATHE_KOP_NE] = {FCMP(LLVMRealUNE), ICMP(LLVMIntNE), ICMP(LLVMIntNE)},
    [LATHE_KOP_LT] = {FCMP(LLVMRealOLT), ICMP(LLVMIntSLT), ICMP(LLVMIntULT)},
    [LATHE_KOP_LE] = {FCMP(LLVMRealOLE), ICMP(LLVMIntSLE), ICMP(LLVMIntULE)},
    [LATHE_KOP_GT] = {FCMP(LLVMRealOGT), ICMP(LLVMIntSGT), ICMP(LLVMIntUGT)},
    [LATHE_KOP_GE] = {FCMP(LLVMRealOGE), ICMP(LLVMIntSGE), ICMP(LLVMIntUGE)},
};

static const form_t *form_of(lathe_kop_t op, lathe_dtype_t t) {
  if ((unsigned)op >= LATHE_KOP_COUNT) return NULL;
  const opmap_t *m = &ops[op];
  if (lathe_dtype_is_float(t)) return &m->fl;
  if (t != LATHE_DTYPE_BOOL && lathe_dtype_is_signed(t)) return &m->si;
  return &m->un;
}

bool cg_op_supported(lathe_kop_t op, lathe_dtype_t t) {
  const form_t *fm = form_of(op, t);
  return fm && fm->kind != F_NONE;
}

LLVMValueRef fn_scalar_op(fn_t *f, lathe_kop_t op, lathe_dtype_t t, LLVMValueRef a,
                          LLVMValueRef b) {
  const form_t *fm = form_of(op, t);
  if (!fm || fm->kind == F_NONE) {
    const lathe_kop_info_t *info = lathe_kop_info(op);
    return cg_fail(f->cg, LATHE_STATUS_UNSUPPORTED, "op '%s' on %s is not supported",
                   info ? info->name : "?", lathe_dtype_name(t));
  }
  LLVMValueRef r = NULL;
  switch (fm->kind) {
  case F_OPC: r = LLVMBuildBinOp(f->b, (LLVMOpcode)fm->code, a, b, ""); break;
  case F_INTR: {
    LLVMTypeRef ty = LLVMTypeOf(a);
    LLVMValueRef args[2] = {a, b};
    r = cg_intrinsic(f, fm->name, &ty, 1, args, b ? 2 : 1);
    break;
  }
  case F_LIBM: {
    LLVMValueRef args[2] = {a, b};
    bool f64 = LLVMTypeOf(a) == f->cg->f64;
    r = cg_call_extern(f, f64 ? fm->name64 : fm->name, LLVMTypeOf(a), args, b ? 2 : 1);
    break;
  }
  case F_FCMP: return fcmp(f, (LLVMRealPredicate)fm->code, a, b);
  case F_ICMP: return icmp(f, (LLVMIntPredicate)fm->code, a, b);
  case F_EMIT: r = fm->emit(f, t, a, b); break;
  default: break;
  }
  if (r && (t == LATHE_DTYPE_I4 || t == LATHE_DTYPE_U4) && LLVMTypeOf(r) == f->cg->i8) {
    /* wrap the 8-bit register back to 4 bits (results of SAME ops) */
    LLVMTypeRef i8 = f->cg->i8;
    if (t == LATHE_DTYPE_I4)
      r = LLVMBuildAShr(f->b, LLVMBuildShl(f->b, r, LLVMConstInt(i8, 4, 0), ""),
                        LLVMConstInt(i8, 4, 0), "");
    else r = LLVMBuildAnd(f->b, r, LLVMConstInt(i8, 15, 0), "");
  }
  return r;
}
