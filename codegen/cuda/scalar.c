/* Scalars in CUDA C: dtypes as types, constants, element loads and stores,
 * casts, and the one table that maps every op of kernel/scalar_ops.def to a
 * CUDA expression.
 *
 * The semantics are kernel/scalar.c's, through the prelude's helpers where
 * C++ differs (wrapping, division by zero, shifts, NaN in max/min, saturating
 * casts). What stays different is precision: f32 math is f32 (the
 * interpreter uses f64), with CUDA's math library (erff, tanhf... are within
 * a few ulp). f16/bf16 values compute as float and are rounded on store and
 * on CAST, like the CPU backend.
 *
 * Table forms are templates: $a and $b are the operands, $T the register
 * type, $F the math-function suffix ("f" for float, "" for double) and $W the
 * dtype's bit width. Results of SAME-type ops on i4/u4 are wrapped back to 4
 * bits after the op.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/cuda/internal.h"

bool cu_dtype_supported(lathe_dtype_t t) { return t > LATHE_DTYPE_INVALID && t <= LATHE_DTYPE_U4; }

static const struct {
  const char *storage, *reg, *shuffle;
} types[] = {
    [LATHE_DTYPE_F32] = {"float", "float", "float"},
    [LATHE_DTYPE_F16] = {"__half", "float", "float"},
    [LATHE_DTYPE_BF16] = {"__nv_bfloat16", "float", "float"},
    [LATHE_DTYPE_F64] = {"double", "double", "double"},
    [LATHE_DTYPE_I8] = {"signed char", "signed char", "int"},
    [LATHE_DTYPE_U8] = {"unsigned char", "unsigned char", "int"},
    [LATHE_DTYPE_I16] = {"short", "short", "int"},
    [LATHE_DTYPE_U16] = {"unsigned short", "unsigned short", "int"},
    [LATHE_DTYPE_I32] = {"int", "int", "int"},
    [LATHE_DTYPE_U32] = {"unsigned int", "unsigned int", "unsigned int"},
    [LATHE_DTYPE_I64] = {"long long", "long long", "long long"},
    [LATHE_DTYPE_U64] = {"unsigned long long", "unsigned long long", "unsigned long long"},
    [LATHE_DTYPE_BOOL] = {"unsigned char", "bool", "int"},
    [LATHE_DTYPE_I4] = {"unsigned char", "signed char", "int"},
    [LATHE_DTYPE_U4] = {"unsigned char", "unsigned char", "int"},
};

const char *cu_storage_type(lathe_dtype_t t) {
  return cu_dtype_supported(t) ? types[t].storage : "void";
}
const char *cu_reg_type(lathe_dtype_t t) { return cu_dtype_supported(t) ? types[t].reg : "void"; }
const char *cu_shuffle_type(lathe_dtype_t t) {
  return cu_dtype_supported(t) ? types[t].shuffle : "int";
}
uint32_t cu_shuffle_bytes(lathe_dtype_t t) {
  return strstr(cu_shuffle_type(t), "long") || t == LATHE_DTYPE_F64 ? 8 : 4;
}

static bool is_small(lathe_dtype_t t) { return t == LATHE_DTYPE_I4 || t == LATHE_DTYPE_U4; }
static bool is_unsigned_int(lathe_dtype_t t) {
  return t == LATHE_DTYPE_BOOL || (lathe_dtype_is_integer(t) && !lathe_dtype_is_signed(t));
}

/* ---- constants ---- */

/* A float literal of the register type: shortest round-trip digits, inf and
 * NaN as bit patterns. */
