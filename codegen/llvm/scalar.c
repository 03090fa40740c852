/* Scalars in LLVM: dtypes as types, element loads and stores, constants,
 * casts, and the one table that maps every op of kernel/scalar_ops.def to
 * LLVM instructions, intrinsics or libm calls.
 *
 * The semantics are kernel/scalar.c's (the interpreter's), so whatever an op
 * does at an edge (integer division by zero gives 0, shifts past the width
 * give 0 or -1, float->int casts saturate and send NaN to 0, max/min
 * propagate NaN) is spelled out here with selects rather than left to LLVM's
 * undefined cases. What stays different is precision: f32 math happens in
 * f32 (the interpreter uses f64), and libm's f32 functions are used for f32.
 *
 * Op choices worth knowing:
 *   - exp, log, sqrt, sin, cos, pow, fabs, floor, ceil, roundeven are LLVM
 *     intrinsics (LLVM lowers them to instructions or to the libm names the
 *     runtime ABI allows); tanh, erf, tan and the inverse/hyperbolic functions
 *     call libm (tanhf/tanh...) directly; frem is C fmod.
 *   - max/min are compare+select, not llvm.maximum: LLVM 14's x86 backend
 *     cannot select llvm.maximum (it aborts), and maxnum drops NaNs.
 *   - f16 converts with fpext/fptrunc when the target has F16C; otherwise by
 *     integer code below, because LLVM 14 would call __gnu_h2f_ieee, which
 *     the JIT cannot resolve. bf16 is always integer code (LLVM 14's bfloat
 *     type has no arithmetic lowering on x86): widen = shift left 16,
 *     narrow = round to nearest even on the low 16 bits, NaN kept quiet.
 *   - i4/u4 live two to a byte (low nibble first); a store rewrites its byte.
 */
#include <math.h>
#include <string.h>

#include "codegen/llvm/internal.h"

/* ---- types and constants ---- */

LLVMTypeRef cg_storage_type(cg_t *cg, lathe_dtype_t t) {
  switch (t) {
  case LATHE_DTYPE_F32: return cg->f32;
  case LATHE_DTYPE_F64: return cg->f64;
  case LATHE_DTYPE_F16:
  case LATHE_DTYPE_BF16:
  case LATHE_DTYPE_I16:
  case LATHE_DTYPE_U16: return cg->i16;
  case LATHE_DTYPE_I32:
  case LATHE_DTYPE_U32: return cg->i32;
  case LATHE_DTYPE_I64:
  case LATHE_DTYPE_U64: return cg->i64;
  default: return cg->i8; /* i8, u8, bool, i4, u4 */
  }
}

LLVMTypeRef cg_reg_type(cg_t *cg, lathe_dtype_t t) {
  switch (t) {
  case LATHE_DTYPE_F16:
  case LATHE_DTYPE_BF16:
  case LATHE_DTYPE_F32: return cg->f32;
  case LATHE_DTYPE_BOOL: return cg->i1;
  default: return cg_storage_type(cg, t);
  }
}

bool cg_dtype_supported(cg_t *cg, lathe_dtype_t t) {
  (void)cg;
  return t > LATHE_DTYPE_INVALID && t <= LATHE_DTYPE_U4;
}

LLVMValueRef cg_const_int(cg_t *cg, lathe_dtype_t t, int64_t v) {
  if (lathe_dtype_is_float(t)) return cg_const_float(cg, t, (double)v);
  if (t == LATHE_DTYPE_BOOL) return LLVMConstInt(cg->i1, v != 0, 0);
  return LLVMConstInt(cg_reg_type(cg, t), (unsigned long long)v, 1);
}

LLVMValueRef cg_const_float(cg_t *cg, lathe_dtype_t t, double v) {
  return LLVMConstReal(cg_reg_type(cg, t), v);
}

static LLVMValueRef ci(LLVMTypeRef t, int64_t v) {
  return LLVMConstInt(t, (unsigned long long)v, 1);
}

