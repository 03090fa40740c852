/* Scalar semantics of the kernel IR: what every op in scalar_ops.def, every
 * CAST and every store computes. The interpreter and constant folding call
 * these; backends must match them (docs/kernel-ir.md states the rules).
 *
 * Floats are held as f64 and not rounded between operations (the oracle is
 * more precise than any backend; rounding happens on store and CAST).
 * Integers are held as i64 and wrapped to their dtype after every operation,
 * because integer wrap-around is exact behaviour a backend reproduces, not a
 * precision choice. Nothing here traps: division by zero, over-wide shifts
 * and out-of-range float->int conversions all have defined results.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernel/internal.h"
#include "support/half.h"

static int64_t wrap_bits(int64_t v, unsigned bits, bool is_signed) {
  if (bits >= 64) return v;
  uint64_t mask = (UINT64_C(1) << bits) - 1, u = (uint64_t)v & mask;
  if (is_signed && (u >> (bits - 1))) return (int64_t)(u | ~mask);
  return (int64_t)u;
}

kval_t kval_round(lathe_dtype_t dtype, kval_t v) {
  switch (dtype) {
  case LATHE_DTYPE_F64: return v;
  case LATHE_DTYPE_F32: return (kval_t){.f = (double)(float)v.f};
  case LATHE_DTYPE_F16: return (kval_t){.f = lathe_f16_to_f32(lathe_f32_to_f16((float)v.f))};
  case LATHE_DTYPE_BF16: return (kval_t){.f = lathe_bf16_to_f32(lathe_f32_to_bf16((float)v.f))};
  case LATHE_DTYPE_BOOL: return (kval_t){.i = v.i != 0};
  default:
    return (kval_t){.i = wrap_bits(v.i, lathe_dtype_bits(dtype), lathe_dtype_is_signed(dtype))};
  }
}

/* The representable range of an integer dtype, as doubles for saturation. */
static void int_range(lathe_dtype_t t, double *lo, double *hi) {
  unsigned bits = lathe_dtype_bits(t);
  if (t == LATHE_DTYPE_BOOL) {
    *lo = 0, *hi = 1;
  } else if (lathe_dtype_is_signed(t)) {
    *lo = -ldexp(1.0, (int)bits - 1);
    *hi = ldexp(1.0, (int)bits - 1) - 1;
  } else {
    *lo = 0;
    *hi = ldexp(1.0, (int)bits) - 1;
  }
}

kval_t kval_convert(lathe_dtype_t to, lathe_dtype_t from, kval_t v) {
  bool from_float = lathe_dtype_is_float(from), to_float = lathe_dtype_is_float(to);
  if (to_float) {
    double f = from_float ? v.f : from == LATHE_DTYPE_U64 ? (double)(uint64_t)v.i : (double)v.i;
    return kval_round(to, (kval_t){.f = f});
  }
  if (to == LATHE_DTYPE_BOOL) return (kval_t){.i = from_float ? v.f != 0 : v.i != 0};
  if (!from_float) return kval_round(to, v);
  if (isnan(v.f)) return (kval_t){.i = 0};
  double lo, hi, t = trunc(v.f);
  int_range(to, &lo, &hi);
  if (t <= lo) t = lo;
  if (t >= hi) {
    if (to == LATHE_DTYPE_U64) return (kval_t){.i = (int64_t)UINT64_MAX};
    if (to == LATHE_DTYPE_I64) return (kval_t){.i = INT64_MAX};
    t = hi;
  }
  if (to == LATHE_DTYPE_U64) return (kval_t){.i = (int64_t)(uint64_t)t};
  return (kval_t){.i = (int64_t)t};
}

static double float_unary(lathe_kop_t op, double x) {
  switch (op) {
  case LATHE_KOP_NEG: return -x;
  case LATHE_KOP_ABS: return fabs(x);
  case LATHE_KOP_SIGN: return x > 0 ? 1.0 : x < 0 ? -1.0 : x;
  case LATHE_KOP_EXP: return exp(x);
  case LATHE_KOP_LOG: return log(x);
  case LATHE_KOP_SQRT: return sqrt(x);
  case LATHE_KOP_RSQRT: return 1.0 / sqrt(x);
  case LATHE_KOP_TANH: return tanh(x);
  case LATHE_KOP_ERF: return erf(x);
  case LATHE_KOP_SIGMOID: return 1.0 / (1.0 + exp(-x));
  case LATHE_KOP_SIN: return sin(x);
  case LATHE_KOP_COS: return cos(x);
  case LATHE_KOP_TAN: return tan(x);
  case LATHE_KOP_ASIN: return asin(x);
  case LATHE_KOP_ACOS: return acos(x);
  case LATHE_KOP_ATAN: return atan(x);
  case LATHE_KOP_SINH: return sinh(x);
  case LATHE_KOP_COSH: return cosh(x);
  case LATHE_KOP_ASINH: return asinh(x);
  case LATHE_KOP_ACOSH: return acosh(x);
  case LATHE_KOP_ATANH: return atanh(x);
  case LATHE_KOP_FLOOR: return floor(x);
  case LATHE_KOP_CEIL: return ceil(x);
  case LATHE_KOP_ROUND: return nearbyint(x); /* default rounding mode: half to even */
  default: return NAN;
  }
}