static const char *float_literal(gen_t *g, bool dbl, double v) {
  if (isnan(v))
    return dbl ? "__longlong_as_double(0x7ff8000000000000LL)" : "__int_as_float(0x7fc00000)";
  if (isinf(v))
    return dbl ? (v > 0 ? "__longlong_as_double(0x7ff0000000000000LL)"
                        : "__longlong_as_double((long long)0xfff0000000000000ULL)")
               : (v > 0 ? "__int_as_float(0x7f800000)" : "__int_as_float((int)0xff800000u)");
  char buf[64];
  for (int prec = dbl ? 15 : 6; prec <= 17; ++prec) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (dbl ? strtod(buf, NULL) == v : strtof(buf, NULL) == (float)v) break;
  }
  bool has_point = strpbrk(buf, ".e") != NULL;
  return gen_str(g, "%s%s%s%s", v < 0 ? "(" : "", buf, has_point ? "" : ".0",
                 dbl ? (v < 0 ? ")" : "") : (v < 0 ? "f)" : "f"));
}

const char *cu_const_float(gen_t *g, lathe_dtype_t t, double v) {
  if (!lathe_dtype_is_float(t)) return cu_const_int(g, t, (int64_t)v);
  return float_literal(g, t == LATHE_DTYPE_F64, v);
}

const char *cu_const_int(gen_t *g, lathe_dtype_t t, int64_t v) {
  if (lathe_dtype_is_float(t)) return cu_const_float(g, t, (double)v);
  switch (t) {
  case LATHE_DTYPE_BOOL: return v ? "true" : "false";
  case LATHE_DTYPE_I64:
    if (v == INT64_MIN) return "(-9223372036854775807LL - 1LL)";
    return gen_str(g, v < 0 ? "(%lldLL)" : "%lldLL", (long long)v);
  case LATHE_DTYPE_U64: return gen_str(g, "%lluULL", (unsigned long long)v);
  case LATHE_DTYPE_I32:
    if (v == INT32_MIN) return "(-2147483647 - 1)";
    return gen_str(g, v < 0 ? "(%lld)" : "%lld", (long long)v);
  case LATHE_DTYPE_U32: return gen_str(g, "%lluu", (unsigned long long)(uint32_t)v);
  default: return gen_str(g, "((%s)%lld)", cu_reg_type(t), (long long)v);
  }
}

/* ---- memory ---- */

const char *cu_load(gen_t *g, uint32_t buffer, const char *flat) {
  lathe_dtype_t t = g->p->buffers[buffer]->dtype;
  const char *b = gen_buffer(g, buffer);
  switch (t) {
  case LATHE_DTYPE_F16: return gen_str(g, "__half2float(%s[%s])", b, flat);
  case LATHE_DTYPE_BF16: return gen_str(g, "__bfloat162float(%s[%s])", b, flat);
  case LATHE_DTYPE_BOOL: return gen_str(g, "(%s[%s] != 0)", b, flat);
  case LATHE_DTYPE_I4: return gen_str(g, "lathe_ld_i4(%s, %s)", b, flat);
  case LATHE_DTYPE_U4: return gen_str(g, "lathe_ld_u4(%s, %s)", b, flat);
  default: return gen_str(g, "%s[%s]", b, flat);
  }
}

void cu_store(gen_t *g, uint32_t buffer, const char *flat, const char *v) {
  lathe_dtype_t t = g->p->buffers[buffer]->dtype;
  const char *b = gen_buffer(g, buffer);
  switch (t) {
  case LATHE_DTYPE_F16: gen_line(g, "%s[%s] = __float2half_rn(%s);", b, flat, v); return;
  case LATHE_DTYPE_BF16: gen_line(g, "%s[%s] = __float2bfloat16_rn(%s);", b, flat, v); return;
  case LATHE_DTYPE_BOOL: gen_line(g, "%s[%s] = (unsigned char)%s;", b, flat, v); return;
  case LATHE_DTYPE_I4:
  case LATHE_DTYPE_U4: gen_line(g, "lathe_st_4(%s, %s, (unsigned int)%s);", b, flat, v); return;
  default: gen_line(g, "%s[%s] = %s;", b, flat, v); return;
  }
}

/* ---- casts ---- */

