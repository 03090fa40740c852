/* exp, tanh and erf for f32 as straight-line LLVM IR.
 *
 * libm calls block the loop vectorizer (a vector loop would call expf lane
 * by lane), and softmax, sigmoid, GELU and tanh-GELU are all built on these
 * three. Written as polynomials with selects and bit manipulation, the same
 * code vectorizes in any loop it lands in.
 *
 *   exp   n = roundeven(x / ln 2), r = x - n ln 2 (ln 2 split in a high part
 *         with trailing zero bits and a low part, so n * hi is exact), then
 *         exp(r) = 1 + r + r^2 P(r) on |r| <= ln(2)/2 and the result scaled
 *         by 2^n as two factors 2^(n/2) 2^(n - n/2), each a normal float for
 *         the clamped range, so overflow to inf and gradual underflow to 0
 *         come out of the multiplications. NaN passes through.
 *   tanh  |x| < 0.625: x + x^3 Q(x^2); else sign(x) (1 - 2 / (exp(2|x|) + 1)).
 *   erf   |x| < 1: x P(x^2); else sign(x) (1 - exp(-x^2) R(1 / (1 + |x|/2))).
 *
 * The coefficients are our own weighted least-squares fits (Lawson's
 * iteration toward minimax) of the functions above, in f64, rounded to f32:
 * maximum relative error 1.1e-7 for exp and tanh, 2.1e-7 for erf below 1,
 * absolute error 9e-8 for erf above 1 (measured in f32 arithmetic against
 * f64 references; see docs/codegen-llvm.md).
 */
#include "codegen/llvm/internal.h"

static const float EXP_P[] = {0.4999999403953552f, 0.1666652113199234f, 0.04166838899254799f,
                              0.008368712849915028f, 0.0013814582489430904f};
static const float TANH_Q[] = {-0.3333328068256378f, 0.13331441581249237f, -0.05373968929052353f,
                               0.020639000460505486f, -0.005704883951693773f};
static const float ERF_P[] = {
    1.1283791065216064f,   -0.3761262595653534f,    0.1128358542919159f,   -0.026853810995817184f,
    0.005188324488699436f, -0.0008010162273421884f, 7.853745046304539e-05f};
static const float ERFC_R[] = {-8.949747279984877e-05f, 0.28411829471588135f, 0.26383042335510254f,
                               0.3359052538871765f,     -0.0833004042506218f, 0.5426632761955261f,
                               -0.45970311760902405f,   0.11662866920232773f};

static LLVMValueRef cf(fn_t *f, double v) { return LLVMConstReal(f->cg->f32, v); }
static LLVMValueRef ci32(fn_t *f, int64_t v) {
  return LLVMConstInt(f->cg->i32, (unsigned long long)v, 1);
}
static LLVMValueRef fmul(fn_t *f, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFMul(f->b, a, b, "");
}
static LLVMValueRef fadd(fn_t *f, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFAdd(f->b, a, b, "");
}
static LLVMValueRef fma3(fn_t *f, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
  LLVMValueRef args[3] = {a, b, c};
  LLVMTypeRef t = f->cg->f32;
  return cg_intrinsic(f, "llvm.fmuladd", &t, 1, args, 3);
}
static LLVMValueRef intr1(fn_t *f, const char *name, LLVMValueRef a) {
  LLVMTypeRef t = f->cg->f32;
  return cg_intrinsic(f, name, &t, 1, &a, 1);
}
static LLVMValueRef copy_sign(fn_t *f, LLVMValueRef mag, LLVMValueRef sign) {
  LLVMValueRef args[2] = {mag, sign};
  LLVMTypeRef t = f->cg->f32;
  return cg_intrinsic(f, "llvm.copysign", &t, 1, args, 2);
}
static LLVMValueRef sel(fn_t *f, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(f->b, c, a, b, "");
}
static LLVMValueRef fcmp(fn_t *f, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFCmp(f->b, p, a, b, "");
}

static LLVMValueRef horner(fn_t *f, const float *c, int n, LLVMValueRef x) {
  LLVMValueRef p = cf(f, c[n - 1]);
  for (int k = n - 2; k >= 0; --k) p = fma3(f, p, x, cf(f, c[k]));
  return p;
}