static double float_binary(lathe_kop_t op, double a, double b) {
  switch (op) {
  case LATHE_KOP_ADD: return a + b;
  case LATHE_KOP_SUB: return a - b;
  case LATHE_KOP_MUL: return a * b;
  case LATHE_KOP_DIV: return a / b;
  case LATHE_KOP_FLOORDIV: return floor(a / b);
  case LATHE_KOP_MOD: {
    double r = fmod(a, b);
    return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
  }
  case LATHE_KOP_FMOD: return fmod(a, b);
  case LATHE_KOP_MAX: return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
  case LATHE_KOP_MIN: return isnan(a) || isnan(b) ? NAN : a < b ? a : b;
  case LATHE_KOP_POW: return pow(a, b);
  default: return NAN;
  }
}

static int64_t ipow(int64_t a, int64_t b, bool is_u64) {
  if (b < 0 && !is_u64) return a == 1 ? 1 : a == -1 ? (b & 1 ? -1 : 1) : 0;
  uint64_t r = 1, x = (uint64_t)a;
  for (uint64_t e = (uint64_t)b; e; e >>= 1, x *= x)
    if (e & 1) r *= x;
  return (int64_t)r;
}

static int64_t int_binary(lathe_kop_t op, lathe_dtype_t t, int64_t a, int64_t b) {
  unsigned bits = lathe_dtype_bits(t);
  bool is_unsigned = !lathe_dtype_is_signed(t);
  switch (op) {
  case LATHE_KOP_ADD: return (int64_t)((uint64_t)a + (uint64_t)b);
  case LATHE_KOP_SUB: return (int64_t)((uint64_t)a - (uint64_t)b);
  case LATHE_KOP_MUL: return (int64_t)((uint64_t)a * (uint64_t)b);
  case LATHE_KOP_DIV:
    if (b == 0) return 0;
    if (t == LATHE_DTYPE_U64) return (int64_t)((uint64_t)a / (uint64_t)b);
    return b == -1 ? (int64_t)(0 - (uint64_t)a) : a / b;
  case LATHE_KOP_FLOORDIV: {
    if (b == 0) return 0;
    if (t == LATHE_DTYPE_U64) return (int64_t)((uint64_t)a / (uint64_t)b);
    if (b == -1) return (int64_t)(0 - (uint64_t)a);
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
  }
  case LATHE_KOP_MOD: {
    if (b == 0) return 0;
    if (t == LATHE_DTYPE_U64) return (int64_t)((uint64_t)a % (uint64_t)b); /* before b == -1 */
    if (b == -1) return 0;
    int64_t r = a % b;
    return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
  }
  case LATHE_KOP_FMOD:
    if (b == 0) return 0;
    if (t == LATHE_DTYPE_U64) return (int64_t)((uint64_t)a % (uint64_t)b);
    if (b == -1) return 0;
    return a % b;
  case LATHE_KOP_MAX:
    if (t == LATHE_DTYPE_U64) return (uint64_t)a > (uint64_t)b ? a : b;
    return a > b ? a : b;
  case LATHE_KOP_MIN:
    if (t == LATHE_DTYPE_U64) return (uint64_t)a < (uint64_t)b ? a : b;
    return a < b ? a : b;
  case LATHE_KOP_POW: return ipow(a, b, t == LATHE_DTYPE_U64); /* u64 exponents are never < 0 */
  case LATHE_KOP_AND: return a & b;
  case LATHE_KOP_OR: return a | b;
  case LATHE_KOP_XOR: return a ^ b;
  case LATHE_KOP_SHL: return b < 0 || (uint64_t)b >= bits ? 0 : (int64_t)((uint64_t)a << b);
  case LATHE_KOP_SHR:
    if (b < 0 || (uint64_t)b >= bits) return is_unsigned || a >= 0 ? 0 : -1;
    if (is_unsigned) {
      uint64_t mask = bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
      return (int64_t)(((uint64_t)a & mask) >> b);
    }
    return a >= 0 ? a >> b : (int64_t) ~(~(uint64_t)a >> b);
  default: return 0;
  }
}

static int compare(lathe_dtype_t t, kval_t a, kval_t b, bool *out_unordered) {
  *out_unordered = false;
  if (lathe_dtype_is_float(t)) {
    if (isnan(a.f) || isnan(b.f)) {
      *out_unordered = true;
      return 0;
    }
    return a.f < b.f ? -1 : a.f > b.f;
  }
  if (t == LATHE_DTYPE_U64)
    return (uint64_t)a.i < (uint64_t)b.i ? -1 : (uint64_t)a.i > (uint64_t)b.i;
  return a.i < b.i ? -1 : a.i > b.i;
}

