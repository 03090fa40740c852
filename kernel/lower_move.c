/* Data movement as index arithmetic: transpose, slice, split, expand, tile
 * and pad define their result as the operand read at a rewritten index, so
 * they fuse into whatever consumes them (a transpose feeding an add is one
 * loop, not two). concat is the exception: it writes its result buffer with
 * one statement per piece, each piece at its offset, which needs no select
 * per element.
 *
 * Sizes may be params: offsets and clamps are built as i64 expressions that
 * fold to constants when the sizes are static.
 */
#include <string.h>

#include "kernel/lower.h"

static lathe_status_t axis_of(const lathe_op_t *op, int64_t axis, uint32_t rank, uint32_t *out) {
  lathe_status_t st = lathe_normalize_axis(axis, rank, out);
  if (!st) return NULL;
  lathe_status_free(st);
  return unsupported(op, "axis %lld is out of range for rank %u", (long long)axis, rank);
}

lathe_status_t lower_transpose(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  const int64_t *perm;
  size_t n = lathe_op_attr_ints(op, "perm", &perm);
  uint32_t p[LATHE_MAX_RANK];
  for (uint32_t j = 0; j < x->rank; ++j) p[j] = n ? (uint32_t)perm[j] : x->rank - 1 - j;
  lathe_kdim_t fallback[LATHE_MAX_RANK], dims[LATHE_MAX_RANK];
  for (uint32_t j = 0; j < x->rank; ++j) fallback[j] = x->dims[p[j]];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, fallback, dims));
  const lathe_kexpr_t *idx[LATHE_MAX_RANK], *xi[LATHE_MAX_RANK];
  iters(c, x->rank, idx);
  for (uint32_t j = 0; j < x->rank; ++j) xi[p[j]] = idx[j];
  set_expr(c, op, 0, dims, lv_at(c, x, xi), NULL);
  return NULL;
}

/* ONNX slice bounds on one axis of size `size`: the clamped start and the
 * element count, as i64 expressions. */
static void slice_axis(lower_ctx_t *c, lathe_kdim_t size, int64_t start, int64_t end, int64_t step,
                       const lathe_kexpr_t **out_start, const lathe_kexpr_t **out_count) {
  const lathe_kexpr_t *d = kdim(c, size), *zero = kint(c, 0);
  const lathe_kexpr_t *s = start < 0 ? kbin(c, LATHE_KOP_ADD, d, kint(c, start)) : kint(c, start);
  const lathe_kexpr_t *e = end < 0 ? kbin(c, LATHE_KOP_ADD, d, kint(c, end)) : kint(c, end);
  const lathe_kexpr_t *count;
  if (step > 0) {
    s = kclamp(c, s, zero, d);
    e = kclamp(c, e, zero, d);
    count = kbin(c, LATHE_KOP_FLOORDIV,
                 kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_SUB, e, s), kint(c, step - 1)),
                 kint(c, step));
  } else {
    const lathe_kexpr_t *last = kbin(c, LATHE_KOP_SUB, d, kint(c, 1));
    s = kclamp(c, s, kint(c, -1), last);
    e = kclamp(c, e, kint(c, -1), last);
    count = kbin(c, LATHE_KOP_FLOORDIV,
                 kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_SUB, s, e), kint(c, -step - 1)),
                 kint(c, -step));
  }
  *out_start = s;
  *out_count = kbin(c, LATHE_KOP_MAX, count, zero);
}

lathe_status_t lower_slice(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  const int64_t *starts, *ends, *axes, *steps;
  size_t n = lathe_op_attr_ints(op, "starts", &starts);
  size_t ne = lathe_op_attr_ints(op, "ends", &ends);
  size_t na = lathe_op_attr_ints(op, "axes", &axes);
  size_t ns = lathe_op_attr_ints(op, "steps", &steps);
  const lathe_kexpr_t *idx[LATHE_MAX_RANK], *xi[LATHE_MAX_RANK], *fallback[LATHE_MAX_RANK];
  lathe_kdim_t dims[LATHE_MAX_RANK];
  iters(c, x->rank, idx);
  for (uint32_t d = 0; d < x->rank; ++d) {
    xi[d] = idx[d];
    fallback[d] = kdim(c, x->dims[d]);
  }
  for (size_t i = 0; i < n && i < ne; ++i) {
    uint32_t a;
    LATHE_RETURN_IF_ERROR(axis_of(op, na ? axes[i] : (int64_t)i, x->rank, &a));
    int64_t step = ns ? steps[i] : 1;
    if (step == 0) return unsupported(op, "step 0");
    const lathe_kexpr_t *start, *count;
    slice_axis(c, x->dims[a], starts[i], ends[i], step, &start, &count);
    fallback[a] = count;
    xi[a] = kbin(c, LATHE_KOP_ADD, start, kbin(c, LATHE_KOP_MUL, kint(c, step), idx[a]));
  }
  LATHE_RETURN_IF_ERROR(result_dims_e(c, op, 0, fallback, dims));
  set_expr(c, op, 0, dims, lv_at(c, x, xi), NULL);
  return NULL;
}

