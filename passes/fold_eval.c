/* Elementwise evaluation for fold-constants, and the rule table.
 *
 * Each elementwise op is one row of `scalar_fns`: a function over doubles
 * for float operands and one over int64 for integer and bool operands (NULL
 * where the op has no meaning in that domain). A single broadcasting loop
 * loads the operands' elements into the domain, calls the row's function and
 * stores the result in the result's dtype. The domain is double as soon as
 * the result or any operand is a float, so `less` on f32 operands compares in
 * double and stores a bool, and `where` on f32 branches selects in double.
 */
#include <math.h>
#include <string.h>

#include "passes/fold_eval.h"

/* Scalar functions see all `n` operand elements of one output position. */
typedef double (*f64_fn)(const double *x, uint32_t n);
/* Returns false when the result is undefined (division by zero...). */
typedef bool (*i64_fn)(const int64_t *x, uint32_t n, int64_t *out);

/* ---- double domain ---- */
#define F1(name, expr)                              \
  static double name(const double *x, uint32_t n) { \
    (void)n;                                        \
    return (expr);                                  \
  }
F1(f_neg, -x[0])
F1(f_abs, fabs(x[0]))
F1(f_relu, x[0] < 0 ? 0.0 : x[0]) /* NaN passes through, like the kernels */
F1(f_sigmoid, 1.0 / (1.0 + exp(-x[0])))
F1(f_tanh, tanh(x[0]))
F1(f_exp, exp(x[0]))
F1(f_log, log(x[0]))
F1(f_sqrt, sqrt(x[0]))
F1(f_reciprocal, 1.0 / x[0])
F1(f_floor, floor(x[0]))
F1(f_ceil, ceil(x[0]))
F1(f_round, nearbyint(x[0])) /* default rounding mode: half to even */
F1(f_sign, x[0] > 0 ? 1.0 : x[0] < 0 ? -1.0 : x[0])
F1(f_erf, erf(x[0]))
F1(f_sin, sin(x[0]))
F1(f_cos, cos(x[0]))
F1(f_tan, tan(x[0]))
F1(f_asin, asin(x[0]))
F1(f_acos, acos(x[0]))
F1(f_atan, atan(x[0]))
F1(f_sinh, sinh(x[0]))
F1(f_cosh, cosh(x[0]))
F1(f_asinh, asinh(x[0]))
F1(f_acosh, acosh(x[0]))
F1(f_atanh, atanh(x[0]))
F1(f_softplus, log1p(exp(x[0])))
F1(f_softsign, x[0] / (1.0 + fabs(x[0])))
F1(f_is_nan, isnan(x[0]) ? 1.0 : 0.0)
F1(f_sub, x[0] - x[1])
F1(f_div, x[0] / x[1])
F1(f_pow, pow(x[0], x[1]))
F1(f_equal, x[0] == x[1])
F1(f_less, x[0] < x[1])
F1(f_less_equal, x[0] <= x[1])
F1(f_greater, x[0] > x[1])
F1(f_greater_equal, x[0] >= x[1])
F1(f_where, x[0] != 0 ? x[1] : x[2])
F1(f_fmod, fmod(x[0], x[1]))
#undef F1

static double f_sum(const double *x, uint32_t n) {
  double s = x[0];
  for (uint32_t i = 1; i < n; ++i) s += x[i];
  return s;
}
static double f_mul(const double *x, uint32_t n) {
  (void)n;
  return x[0] * x[1];
}
/* ONNX min/max propagate NaN: once the running value is NaN it stays. */
static double f_min(const double *x, uint32_t n) {
  double m = x[0];
  for (uint32_t i = 1; i < n; ++i)
    if (!isnan(m) && (isnan(x[i]) || x[i] < m)) m = x[i];
  return m;
}
static double f_max(const double *x, uint32_t n) {
  double m = x[0];
  for (uint32_t i = 1; i < n; ++i)
    if (!isnan(m) && (isnan(x[i]) || x[i] > m)) m = x[i];
  return m;
}

/* ---- int64 domain: wrap-around arithmetic through uint64 ---- */
#define I1(name, expr)                                           \
  static bool name(const int64_t *x, uint32_t n, int64_t *out) { \
    (void)n;                                                     \
    *out = (expr);                                               \
    return true;                                                 \
  }
