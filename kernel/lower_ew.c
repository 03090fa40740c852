/* Elementwise ops: one table from LATHE_OP_* to a scalar expression, so a
 * fused chain of them becomes one expression tree.
 *
 * Every entry is either a single scalar op (kernel/scalar_ops.def) applied to
 * the broadcast operands, or a small builder composing several (gelu is
 * 0.5 x (1 + erf(x / sqrt 2))). Operands arrive in their compute dtype
 * (f16/bf16 widened to f32), already broadcast to the result index; the
 * result is narrowed on store. Float-only scalar ops applied to integers
 * (erf of an int) compute in f64 and convert back, as ONNX's integer
 * versions of those ops do.
 */
#include <math.h>
#include <string.h>

#include "kernel/lower.h"

typedef const lathe_kexpr_t *(*ew_fn)(lower_ctx_t *c, const lathe_op_t *op,
                                      const lathe_kexpr_t *const *a, uint32_t n);

typedef struct {
  lathe_kop_t kop; /* used when fn is NULL */
  ew_fn fn;
  bool present;
} ew_entry_t;
#define KOP(k) \
  { LATHE_KOP_##k, NULL, true }
#define FN(f) \
  { 0, f, true }

#define T(e) ((e)->dtype)
#define K(e, v) kf(c, T(e), (v))

static const lathe_kexpr_t *relu(lower_ctx_t *c, const lathe_op_t *op,
                                 const lathe_kexpr_t *const *a, uint32_t n) {
  return kbin(c, LATHE_KOP_MAX, a[0], K(a[0], 0));
}
static const lathe_kexpr_t *reciprocal(lower_ctx_t *c, const lathe_op_t *op,
                                       const lathe_kexpr_t *const *a, uint32_t n) {
  return kbin(c, LATHE_KOP_DIV, K(a[0], 1), a[0]);
}
/* log(1 + e^x) as max(x, 0) + log(1 + e^-|x|): no overflow for large x. */
static const lathe_kexpr_t *softplus_of(lower_ctx_t *c, const lathe_kexpr_t *x) {
  const lathe_kexpr_t *t = kun(c, LATHE_KOP_EXP, kun(c, LATHE_KOP_NEG, kun(c, LATHE_KOP_ABS, x)));
  return kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MAX, x, K(x, 0)),
              kun(c, LATHE_KOP_LOG, kbin(c, LATHE_KOP_ADD, K(x, 1), t)));
}
static const lathe_kexpr_t *softplus(lower_ctx_t *c, const lathe_op_t *op,
                                     const lathe_kexpr_t *const *a, uint32_t n) {
  return softplus_of(c, a[0]);
}
static const lathe_kexpr_t *softsign(lower_ctx_t *c, const lathe_op_t *op,
                                     const lathe_kexpr_t *const *a, uint32_t n) {
  return kbin(c, LATHE_KOP_DIV, a[0],
              kbin(c, LATHE_KOP_ADD, K(a[0], 1), kun(c, LATHE_KOP_ABS, a[0])));
}
static const lathe_kexpr_t *mish(lower_ctx_t *c, const lathe_op_t *op,
                                 const lathe_kexpr_t *const *a, uint32_t n) {
  return kbin(c, LATHE_KOP_MUL, a[0], kun(c, LATHE_KOP_TANH, softplus_of(c, a[0])));
}
static const lathe_kexpr_t *is_inf(lower_ctx_t *c, const lathe_op_t *op,
                                   const lathe_kexpr_t *const *a, uint32_t n) {
  bool neg = lathe_op_attr_int(op, "detect_negative"),
       pos = lathe_op_attr_int(op, "detect_positive");
  const lathe_kexpr_t *inf = kun(c, LATHE_KOP_ISINF, a[0]);
  if (neg && pos) return inf;
  if (!neg && !pos) return lathe_kexpr_int(c->p, LATHE_DTYPE_BOOL, 0);
  return kbin(c, LATHE_KOP_AND, inf, kbin(c, pos ? LATHE_KOP_GT : LATHE_KOP_LT, a[0], K(a[0], 0)));
}
static const lathe_kexpr_t *gelu(lower_ctx_t *c, const lathe_op_t *op,
                                 const lathe_kexpr_t *const *a, uint32_t n) {
  const lathe_kexpr_t *x = a[0], *inner;
  if (strcmp(lathe_op_attr_string(op, "approximate"), "tanh") == 0) {
    /* tanh(sqrt(2/pi) * (x + 0.044715 x^3)) */
    const lathe_kexpr_t *x3 = kbin(c, LATHE_KOP_MUL, x, kbin(c, LATHE_KOP_MUL, x, x));
    const lathe_kexpr_t *u = kbin(c, LATHE_KOP_ADD, x, kbin(c, LATHE_KOP_MUL, K(x, 0.044715), x3));
    inner = kun(c, LATHE_KOP_TANH,
                kbin(c, LATHE_KOP_MUL, K(x, 0.7978845608028654 /* sqrt(2/pi) */), u));
  } else {
    inner =
        kun(c, LATHE_KOP_ERF, kbin(c, LATHE_KOP_MUL, x, K(x, 0.7071067811865476 /* 1/sqrt(2) */)));
  }
  return kbin(c, LATHE_KOP_MUL, kbin(c, LATHE_KOP_MUL, K(x, 0.5), x),
              kbin(c, LATHE_KOP_ADD, K(x, 1), inner));
}
/* alpha * (e^x - 1) for x < 0, else x: elu, and selu scaled by gamma. */
static const lathe_kexpr_t *elu_of(lower_ctx_t *c, const lathe_kexpr_t *x, double alpha) {
  const lathe_kexpr_t *neg = kbin(c, LATHE_KOP_MUL, K(x, alpha),
                                  kbin(c, LATHE_KOP_SUB, kun(c, LATHE_KOP_EXP, x), K(x, 1)));
  return ksel(c, kbin(c, LATHE_KOP_GT, x, K(x, 0)), x, neg);
}
static const lathe_kexpr_t *elu(lower_ctx_t *c, const lathe_op_t *op, const lathe_kexpr_t *const *a,
                                uint32_t n) {
  return elu_of(c, a[0], lathe_op_attr_float(op, "alpha"));
}
static const lathe_kexpr_t *selu(lower_ctx_t *c, const lathe_op_t *op,
                                 const lathe_kexpr_t *const *a, uint32_t n) {
  return kbin(c, LATHE_KOP_MUL, K(a[0], lathe_op_attr_float(op, "gamma")),
              elu_of(c, a[0], lathe_op_attr_float(op, "alpha")));
}
static const lathe_kexpr_t *celu(lower_ctx_t *c, const lathe_op_t *op,
                                 const lathe_kexpr_t *const *a, uint32_t n) {
  const lathe_kexpr_t *x = a[0];
  double alpha = lathe_op_attr_float(op, "alpha");
  const lathe_kexpr_t *e = kbin(
      c, LATHE_KOP_SUB, kun(c, LATHE_KOP_EXP, kbin(c, LATHE_KOP_DIV, x, K(x, alpha))), K(x, 1));
  return kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MAX, x, K(x, 0)),
              kbin(c, LATHE_KOP_MIN, K(x, 0), kbin(c, LATHE_KOP_MUL, K(x, alpha), e)));
}
static const lathe_kexpr_t *leaky_relu(lower_ctx_t *c, const lathe_op_t *op,
                                       const lathe_kexpr_t *const *a, uint32_t n) {
  const lathe_kexpr_t *x = a[0];
  return ksel(c, kbin(c, LATHE_KOP_LT, x, K(x, 0)),
              kbin(c, LATHE_KOP_MUL, K(x, lathe_op_attr_float(op, "alpha")), x), x);
}
/* max(0, min(1, alpha x + beta)) */
static const lathe_kexpr_t *hard_sigmoid_of(lower_ctx_t *c, const lathe_kexpr_t *x, double alpha,
                                            double beta) {
  const lathe_kexpr_t *l =
      kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MUL, K(x, alpha), x), K(x, beta));
  return kbin(c, LATHE_KOP_MAX, K(x, 0), kbin(c, LATHE_KOP_MIN, K(x, 1), l));
}
static const lathe_kexpr_t *hard_sigmoid(lower_ctx_t *c, const lathe_op_t *op,
                                         const lathe_kexpr_t *const *a, uint32_t n) {
  return hard_sigmoid_of(c, a[0], lathe_op_attr_float(op, "alpha"),
                         lathe_op_attr_float(op, "beta"));
}
static const lathe_kexpr_t *hard_swish(lower_ctx_t *c, const lathe_op_t *op,
                                       const lathe_kexpr_t *const *a, uint32_t n) {
  return kbin(c, LATHE_KOP_MUL, a[0], hard_sigmoid_of(c, a[0], 1.0 / 6.0, 0.5));
}
static const lathe_kexpr_t *thresholded_relu(lower_ctx_t *c, const lathe_op_t *op,
                                             const lathe_kexpr_t *const *a, uint32_t n) {
  const lathe_kexpr_t *x = a[0];
  return ksel(c, kbin(c, LATHE_KOP_GT, x, K(x, lathe_op_attr_float(op, "alpha"))), x, K(x, 0));
}
/* Integers go through f64 (the attributes are floats) and truncate back. */
static const lathe_kexpr_t *shrink(lower_ctx_t *c, const lathe_op_t *op,
                                   const lathe_kexpr_t *const *a, uint32_t n) {
  lathe_dtype_t t = T(a[0]);
  const lathe_kexpr_t *x = lathe_dtype_is_float(t) ? a[0] : lathe_kexpr_cast(c->p, LATHE_DTYPE_F64, a[0]);
  double bias = lathe_op_attr_float(op, "bias"), lambd = lathe_op_attr_float(op, "lambd");
  const lathe_kexpr_t *y =
      ksel(c, kbin(c, LATHE_KOP_LT, x, K(x, -lambd)), kbin(c, LATHE_KOP_ADD, x, K(x, bias)),
           ksel(c, kbin(c, LATHE_KOP_GT, x, K(x, lambd)), kbin(c, LATHE_KOP_SUB, x, K(x, bias)),
                K(x, 0)));
  return lathe_dtype_is_float(t) ? y : lathe_kexpr_cast(c->p, t, y);
}
static const lathe_kexpr_t *swish(lower_ctx_t *c, const lathe_op_t *op,
                                  const lathe_kexpr_t *const *a, uint32_t n) {
  const lathe_kexpr_t *x = a[0];
  return kbin(c, LATHE_KOP_MUL, x,
              kun(c, LATHE_KOP_SIGMOID,
                  kbin(c, LATHE_KOP_MUL, K(x, lathe_op_attr_float(op, "alpha")), x)));
}
/* Absent bounds (NULL) leave that side open. */
static const lathe_kexpr_t *clip(lower_ctx_t *c, const lathe_op_t *op,
                                 const lathe_kexpr_t *const *a, uint32_t n) {
  const lathe_kexpr_t *x = a[0];
  if (n > 1 && a[1]) x = kbin(c, LATHE_KOP_MAX, x, a[1]);
  if (n > 2 && a[2]) x = kbin(c, LATHE_KOP_MIN, x, a[2]);
  return x;
}
/* Integer base with a float exponent: computed in f64, the result has the
 * base's dtype. */