/* Re-wraps an i4/u4 register (i8) to 4 bits after arithmetic. */
static LLVMValueRef wrap_small(fn_t *f, lathe_dtype_t t, LLVMValueRef v) {
  LLVMTypeRef i8 = f->cg->i8;
  if (t == LATHE_DTYPE_I4)
    return LLVMBuildAShr(f->b, LLVMBuildShl(f->b, v, ci(i8, 4), ""), ci(i8, 4), "");
  if (t == LATHE_DTYPE_U4) return LLVMBuildAnd(f->b, v, ci(i8, 15), "");
  return v;
}

/* ---- f16 and bf16 ---- */

static LLVMValueRef f16_to_f32_soft(fn_t *f, LLVMValueRef h /* i16 */) {
  cg_t *cg = f->cg;
  LLVMBuilderRef b = f->b;
  LLVMTypeRef i32 = cg->i32;
  LLVMValueRef x = LLVMBuildZExt(b, h, i32, "");
  LLVMValueRef sign = LLVMBuildShl(b, LLVMBuildAnd(b, x, ci(i32, 0x8000), ""), ci(i32, 16), "");
  LLVMValueRef o = LLVMBuildShl(b, LLVMBuildAnd(b, x, ci(i32, 0x7fff), ""), ci(i32, 13), "");
  LLVMValueRef exp = LLVMBuildAnd(b, o, ci(i32, 0x7c00 << 13), "");
  o = LLVMBuildAdd(b, o, ci(i32, (127 - 15) << 23), "");
  /* inf/NaN: move the exponent up to all ones */
  LLVMValueRef is_special = LLVMBuildICmp(b, LLVMIntEQ, exp, ci(i32, 0x7c00 << 13), "");
  LLVMValueRef special = LLVMBuildAdd(b, o, ci(i32, (128 - 16) << 23), "");
  /* zero/subnormal: renormalise through a float subtraction */
  LLVMValueRef is_sub = LLVMBuildICmp(b, LLVMIntEQ, exp, ci(i32, 0), "");
  LLVMValueRef sub_bits = LLVMBuildAdd(b, o, ci(i32, 1 << 23), "");
  LLVMValueRef magic = LLVMConstReal(cg->f32, ldexp(1.0, -14));
  LLVMValueRef sub = LLVMBuildFSub(b, LLVMBuildBitCast(b, sub_bits, cg->f32, ""), magic, "");
  LLVMValueRef sub_i = LLVMBuildBitCast(b, sub, i32, "");
  o = LLVMBuildSelect(b, is_special, special, o, "");
  o = LLVMBuildSelect(b, is_sub, sub_i, o, "");
  return LLVMBuildBitCast(b, LLVMBuildOr(b, o, sign, ""), cg->f32, "");
}

