/* Inference for normalizations (batch, layer, RMS, instance, group, LRN,
 * mean-variance) and the softmax family. All keep the input's shape; what
 * they check is how the parameter operands line up with it: per-channel
 * vectors [C] for batch/instance/group norm, a tensor that broadcasts to the
 * normalized trailing dims for layer/RMS norm.
 */
#include <inttypes.h>

#include "ir/infer.h"

/* Result 0 is operand 0's type. */
static void same_as_x(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  lathe_infer_set_result(ctx, 0, x->dtype, x->rank, x->dims);
}

/* Operands [first, last] are float vectors of length x's channel dim (1). */
static lathe_status_t per_channel(lathe_infer_ctx_t *ctx, uint32_t first, uint32_t last) {
  lathe_dim_t c = lathe_infer_operand_type(ctx, 0)->dims[1];
  for (uint32_t i = first; i <= last; ++i) {
    LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, i, LATHE_DTC_FLOAT));
    LATHE_RETURN_IF_ERROR(lathe_infer_require_vector(ctx, i, c));
  }
  return NULL;
}

lathe_status_t lathe_infer_batch_norm(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_FLOAT));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 0, 2, LATHE_MAX_RANK));
  LATHE_RETURN_IF_ERROR(per_channel(ctx, 1, 4));
  same_as_x(ctx);
  return NULL;
}

lathe_status_t lathe_infer_instance_norm(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_FLOAT));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 0, 3, LATHE_MAX_RANK));
  LATHE_RETURN_IF_ERROR(per_channel(ctx, 1, 2));
  same_as_x(ctx);
  return NULL;
}

lathe_status_t lathe_infer_group_norm(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_FLOAT));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 0, 2, LATHE_MAX_RANK));
  LATHE_RETURN_IF_ERROR(per_channel(ctx, 1, 2));
  int64_t groups = lathe_op_attr_int(ctx->op, "num_groups");
  lathe_dim_t c = lathe_infer_operand_type(ctx, 0)->dims[1];
  if (groups < 1) return LATHE_INFER_ERROR("num_groups must be >= 1, got %" PRId64, groups);
  if (lathe_dim_is_static(c) && c.size % groups != 0)
    return LATHE_INFER_ERROR("num_groups %" PRId64 " does not divide the %" PRId64 " channels",
                             groups, c.size);
  same_as_x(ctx);
  return NULL;
}

/* ONNX TensorProto dtype numbers allowed for stash_type. */
static lathe_dtype_t stash_dtype(int64_t t) {
  switch (t) {
  case 1: return LATHE_DTYPE_F32;
  case 10: return LATHE_DTYPE_F16;
  case 11: return LATHE_DTYPE_F64;
  case 16: return LATHE_DTYPE_BF16;
  default: return LATHE_DTYPE_INVALID;
  }
}

/* layer_norm and rms_norm: normalize dims [axis, rank). */
static lathe_status_t trailing_norm(lathe_infer_ctx_t *ctx, uint32_t num_params) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_FLOAT));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  uint32_t axis;
  LATHE_RETURN_IF_ERROR(lathe_normalize_axis(lathe_op_attr_int(ctx->op, "axis"), x->rank, &axis));
  lathe_type_t normalized = {x->dtype, x->rank - axis, x->dims + axis};
  for (uint32_t i = 1; i <= num_params; ++i) {
    if (!lathe_infer_has_operand(ctx, i)) continue;
    LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, i, LATHE_DTC_FLOAT));
    LATHE_RETURN_IF_ERROR(lathe_infer_unidirectional(&normalized, lathe_infer_operand_type(ctx, i), i));
  }
  lathe_dtype_t stash = stash_dtype(lathe_op_attr_int(ctx->op, "stash_type"));
  if (!stash)
    return LATHE_INFER_ERROR("stash_type %" PRId64 " is not a float dtype (1, 10, 11 or 16)",
                             lathe_op_attr_int(ctx->op, "stash_type"));
  same_as_x(ctx);
  lathe_dim_t stat[LATHE_MAX_RANK];
  for (uint32_t i = 0; i < x->rank; ++i) stat[i] = i < axis ? x->dims[i] : lathe_dim_static(1);
  lathe_infer_set_result(ctx, 1, stash, x->rank, stat);
  lathe_infer_set_result(ctx, 2, stash, x->rank, stat);
  return NULL;
}

lathe_status_t lathe_infer_layer_norm(lathe_infer_ctx_t *ctx) { return trailing_norm(ctx, 2); }
lathe_status_t lathe_infer_rms_norm(lathe_infer_ctx_t *ctx) { return trailing_norm(ctx, 1); }

lathe_status_t lathe_infer_lrn(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_FLOAT));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 0, 3, LATHE_MAX_RANK));
  same_as_x(ctx);
  return NULL;
}

lathe_status_t lathe_infer_mvn(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_FLOAT));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  uint32_t count, mask;
  if (lathe_op_attr_ints(ctx->op, "axes", NULL) == 0 && x->rank < 4)
    return LATHE_INFER_ERROR("the default axes [0, 2, 3] need rank >= 4, got %u", x->rank);
  LATHE_RETURN_IF_ERROR(lathe_infer_axes_attr(ctx->op, "axes", x->rank, &count, &mask));
  same_as_x(ctx);
  return NULL;
}

lathe_status_t lathe_infer_softmax(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_FLOAT));
  uint32_t axis;
  LATHE_RETURN_IF_ERROR(lathe_normalize_axis(lathe_op_attr_int(ctx->op, "axis"),
                                             lathe_infer_operand_type(ctx, 0)->rank, &axis));
  same_as_x(ctx);
  return NULL;
}

lathe_status_t lathe_verify_norm(const lathe_op_t *op) {
  double eps = lathe_op_attr_float(op, "epsilon");
  if (!(eps >= 0.0)) return LATHE_INFER_ERROR("attribute 'epsilon' must be >= 0, got %g", eps);
  return NULL;
}

lathe_status_t lathe_verify_lp_normalization(const lathe_op_t *op) {
  int64_t p = lathe_op_attr_int(op, "p");
  if (p != 1 && p != 2) return LATHE_INFER_ERROR("attribute 'p' must be 1 or 2, got %" PRId64, p);
  return NULL;
}

lathe_status_t lathe_verify_lrn(const lathe_op_t *op) {
  int64_t size = lathe_op_attr_int(op, "size");
  if (size < 1) return LATHE_INFER_ERROR("attribute 'size' must be >= 1, got %" PRId64, size);
  return NULL;
}
