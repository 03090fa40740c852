/* Running inference and the helpers shared by the inference families. */
#include "ir/infer.h"

lathe_status_t lathe_op_infer_types(const lathe_op_t *op, lathe_type_t *out_types) {
  const lathe_op_info_t *info = lathe_op_info(op->kind);
  if (!info->infer) {
    for (uint32_t i = 0; i < op->num_results; ++i) out_types[i] = op->results[i].type;
    return NULL;
  }
  /* Inference reads operand types; a missing required operand must not crash it. */
  for (uint32_t i = 0; i < op->num_operands && (int32_t)i < info->min_operands; ++i)
    if (!op->operands[i].value)
      return lathe_op_error(op, LATHE_STATUS_VERIFY_ERROR, "required operand %u is missing", i);
  lathe_infer_ctx_t ctx = {op, op->graph->module, lathe_module_arena(op->graph->module),
                           op->num_results, out_types};
  for (uint32_t i = 0; i < op->num_results; ++i) out_types[i] = (lathe_type_t){0};
  lathe_status_t st = info->infer(&ctx);
  if (!st) return NULL;
  lathe_status_t located = lathe_op_error(op, lathe_status_code(st), "%s", lathe_status_message(st));
  lathe_status_free(st);
  return located;
}

void lathe_infer_set_result(lathe_infer_ctx_t *ctx, uint32_t i, lathe_dtype_t dtype,
                            uint32_t rank, const lathe_dim_t *dims) {
  ctx->results[i] = lathe_type_make(ctx->arena, dtype, rank, dims);
}

lathe_status_t lathe_infer_require_same_dtype(const lathe_infer_ctx_t *ctx, uint32_t a,
                                              uint32_t b) {
  lathe_dtype_t da = lathe_infer_operand_type(ctx, a)->dtype;
  lathe_dtype_t db = lathe_infer_operand_type(ctx, b)->dtype;
  if (da != db)
    return lathe_status_make(LATHE_STATUS_VERIFY_ERROR,
                             "operands %u and %u have different dtypes (%s vs %s)", a, b,
                             lathe_dtype_name(da), lathe_dtype_name(db));
  return NULL;
}

lathe_status_t lathe_verify_const(const lathe_op_t *op) {
  if (!op->weight) return lathe_status_make(LATHE_STATUS_VERIFY_ERROR, "has no weight");
  uint64_t bytes;
  LATHE_RETURN_IF_ERROR(lathe_type_num_bytes(&op->results[0].type, &bytes));
  if (op->weight->dtype != op->results[0].type.dtype || op->weight->num_bytes != bytes)
    return lathe_status_make(LATHE_STATUS_VERIFY_ERROR,
                             "type needs %llu bytes of %s but the weight holds %llu bytes of %s",
                             (unsigned long long)bytes, lathe_dtype_name(op->results[0].type.dtype),
                             (unsigned long long)op->weight->num_bytes,
                             lathe_dtype_name(op->weight->dtype));
  return NULL;
}