const char *cu_round(gen_t *g, lathe_dtype_t t, const char *v) {
  if (t == LATHE_DTYPE_F16) return gen_str(g, "__half2float(__float2half_rn(%s))", v);
  if (t == LATHE_DTYPE_BF16) return gen_str(g, "__bfloat162float(__float2bfloat16_rn(%s))", v);
  return v;
}

static const char *wrap_small(gen_t *g, lathe_dtype_t t, const char *v) {
  if (t == LATHE_DTYPE_I4) return gen_str(g, "lathe_wrap_i4((signed char)%s)", v);
  if (t == LATHE_DTYPE_U4) return gen_str(g, "lathe_wrap_u4((unsigned char)%s)", v);
  return v;
}

/* [lo, hi] of an integer dtype as register-type literals. */
static void int_bounds(gen_t *g, lathe_dtype_t t, const char **lo, const char **hi) {
  unsigned bits = lathe_dtype_bits(t);
  if (t == LATHE_DTYPE_U64) {
    *lo = "0ULL", *hi = "18446744073709551615ULL";
  } else if (lathe_dtype_is_signed(t)) {
    *lo = cu_const_int(g, t, bits >= 64 ? INT64_MIN : -(INT64_C(1) << (bits - 1)));
    *hi = cu_const_int(g, t, bits >= 64 ? INT64_MAX : (INT64_C(1) << (bits - 1)) - 1);
  } else {
    *lo = cu_const_int(g, t, 0);
    *hi = cu_const_int(g, t, (INT64_C(1) << bits) - 1);
  }
}

const char *cu_cast(gen_t *g, lathe_dtype_t to, lathe_dtype_t from, const char *v) {
  if (to == from) return v;
  bool ff = lathe_dtype_is_float(from), tf = lathe_dtype_is_float(to);
  if (tf) {
    if (to == LATHE_DTYPE_F64) return gen_str(g, "((double)%s)", v);
    bool wide = from == LATHE_DTYPE_F64 || from == LATHE_DTYPE_I64 || from == LATHE_DTYPE_U64;
    /* 64-bit integers go through double, like the reference */
    const char *x = from == LATHE_DTYPE_F64 ? gen_str(g, "((float)%s)", v)
                    : wide                  ? gen_str(g, "((float)(double)%s)", v)
                    : ff                    ? v
                                            : gen_str(g, "((float)%s)", v);
    return cu_round(g, to, x);
  }
  if (to == LATHE_DTYPE_BOOL) return gen_str(g, "(%s != 0)", v);
  if (ff) {
    const char *lo, *hi;
    int_bounds(g, to, &lo, &hi);
    return gen_str(g, "lathe_sat(%s, %s, %s)", v, lo, hi);
  }
  return wrap_small(g, to, gen_str(g, "((%s)%s)", cu_reg_type(to), v));
}

/* ---- the op table ---- */

typedef struct opmap {
  const char *fl, *si, *un; /* float; signed int; unsigned int and bool; NULL = none */
} opmap_t;

