/* Inference for pooling: windowed pools (max_pool, average_pool, lp_pool)
 * through the sliding-window helper of infer_conv.c, and global pools, which
 * collapse every spatial dim to 1. Input layout [N, C, D1..Dn].
 */
#include <inttypes.h>

#include "ir/infer.h"

lathe_status_t lathe_infer_pool(lathe_infer_ctx_t *ctx) {
  bool is_max = ctx->op->kind == LATHE_OP_MAX_POOL;
  /* max_pool also takes 8-bit integers (quantized models); the others average. */
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, is_max ? LATHE_DTC_NUMERIC : LATHE_DTC_FLOAT));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 0, 3, LATHE_MAX_RANK));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  lathe_window_t win;
  LATHE_RETURN_IF_ERROR(lathe_window_read(ctx->op, x->rank - 2, NULL, &win));
  lathe_dim_t dims[LATHE_MAX_RANK];
  dims[0] = x->dims[0];
  dims[1] = x->dims[1];
  for (uint32_t i = 0; i < win.n; ++i)
    LATHE_RETURN_IF_ERROR(lathe_window_out_dim(&win, i, x->dims[2 + i], &dims[2 + i]));
  lathe_infer_set_result(ctx, 0, x->dtype, x->rank, dims);
  lathe_infer_set_result(ctx, 1, LATHE_DTYPE_I64, x->rank, dims); /* max_pool indices */
  return NULL;
}

lathe_status_t lathe_infer_global_pool(lathe_infer_ctx_t *ctx) {
  bool is_max = ctx->op->kind == LATHE_OP_GLOBAL_MAX_POOL;
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, is_max ? LATHE_DTC_NUMERIC : LATHE_DTC_FLOAT));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 0, 3, LATHE_MAX_RANK));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  lathe_dim_t dims[LATHE_MAX_RANK];
  dims[0] = x->dims[0];
  dims[1] = x->dims[1];
  for (uint32_t i = 2; i < x->rank; ++i) dims[i] = lathe_dim_static(1);
  lathe_infer_set_result(ctx, 0, x->dtype, x->rank, dims);
  return NULL;
}

lathe_status_t lathe_verify_pool(const lathe_op_t *op) {
  if (lathe_op_attr_schema(op->kind, "auto_pad")) LATHE_RETURN_IF_ERROR(lathe_verify_window(op));
  if (lathe_op_attr_schema(op->kind, "p") && lathe_op_attr_int(op, "p") < 1)
    return LATHE_INFER_ERROR("attribute 'p' must be >= 1, got %" PRId64, lathe_op_attr_int(op, "p"));
  return NULL;
}