static const lathe_kexpr_t *power(lower_ctx_t *c, const lathe_op_t *op,
                                  const lathe_kexpr_t *const *a, uint32_t n) {
  const lathe_kexpr_t *x = a[0], *y = a[1];
  if (T(x) == T(y)) return kbin(c, LATHE_KOP_POW, x, y);
  if (lathe_dtype_is_float(T(x))) return kbin(c, LATHE_KOP_POW, x, lathe_kexpr_cast(c->p, T(x), y));
  const lathe_kexpr_t *r = kbin(c, LATHE_KOP_POW, lathe_kexpr_cast(c->p, LATHE_DTYPE_F64, x),
                                lathe_kexpr_cast(c->p, LATHE_DTYPE_F64, y));
  return lathe_kexpr_cast(c->p, T(x), r);
}
static const lathe_kexpr_t *modulo(lower_ctx_t *c, const lathe_op_t *op,
                                   const lathe_kexpr_t *const *a, uint32_t n) {
  return kbin(c, lathe_op_attr_int(op, "fmod") ? LATHE_KOP_FMOD : LATHE_KOP_MOD, a[0], a[1]);
}
static const lathe_kexpr_t *bit_shift(lower_ctx_t *c, const lathe_op_t *op,
                                      const lathe_kexpr_t *const *a, uint32_t n) {
  bool left = strcmp(lathe_op_attr_string(op, "direction"), "LEFT") == 0;
  return kbin(c, left ? LATHE_KOP_SHL : LATHE_KOP_SHR, a[0], a[1]);
}
static const lathe_kexpr_t *prelu(lower_ctx_t *c, const lathe_op_t *op,
                                  const lathe_kexpr_t *const *a, uint32_t n) {
  return ksel(c, kbin(c, LATHE_KOP_LT, a[0], K(a[0], 0)), kbin(c, LATHE_KOP_MUL, a[1], a[0]), a[0]);
}
/* min, max, sum, mean over any number of operands. */
static const lathe_kexpr_t *fold(lower_ctx_t *c, const lathe_op_t *op,
                                 const lathe_kexpr_t *const *a, uint32_t n) {
  lathe_kop_t k = op->kind == LATHE_OP_MIN   ? LATHE_KOP_MIN
                  : op->kind == LATHE_OP_MAX ? LATHE_KOP_MAX
                                             : LATHE_KOP_ADD;
  const lathe_kexpr_t *r = a[0];
  for (uint32_t i = 1; i < n; ++i) r = kbin(c, k, r, a[i]);
  if (op->kind == LATHE_OP_MEAN) r = kbin(c, LATHE_KOP_DIV, r, K(r, n));
  return r;
}
static const lathe_kexpr_t *where(lower_ctx_t *c, const lathe_op_t *op,
                                  const lathe_kexpr_t *const *a, uint32_t n) {
  return ksel(c, a[0], a[1], a[2]);
}
/* Narrowing goes through the target dtype so the value rounds (or wraps)
 * exactly as the stored one would. */
