/* Inference for ops driven by index tensors or by an axis walk: gathers and
 * scatters, one_hot, top_k, trilu, cum_sum, and the ops whose result size
 * depends on data (range, nonzero, unique: those dims are unknown, `?`).
 */
#include <inttypes.h>
#include <string.h>

#include "ir/infer.h"

static lathe_status_t too_big(size_t rank) {
  return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "result rank %zu exceeds the limit of %d",
                           rank, LATHE_MAX_RANK);
}

lathe_status_t lathe_infer_gather(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_index_dtype(ctx, 1));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0), *idx = lathe_infer_operand_type(ctx, 1);
  uint32_t axis;
  LATHE_RETURN_IF_ERROR(lathe_normalize_axis(lathe_op_attr_int(ctx->op, "axis"), x->rank, &axis));
  size_t rank = (size_t)x->rank - 1 + idx->rank;
  if (rank > LATHE_MAX_RANK) return too_big(rank);
  lathe_dim_t dims[LATHE_MAX_RANK];
  uint32_t r = 0;
  for (uint32_t i = 0; i < axis; ++i) dims[r++] = x->dims[i];
  for (uint32_t i = 0; i < idx->rank; ++i) dims[r++] = idx->dims[i];
  for (uint32_t i = axis + 1; i < x->rank; ++i) dims[r++] = x->dims[i];
  lathe_infer_set_result(ctx, 0, x->dtype, r, dims);
  return NULL;
}

lathe_status_t lathe_infer_gather_elements(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_index_dtype(ctx, 1));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0), *idx = lathe_infer_operand_type(ctx, 1);
  uint32_t axis;
  LATHE_RETURN_IF_ERROR(lathe_normalize_axis(lathe_op_attr_int(ctx->op, "axis"), x->rank, &axis));
  if (idx->rank != x->rank)
    return LATHE_INFER_ERROR("indices have rank %u but data has rank %u", idx->rank, x->rank);
  lathe_infer_set_result(ctx, 0, x->dtype, idx->rank, idx->dims);
  return NULL;
}

/* Checks gather_nd / scatter_nd indices [b..., q-1 dims..., k] against data;
 * writes k, the static length of an index tuple. */
static lathe_status_t nd_indices(const lathe_type_t *x, const lathe_type_t *idx, int64_t batch,
                                 int64_t *out_k) {
  if (idx->rank < 1) return LATHE_INFER_ERROR("indices must have rank >= 1");
  if (batch < 0 || batch >= (int64_t)idx->rank || batch >= (int64_t)x->rank)
    return LATHE_INFER_ERROR("batch_dims %" PRId64 " must be below both ranks (%u and %u)", batch,
                             x->rank, idx->rank);
  char a[32], b[32];
  for (int64_t i = 0; i < batch; ++i)
    if (!lathe_dim_compatible(x->dims[i], idx->dims[i]))
      return LATHE_INFER_ERROR("batch dim %" PRId64 " differs: %s vs %s", i,
                               lathe_dim_str(x->dims[i], a, sizeof a),
                               lathe_dim_str(idx->dims[i], b, sizeof b));
  lathe_dim_t last = idx->dims[idx->rank - 1];
  if (!lathe_dim_is_static(last))
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED,
                             "the last dim of indices must be static (it sets the result rank)");
  if (last.size < 1 || last.size > (int64_t)x->rank - batch)
    return LATHE_INFER_ERROR("index tuples have %" PRId64 " entries, must be 1 to %" PRId64,
                             last.size, (int64_t)x->rank - batch);
  *out_k = last.size;
  return NULL;
}

/* indices[:-1] followed by data[batch + k:]. */
static lathe_status_t nd_result_dims(const lathe_type_t *x, const lathe_type_t *idx, int64_t batch,
                                     int64_t k, uint32_t *out_rank, lathe_dim_t *out_dims) {
  size_t rank = idx->rank - 1 + (size_t)(x->rank - batch - k);
  if (rank > LATHE_MAX_RANK) return too_big(rank);
  uint32_t r = 0;
  for (uint32_t i = 0; i + 1 < idx->rank; ++i) out_dims[r++] = idx->dims[i];
  for (uint32_t i = (uint32_t)(batch + k); i < x->rank; ++i) out_dims[r++] = x->dims[i];
  *out_rank = r;
  return NULL;
}