kval_t kop_eval(lathe_kop_t op, lathe_dtype_t t, kval_t a, kval_t b) {
  bool is_float = lathe_dtype_is_float(t);
  switch (op) {
  case LATHE_KOP_ISNAN: return (kval_t){.i = isnan(a.f) != 0};
  case LATHE_KOP_ISINF: return (kval_t){.i = isinf(a.f) != 0};
  case LATHE_KOP_NOT: return kval_round(t, (kval_t){.i = t == LATHE_DTYPE_BOOL ? !a.i : ~a.i});
  case LATHE_KOP_EQ:
  case LATHE_KOP_NE:
  case LATHE_KOP_LT:
  case LATHE_KOP_LE:
  case LATHE_KOP_GT:
  case LATHE_KOP_GE: {
    bool unordered;
    int c = compare(t, a, b, &unordered);
    if (unordered) return (kval_t){.i = op == LATHE_KOP_NE};
    bool r = op == LATHE_KOP_EQ   ? c == 0
             : op == LATHE_KOP_NE ? c != 0
             : op == LATHE_KOP_LT ? c < 0
             : op == LATHE_KOP_LE ? c <= 0
             : op == LATHE_KOP_GT ? c > 0
                                  : c >= 0;
    return (kval_t){.i = r};
  }
  default: break;
  }
  if (lathe_kop_info(op)->arity == 1) {
    if (is_float) return (kval_t){.f = float_unary(op, a.f)};
    int64_t x = a.i, r;
    switch (op) {
    case LATHE_KOP_NEG: r = (int64_t)(0 - (uint64_t)x); break;
    case LATHE_KOP_ABS: /* u64 values above INT64_MAX are held negative */
      r = x < 0 && t != LATHE_DTYPE_U64 ? (int64_t)(0 - (uint64_t)x) : x;
      break;
    case LATHE_KOP_SIGN: r = x > 0 ? 1 : x < 0 ? -1 : 0; break;
    default: r = 0; break;
    }
    if (t == LATHE_DTYPE_U64 && op == LATHE_KOP_SIGN) r = x != 0;
    return kval_round(t, (kval_t){.i = r});
  }
  if (is_float) return (kval_t){.f = float_binary(op, a.f, b.f)};
  return kval_round(t, (kval_t){.i = int_binary(op, t, a.i, b.i)});
}

/* ---- bytes ---- */

kval_t kval_load(lathe_dtype_t t, const uint8_t *p, int64_t i) {
  kval_t v = {0};
  switch (t) {
  case LATHE_DTYPE_F32: {
    float f;
    memcpy(&f, p + i * 4, 4);
    v.f = f;
    break;
  }
  case LATHE_DTYPE_F64: memcpy(&v.f, p + i * 8, 8); break;
  case LATHE_DTYPE_F16:
  case LATHE_DTYPE_BF16: {
    uint16_t h;
    memcpy(&h, p + i * 2, 2);
    v.f = t == LATHE_DTYPE_F16 ? lathe_f16_to_f32(h) : lathe_bf16_to_f32(h);
    break;
  }
  case LATHE_DTYPE_I4:
  case LATHE_DTYPE_U4: v.i = (p[i / 2] >> (4 * (i & 1))) & 0xf; break;
  default: {
    unsigned bytes = lathe_dtype_bits(t) / 8;
    uint64_t u = 0;
    memcpy(&u, p + i * bytes, bytes); /* little-endian host */
    v.i = (int64_t)u;
    break;
  }
  }
  return lathe_dtype_is_float(t) ? v : kval_round(t, v);
}

void kval_store(lathe_dtype_t t, uint8_t *p, int64_t i, kval_t v) {
  switch (t) {
  case LATHE_DTYPE_F32: {
    float f = (float)v.f;
    memcpy(p + i * 4, &f, 4);
    break;
  }
  case LATHE_DTYPE_F64: memcpy(p + i * 8, &v.f, 8); break;
  case LATHE_DTYPE_F16:
  case LATHE_DTYPE_BF16: {
    uint16_t h =
        t == LATHE_DTYPE_F16 ? lathe_f32_to_f16((float)v.f) : lathe_f32_to_bf16((float)v.f);
    memcpy(p + i * 2, &h, 2);
    break;
  }
  case LATHE_DTYPE_I4:
  case LATHE_DTYPE_U4: {
    unsigned shift = 4 * (unsigned)(i & 1);
    p[i / 2] = (uint8_t)((p[i / 2] & ~(0xf << shift)) | ((v.i & 0xf) << shift));
    break;
  }
  default: {
    uint64_t u = (uint64_t)v.i;
    memcpy(p + i * (lathe_dtype_bits(t) / 8), &u, lathe_dtype_bits(t) / 8);
    break;
  }
  }
}
