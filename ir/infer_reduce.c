/* Inference for reductions: the reduce_* family (a list of axes) and
 * argmax/argmin (one axis, i64 result). Reduced dims become 1 with keepdims,
 * else they are dropped.
 */
#include "ir/infer.h"

/* Writes x's dims with the `mask` axes kept as 1 or dropped. */
static void reduced_dims(const lathe_type_t *x, uint32_t mask, bool keepdims, uint32_t *out_rank,
                         lathe_dim_t *out_dims) {
  uint32_t r = 0;
  for (uint32_t i = 0; i < x->rank; ++i) {
    if (!(mask & (1u << i))) out_dims[r++] = x->dims[i];
    else if (keepdims) out_dims[r++] = lathe_dim_static(1);
  }
  *out_rank = r;
}

lathe_status_t lathe_infer_reduce(lathe_infer_ctx_t *ctx) {
  /* ONNX (opset 20) lets reduce_max / reduce_min take bools: any / all. */
  lathe_op_kind_t k = ctx->op->kind;
  bool logic = k == LATHE_OP_REDUCE_MAX || k == LATHE_OP_REDUCE_MIN;
  LATHE_RETURN_IF_ERROR(
      lathe_infer_require_dtype(ctx, 0, logic ? LATHE_DTC_ANY : LATHE_DTC_NUMERIC));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  uint32_t count, mask;
  LATHE_RETURN_IF_ERROR(lathe_infer_axes_attr(ctx->op, "axes", x->rank, &count, &mask));
  if (count == 0) {
    if (lathe_op_attr_int(ctx->op, "noop_with_empty_axes")) {
      lathe_infer_set_result(ctx, 0, x->dtype, x->rank, x->dims);
      return NULL;
    }
    mask = x->rank ? (uint32_t)((1ull << x->rank) - 1) : 0;
  }
  lathe_dim_t dims[LATHE_MAX_RANK];
  uint32_t rank;
  reduced_dims(x, mask, lathe_op_attr_int(ctx->op, "keepdims") != 0, &rank, dims);
  lathe_infer_set_result(ctx, 0, x->dtype, rank, dims);
  return NULL;
}

lathe_status_t lathe_infer_arg_reduce(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_NUMERIC));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  uint32_t axis;
  LATHE_RETURN_IF_ERROR(lathe_normalize_axis(lathe_op_attr_int(ctx->op, "axis"), x->rank, &axis));
  lathe_dim_t dims[LATHE_MAX_RANK];
  uint32_t rank;
  reduced_dims(x, 1u << axis, lathe_op_attr_int(ctx->op, "keepdims") != 0, &rank, dims);
  lathe_infer_set_result(ctx, 0, LATHE_DTYPE_I64, rank, dims);
  return NULL;
}
