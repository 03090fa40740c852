/* Inference for elementwise ops: unary maps (same shape, dtype checked against
 * the op's class), broadcasting binary and variadic ops, comparisons (bool
 * results), where, clip, prelu, dropout and casts, plus the small verifiers
 * of their attributes. Each exported function is one typing rule shared by
 * every op that names it in ops.def.
 */
#include <inttypes.h>

#include "ir/infer.h"

/* ---- unary ---- */

/* Checks operand 0 against `classes`; the result keeps its shape and takes
 * `out` as dtype (LATHE_DTYPE_INVALID: the operand's). */
static lathe_status_t unary(lathe_infer_ctx_t *ctx, unsigned classes, lathe_dtype_t out) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, classes));
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  lathe_infer_set_result(ctx, 0, out ? out : t->dtype, t->rank, t->dims);
  return NULL;
}

#define UNARY_FAMILY(name, classes, out) \
  lathe_status_t lathe_infer_##name(lathe_infer_ctx_t *ctx) { return unary(ctx, classes, out); }
UNARY_FAMILY(same_as_operand0, LATHE_DTC_ANY, LATHE_DTYPE_INVALID)
UNARY_FAMILY(unary_float, LATHE_DTC_FLOAT, LATHE_DTYPE_INVALID)
UNARY_FAMILY(unary_numeric, LATHE_DTC_NUMERIC, LATHE_DTYPE_INVALID)
UNARY_FAMILY(unary_signed, LATHE_DTC_SIGNED, LATHE_DTYPE_INVALID)
UNARY_FAMILY(unary_int, LATHE_DTC_INT, LATHE_DTYPE_INVALID)
UNARY_FAMILY(unary_bool, LATHE_DTC_BOOL, LATHE_DTYPE_INVALID)
UNARY_FAMILY(float_to_bool, LATHE_DTC_FLOAT, LATHE_DTYPE_BOOL)
#undef UNARY_FAMILY

/* ---- broadcasting ---- */

/* Broadcasts operands [first, first+count) that are present into
 * dims/rank; every one must be in `classes`, and with same_dtype all share
 * operand `first`'s dtype. */
static lathe_status_t broadcast_operands(lathe_infer_ctx_t *ctx, uint32_t first, uint32_t count,
                                         unsigned classes, bool same_dtype, uint32_t *out_rank,
                                         lathe_dim_t *out_dims) {
  uint32_t rank = 0;
  for (uint32_t i = first; i < first + count; ++i) {
    if (!lathe_infer_has_operand(ctx, i)) continue;
    LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, i, classes));
    if (same_dtype && i != first)
      LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, first, i));
    const lathe_type_t *t = lathe_infer_operand_type(ctx, i);
    lathe_dim_t acc[LATHE_MAX_RANK];
    for (uint32_t d = 0; d < rank; ++d) acc[d] = out_dims[d];
    LATHE_RETURN_IF_ERROR_CTX(lathe_broadcast_dims(rank, acc, t->rank, t->dims, &rank, out_dims),
                              "operand %u", i);
  }
  *out_rank = rank;
  return NULL;
}

/* Broadcasts every operand; the result dtype is `out` or operand 0's. */
static lathe_status_t nary(lathe_infer_ctx_t *ctx, unsigned classes, bool same_dtype,
                           lathe_dtype_t out) {
  lathe_dim_t dims[LATHE_MAX_RANK];
  uint32_t rank;
  LATHE_RETURN_IF_ERROR(broadcast_operands(ctx, 0, ctx->op->num_operands, classes, same_dtype,
                                           &rank, dims));
  lathe_dtype_t d = lathe_infer_operand_type(ctx, 0)->dtype;
  lathe_infer_set_result(ctx, 0, out ? out : d, rank, dims);
  return NULL;
}

#define NARY_FAMILY(name, classes, same, out) \
  lathe_status_t lathe_infer_##name(lathe_infer_ctx_t *ctx) { return nary(ctx, classes, same, out); }
NARY_FAMILY(binary_numeric, LATHE_DTC_NUMERIC, true, LATHE_DTYPE_INVALID)
NARY_FAMILY(binary_int, LATHE_DTC_INT, true, LATHE_DTYPE_INVALID)
NARY_FAMILY(binary_uint, LATHE_DTC_UINT, true, LATHE_DTYPE_INVALID)
NARY_FAMILY(binary_bool, LATHE_DTC_BOOL, true, LATHE_DTYPE_INVALID)
NARY_FAMILY(compare, LATHE_DTC_NUMERIC, true, LATHE_DTYPE_BOOL)
NARY_FAMILY(equal, LATHE_DTC_ANY, true, LATHE_DTYPE_BOOL)
NARY_FAMILY(pow, LATHE_DTC_NUMERIC, false, LATHE_DTYPE_INVALID)
NARY_FAMILY(variadic_numeric, LATHE_DTC_NUMERIC, true, LATHE_DTYPE_INVALID)
NARY_FAMILY(variadic_float, LATHE_DTC_FLOAT, true, LATHE_DTYPE_INVALID)
#undef NARY_FAMILY