lathe_status_t lower_split(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  uint32_t a;
  LATHE_RETURN_IF_ERROR(axis_of(op, lathe_op_attr_int(op, "axis"), x->rank, &a));
  const int64_t *split;
  size_t ns = lathe_op_attr_ints(op, "split", &split);
  const lathe_kexpr_t *total = kdim(c, x->dims[a]), *offset = kint(c, 0);
  /* Equal pieces: ceil(size / n) each, the last one what is left. */
  const lathe_kexpr_t *piece =
      kbin(c, LATHE_KOP_FLOORDIV, kbin(c, LATHE_KOP_ADD, total, kint(c, op->num_results - 1)),
           kint(c, op->num_results));
  for (uint32_t r = 0; r < op->num_results; ++r) {
    const lathe_kexpr_t *size = ns ? kint(c, split[r]) : piece;
    if (!ns && r + 1 == op->num_results) size = kbin(c, LATHE_KOP_SUB, total, offset);
    size = kclamp(c, size, kint(c, 0),
                  kbin(c, LATHE_KOP_MAX, kbin(c, LATHE_KOP_SUB, total, offset), kint(c, 0)));
    const lathe_kexpr_t *fallback[LATHE_MAX_RANK];
    lathe_kdim_t dims[LATHE_MAX_RANK];
    for (uint32_t d = 0; d < x->rank; ++d) fallback[d] = kdim(c, x->dims[d]);
    fallback[a] = size;
    LATHE_RETURN_IF_ERROR(result_dims_e(c, op, r, fallback, dims));
    const lathe_kexpr_t *idx[LATHE_MAX_RANK], *xi[LATHE_MAX_RANK];
    iters(c, x->rank, idx);
    for (uint32_t d = 0; d < x->rank; ++d) xi[d] = idx[d];
    xi[a] = kbin(c, LATHE_KOP_ADD, offset, idx[a]);
    set_expr(c, op, r, dims, lv_at(c, x, xi), NULL);
    offset = kbin(c, LATHE_KOP_ADD, offset, kdim(c, dims[a]));
  }
  return NULL;
}

lathe_status_t lower_concat(lower_ctx_t *c, const lathe_op_t *op) {
  uint32_t rank = op->results[0].type.rank, a;
  LATHE_RETURN_IF_ERROR(axis_of(op, lathe_op_attr_int(op, "axis"), rank, &a));
  const lval_t *first = lv_operand(c, op, 0);
  const lathe_kexpr_t *fallback[LATHE_MAX_RANK], *total = kint(c, 0);
  lathe_kdim_t dims[LATHE_MAX_RANK];
  for (uint32_t i = 0; i < op->num_operands; ++i)
    total = kbin(c, LATHE_KOP_ADD, total, kdim(c, lv_operand(c, op, i)->dims[a]));
  for (uint32_t d = 0; d < rank; ++d) fallback[d] = kdim(c, first->dims[d]);
  fallback[a] = total;
  LATHE_RETURN_IF_ERROR(result_dims_e(c, op, 0, fallback, dims));
  lathe_kbuffer_t *out = set_buffer(c, op, 0, dims);
  const lathe_kexpr_t *offset = kint(c, 0);
  for (uint32_t i = 0; i < op->num_operands; ++i) {
    const lval_t *x = lv_operand(c, op, i);
    const lathe_kexpr_t *idx[LATHE_MAX_RANK], *ti[LATHE_MAX_RANK];
    iters(c, rank, idx);
    for (uint32_t d = 0; d < rank; ++d) ti[d] = idx[d];
    ti[a] = kbin(c, LATHE_KOP_ADD, offset, idx[a]);
    lathe_kstmt_desc_t s = {.num_iters = rank,
                            .extents = x->dims,
                            .target = out,
                            .target_index = ti,
                            .value = lathe_kexpr_cast(c->p, out->dtype, lv_at(c, x, idx))};
    LATHE_RETURN_IF_ERROR(emit(c, &s));
    offset = kbin(c, LATHE_KOP_ADD, offset, kdim(c, x->dims[a]));
  }
  return NULL;
}

lathe_status_t lower_expand(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  uint32_t rank = op->results[0].type.rank;
  const int64_t *shape;
  size_t n = lathe_op_attr_ints(op, "shape", &shape);
  lathe_kdim_t fallback[LATHE_MAX_RANK], dims[LATHE_MAX_RANK];
  for (uint32_t d = 0; d < rank; ++d) {
    int64_t s = d + n >= rank ? shape[d + n - rank] : 1;
    lathe_kdim_t xd = d + x->rank >= rank ? x->dims[d + x->rank - rank] : lathe_kdim_static(1);
    fallback[d] = lathe_kdim_is_static(xd) && xd.size == 1 ? lathe_kdim_static(s) : xd;
  }
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, fallback, dims));
  const lathe_kexpr_t *idx[LATHE_MAX_RANK];
  iters(c, rank, idx);
  set_expr(c, op, 0, dims, lv_at_bcast(c, x, rank, idx), NULL);
  return NULL;
}