/* ONNX Cast from a float to a 4-bit integer keeps the low four bits of the
 * integer value (Cast(-9.0) to INT4 is 7), where the kernel IR's float->int
 * CAST saturates; going through i32 (saturating) and then an int->int CAST
 * (which wraps) gives ONNX's result. */
static const lathe_kexpr_t *cast(lower_ctx_t *c, const lathe_op_t *op,
                                 const lathe_kexpr_t *const *a, uint32_t n) {
  lathe_dtype_t to = op->results[0].type.dtype;
  const lathe_kexpr_t *x = a[0];
  bool to_nibble = to == LATHE_DTYPE_I4 || to == LATHE_DTYPE_U4;
  if (to_nibble && x && lathe_dtype_is_float(x->dtype)) x = lathe_kexpr_cast(c->p, LATHE_DTYPE_I32, x);
  return lathe_kexpr_cast(c->p, to, x);
}

static const ew_entry_t ew_table[LATHE_OP_KIND_COUNT] = {
    [LATHE_OP_NEG] = KOP(NEG),
    [LATHE_OP_ABS] = KOP(ABS),
    [LATHE_OP_RELU] = FN(relu),
    [LATHE_OP_SIGMOID] = KOP(SIGMOID),
    [LATHE_OP_TANH] = KOP(TANH),
    [LATHE_OP_EXP] = KOP(EXP),
    [LATHE_OP_LOG] = KOP(LOG),
    [LATHE_OP_SQRT] = KOP(SQRT),
    [LATHE_OP_RECIPROCAL] = FN(reciprocal),
    [LATHE_OP_FLOOR] = KOP(FLOOR),
    [LATHE_OP_CEIL] = KOP(CEIL),
    [LATHE_OP_ROUND] = KOP(ROUND),
    [LATHE_OP_SIGN] = KOP(SIGN),
    [LATHE_OP_ERF] = KOP(ERF),
    [LATHE_OP_SIN] = KOP(SIN),
    [LATHE_OP_COS] = KOP(COS),
    [LATHE_OP_TAN] = KOP(TAN),
    [LATHE_OP_ASIN] = KOP(ASIN),
    [LATHE_OP_ACOS] = KOP(ACOS),
    [LATHE_OP_ATAN] = KOP(ATAN),
    [LATHE_OP_SINH] = KOP(SINH),
    [LATHE_OP_COSH] = KOP(COSH),
    [LATHE_OP_ASINH] = KOP(ASINH),
    [LATHE_OP_ACOSH] = KOP(ACOSH),
    [LATHE_OP_ATANH] = KOP(ATANH),
    [LATHE_OP_SOFTPLUS] = FN(softplus),
    [LATHE_OP_SOFTSIGN] = FN(softsign),
    [LATHE_OP_NOT] = KOP(NOT),
    [LATHE_OP_BITWISE_NOT] = KOP(NOT),
    [LATHE_OP_IS_NAN] = KOP(ISNAN),
    [LATHE_OP_IS_INF] = FN(is_inf),
    [LATHE_OP_GELU] = FN(gelu),
    [LATHE_OP_ELU] = FN(elu),
    [LATHE_OP_SELU] = FN(selu),
    [LATHE_OP_CELU] = FN(celu),
    [LATHE_OP_LEAKY_RELU] = FN(leaky_relu),
    [LATHE_OP_HARD_SIGMOID] = FN(hard_sigmoid),
    [LATHE_OP_HARD_SWISH] = FN(hard_swish),
    [LATHE_OP_THRESHOLDED_RELU] = FN(thresholded_relu),
    [LATHE_OP_MISH] = FN(mish),
    [LATHE_OP_CLIP] = FN(clip),
    [LATHE_OP_SHRINK] = FN(shrink),
    [LATHE_OP_SWISH] = FN(swish),
    [LATHE_OP_ADD] = KOP(ADD),
    [LATHE_OP_SUB] = KOP(SUB),
    [LATHE_OP_MUL] = KOP(MUL),
    [LATHE_OP_DIV] = KOP(DIV),
    [LATHE_OP_POW] = FN(power),
    [LATHE_OP_MOD] = FN(modulo),
    [LATHE_OP_AND] = KOP(AND),
    [LATHE_OP_OR] = KOP(OR),
    [LATHE_OP_XOR] = KOP(XOR),
    [LATHE_OP_BIT_SHIFT] = FN(bit_shift),
    [LATHE_OP_BITWISE_AND] = KOP(AND),
    [LATHE_OP_BITWISE_OR] = KOP(OR),
    [LATHE_OP_BITWISE_XOR] = KOP(XOR),
    [LATHE_OP_PRELU] = FN(prelu),
    [LATHE_OP_EQUAL] = KOP(EQ),
    [LATHE_OP_LESS] = KOP(LT),
    [LATHE_OP_LESS_EQUAL] = KOP(LE),
    [LATHE_OP_GREATER] = KOP(GT),
    [LATHE_OP_GREATER_EQUAL] = KOP(GE),
    [LATHE_OP_MIN] = FN(fold),
    [LATHE_OP_MAX] = FN(fold),
    [LATHE_OP_SUM] = FN(fold),
    [LATHE_OP_MEAN] = FN(fold),
    [LATHE_OP_WHERE] = FN(where),
    [LATHE_OP_CAST] = FN(cast),
    [LATHE_OP_CAST_LIKE] = FN(cast),
};