/* 2^n for an i32 n in [-252, 254], as two normal factors multiplied into v. */
static LLVMValueRef scale2(fn_t *f, LLVMValueRef v, LLVMValueRef n) {
  LLVMValueRef h = LLVMBuildAShr(f->b, n, ci32(f, 1), "");
  LLVMValueRef e1 = LLVMBuildShl(f->b, LLVMBuildAdd(f->b, h, ci32(f, 127), ""), ci32(f, 23), "");
  LLVMValueRef e2 = LLVMBuildShl(
      f->b, LLVMBuildAdd(f->b, LLVMBuildSub(f->b, n, h, ""), ci32(f, 127), ""), ci32(f, 23), "");
  LLVMValueRef s1 = LLVMBuildBitCast(f->b, e1, f->cg->f32, "");
  LLVMValueRef s2 = LLVMBuildBitCast(f->b, e2, f->cg->f32, "");
  return fmul(f, fmul(f, v, s1), s2);
}

LLVMValueRef vm_exp_f32(fn_t *f, LLVMValueRef x) {
  /* exp(89) overflows and exp(-104) underflows to 0 anyway: clamping keeps
   * n in the range scale2 handles (NaN fails both compares and stays). */
  LLVMValueRef xc = sel(f, fcmp(f, LLVMRealOGT, x, cf(f, 89.0)), cf(f, 89.0), x);
  xc = sel(f, fcmp(f, LLVMRealOLT, xc, cf(f, -104.0)), cf(f, -104.0), xc);
  LLVMValueRef n = intr1(f, "llvm.roundeven", fmul(f, xc, cf(f, 1.4426950408889634)));
  LLVMValueRef r = fma3(f, n, cf(f, -0.693145751953125), xc); /* ln 2 high part: exact */
  r = fma3(f, n, cf(f, -1.4286068203094172e-06), r);          /* ln 2 - high part */
  LLVMValueRef p = fadd(f, fma3(f, fmul(f, r, r), horner(f, EXP_P, 5, r), r), cf(f, 1.0));
  LLVMValueRef is_nan = fcmp(f, LLVMRealUNO, x, x);
  LLVMValueRef ni = LLVMBuildFPToSI(f->b, sel(f, is_nan, cf(f, 0.0), n), f->cg->i32, "");
  return sel(f, is_nan, x, scale2(f, p, ni));
}

LLVMValueRef vm_tanh_f32(fn_t *f, LLVMValueRef x) {
  LLVMValueRef ax = intr1(f, "llvm.fabs", x), s = fmul(f, x, x);
  LLVMValueRef small = fma3(f, fmul(f, x, s), horner(f, TANH_Q, 5, s), x);
  LLVMValueRef e = vm_exp_f32(f, fmul(f, ax, cf(f, 2.0)));
  LLVMValueRef large = LLVMBuildFSub(
      f->b, cf(f, 1.0), LLVMBuildFDiv(f->b, cf(f, 2.0), fadd(f, e, cf(f, 1.0)), ""), "");
  return sel(f, fcmp(f, LLVMRealOLT, ax, cf(f, 0.625)), small, copy_sign(f, large, x));
}

LLVMValueRef vm_erf_f32(fn_t *f, LLVMValueRef x) {
  LLVMValueRef ax = intr1(f, "llvm.fabs", x), s = fmul(f, x, x);
  LLVMValueRef small = fmul(f, x, horner(f, ERF_P, 7, s));
  LLVMValueRef t = LLVMBuildFDiv(f->b, cf(f, 1.0), fma3(f, ax, cf(f, 0.5), cf(f, 1.0)), "");
  LLVMValueRef e = vm_exp_f32(f, LLVMBuildFNeg(f->b, s, ""));
  LLVMValueRef large = LLVMBuildFSub(f->b, cf(f, 1.0), fmul(f, e, horner(f, ERFC_R, 8, t)), "");
  /* past 4, erf is 1 in f32 (and the fit is not meant for it) */
  large = sel(f, fcmp(f, LLVMRealOGT, ax, cf(f, 4.0)), cf(f, 1.0), large);
  return sel(f, fcmp(f, LLVMRealOLT, ax, cf(f, 1.0)), small, copy_sign(f, large, x));
}