lathe_status_t lower_tile(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  const int64_t *reps;
  size_t n = lathe_op_attr_ints(op, "repeats", &reps);
  if (n != x->rank) return unsupported(op, "repeats must have one entry per dim");
  lathe_kdim_t dims[LATHE_MAX_RANK];
  const lathe_kexpr_t *idx[LATHE_MAX_RANK], *xi[LATHE_MAX_RANK], *fallback[LATHE_MAX_RANK];
  iters(c, x->rank, idx);
  for (uint32_t d = 0; d < x->rank; ++d) {
    fallback[d] = kbin(c, LATHE_KOP_MUL, kdim(c, x->dims[d]), kint(c, reps[d]));
    xi[d] = reps[d] == 1 ? idx[d] : kbin(c, LATHE_KOP_MOD, idx[d], kdim(c, x->dims[d]));
  }
  LATHE_RETURN_IF_ERROR(result_dims_e(c, op, 0, fallback, dims));
  set_expr(c, op, 0, dims, lv_at(c, x, xi), NULL);
  return NULL;
}

/* pad: the source index of each padded axis per mode; constant mode selects
 * the pad value outside the source (loads stay clamped in bounds). */
lathe_status_t lower_pad(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0), *cv = lv_operand(c, op, 1);
  const int64_t *pads, *axes;
  size_t np = lathe_op_attr_ints(op, "pads", &pads);
  size_t na = lathe_op_attr_ints(op, "axes", &axes);
  size_t nax = na ? na : x->rank;
  if (np != 2 * nax) return unsupported(op, "pads must list a begin and an end per axis");
  const char *mode = lathe_op_attr_string(op, "mode");
  lathe_dtype_t cd = compute_dtype(x->dtype);
  const lathe_kexpr_t *idx[LATHE_MAX_RANK], *xi[LATHE_MAX_RANK], *inside = NULL;
  const lathe_kexpr_t *fallback[LATHE_MAX_RANK];
  lathe_kdim_t dims[LATHE_MAX_RANK];
  iters(c, x->rank, idx);
  for (uint32_t d = 0; d < x->rank; ++d) {
    xi[d] = idx[d];
    fallback[d] = kdim(c, x->dims[d]);
  }
  for (size_t i = 0; i < nax; ++i) {
    uint32_t a;
    LATHE_RETURN_IF_ERROR(axis_of(op, na ? axes[i] : (int64_t)i, x->rank, &a));
    const lathe_kexpr_t *size = kdim(c, x->dims[a]), *zero = kint(c, 0);
    const lathe_kexpr_t *last = kbin(c, LATHE_KOP_SUB, size, kint(c, 1));
    fallback[a] = kbin(c, LATHE_KOP_ADD, size, kint(c, pads[i] + pads[i + nax]));
    const lathe_kexpr_t *j = kbin(c, LATHE_KOP_SUB, idx[a], kint(c, pads[i]));
    if (strcmp(mode, "reflect") == 0) {
      j = kun(c, LATHE_KOP_ABS, j);
      j = ksel(c, kbin(c, LATHE_KOP_GT, j, last),
               kbin(c, LATHE_KOP_SUB, kbin(c, LATHE_KOP_MUL, kint(c, 2), last), j), j);
    } else if (strcmp(mode, "wrap") == 0) {
      j = kbin(c, LATHE_KOP_MOD, j, size);
    } else if (strcmp(mode, "edge") != 0) {
      const lathe_kexpr_t *in =
          kbin(c, LATHE_KOP_AND, kbin(c, LATHE_KOP_GE, j, zero), kbin(c, LATHE_KOP_LT, j, size));
      if (pads[i] > 0 || pads[i + nax] > 0)
        inside = inside ? kbin(c, LATHE_KOP_AND, inside, in) : in;
    }
    xi[a] = pads[i] || pads[i + nax] ? kclamp(c, j, zero, last) : idx[a];
  }
  LATHE_RETURN_IF_ERROR(result_dims_e(c, op, 0, fallback, dims));
  const lathe_kexpr_t *v = lv_at(c, x, xi);
  if (inside) {
    const lathe_kexpr_t *z = kint(c, 0), *fill = cv ? lv_at(c, cv, &z) : kf(c, cd, 0);
    v = ksel(c, inside, v, lathe_kexpr_cast(c->p, cd, fill));
  }
  set_expr(c, op, 0, dims, v, NULL);
  return NULL;
}
