/* Inference for matrix products: matmul (numpy semantics), gemm, and the
 * integer / quantized-linear variants whose result dtype differs from their
 * operands' (i32 accumulators, or the output zero point's dtype).
 */
#include <inttypes.h>

#include "ir/infer.h"

/* numpy matmul of a and b: 1-D operands are promoted (and the added dim
 * removed after), leading (batch) dims broadcast. */
static lathe_status_t matmul_dims(const lathe_type_t *a, const lathe_type_t *b, uint32_t *out_rank,
                                  lathe_dim_t *out_dims) {
  if (a->rank == 0 || b->rank == 0)
    return LATHE_INFER_ERROR("operands must have rank >= 1, got %u and %u", a->rank, b->rank);
  lathe_dim_t ak = a->dims[a->rank - 1];
  lathe_dim_t bk = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
  if (!lathe_dim_compatible(ak, bk)) {
    char sa[32], sb[32];
    return LATHE_INFER_ERROR("contraction dims differ: %s vs %s", lathe_dim_str(ak, sa, sizeof sa),
                             lathe_dim_str(bk, sb, sizeof sb));
  }
  uint32_t a_batch = a->rank > 2 ? a->rank - 2 : 0, b_batch = b->rank > 2 ? b->rank - 2 : 0;
  uint32_t rank = 0;
  LATHE_RETURN_IF_ERROR_CTX(
      lathe_broadcast_dims(a_batch, a->dims, b_batch, b->dims, &rank, out_dims), "batch dims");
  if (rank + 2 > LATHE_MAX_RANK)
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "result rank exceeds %d", LATHE_MAX_RANK);
  if (a->rank >= 2) out_dims[rank++] = a->dims[a->rank - 2];
  if (b->rank >= 2) out_dims[rank++] = b->dims[b->rank - 1];
  *out_rank = rank;
  return NULL;
}

static lathe_status_t matmul_result(lathe_infer_ctx_t *ctx, uint32_t a, uint32_t b,
                                    lathe_dtype_t dtype) {
  lathe_dim_t dims[LATHE_MAX_RANK];
  uint32_t rank = 0;
  LATHE_RETURN_IF_ERROR(matmul_dims(lathe_infer_operand_type(ctx, a),
                                    lathe_infer_operand_type(ctx, b), &rank, dims));
  lathe_infer_set_result(ctx, 0, dtype, rank, dims);
  return NULL;
}

lathe_status_t lathe_infer_matmul(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_NUMERIC));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 1));
  return matmul_result(ctx, 0, 1, lathe_infer_operand_type(ctx, 0)->dtype);
}

lathe_status_t lathe_infer_gemm(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_NUMERIC));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 1));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 0, 2, 2));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 1, 2, 2));
  const lathe_type_t *a = lathe_infer_operand_type(ctx, 0), *b = lathe_infer_operand_type(ctx, 1);
  bool ta = lathe_op_attr_int(ctx->op, "trans_a") != 0;
  bool tb = lathe_op_attr_int(ctx->op, "trans_b") != 0;
  lathe_dim_t m = a->dims[ta ? 1 : 0], ak = a->dims[ta ? 0 : 1];
  lathe_dim_t bk = b->dims[tb ? 1 : 0], n = b->dims[tb ? 0 : 1];
  if (!lathe_dim_compatible(ak, bk)) {
    char sa[32], sb[32];
    return LATHE_INFER_ERROR("contraction dims differ: %s vs %s", lathe_dim_str(ak, sa, sizeof sa),
                             lathe_dim_str(bk, sb, sizeof sb));
  }
  lathe_dim_t dims[2] = {m, n};
  if (lathe_infer_has_operand(ctx, 2)) {
    LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 2));
    lathe_type_t mn = {a->dtype, 2, dims};
    LATHE_RETURN_IF_ERROR(lathe_infer_unidirectional(&mn, lathe_infer_operand_type(ctx, 2), 2));
  }
  lathe_infer_set_result(ctx, 0, a->dtype, 2, dims);
  return NULL;
}

lathe_status_t lathe_infer_matmul_integer(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_8bit(ctx, 0));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_8bit(ctx, 1));
  LATHE_RETURN_IF_ERROR(lathe_infer_check_zero_point(ctx, 2, 0));
  LATHE_RETURN_IF_ERROR(lathe_infer_check_zero_point(ctx, 3, 1));
  return matmul_result(ctx, 0, 1, LATHE_DTYPE_I32);
}

/* Operands: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale,
 * y_zero_point. Scales are float scalars or per-axis vectors (not checked
 * further: their length depends on the quantization axis). */
lathe_status_t lathe_infer_qlinear_matmul(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_8bit(ctx, 0));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_8bit(ctx, 3));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_8bit(ctx, 7));
  static const uint32_t scales[] = {1, 4, 6};
  for (size_t i = 0; i < 3; ++i)
    LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, scales[i], LATHE_DTC_FLOAT));
  LATHE_RETURN_IF_ERROR(lathe_infer_check_zero_point(ctx, 2, 0));
  LATHE_RETURN_IF_ERROR(lathe_infer_check_zero_point(ctx, 5, 3));
  return matmul_result(ctx, 0, 3, lathe_infer_operand_type(ctx, 7)->dtype);
}