/* One scalar op; float-only ones on integers go through f64. */
static const lathe_kexpr_t *apply_kop(lower_ctx_t *c, lathe_kop_t k,
                                      const lathe_kexpr_t *const *a) {
  const lathe_kop_info_t *info = lathe_kop_info(k);
  lathe_dtype_t t = T(a[0]);
  if (info->operands == LATHE_KOPD_FLOAT && !lathe_dtype_is_float(t)) {
    const lathe_kexpr_t *x = lathe_kexpr_cast(c->p, LATHE_DTYPE_F64, a[0]);
    const lathe_kexpr_t *r = info->arity == 1
                                 ? kun(c, k, x)
                                 : kbin(c, k, x, lathe_kexpr_cast(c->p, LATHE_DTYPE_F64, a[1]));
    return r && r->dtype == LATHE_DTYPE_F64 ? lathe_kexpr_cast(c->p, t, r) : r;
  }
  return info->arity == 1 ? kun(c, k, a[0]) : kbin(c, k, a[0], a[1]);
}

/* Result dims from the operands (numpy broadcasting), for `?` result dims. */
static void bcast_dims(lower_ctx_t *c, const lathe_op_t *op, uint32_t n, uint32_t rank,
                       lathe_kdim_t *out) {
  for (uint32_t d = 0; d < rank; ++d) out[d] = lathe_kdim_static(1);
  for (uint32_t i = 0; i < n; ++i) {
    const lval_t *v = lv_operand(c, op, i);
    if (!v) continue;
    for (uint32_t d = 0; d < v->rank; ++d) {
      lathe_kdim_t *o = &out[rank - v->rank + d];
      if (lathe_kdim_is_static(*o) && o->size == 1) *o = v->dims[d];
    }
  }
}

