/* Inference for ops that rearrange dims without looking at values:
 * transpose, reshape, flatten, squeeze/unsqueeze, concat, split, expand and
 * tile. Symbolic dims pass through where the rule keeps a dim as is; where a
 * new dim would be an expression over symbols it becomes unknown.
 */
#include <inttypes.h>
#include <string.h>

#include "ir/infer.h"

lathe_status_t lathe_infer_transpose(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  const int64_t *perm;
  size_t n = lathe_op_attr_ints(ctx->op, "perm", &perm);
  lathe_dim_t dims[LATHE_MAX_RANK];
  if (n == 0) {
    for (uint32_t i = 0; i < t->rank; ++i) dims[i] = t->dims[t->rank - 1 - i];
  } else {
    if (n != t->rank)
      return LATHE_INFER_ERROR("perm has %zu entries but the operand has rank %u", n, t->rank);
    bool seen[LATHE_MAX_RANK] = {0};
    for (size_t i = 0; i < n; ++i) {
      if (perm[i] < 0 || perm[i] >= (int64_t)t->rank || seen[perm[i]])
        return LATHE_INFER_ERROR("perm is not a permutation of 0..%u", t->rank - 1);
      seen[perm[i]] = true;
      dims[i] = t->dims[perm[i]];
    }
  }
  lathe_infer_set_result(ctx, 0, t->dtype, t->rank, dims);
  return NULL;
}

/* ONNX Reshape semantics: 0 copies the input dim (unless allowzero), one -1 is
 * solved from the element count. With symbolic input dims the -1 can only be
 * solved when the other dims cancel exactly; otherwise it becomes unknown. */
lathe_status_t lathe_infer_reshape(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  const int64_t *shape;
  size_t n = lathe_op_attr_ints(ctx->op, "shape", &shape);
  bool allowzero = lathe_op_attr_int(ctx->op, "allowzero") != 0;
  if (n > LATHE_MAX_RANK)
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "shape has rank %zu, above the limit %d", n,
                             LATHE_MAX_RANK);
  lathe_dim_t dims[LATHE_MAX_RANK];
  int infer_at = -1;
  for (size_t i = 0; i < n; ++i) {
    if (shape[i] == -1) {
      if (infer_at >= 0)
        return lathe_status_make(LATHE_STATUS_VERIFY_ERROR, "shape has more than one -1");
      infer_at = (int)i;
      dims[i] = lathe_dim_unknown();
    } else if (shape[i] == 0 && !allowzero) {
      if (i >= t->rank)
        return lathe_status_make(LATHE_STATUS_VERIFY_ERROR,
                                 "shape[%zu] is 0 (copy) but the input has rank %u", i, t->rank);
      dims[i] = t->dims[i];
    } else if (shape[i] < 0) {
      return lathe_status_make(LATHE_STATUS_VERIFY_ERROR, "shape[%zu] is %" PRId64, i, shape[i]);
    } else {
      dims[i] = lathe_dim_static(shape[i]);
    }
  }
  /* Cancel symbolic dims that appear on both sides; multiply the static rest. */
  const char *in_syms[LATHE_MAX_RANK];
  uint32_t n_in_syms = 0;
  int64_t in_static = 1, out_static = 1;
  bool in_unknown = false, out_unmatched_sym = false;
  for (uint32_t i = 0; i < t->rank; ++i) {
    lathe_dim_t d = t->dims[i];
    if (d.sym) in_syms[n_in_syms++] = d.sym;
    else if (d.size < 0) in_unknown = true;
    else if (!lathe_checked_mul_i64(in_static, d.size, &in_static))
      return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "input element count overflows int64");
  }
  for (size_t i = 0; i < n; ++i) {
    if ((int)i == infer_at) continue;
    lathe_dim_t d = dims[i];
    if (d.sym) {
      bool found = false;
      for (uint32_t j = 0; j < n_in_syms && !found; ++j)
        if (in_syms[j] == d.sym) {
          in_syms[j] = in_syms[--n_in_syms];
          found = true;
        }
      if (!found) out_unmatched_sym = true;
    } else if (d.size < 0) {
      out_unmatched_sym = true;
    } else if (!lathe_checked_mul_i64(out_static, d.size, &out_static)) {
      return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "shape element count overflows int64");
    }
  }
  bool fully_known = !in_unknown && !out_unmatched_sym;
  if (infer_at >= 0) {
    if (fully_known && n_in_syms == 0) {
      if (out_static == 0 || in_static % out_static != 0)
        return lathe_status_make(LATHE_STATUS_VERIFY_ERROR,
                                 "cannot reshape %" PRId64 " elements into a shape with -1",
                                 in_static);
      dims[infer_at] = lathe_dim_static(in_static / out_static);
    } else if (fully_known && n_in_syms == 1 && out_static == in_static) {
      dims[infer_at] = lathe_dim_symbolic(in_syms[0]);
    }
  } else if (fully_known && n_in_syms == 0 && in_static != out_static) {
    return lathe_status_make(LATHE_STATUS_VERIFY_ERROR,
                             "cannot reshape %" PRId64 " elements into %" PRId64, in_static,
                             out_static);
  }
  lathe_infer_set_result(ctx, 0, t->dtype, (uint32_t)n, dims);
  return NULL;
}