lathe_status_t lathe_infer_where(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_BOOL));
  lathe_dim_t dims[LATHE_MAX_RANK];
  uint32_t rank;
  /* cond first, so an error names the operand that does not fit. */
  LATHE_RETURN_IF_ERROR(broadcast_operands(ctx, 0, 1, LATHE_DTC_BOOL, false, &rank, dims));
  lathe_dim_t xy[LATHE_MAX_RANK];
  uint32_t xy_rank;
  LATHE_RETURN_IF_ERROR(broadcast_operands(ctx, 1, 2, LATHE_DTC_ANY, true, &xy_rank, xy));
  lathe_dim_t cond[LATHE_MAX_RANK];
  for (uint32_t d = 0; d < rank; ++d) cond[d] = dims[d];
  LATHE_RETURN_IF_ERROR_CTX(lathe_broadcast_dims(rank, cond, xy_rank, xy, &rank, dims),
                            "condition");
  lathe_infer_set_result(ctx, 0, lathe_infer_operand_type(ctx, 1)->dtype, rank, dims);
  return NULL;
}

lathe_status_t lathe_infer_prelu(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_SIGNED));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 1));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  LATHE_RETURN_IF_ERROR(lathe_infer_unidirectional(x, lathe_infer_operand_type(ctx, 1), 1));
  lathe_infer_set_result(ctx, 0, x->dtype, x->rank, x->dims);
  return NULL;
}

lathe_status_t lathe_infer_clip(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_NUMERIC));
  for (uint32_t i = 1; i < 3; ++i) {
    if (!lathe_infer_has_operand(ctx, i)) continue;
    LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, i));
    LATHE_RETURN_IF_ERROR(lathe_infer_require_scalar(ctx, i));
  }
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  lathe_infer_set_result(ctx, 0, t->dtype, t->rank, t->dims);
  return NULL;
}

lathe_status_t lathe_infer_dropout(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  lathe_infer_set_result(ctx, 0, t->dtype, t->rank, t->dims);
  lathe_infer_set_result(ctx, 1, LATHE_DTYPE_BOOL, t->rank, t->dims);
  return NULL;
}

/* ---- casts ---- */

lathe_status_t lathe_infer_cast(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  lathe_dtype_t to = lathe_op_attr_dtype(ctx->op, "to");
  if (to <= LATHE_DTYPE_INVALID || to >= LATHE_DTYPE_COUNT)
    return LATHE_INFER_ERROR("attribute 'to' is missing");
  lathe_infer_set_result(ctx, 0, to, t->rank, t->dims);
  return NULL;
}

lathe_status_t lathe_infer_cast_like(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  lathe_infer_set_result(ctx, 0, lathe_infer_operand_type(ctx, 1)->dtype, t->rank, t->dims);
  return NULL;
}

/* ---- verifiers ---- */

lathe_status_t lathe_verify_gelu(const lathe_op_t *op) {
  return lathe_infer_check_enum(op, "approximate", "none|tanh");
}

lathe_status_t lathe_verify_dropout(const lathe_op_t *op) {
  double r = lathe_op_attr_float(op, "ratio");
  if (!(r >= 0.0 && r < 1.0)) return LATHE_INFER_ERROR("attribute 'ratio' must be in [0, 1), got %g", r);
  return NULL;
}

lathe_status_t lathe_verify_mod(const lathe_op_t *op) {
  LATHE_RETURN_IF_ERROR(lathe_verify_flags(op));
  const lathe_value_t *x = op->operands[0].value;
  if (x && lathe_dtype_is_float(x->type.dtype) && lathe_op_attr_int(op, "fmod") != 1)
    return LATHE_INFER_ERROR("float operands need fmod = 1");
  return NULL;
}

lathe_status_t lathe_verify_bit_shift(const lathe_op_t *op) {
  return lathe_infer_check_enum(op, "direction", "LEFT|RIGHT");
}

lathe_status_t lathe_verify_cast(const lathe_op_t *op) { return lathe_verify_flags(op); }