static const opmap_t ops[LATHE_KOP_COUNT] = {
    [LATHE_KOP_NEG] = {"(-$a)", "lathe_wneg($a)", "lathe_wneg($a)"},
    [LATHE_KOP_ABS] = {"fabs$F($a)", "lathe_iabs($a)", "$a"},
    [LATHE_KOP_SIGN] = {"lathe_fsign($a)", "lathe_isign($a)", "(($T)($a != 0))"},
    [LATHE_KOP_EXP] = {"exp$F($a)", NULL, NULL},
    [LATHE_KOP_LOG] = {"log$F($a)", NULL, NULL},
    [LATHE_KOP_SQRT] = {"sqrt$F($a)", NULL, NULL},
    [LATHE_KOP_RSQRT] = {"(($T)1 / sqrt$F($a))", NULL, NULL},
    [LATHE_KOP_TANH] = {"tanh$F($a)", NULL, NULL},
    [LATHE_KOP_ERF] = {"erf$F($a)", NULL, NULL},
    [LATHE_KOP_SIGMOID] = {"(($T)1 / (($T)1 + exp$F(-$a)))", NULL, NULL},
    [LATHE_KOP_SIN] = {"sin$F($a)", NULL, NULL},
    [LATHE_KOP_COS] = {"cos$F($a)", NULL, NULL},
    [LATHE_KOP_TAN] = {"tan$F($a)", NULL, NULL},
    [LATHE_KOP_ASIN] = {"asin$F($a)", NULL, NULL},
    [LATHE_KOP_ACOS] = {"acos$F($a)", NULL, NULL},
    [LATHE_KOP_ATAN] = {"atan$F($a)", NULL, NULL},
    [LATHE_KOP_SINH] = {"sinh$F($a)", NULL, NULL},
    [LATHE_KOP_COSH] = {"cosh$F($a)", NULL, NULL},
    [LATHE_KOP_ASINH] = {"asinh$F($a)", NULL, NULL},
    [LATHE_KOP_ACOSH] = {"acosh$F($a)", NULL, NULL},
    [LATHE_KOP_ATANH] = {"atanh$F($a)", NULL, NULL},
    [LATHE_KOP_FLOOR] = {"floor$F($a)", NULL, NULL},
    [LATHE_KOP_CEIL] = {"ceil$F($a)", NULL, NULL},
    [LATHE_KOP_ROUND] = {"rint$F($a)", NULL, NULL},
    [LATHE_KOP_ISNAN] = {"($a != $a)", NULL, NULL},
    [LATHE_KOP_ISINF] = {"lathe_isinf($a)", NULL, NULL},
    [LATHE_KOP_NOT] = {NULL, "lathe_not($a)", "lathe_not($a)"},
    [LATHE_KOP_ADD] = {"($a + $b)", "lathe_wadd($a, $b)", "lathe_wadd($a, $b)"},
    [LATHE_KOP_SUB] = {"($a - $b)", "lathe_wsub($a, $b)", "lathe_wsub($a, $b)"},
    [LATHE_KOP_MUL] = {"($a * $b)", "lathe_wmul($a, $b)", "lathe_wmul($a, $b)"},
    [LATHE_KOP_DIV] = {"($a / $b)", "lathe_sdiv($a, $b)", "lathe_udiv($a, $b)"},
    [LATHE_KOP_FLOORDIV] = {"floor$F($a / $b)", "lathe_sfloordiv($a, $b)", "lathe_udiv($a, $b)"},
    [LATHE_KOP_MOD] = {"lathe_fmodfloor($a, $b)", "lathe_smod($a, $b)", "lathe_urem($a, $b)"},
    [LATHE_KOP_FMOD] = {"fmod$F($a, $b)", "lathe_sfmod($a, $b)", "lathe_urem($a, $b)"},
    [LATHE_KOP_MAX] = {"lathe_fmax($a, $b)", "lathe_imax($a, $b)", "lathe_imax($a, $b)"},
    [LATHE_KOP_MIN] = {"lathe_fmin($a, $b)", "lathe_imin($a, $b)", "lathe_imin($a, $b)"},
    [LATHE_KOP_POW] = {"pow$F($a, $b)", "lathe_spow($a, $b)", "lathe_upow($a, $b)"},
    [LATHE_KOP_AND] = {NULL, "(($T)($a & $b))", "(($T)($a & $b))"},
    [LATHE_KOP_OR] = {NULL, "(($T)($a | $b))", "(($T)($a | $b))"},
    [LATHE_KOP_XOR] = {NULL, "(($T)($a ^ $b))", "(($T)($a ^ $b))"},
    [LATHE_KOP_SHL] = {NULL, "lathe_shl($a, $b, $W)", "lathe_shl($a, $b, $W)"},
    [LATHE_KOP_SHR] = {NULL, "lathe_sshr($a, $b, $W)", "lathe_ushr($a, $b, $W)"},
    [LATHE_KOP_EQ] = {"($a == $b)", "($a == $b)", "($a == $b)"},
    [LATHE_KOP_NE] = {"($a != $b)", "($a != $b)", "($a != $b)"},
    [LATHE_KOP_LT] = {"($a < $b)", "($a < $b)", "($a < $b)"},
    [LATHE_KOP_LE] = {"($a <= $b)", "($a <= $b)", "($a <= $b)"},
    [LATHE_KOP_GT] = {"($a > $b)", "($a > $b)", "($a > $b)"},
    [LATHE_KOP_GE] = {"($a >= $b)", "($a >= $b)", "($a >= $b)"},
};