I1(i_neg, (int64_t)(0 - (uint64_t)x[0]))
I1(i_abs, x[0] < 0 ? (int64_t)(0 - (uint64_t)x[0]) : x[0])
I1(i_relu, x[0] < 0 ? 0 : x[0])
I1(i_sign, (x[0] > 0) - (x[0] < 0))
I1(i_not, !x[0])
I1(i_bitwise_not, ~x[0])
I1(i_sub, (int64_t)((uint64_t)x[0] - (uint64_t)x[1]))
I1(i_mul, (int64_t)((uint64_t)x[0] * (uint64_t)x[1]))
I1(i_equal, x[0] == x[1])
I1(i_less, x[0] < x[1])
I1(i_less_equal, x[0] <= x[1])
I1(i_greater, x[0] > x[1])
I1(i_greater_equal, x[0] >= x[1])
I1(i_and, x[0] && x[1])
I1(i_or, x[0] || x[1])
I1(i_xor, !x[0] != !x[1])
I1(i_bitwise_and, x[0] & x[1])
I1(i_bitwise_or, x[0] | x[1])
I1(i_bitwise_xor, x[0] ^ x[1])
I1(i_where, x[0] ? x[1] : x[2])
#undef I1

static bool i_sum(const int64_t *x, uint32_t n, int64_t *out) {
  uint64_t s = (uint64_t)x[0];
  for (uint32_t i = 1; i < n; ++i) s += (uint64_t)x[i];
  *out = (int64_t)s;
  return true;
}
/* Integer division truncates toward zero (ONNX Div on integers). */
static bool i_div(const int64_t *x, uint32_t n, int64_t *out) {
  (void)n;
  if (x[1] == 0 || (x[0] == INT64_MIN && x[1] == -1)) return false;
  *out = x[0] / x[1];
  return true;
}
/* mod with fmod = 1 truncates (C's %, the dividend's sign); with fmod = 0 it
 * floors (Python's %, the divisor's sign), as onnx.reference's np.fmod and
 * np.mod. A zero divisor is left to run time. */
