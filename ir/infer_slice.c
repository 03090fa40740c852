/* Inference for ops that cut or grow dims by index arithmetic: slice, pad,
 * and shape / size / iota / eye_like (whose results describe the operand's
 * shape).
 *
 * Slice follows ONNX: negative starts/ends count from the end, values out of
 * range are clamped, steps may be negative. On a symbolic dim only "the whole
 * dim" (start 0, end past any size, step 1; or its reverse) keeps the symbol;
 * ends at or above INT32_MAX (what exporters write for "to the end") count as
 * past any size.
 */
#include <inttypes.h>

#include "ir/infer.h"

static int64_t clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Elements selected from a dim of static size d. */
static int64_t slice_count(int64_t d, int64_t start, int64_t end, int64_t step) {
  if (start < 0) start += d;
  if (end < 0) end += d;
  if (step > 0) {
    start = clamp(start, 0, d);
    end = clamp(end, 0, d);
    return end > start ? (end - start - 1) / step + 1 : 0;
  }
  start = clamp(start, 0, d - 1);
  end = clamp(end, -1, d - 1);
  return start > end ? (start - end - 1) / -step + 1 : 0;
}

static lathe_dim_t slice_dim(lathe_dim_t d, int64_t start, int64_t end, int64_t step) {
  if (lathe_dim_is_static(d)) return lathe_dim_static(slice_count(d.size, start, end, step));
  bool whole = step == 1 ? start == 0 && end >= INT32_MAX
                         : step == -1 && (start == -1 || start >= INT32_MAX) && end <= INT32_MIN;
  return whole ? d : lathe_dim_unknown();
}

lathe_status_t lathe_infer_slice(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  const int64_t *starts, *ends, *axes, *steps;
  size_t n = lathe_op_attr_ints(ctx->op, "starts", &starts);
  size_t n_ends = lathe_op_attr_ints(ctx->op, "ends", &ends);
  size_t n_axes = lathe_op_attr_ints(ctx->op, "axes", &axes);
  size_t n_steps = lathe_op_attr_ints(ctx->op, "steps", &steps);
  if (n_ends != n) return LATHE_INFER_ERROR("starts has %zu entries but ends has %zu", n, n_ends);
  if (n_axes && n_axes != n)
    return LATHE_INFER_ERROR("starts has %zu entries but axes has %zu", n, n_axes);
  if (n_steps && n_steps != n)
    return LATHE_INFER_ERROR("starts has %zu entries but steps has %zu", n, n_steps);
  uint32_t norm[LATHE_MAX_RANK];
  if (n_axes) {
    LATHE_RETURN_IF_ERROR_CTX(lathe_normalize_axes(axes, n, t->rank, norm), "attribute 'axes'");
  } else {
    if (n > t->rank)
      return LATHE_INFER_ERROR("starts has %zu entries but the operand has rank %u", n, t->rank);
    for (uint32_t i = 0; i < n; ++i) norm[i] = i;
  }
  lathe_dim_t dims[LATHE_MAX_RANK];
  for (uint32_t i = 0; i < t->rank; ++i) dims[i] = t->dims[i];
  for (size_t i = 0; i < n; ++i) {
    int64_t step = n_steps ? steps[i] : 1;
    if (step == 0) return LATHE_INFER_ERROR("steps[%zu] is 0", i);
    if (step == INT64_MIN) return LATHE_INFER_ERROR("steps[%zu] is out of range", i);
    dims[norm[i]] = slice_dim(t->dims[norm[i]], starts[i], ends[i], step);
  }
  lathe_infer_set_result(ctx, 0, t->dtype, t->rank, dims);
  return NULL;
}

lathe_status_t lathe_infer_pad(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  const int64_t *pads, *axes;
  size_t n_pads = lathe_op_attr_ints(ctx->op, "pads", &pads);
  size_t n_axes = lathe_op_attr_ints(ctx->op, "axes", &axes);
  uint32_t norm[LATHE_MAX_RANK], n = t->rank;
  if (n_axes) {
    LATHE_RETURN_IF_ERROR_CTX(lathe_normalize_axes(axes, n_axes, t->rank, norm), "attribute 'axes'");
    n = (uint32_t)n_axes;
  } else {
    for (uint32_t i = 0; i < t->rank; ++i) norm[i] = i;
  }
  if (n_pads != 2 * (size_t)n)
    return LATHE_INFER_ERROR("pads has %zu entries, expected %u (2 per padded axis)", n_pads, 2 * n);
  if (lathe_infer_has_operand(ctx, 1)) {
    LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 1));
    LATHE_RETURN_IF_ERROR(lathe_infer_require_scalar(ctx, 1));
  }
  lathe_dim_t dims[LATHE_MAX_RANK];
  for (uint32_t i = 0; i < t->rank; ++i) dims[i] = t->dims[i];
  for (uint32_t i = 0; i < n; ++i) {
    lathe_dim_t d = t->dims[norm[i]];
    int64_t grow;
    if (!lathe_checked_add_i64(pads[i], pads[i + n], &grow))
      return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "pads overflow int64");
    if (!lathe_dim_is_static(d)) {
      dims[norm[i]] = grow == 0 && pads[i] == 0 ? d : lathe_dim_unknown();
      continue;
    }
    int64_t size;
    if (!lathe_checked_add_i64(d.size, grow, &size))
      return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "padded size overflows int64");
    if (size < 0)
      return LATHE_INFER_ERROR("pads crop dim %u of size %" PRId64 " to %" PRId64, norm[i], d.size,
                               size);
    dims[norm[i]] = lathe_dim_static(size);
  }
  lathe_infer_set_result(ctx, 0, t->dtype, t->rank, dims);
  return NULL;
}

lathe_status_t lathe_verify_pad(const lathe_op_t *op) {
  return lathe_infer_check_enum(op, "mode", "constant|reflect|edge|wrap");
}

lathe_status_t lathe_infer_shape(lathe_infer_ctx_t *ctx) {
  int64_t r = lathe_infer_operand_type(ctx, 0)->rank;
  int64_t start = lathe_op_attr_int(ctx->op, "start"), end = lathe_op_attr_int(ctx->op, "end");
  if (start < 0) start = start < -r ? 0 : start + r;
  if (end < 0) end = end < -r ? 0 : end + r;
  start = clamp(start, 0, r);
  end = clamp(end, 0, r);
  lathe_dim_t len = lathe_dim_static(end > start ? end - start : 0);
  lathe_infer_set_result(ctx, 0, LATHE_DTYPE_I64, 1, &len);
  return NULL;
}

lathe_status_t lathe_infer_size(lathe_infer_ctx_t *ctx) {
  lathe_infer_set_result(ctx, 0, LATHE_DTYPE_I64, 0, NULL);
  return NULL;
}

/* iota's length is the operand's dim itself, so a symbolic `seq` survives. */
lathe_status_t lathe_infer_iota(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  uint32_t axis;
  LATHE_RETURN_IF_ERROR(lathe_normalize_axis(lathe_op_attr_int(ctx->op, "axis"), t->rank, &axis));
  lathe_infer_set_result(ctx, 0, LATHE_DTYPE_I64, 1, &t->dims[axis]);
  return NULL;
}

lathe_status_t lathe_infer_eye_like(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 0, 2, 2));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  lathe_dtype_t dtype = lathe_op_attr_dtype(ctx->op, "dtype");
  lathe_infer_set_result(ctx, 0, dtype == LATHE_DTYPE_INVALID ? x->dtype : dtype, 2, x->dims);
  return NULL;
}