static const char *form_of(lathe_kop_t op, lathe_dtype_t t) {
  if ((unsigned)op >= LATHE_KOP_COUNT || !cu_dtype_supported(t)) return NULL;
  const opmap_t *m = &ops[op];
  if (lathe_dtype_is_float(t)) return m->fl;
  return is_unsigned_int(t) ? m->un : m->si;
}

bool cu_op_supported(lathe_kop_t op, lathe_dtype_t t) { return form_of(op, t) != NULL; }

const char *cu_op(gen_t *g, lathe_kop_t op, lathe_dtype_t t, const char *a, const char *b) {
  const char *form = form_of(op, t);
  if (!form) {
    const lathe_kop_info_t *info = lathe_kop_info(op);
    return gen_fail(g, LATHE_STATUS_UNSUPPORTED, "op '%s' on %s is not supported",
                    info ? info->name : "?", lathe_dtype_name(t));
  }
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  for (const char *c = form; *c; ++c) {
    if (*c != '$' || !c[1]) {
      lathe_strbuf_putc(&sb, *c);
      continue;
    }
    switch (*++c) {
    case 'a': lathe_strbuf_append(&sb, a); break;
    case 'b': lathe_strbuf_append(&sb, b ? b : "0"); break;
    case 'T': lathe_strbuf_append(&sb, cu_reg_type(t)); break;
    case 'F': lathe_strbuf_append(&sb, t == LATHE_DTYPE_F64 ? "" : "f"); break;
    case 'W': lathe_strbuf_printf(&sb, "%u", lathe_dtype_bits(t)); break;
    default: lathe_strbuf_putc(&sb, '$'), lathe_strbuf_putc(&sb, *c); break;
    }
  }
  const char *r = gen_str(g, "%s", lathe_strbuf_cstr(&sb));
  lathe_strbuf_destroy(&sb);
  const lathe_kop_info_t *info = lathe_kop_info(op);
  if (is_small(t) && info && info->result == LATHE_KRES_SAME) r = wrap_small(g, t, r);
  return r;
}

/* ---- reductions ---- */

lathe_kop_t cu_combine_op(lathe_kcombiner_t c) {
  switch (c) {
  case LATHE_KCOMB_SUM: return LATHE_KOP_ADD;
  case LATHE_KCOMB_PROD: return LATHE_KOP_MUL;
  case LATHE_KCOMB_MAX: return LATHE_KOP_MAX;
  case LATHE_KCOMB_MIN: return LATHE_KOP_MIN;
  default: return LATHE_KOP_COUNT;
  }
}

const char *cu_identity(gen_t *g, lathe_kcombiner_t c, lathe_dtype_t t) {
  bool is_max = c == LATHE_KCOMB_MAX;
  switch (c) {
  case LATHE_KCOMB_SUM: return cu_const_int(g, t, 0);
  case LATHE_KCOMB_PROD: return cu_const_int(g, t, 1);
  case LATHE_KCOMB_MAX:
  case LATHE_KCOMB_MIN:
    if (lathe_dtype_is_float(t)) return cu_const_float(g, t, is_max ? -INFINITY : INFINITY);
    if (t == LATHE_DTYPE_BOOL) return is_max ? "false" : "true";
    {
      const char *lo, *hi;
      int_bounds(g, t, &lo, &hi);
      return is_max ? lo : hi;
    }
  default: return cu_const_int(g, t, 0);
  }
}