lathe_status_t lathe_verify_reshape(const lathe_op_t *op) {
  LATHE_RETURN_IF_ERROR(lathe_verify_flags(op));
  if (!lathe_op_attr_int(op, "allowzero")) return NULL;
  const int64_t *shape;
  size_t n = lathe_op_attr_ints(op, "shape", &shape);
  bool zero = false, infer = false;
  for (size_t i = 0; i < n; ++i) {
    zero |= shape[i] == 0;
    infer |= shape[i] == -1;
  }
  if (zero && infer) return LATHE_INFER_ERROR("shape has both 0 and -1 while allowzero = 1");
  return NULL;
}

lathe_status_t lathe_infer_flatten(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  int64_t axis = lathe_op_attr_int(ctx->op, "axis"), r = t->rank;
  if (axis < -r || axis > r)
    return LATHE_INFER_ERROR("axis %" PRId64 " is out of range for rank %u", axis, t->rank);
  uint32_t a = (uint32_t)(axis < 0 ? axis + r : axis);
  lathe_dim_t dims[2];
  LATHE_RETURN_IF_ERROR(lathe_dims_product(t->dims, a, &dims[0]));
  LATHE_RETURN_IF_ERROR(lathe_dims_product(t->dims + a, t->rank - a, &dims[1]));
  lathe_infer_set_result(ctx, 0, t->dtype, 2, dims);
  return NULL;
}

lathe_status_t lathe_infer_squeeze(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  uint32_t count, mask;
  LATHE_RETURN_IF_ERROR(lathe_infer_axes_attr(ctx->op, "axes", t->rank, &count, &mask));
  char b[32];
  for (uint32_t i = 0; i < t->rank; ++i) {
    lathe_dim_t d = t->dims[i];
    bool one = lathe_dim_is_static(d) && d.size == 1;
    if (count == 0) {
      /* Which dims go depends on sizes we would have to guess. */
      if (!lathe_dim_is_static(d))
        return lathe_status_make(LATHE_STATUS_UNSUPPORTED,
                                 "squeeze without axes needs static dims; dim %u is %s", i,
                                 lathe_dim_str(d, b, sizeof b));
      if (one) mask |= 1u << i;
    } else if ((mask & (1u << i)) && lathe_dim_is_static(d) && !one) {
      return LATHE_INFER_ERROR("cannot squeeze dim %u of size %" PRId64, i, d.size);
    }
  }
  lathe_dim_t dims[LATHE_MAX_RANK];
  uint32_t r = 0;
  for (uint32_t i = 0; i < t->rank; ++i)
    if (!(mask & (1u << i))) dims[r++] = t->dims[i];
  lathe_infer_set_result(ctx, 0, t->dtype, r, dims);
  return NULL;
}

lathe_status_t lathe_infer_unsqueeze(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  const int64_t *axes;
  size_t n = lathe_op_attr_ints(ctx->op, "axes", &axes);
  if (n == 0) return LATHE_INFER_ERROR("axes is empty");
  if (t->rank + n > LATHE_MAX_RANK)
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "result rank %zu exceeds the limit of %d",
                             t->rank + n, LATHE_MAX_RANK);
  uint32_t rank = t->rank + (uint32_t)n, norm[LATHE_MAX_RANK], mask = 0;
  LATHE_RETURN_IF_ERROR_CTX(lathe_normalize_axes(axes, n, rank, norm), "attribute 'axes'");
  for (size_t i = 0; i < n; ++i) mask |= 1u << norm[i];
  lathe_dim_t dims[LATHE_MAX_RANK];
  for (uint32_t i = 0, j = 0; i < rank; ++i)
    dims[i] = (mask & (1u << i)) ? lathe_dim_static(1) : t->dims[j++];
  lathe_infer_set_result(ctx, 0, t->dtype, rank, dims);
  return NULL;
}