static bool i_fmod(const int64_t *x, uint32_t n, int64_t *out) {
  (void)n;
  if (x[1] == 0) return false;
  *out = x[1] == -1 ? 0 : x[0] % x[1];
  return true;
}
static bool i_mod(const int64_t *x, uint32_t n, int64_t *out) {
  if (!i_fmod(x, n, out)) return false;
  if (*out != 0 && (*out < 0) != (x[1] < 0)) *out += x[1];
  return true;
}
static bool i_min(const int64_t *x, uint32_t n, int64_t *out) {
  int64_t m = x[0];
  for (uint32_t i = 1; i < n; ++i) m = x[i] < m ? x[i] : m;
  *out = m;
  return true;
}
static bool i_max(const int64_t *x, uint32_t n, int64_t *out) {
  int64_t m = x[0];
  for (uint32_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  *out = m;
  return true;
}

static const struct {
  f64_fn f;
  i64_fn i;
} scalar_fns[LATHE_OP_KIND_COUNT] = {
    [LATHE_OP_NEG] = {f_neg, i_neg},
    [LATHE_OP_ABS] = {f_abs, i_abs},
    [LATHE_OP_RELU] = {f_relu, i_relu},
    [LATHE_OP_SIGMOID] = {f_sigmoid, NULL},
    [LATHE_OP_TANH] = {f_tanh, NULL},
    [LATHE_OP_EXP] = {f_exp, NULL},
    [LATHE_OP_LOG] = {f_log, NULL},
    [LATHE_OP_SQRT] = {f_sqrt, NULL},
    [LATHE_OP_RECIPROCAL] = {f_reciprocal, NULL},
    [LATHE_OP_FLOOR] = {f_floor, NULL},
    [LATHE_OP_CEIL] = {f_ceil, NULL},
    [LATHE_OP_ROUND] = {f_round, NULL},
    [LATHE_OP_SIGN] = {f_sign, i_sign},
    [LATHE_OP_ERF] = {f_erf, NULL},
    [LATHE_OP_SIN] = {f_sin, NULL},
    [LATHE_OP_COS] = {f_cos, NULL},
    [LATHE_OP_TAN] = {f_tan, NULL},
    [LATHE_OP_ASIN] = {f_asin, NULL},
    [LATHE_OP_ACOS] = {f_acos, NULL},
    [LATHE_OP_ATAN] = {f_atan, NULL},
    [LATHE_OP_SINH] = {f_sinh, NULL},
    [LATHE_OP_COSH] = {f_cosh, NULL},
    [LATHE_OP_ASINH] = {f_asinh, NULL},
    [LATHE_OP_ACOSH] = {f_acosh, NULL},
    [LATHE_OP_ATANH] = {f_atanh, NULL},
    [LATHE_OP_SOFTPLUS] = {f_softplus, NULL},
    [LATHE_OP_SOFTSIGN] = {f_softsign, NULL},
    [LATHE_OP_IS_NAN] = {f_is_nan, NULL},
    [LATHE_OP_NOT] = {NULL, i_not},
    [LATHE_OP_BITWISE_NOT] = {NULL, i_bitwise_not},
    [LATHE_OP_ADD] = {f_sum, i_sum},
    [LATHE_OP_SUB] = {f_sub, i_sub},
    [LATHE_OP_MUL] = {f_mul, i_mul},
    [LATHE_OP_DIV] = {f_div, i_div},
    [LATHE_OP_POW] = {f_pow, NULL},
    [LATHE_OP_AND] = {NULL, i_and},
    [LATHE_OP_OR] = {NULL, i_or},
    [LATHE_OP_XOR] = {NULL, i_xor},
    [LATHE_OP_BITWISE_AND] = {NULL, i_bitwise_and},
    [LATHE_OP_BITWISE_OR] = {NULL, i_bitwise_or},
    [LATHE_OP_BITWISE_XOR] = {NULL, i_bitwise_xor},
    [LATHE_OP_EQUAL] = {f_equal, i_equal},
    [LATHE_OP_LESS] = {f_less, i_less},
    [LATHE_OP_LESS_EQUAL] = {f_less_equal, i_less_equal},
    [LATHE_OP_GREATER] = {f_greater, i_greater},
    [LATHE_OP_GREATER_EQUAL] = {f_greater_equal, i_greater_equal},
    [LATHE_OP_MIN] = {f_min, i_min},
    [LATHE_OP_MAX] = {f_max, i_max},
    [LATHE_OP_SUM] = {f_sum, i_sum},
    [LATHE_OP_WHERE] = {f_where, i_where},
};

void lathe_fold_broadcast_strides(const lathe_type_t *t, const lathe_type_t *to,
                                  int64_t *out_strides) {
  uint32_t lead = to->rank - t->rank;
  int64_t stride = 1;
  for (uint32_t d = to->rank; d-- > 0;) {
    if (d < lead) {
      out_strides[d] = 0;
      continue;
    }
    int64_t size = t->dims[d - lead].size;
    out_strides[d] = size == 1 && to->dims[d].size != 1 ? 0 : stride;
    stride *= size;
  }
}

/* Can a double result be stored into an integer dtype without UB? */
static bool fits_int64(double v) { return v >= -0x1p63 && v < 0x1p63; }

/* The broadcasting loop: `f` over doubles, `fi` over int64 (either may be
 * NULL where the op has no meaning in that domain). */
static bool broadcast_eval(const lathe_op_t *op, const lathe_literal_t *in,
                           const lathe_type_t *rt, void *out, f64_fn f, i64_fn fi) {
  enum { MAX_OPERANDS = 16 };
  uint32_t n = op->num_operands;
  if (n == 0 || n > MAX_OPERANDS || rt->rank > LATHE_MAX_RANK) return false;
  bool float_domain = lathe_literal_float_domain(rt->dtype);
  for (uint32_t j = 0; j < n; ++j) {
    if (!in[j].type.dtype || in[j].type.rank > rt->rank) return false; /* absent operand */
    float_domain |= lathe_literal_float_domain(in[j].type.dtype);
  }
  if (float_domain ? !f : !fi) return false;
  int64_t strides[MAX_OPERANDS][LATHE_MAX_RANK];
  for (uint32_t j = 0; j < n; ++j) lathe_fold_broadcast_strides(&in[j].type, rt, strides[j]);
  int64_t count = 1;
  for (uint32_t d = 0; d < rt->rank; ++d) count *= rt->dims[d].size;
  bool int_result = !lathe_literal_float_domain(rt->dtype) && rt->dtype != LATHE_DTYPE_BOOL;
  for (int64_t k = 0; k < count; ++k) {
    int64_t off[MAX_OPERANDS] = {0};
    for (int64_t rest = k, d = rt->rank; d-- > 0;) {
      int64_t idx = rest % rt->dims[d].size;
      rest /= rt->dims[d].size;
      for (uint32_t j = 0; j < n; ++j) off[j] += idx * strides[j][d];
    }
    if (float_domain) {
      double x[MAX_OPERANDS];
      for (uint32_t j = 0; j < n; ++j)
        x[j] = lathe_literal_load_f64(in[j].type.dtype, in[j].data, off[j]);
      double r = f(x, n);
      if (int_result && !fits_int64(r)) return false;
      lathe_literal_store_f64(rt->dtype, out, k, r);
    } else {
      int64_t x[MAX_OPERANDS], r;
      for (uint32_t j = 0; j < n; ++j)
        x[j] = lathe_literal_load_i64(in[j].type.dtype, in[j].data, off[j]);
      if (!fi(x, n, &r)) return false;
      lathe_literal_store_i64(rt->dtype, out, k, r);
    }
  }
  return true;
}

static bool eval_elementwise(const lathe_op_t *op, const lathe_literal_t *in,
                             const lathe_type_t *rt, void *out) {
  return broadcast_eval(op, in, rt, out, scalar_fns[op->kind].f, scalar_fns[op->kind].i);
}

/* mod's function depends on its fmod attribute; floats need fmod = 1
 * (lathe_verify_mod), so the double domain only ever truncates. */
static bool eval_mod(const lathe_op_t *op, const lathe_literal_t *in, const lathe_type_t *rt,
                     void *out) {
  bool fmod_attr = lathe_op_attr_int(op, "fmod") == 1;
  return broadcast_eval(op, in, rt, out, fmod_attr ? f_fmod : NULL, fmod_attr ? i_fmod : i_mod);
}

/* cast / cast_like: floats narrow by rounding, integers wrap, floats that do
 * not fit the target integer type are left unfolded (their value is
 * implementation-defined at run time too). */
static bool eval_cast(const lathe_op_t *op, const lathe_literal_t *in, const lathe_type_t *rt,
                      void *out) {
  (void)op;
  lathe_dtype_t from = in[0].type.dtype, to = rt->dtype;
  for (int64_t k = 0; k < in[0].count; ++k) {
    if (!lathe_literal_float_domain(from)) {
      lathe_literal_store_i64(to, out, k, lathe_literal_load_i64(from, in[0].data, k));
      continue;
    }
    double v = lathe_literal_load_f64(from, in[0].data, k);
    if (!lathe_literal_float_domain(to) && to != LATHE_DTYPE_BOOL) {
      if (isnan(v) || !fits_int64(v)) return false;
      int64_t t = (int64_t)v; /* truncation toward zero */
      lathe_literal_store_i64(to, out, k, t);
      if (lathe_literal_load_i64(to, out, k) != t) return false; /* out of the dtype's range */
      continue;
    }
    lathe_literal_store_f64(to, out, k, v);
  }
  return true;
}

static const lathe_fold_rule_t elementwise_rule = {eval_elementwise, true};

static const lathe_fold_rule_t move_rules[LATHE_OP_KIND_COUNT] = {
    [LATHE_OP_CAST] = {eval_cast, true},
    [LATHE_OP_MOD] = {eval_mod, true},
    [LATHE_OP_CAST_LIKE] = {eval_cast, true},
    [LATHE_OP_IDENTITY] = {lathe_fold_copy, true},
    [LATHE_OP_RESHAPE] = {lathe_fold_copy, true},
    [LATHE_OP_FLATTEN] = {lathe_fold_copy, true},
    [LATHE_OP_SQUEEZE] = {lathe_fold_copy, true},
    [LATHE_OP_UNSQUEEZE] = {lathe_fold_copy, true},
    [LATHE_OP_TRANSPOSE] = {lathe_fold_transpose, true},
    [LATHE_OP_CONCAT] = {lathe_fold_concat, true},
    [LATHE_OP_SLICE] = {lathe_fold_slice, true},
    [LATHE_OP_GATHER] = {lathe_fold_gather, true},
    [LATHE_OP_SHAPE] = {lathe_fold_shape, false},
    [LATHE_OP_SIZE] = {lathe_fold_size, false},
};

const lathe_fold_rule_t *lathe_fold_rule(lathe_op_kind_t kind) {
  if ((unsigned)kind >= LATHE_OP_KIND_COUNT) return NULL;
  if (scalar_fns[kind].f || scalar_fns[kind].i) return &elementwise_rule;
  return move_rules[kind].eval ? &move_rules[kind] : NULL;
}