lathe_status_t lathe_infer_gather_nd(lathe_infer_ctx_t *ctx) {
  if (lathe_infer_operand_type(ctx, 1)->dtype != LATHE_DTYPE_I64)
    return LATHE_INFER_ERROR("operand 1 (indices) must be i64, got %s",
                             lathe_dtype_name(lathe_infer_operand_type(ctx, 1)->dtype));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0), *idx = lathe_infer_operand_type(ctx, 1);
  int64_t batch = lathe_op_attr_int(ctx->op, "batch_dims"), k;
  LATHE_RETURN_IF_ERROR(nd_indices(x, idx, batch, &k));
  lathe_dim_t dims[LATHE_MAX_RANK];
  uint32_t rank;
  LATHE_RETURN_IF_ERROR(nd_result_dims(x, idx, batch, k, &rank, dims));
  lathe_infer_set_result(ctx, 0, x->dtype, rank, dims);
  return NULL;
}

/* Error unless `t` (operand i) is compatible with rank/dims. */
static lathe_status_t require_shape(const lathe_type_t *t, uint32_t i, uint32_t rank,
                                    const lathe_dim_t *dims, const char *what) {
  char a[32], b[32];
  if (t->rank != rank)
    return LATHE_INFER_ERROR("operand %u has rank %u, expected %u (%s)", i, t->rank, rank, what);
  for (uint32_t d = 0; d < rank; ++d)
    if (!lathe_dim_compatible(t->dims[d], dims[d]))
      return LATHE_INFER_ERROR("operand %u has dim %u of size %s, expected %s (%s)", i, d,
                               lathe_dim_str(t->dims[d], a, sizeof a),
                               lathe_dim_str(dims[d], b, sizeof b), what);
  return NULL;
}

lathe_status_t lathe_infer_scatter_elements(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_index_dtype(ctx, 1));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 2));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0), *idx = lathe_infer_operand_type(ctx, 1);
  uint32_t axis;
  LATHE_RETURN_IF_ERROR(lathe_normalize_axis(lathe_op_attr_int(ctx->op, "axis"), x->rank, &axis));
  if (idx->rank != x->rank)
    return LATHE_INFER_ERROR("indices have rank %u but data has rank %u", idx->rank, x->rank);
  LATHE_RETURN_IF_ERROR(require_shape(lathe_infer_operand_type(ctx, 2), 2, idx->rank, idx->dims,
                                      "the shape of indices"));
  lathe_infer_set_result(ctx, 0, x->dtype, x->rank, x->dims);
  return NULL;
}

lathe_status_t lathe_infer_scatter_nd(lathe_infer_ctx_t *ctx) {
  if (lathe_infer_operand_type(ctx, 1)->dtype != LATHE_DTYPE_I64)
    return LATHE_INFER_ERROR("operand 1 (indices) must be i64, got %s",
                             lathe_dtype_name(lathe_infer_operand_type(ctx, 1)->dtype));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 2));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0), *idx = lathe_infer_operand_type(ctx, 1);
  int64_t k;
  LATHE_RETURN_IF_ERROR(nd_indices(x, idx, 0, &k));
  lathe_dim_t dims[LATHE_MAX_RANK];
  uint32_t rank;
  LATHE_RETURN_IF_ERROR(nd_result_dims(x, idx, 0, k, &rank, dims));
  LATHE_RETURN_IF_ERROR(require_shape(lathe_infer_operand_type(ctx, 2), 2, rank, dims,
                                      "indices[:-1] + data[k:]"));
  lathe_infer_set_result(ctx, 0, x->dtype, x->rank, x->dims);
  return NULL;
}

lathe_status_t lathe_verify_scatter(const lathe_op_t *op) {
  return lathe_infer_check_enum(op, "reduction", "none|add|mul|max|min");
}

lathe_status_t lathe_infer_one_hot(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_NUMERIC));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_vector(ctx, 1, lathe_dim_static(2)));
  const lathe_type_t *idx = lathe_infer_operand_type(ctx, 0);
  int64_t depth = lathe_op_attr_int(ctx->op, "depth");
  if (depth < 1) return LATHE_INFER_ERROR("depth must be >= 1, got %" PRId64, depth);
  if (idx->rank + 1 > LATHE_MAX_RANK) return too_big(idx->rank + 1);
  uint32_t axis;
  LATHE_RETURN_IF_ERROR(lathe_normalize_axis(lathe_op_attr_int(ctx->op, "axis"), idx->rank + 1, &axis));
  lathe_dim_t dims[LATHE_MAX_RANK];
  for (uint32_t i = 0, j = 0; i <= idx->rank; ++i)
    dims[i] = i == axis ? lathe_dim_static(depth) : idx->dims[j++];
  lathe_infer_set_result(ctx, 0, lathe_infer_operand_type(ctx, 1)->dtype, idx->rank + 1, dims);
  return NULL;
}