lathe_status_t lower_elementwise(lower_ctx_t *c, const lathe_op_t *op) {
  const ew_entry_t *e = &ew_table[op->kind];
  if (!e->present) return unsupported(op, "no elementwise lowering");
  uint32_t rank = op->results[0].type.rank, n = op->num_operands;
  /* cast_like's second operand only donates its dtype; its shape may have
   * more dims than the result, so it takes no part in broadcasting. */
  if (op->kind == LATHE_OP_CAST_LIKE) n = 1;
  lathe_kdim_t fallback[LATHE_MAX_RANK], dims[LATHE_MAX_RANK];
  bcast_dims(c, op, n, rank, fallback);
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, fallback, dims));
  const lathe_kexpr_t *idx[LATHE_MAX_RANK], *args[LATHE_MAX_RANK];
  iters(c, rank, idx);
  const gemm_pending_t *gemm = NULL;
  if (n > LATHE_MAX_RANK) return unsupported(op, "more than %d operands", LATHE_MAX_RANK);
  for (uint32_t i = 0; i < n; ++i) {
    const lval_t *v = lv_operand(c, op, i);
    args[i] = v ? lv_at_bcast(c, v, rank, idx) : NULL;
    if (v && v->gemm) {
      if (gemm && gemm != v->gemm) return unsupported(op, "joins two matrix products");
      gemm = v->gemm;
    }
  }
  const lathe_kexpr_t *r = e->fn ? e->fn(c, op, args, n) : apply_kop(c, e->kop, args);
  if (!r) {
    lathe_status_t st = kbuild_take_error(c->p);
    if (st) {
      lathe_status_t u = unsupported(op, "%s", lathe_status_message(st));
      lathe_status_free(st);
      return u;
    }
    return unsupported(op, "operand dtypes do not fit");
  }
  set_expr(c, op, 0, dims, r, gemm);
  return NULL;
}