lathe_status_t lathe_infer_concat(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t0 = lathe_infer_operand_type(ctx, 0);
  uint32_t axis;
  LATHE_RETURN_IF_ERROR(lathe_normalize_axis(lathe_op_attr_int(ctx->op, "axis"), t0->rank, &axis));
  lathe_dim_t dims[LATHE_MAX_RANK];
  memcpy(dims, t0->dims, t0->rank * sizeof *dims);
  char a[32], b[32];
  for (uint32_t k = 1; k < ctx->op->num_operands; ++k) {
    if (!lathe_infer_has_operand(ctx, k)) return LATHE_INFER_ERROR("operand %u is missing", k);
    LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, k));
    const lathe_type_t *t = lathe_infer_operand_type(ctx, k);
    if (t->rank != t0->rank)
      return LATHE_INFER_ERROR("operand %u has rank %u but operand 0 has rank %u", k, t->rank,
                               t0->rank);
    for (uint32_t i = 0; i < t->rank; ++i) {
      if (i == axis) {
        LATHE_RETURN_IF_ERROR(lathe_dim_add(dims[i], t->dims[i], &dims[i]));
      } else if (!lathe_dim_merge(dims[i], t->dims[i], &dims[i])) {
        return LATHE_INFER_ERROR("operand %u has dim %u of size %s, expected %s", k, i,
                                 lathe_dim_str(t->dims[i], a, sizeof a),
                                 lathe_dim_str(dims[i], b, sizeof b));
      }
    }
  }
  lathe_infer_set_result(ctx, 0, t0->dtype, t0->rank, dims);
  return NULL;
}

lathe_status_t lathe_infer_split(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  uint32_t axis, n = ctx->num_results;
  LATHE_RETURN_IF_ERROR(lathe_normalize_axis(lathe_op_attr_int(ctx->op, "axis"), t->rank, &axis));
  lathe_dim_t d = t->dims[axis], dims[LATHE_MAX_RANK];
  memcpy(dims, t->dims, t->rank * sizeof *dims);
  const int64_t *split;
  size_t count = lathe_op_attr_ints(ctx->op, "split", &split);
  if (count) {
    if (count != n)
      return LATHE_INFER_ERROR("split has %zu entries but the op has %u results", count, n);
    int64_t sum = 0;
    for (uint32_t i = 0; i < n; ++i) {
      if (split[i] < 0) return LATHE_INFER_ERROR("split[%u] is %" PRId64, i, split[i]);
      if (!lathe_checked_add_i64(sum, split[i], &sum))
        return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "split sum overflows int64");
    }
    if (lathe_dim_is_static(d) && sum != d.size)
      return LATHE_INFER_ERROR("split sums to %" PRId64 " but dim %u has size %" PRId64, sum, axis,
                               d.size);
    for (uint32_t i = 0; i < n; ++i) {
      dims[axis] = lathe_dim_static(split[i]);
      lathe_infer_set_result(ctx, i, t->dtype, t->rank, dims);
    }
    return NULL;
  }
  int64_t chunk = 0, last = 0;
  if (lathe_dim_is_static(d)) {
    chunk = d.size / n + (d.size % n != 0);
    last = d.size - chunk * (n - 1);
    if (last < 0)
      return LATHE_INFER_ERROR("cannot split size %" PRId64 " into %u pieces", d.size, n);
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (lathe_dim_is_static(d)) dims[axis] = lathe_dim_static(i + 1 == n ? last : chunk);
    else dims[axis] = n == 1 ? d : lathe_dim_unknown();
    lathe_infer_set_result(ctx, i, t->dtype, t->rank, dims);
  }
  return NULL;
}

lathe_status_t lathe_infer_expand(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  const int64_t *shape;
  size_t n = lathe_op_attr_ints(ctx->op, "shape", &shape);
  if (n > LATHE_MAX_RANK)
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "shape has rank %zu, above the limit %d", n,
                             LATHE_MAX_RANK);
  lathe_dim_t target[LATHE_MAX_RANK], dims[LATHE_MAX_RANK];
  for (size_t i = 0; i < n; ++i) {
    if (shape[i] < 0) return LATHE_INFER_ERROR("shape[%zu] is %" PRId64, i, shape[i]);
    target[i] = lathe_dim_static(shape[i]);
  }
  uint32_t rank;
  LATHE_RETURN_IF_ERROR(lathe_broadcast_dims(t->rank, t->dims, (uint32_t)n, target, &rank, dims));
  lathe_infer_set_result(ctx, 0, t->dtype, rank, dims);
  return NULL;
}

lathe_status_t lathe_infer_tile(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *t = lathe_infer_operand_type(ctx, 0);
  const int64_t *rep;
  size_t n = lathe_op_attr_ints(ctx->op, "repeats", &rep);
  if (n != t->rank)
    return LATHE_INFER_ERROR("repeats has %zu entries but the operand has rank %u", n, t->rank);
  lathe_dim_t dims[LATHE_MAX_RANK];
  for (uint32_t i = 0; i < t->rank; ++i) {
    if (rep[i] < 0) return LATHE_INFER_ERROR("repeats[%u] is %" PRId64, i, rep[i]);
    lathe_dim_t parts[2] = {t->dims[i], lathe_dim_static(rep[i])};
    LATHE_RETURN_IF_ERROR(lathe_dims_product(parts, 2, &dims[i]));
  }
  lathe_infer_set_result(ctx, 0, t->dtype, t->rank, dims);
  return NULL;
}