/* Round to nearest even, overflow to inf, NaN to a quiet NaN. */
static LLVMValueRef f32_to_f16_soft(fn_t *f, LLVMValueRef v /* float */) {
  cg_t *cg = f->cg;
  LLVMBuilderRef b = f->b;
  LLVMTypeRef i32 = cg->i32;
  LLVMValueRef u = LLVMBuildBitCast(b, v, i32, "");
  LLVMValueRef sign = LLVMBuildAnd(b, u, ci(i32, (int64_t)0x80000000u), "");
  LLVMValueRef a = LLVMBuildXor(b, u, sign, "");
  /* too big: inf, or a quiet NaN */
  LLVMValueRef big = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntUGT, a, ci(i32, 0x7f800000), ""),
                                     ci(i32, 0x7e00), ci(i32, 0x7c00), "");
  LLVMValueRef is_big = LLVMBuildICmp(b, LLVMIntUGE, a, ci(i32, (127 + 16) << 23), "");
  /* subnormal results: let a float addition do the rounding */
  const int32_t denorm_magic = ((127 - 15) + (23 - 10) + 1) << 23;
  LLVMValueRef dm = LLVMConstReal(cg->f32, ldexp(1.0, (denorm_magic >> 23) - 127));
  LLVMValueRef sum = LLVMBuildFAdd(b, LLVMBuildBitCast(b, a, cg->f32, ""), dm, "");
  LLVMValueRef small =
      LLVMBuildSub(b, LLVMBuildBitCast(b, sum, i32, ""), ci(i32, denorm_magic), "");
  LLVMValueRef is_small = LLVMBuildICmp(b, LLVMIntULT, a, ci(i32, 113 << 23), "");
  /* normal: rebias, round to nearest even on the 13 dropped bits */
  LLVMValueRef odd = LLVMBuildAnd(b, LLVMBuildLShr(b, a, ci(i32, 13), ""), ci(i32, 1), "");
  LLVMValueRef n = LLVMBuildAdd(b, a, ci(i32, (int64_t)(((uint32_t)(15 - 127) << 23) + 0xfff)), "");
  n = LLVMBuildLShr(b, LLVMBuildAdd(b, n, odd, ""), ci(i32, 13), "");
  LLVMValueRef o = LLVMBuildSelect(b, is_small, small, n, "");
  o = LLVMBuildSelect(b, is_big, big, o, "");
  o = LLVMBuildOr(b, o, LLVMBuildLShr(b, sign, ci(i32, 16), ""), "");
  return LLVMBuildTrunc(b, o, cg->i16, "");
}

static LLVMValueRef bf16_to_f32(fn_t *f, LLVMValueRef h) {
  LLVMValueRef x =
      LLVMBuildShl(f->b, LLVMBuildZExt(f->b, h, f->cg->i32, ""), ci(f->cg->i32, 16), "");
  return LLVMBuildBitCast(f->b, x, f->cg->f32, "");
}

static LLVMValueRef f32_to_bf16(fn_t *f, LLVMValueRef v) {
  LLVMBuilderRef b = f->b;
  LLVMTypeRef i32 = f->cg->i32;
  LLVMValueRef u = LLVMBuildBitCast(b, v, i32, "");
  LLVMValueRef hi = LLVMBuildLShr(b, u, ci(i32, 16), "");
  LLVMValueRef is_nan = LLVMBuildICmp(b, LLVMIntUGT, LLVMBuildAnd(b, u, ci(i32, 0x7fffffff), ""),
                                      ci(i32, 0x7f800000), "");
  LLVMValueRef nan = LLVMBuildOr(b, hi, ci(i32, 0x40), "");
  LLVMValueRef r = LLVMBuildAdd(b, u, ci(i32, 0x7fff), "");
  r = LLVMBuildLShr(b, LLVMBuildAdd(b, r, LLVMBuildAnd(b, hi, ci(i32, 1), ""), ""), ci(i32, 16),
                    "");
  return LLVMBuildTrunc(b, LLVMBuildSelect(b, is_nan, nan, r, ""), f->cg->i16, "");
}

static LLVMValueRef f16_bits(fn_t *f, LLVMValueRef v) {
  if (!f->cg->target.has_f16) return f32_to_f16_soft(f, v);
  return LLVMBuildBitCast(f->b, LLVMBuildFPTrunc(f->b, v, f->cg->f16, ""), f->cg->i16, "");
}

static LLVMValueRef f16_value(fn_t *f, LLVMValueRef bits) {
  if (!f->cg->target.has_f16) return f16_to_f32_soft(f, bits);
  return LLVMBuildFPExt(f->b, LLVMBuildBitCast(f->b, bits, f->cg->f16, ""), f->cg->f32, "");
}

/* A float register rounded to dtype t (f16/bf16 go through their bits). */
static LLVMValueRef round_to(fn_t *f, lathe_dtype_t t, LLVMValueRef v) {
  if (t == LATHE_DTYPE_F16) return f16_value(f, f16_bits(f, v));
  if (t == LATHE_DTYPE_BF16) return bf16_to_f32(f, f32_to_bf16(f, v));
  return v;
}