lathe_status_t lathe_infer_top_k(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_NUMERIC));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  uint32_t axis;
  LATHE_RETURN_IF_ERROR(lathe_normalize_axis(lathe_op_attr_int(ctx->op, "axis"), x->rank, &axis));
  int64_t k = lathe_op_attr_int(ctx->op, "k");
  if (k < 0) return LATHE_INFER_ERROR("k must be >= 0, got %" PRId64, k);
  if (lathe_dim_is_static(x->dims[axis]) && x->dims[axis].size < k)
    return LATHE_INFER_ERROR("k = %" PRId64 " exceeds dim %u of size %" PRId64, k, axis,
                             x->dims[axis].size);
  lathe_dim_t dims[LATHE_MAX_RANK];
  memcpy(dims, x->dims, x->rank * sizeof *dims);
  dims[axis] = lathe_dim_static(k);
  lathe_infer_set_result(ctx, 0, x->dtype, x->rank, dims);
  lathe_infer_set_result(ctx, 1, LATHE_DTYPE_I64, x->rank, dims);
  return NULL;
}

lathe_status_t lathe_infer_trilu(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 0, 2, LATHE_MAX_RANK));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  lathe_infer_set_result(ctx, 0, x->dtype, x->rank, x->dims);
  return NULL;
}

lathe_status_t lathe_infer_cum_sum(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_NUMERIC));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  uint32_t axis;
  LATHE_RETURN_IF_ERROR(lathe_normalize_axis(lathe_op_attr_int(ctx->op, "axis"), x->rank, &axis));
  lathe_infer_set_result(ctx, 0, x->dtype, x->rank, x->dims);
  return NULL;
}

lathe_status_t lathe_infer_range(lathe_infer_ctx_t *ctx) {
  for (uint32_t i = 0; i < 3; ++i) {
    LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, i, LATHE_DTC_NUMERIC));
    LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, i));
    if (lathe_infer_operand_type(ctx, i)->rank != 0)
      return LATHE_INFER_ERROR("operand %u must be a scalar (rank 0), got rank %u", i,
                               lathe_infer_operand_type(ctx, i)->rank);
  }
  lathe_dim_t len = lathe_dim_unknown();
  lathe_infer_set_result(ctx, 0, lathe_infer_operand_type(ctx, 0)->dtype, 1, &len);
  return NULL;
}

lathe_status_t lathe_infer_nonzero(lathe_infer_ctx_t *ctx) {
  lathe_dim_t dims[2] = {lathe_dim_static(lathe_infer_operand_type(ctx, 0)->rank),
                         lathe_dim_unknown()};
  lathe_infer_set_result(ctx, 0, LATHE_DTYPE_I64, 2, dims);
  return NULL;
}

lathe_status_t lathe_infer_unique(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  lathe_dim_t unknown = lathe_dim_unknown(), inverse;
  if (lathe_op_find_attr(ctx->op, "axis")) {
    uint32_t axis;
    LATHE_RETURN_IF_ERROR(lathe_normalize_axis(lathe_op_attr_int(ctx->op, "axis"), x->rank, &axis));
    lathe_dim_t dims[LATHE_MAX_RANK];
    memcpy(dims, x->dims, x->rank * sizeof *dims);
    dims[axis] = unknown;
    inverse = x->dims[axis];
    lathe_infer_set_result(ctx, 0, x->dtype, x->rank, dims);
  } else {
    LATHE_RETURN_IF_ERROR(lathe_dims_product(x->dims, x->rank, &inverse));
    lathe_infer_set_result(ctx, 0, x->dtype, 1, &unknown);
  }
  lathe_infer_set_result(ctx, 1, LATHE_DTYPE_I64, 1, &unknown);
  lathe_infer_set_result(ctx, 2, LATHE_DTYPE_I64, 1, &inverse);
  lathe_infer_set_result(ctx, 3, LATHE_DTYPE_I64, 1, &unknown);
  return NULL;
}
