/* Inference for ops that only move data: transpose, reshape. */
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
      return lathe_status_make(LATHE_STATUS_VERIFY_ERROR,
                               "perm has %zu entries but the operand has rank %u", n, t->rank);
    bool seen[LATHE_MAX_RANK] = {0};
    for (size_t i = 0; i < n; ++i) {
      if (perm[i] < 0 || perm[i] >= (int64_t)t->rank || seen[perm[i]])
        return lathe_status_make(LATHE_STATUS_VERIFY_ERROR, "perm is not a permutation of 0..%u",
                                 t->rank - 1);
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