LLVMValueRef fn_round(fn_t *f, lathe_dtype_t t, LLVMValueRef v) { return round_to(f, t, v); }

/* ---- memory ---- */

static LLVMValueRef nibble_byte(fn_t *f, uint32_t buffer, LLVMValueRef flat, LLVMValueRef *shift) {
  LLVMValueRef idx = LLVMBuildLShr(f->b, flat, cg_i64(f->cg, 1), "");
  *shift = LLVMBuildShl(
      f->b, LLVMBuildTrunc(f->b, LLVMBuildAnd(f->b, flat, cg_i64(f->cg, 1), ""), f->cg->i8, ""),
      ci(f->cg->i8, 2), "");
  return LLVMBuildInBoundsGEP2(f->b, f->cg->i8, fn_buffer(f, buffer), &idx, 1, "");
}

LLVMValueRef fn_load_elem(fn_t *f, uint32_t buffer, LLVMValueRef flat) {
  cg_t *cg = f->cg;
  lathe_dtype_t t = cg->p->buffers[buffer]->dtype;
  if (t == LATHE_DTYPE_I4 || t == LATHE_DTYPE_U4) {
    LLVMValueRef shift, ptr = nibble_byte(f, buffer, flat, &shift);
    LLVMValueRef byte = LLVMBuildLoad2(f->b, cg->i8, ptr, "");
    cg_tag_access(cg, f->kernel, byte, buffer);
    return wrap_small(f, t, LLVMBuildLShr(f->b, byte, shift, ""));
  }
  LLVMTypeRef st = cg_storage_type(cg, t);
  LLVMValueRef ptr = LLVMBuildInBoundsGEP2(f->b, st, fn_buffer(f, buffer), &flat, 1, "");
  LLVMValueRef v = LLVMBuildLoad2(f->b, st, ptr, "");
  cg_tag_access(cg, f->kernel, v, buffer);
  switch (t) {
  case LATHE_DTYPE_F16: return f16_value(f, v);
  case LATHE_DTYPE_BF16: return bf16_to_f32(f, v);
  case LATHE_DTYPE_BOOL: return LLVMBuildICmp(f->b, LLVMIntNE, v, ci(cg->i8, 0), "");
  default: return v;
  }
}

void fn_store_elem(fn_t *f, uint32_t buffer, LLVMValueRef flat, LLVMValueRef v) {
  cg_t *cg = f->cg;
  lathe_dtype_t t = cg->p->buffers[buffer]->dtype;
  if (t == LATHE_DTYPE_I4 || t == LATHE_DTYPE_U4) {
    LLVMValueRef shift, ptr = nibble_byte(f, buffer, flat, &shift);
    LLVMValueRef old = LLVMBuildLoad2(f->b, cg->i8, ptr, "");
    cg_tag_access(cg, f->kernel, old, buffer);
    LLVMValueRef keep =
        LLVMBuildXor(f->b, LLVMBuildShl(f->b, ci(cg->i8, 15), shift, ""), ci(cg->i8, -1), "");
    LLVMValueRef nib = LLVMBuildShl(f->b, LLVMBuildAnd(f->b, v, ci(cg->i8, 15), ""), shift, "");
    LLVMValueRef byte = LLVMBuildOr(f->b, LLVMBuildAnd(f->b, old, keep, ""), nib, "");
    cg_tag_access(cg, f->kernel, LLVMBuildStore(f->b, byte, ptr), buffer);
    return;
  }
  switch (t) {
  case LATHE_DTYPE_F16: v = f16_bits(f, v); break;
  case LATHE_DTYPE_BF16: v = f32_to_bf16(f, v); break;
  case LATHE_DTYPE_BOOL: v = LLVMBuildZExt(f->b, v, cg->i8, ""); break;
  default: break;
  }
  LLVMTypeRef st = cg_storage_type(cg, t);
  LLVMValueRef ptr = LLVMBuildInBoundsGEP2(f->b, st, fn_buffer(f, buffer), &flat, 1, "");
  cg_tag_access(cg, f->kernel, LLVMBuildStore(f->b, v, ptr), buffer);
}

