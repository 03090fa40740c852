/* Inference for the losses: negative_log_likelihood_loss and
 * softmax_cross_entropy_loss (ONNX's NegativeLogLikelihoodLoss and
 * SoftmaxCrossEntropyLoss, which share their operands and attributes).
 *
 * x is [N, C, d...] (floats), target [N, d...] (class indices), weight an
 * optional [C] of x's dtype. The loss is [N, d...] with reduction "none",
 * else a scalar; softmax_cross_entropy_loss's optional second result,
 * log_prob, has x's type.
 */
#include <string.h>

#include "ir/infer.h"

lathe_status_t lathe_infer_loss(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_FLOAT));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 0, 2, LATHE_MAX_RANK));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_index_dtype(ctx, 1));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0), *t = lathe_infer_operand_type(ctx, 1);
  if (t->rank + 1 != x->rank)
    return LATHE_INFER_ERROR("target must have rank %u (x's rank - 1), got %u", x->rank - 1,
                             t->rank);
  lathe_dim_t dims[LATHE_MAX_RANK];
  for (uint32_t d = 0; d < t->rank; ++d) {
    /* target's dim d is x's dim d, skipping the class dim 1 */
    if (!lathe_dim_merge(t->dims[d], x->dims[d ? d + 1 : 0], &dims[d]))
      return LATHE_INFER_ERROR("target's dim %u differs from x's dim %u", d, d ? d + 1 : 0);
  }
  if (lathe_infer_has_operand(ctx, 2)) {
    LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 2));
    LATHE_RETURN_IF_ERROR(lathe_infer_require_vector(ctx, 2, x->dims[1]));
  }
  bool none = !strcmp(lathe_op_attr_string(ctx->op, "reduction"), "none");
  lathe_infer_set_result(ctx, 0, x->dtype, none ? t->rank : 0, dims);
  if (ctx->num_results > 1) lathe_infer_set_result(ctx, 1, x->dtype, x->rank, x->dims);
  return NULL;
}

lathe_status_t lathe_verify_loss(const lathe_op_t *op) {
  return lathe_infer_check_enum(op, "reduction", "none|sum|mean");
}
