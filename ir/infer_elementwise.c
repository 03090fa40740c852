/* Inference for elementwise ops: unary (same type as the operand), broadcasting
 * binary arithmetic, and casts. */
#include "ir/infer.h"

lathe_status_t lathe_infer_same_as_operand0(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  lathe_infer_set_result(ctx, 0, t->dtype, t->rank, t->dims);
  return NULL;
}

lathe_status_t lathe_infer_broadcast(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 1));
  const lathe_type_t *a = lathe_infer_operand_type(ctx, 0);
  const lathe_type_t *b = lathe_infer_operand_type(ctx, 1);
  lathe_dim_t dims[LATHE_MAX_RANK];
  uint32_t rank;
  LATHE_RETURN_IF_ERROR(lathe_broadcast_dims(a->rank, a->dims, b->rank, b->dims, &rank, dims));
  lathe_infer_set_result(ctx, 0, a->dtype, rank, dims);
  return NULL;
}

lathe_status_t lathe_infer_cast(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  lathe_dtype_t to = lathe_op_attr_dtype(ctx->op, "to");
  if (to == LATHE_DTYPE_INVALID)
    return lathe_status_make(LATHE_STATUS_VERIFY_ERROR, "attribute 'to' is missing");
  lathe_infer_set_result(ctx, 0, to, t->rank, t->dims);
  return NULL;
}