/* ---- casts ---- */

static bool is_unsigned_int(lathe_dtype_t t) {
  return t == LATHE_DTYPE_BOOL || (lathe_dtype_is_integer(t) && !lathe_dtype_is_signed(t));
}

static LLVMValueRef float_to_int(fn_t *f, lathe_dtype_t to, lathe_dtype_t from, LLVMValueRef v) {
  cg_t *cg = f->cg;
  bool small = to == LATHE_DTYPE_I4 || to == LATHE_DTYPE_U4;
  bool is_signed = lathe_dtype_is_signed(to);
  LLVMTypeRef rt = cg_reg_type(cg, to);
  LLVMTypeRef types[2] = {rt, cg_reg_type(cg, from)};
  LLVMValueRef r =
      cg_intrinsic(f, is_signed ? "llvm.fptosi.sat" : "llvm.fptoui.sat", types, 2, &v, 1);
  if (small && r) { /* saturate further to 4 bits */
    LLVMValueRef lo = ci(rt, is_signed ? -8 : 0), hi = ci(rt, is_signed ? 7 : 15);
    LLVMIntPredicate gt = is_signed ? LLVMIntSGT : LLVMIntUGT;
    r = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, gt, r, hi, ""), hi, r, "");
    if (is_signed) r = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, r, lo, ""), lo, r, "");
  }
  return r;
}

LLVMValueRef fn_cast(fn_t *f, lathe_dtype_t to, lathe_dtype_t from, LLVMValueRef v) {
  cg_t *cg = f->cg;
  if (to == from) return v;
  bool ff = lathe_dtype_is_float(from), tf = lathe_dtype_is_float(to);
  if (tf) {
    if (to == LATHE_DTYPE_F64)
      return ff ? LLVMBuildFPExt(f->b, v, cg->f64, "")
                : (is_unsigned_int(from) ? LLVMBuildUIToFP : LLVMBuildSIToFP)(f->b, v, cg->f64, "");
    LLVMValueRef x;
    if (ff) x = from == LATHE_DTYPE_F64 ? LLVMBuildFPTrunc(f->b, v, cg->f32, "") : v;
    else if (from == LATHE_DTYPE_I64 || from == LATHE_DTYPE_U64) /* via f64, like the reference */
      x = LLVMBuildFPTrunc(f->b, fn_cast(f, LATHE_DTYPE_F64, from, v), cg->f32, "");
    else x = (is_unsigned_int(from) ? LLVMBuildUIToFP : LLVMBuildSIToFP)(f->b, v, cg->f32, "");
    return round_to(f, to, x);
  }
  if (to == LATHE_DTYPE_BOOL)
    return ff ? LLVMBuildFCmp(f->b, LLVMRealUNE, v, LLVMConstReal(LLVMTypeOf(v), 0), "")
              : LLVMBuildICmp(f->b, LLVMIntNE, v, LLVMConstInt(LLVMTypeOf(v), 0, 0), "");
  if (ff) return float_to_int(f, to, from, v);
  LLVMTypeRef rt = cg_reg_type(cg, to);
  unsigned fw = LLVMGetIntTypeWidth(LLVMTypeOf(v)), tw = LLVMGetIntTypeWidth(rt);
  LLVMValueRef r = v;
  if (tw < fw) r = LLVMBuildTrunc(f->b, v, rt, "");
  else if (tw > fw) r = (is_unsigned_int(from) ? LLVMBuildZExt : LLVMBuildSExt)(f->b, v, rt, "");
  return wrap_small(f, to, r);
}
