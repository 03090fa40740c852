/* Ops that only reinterpret a tensor: reshape, flatten, squeeze, unsqueeze,
 * identity and dropout (inference mode), plus shape, size and iota, whose
 * values are known from the sizes alone.
 *
 * A reinterpretation of a materialized value is a VIEW buffer: no kernel, no
 * copy (dense row-major data reads the same under any shape of the same
 * element count). Inside a fusion group, where the operand is an expression,
 * the index is remapped instead: squeeze/unsqueeze drop or add unit indices,
 * reshape goes through the flat row-major index.
 */
#include <math.h>
#include <stdio.h>

#include "kernel/lower.h"

static const lathe_kexpr_t *product(lower_ctx_t *c, const lathe_kdim_t *dims, uint32_t from,
                                    uint32_t to) {
  const lathe_kexpr_t *e = kint(c, 1);
  for (uint32_t d = from; d < to; ++d) e = kbin(c, LATHE_KOP_MUL, e, kdim(c, dims[d]));
  return e;
}

/* squeeze: unit[d] marks operand dims removed; unsqueeze: result dims added;
 * other ops: none. */
static lathe_status_t unit_dims(const lathe_op_t *op, const lval_t *x, bool *unit) {
  if (op->kind != LATHE_OP_SQUEEZE && op->kind != LATHE_OP_UNSQUEEZE) return NULL;
  const int64_t *axes;
  size_t n = lathe_op_attr_ints(op, "axes", &axes);
  uint32_t rank = op->kind == LATHE_OP_SQUEEZE ? x->rank : op->results[0].type.rank;
  if (op->kind == LATHE_OP_SQUEEZE && n == 0)
    for (uint32_t d = 0; d < x->rank; ++d)
      unit[d] = lathe_kdim_is_static(x->dims[d]) && x->dims[d].size == 1;
  for (size_t i = 0; i < n; ++i) {
    uint32_t a;
    lathe_status_t st = lathe_normalize_axis(axes[i], rank, &a);
    if (st) {
      lathe_status_free(st);
      return unsupported(op, "bad axis %lld", (long long)axes[i]);
    }
    unit[a] = true;
  }
  return NULL;
}

/* Dims the result would have, computed from the operand (for `?` dims). */
static lathe_status_t natural_dims(lower_ctx_t *c, const lathe_op_t *op, const lval_t *x,
                                   const lathe_kexpr_t **out) {
  uint32_t rank = op->results[0].type.rank;
  switch (op->kind) {
  case LATHE_OP_RESHAPE: {
    const int64_t *shape;
    size_t n = lathe_op_attr_ints(op, "shape", &shape);
    bool allow_zero = lathe_op_attr_int(op, "allowzero");
    const lathe_kexpr_t *known = kint(c, 1);
    int32_t infer = -1;
    for (uint32_t d = 0; d < n && d < rank; ++d) {
      if (shape[d] == -1) {
        infer = (int32_t)d;
        continue;
      }
      out[d] =
          shape[d] == 0 && !allow_zero && d < x->rank ? kdim(c, x->dims[d]) : kint(c, shape[d]);
      known = kbin(c, LATHE_KOP_MUL, known, out[d]);
    }
    if (infer >= 0)
      out[infer] = kbin(c, LATHE_KOP_FLOORDIV, product(c, x->dims, 0, x->rank),
                        kbin(c, LATHE_KOP_MAX, known, kint(c, 1)));
    return NULL;
  }
  case LATHE_OP_FLATTEN: {
    int64_t axis = lathe_op_attr_int(op, "axis");
    if (axis < 0) axis += x->rank;
    if (axis < 0 || axis > (int64_t)x->rank) return unsupported(op, "bad axis");
    out[0] = product(c, x->dims, 0, (uint32_t)axis);
    out[1] = product(c, x->dims, (uint32_t)axis, x->rank);
    return NULL;
  }
  default: break;
  }
  /* squeeze and unsqueeze: which result dims are the unit ones. */
  bool unit[LATHE_MAX_RANK + 1] = {0};
  LATHE_RETURN_IF_ERROR(unit_dims(op, x, unit));
  for (uint32_t d = 0, j = 0; d < rank; ++d) {
    if (op->kind == LATHE_OP_SQUEEZE)
      while (j < x->rank && unit[j]) ++j;
    if (op->kind == LATHE_OP_UNSQUEEZE && unit[d]) out[d] = kint(c, 1);
    else out[d] = j < x->rank ? kdim(c, x->dims[j++]) : kint(c, 1);
  }
  return NULL;
}

/* The operand index for result index `idx` when the operand is an
 * expression: through the flat row-major position. */
static void remap(lower_ctx_t *c, const lval_t *x, uint32_t rank, const lathe_kdim_t *dims,
                  const lathe_kexpr_t *const *idx, const lathe_kexpr_t **out) {
  const lathe_kexpr_t *flat = kint(c, 0);
  for (uint32_t d = 0; d < rank; ++d)
    flat = kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MUL, flat, kdim(c, dims[d])), idx[d]);
  for (uint32_t d = x->rank; d-- > 0;) {
    const lathe_kexpr_t *size = kdim(c, x->dims[d]);
    out[d] = kbin(c, LATHE_KOP_MOD, flat, size);
    flat = kbin(c, LATHE_KOP_FLOORDIV, flat, size);
  }
}

lathe_status_t lower_view(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  uint32_t rank = op->results[0].type.rank;
  const lathe_kexpr_t *fallback[LATHE_MAX_RANK];
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(natural_dims(c, op, x, fallback));
  LATHE_RETURN_IF_ERROR(result_dims_e(c, op, 0, fallback, dims));
  if (op->kind == LATHE_OP_DROPOUT && op->num_results > 1) {
    lathe_kdim_t mdims[LATHE_MAX_RANK];
    LATHE_RETURN_IF_ERROR(result_dims(c, op, 1, x->dims, mdims));
    set_expr(c, op, 1, mdims, lathe_kexpr_int(c->p, LATHE_DTYPE_BOOL, 1), NULL);
  }
  if (x->buf) {
    set_view(c, op, 0, x->buf, dims);
    return NULL;
  }
  const lathe_kexpr_t *idx[LATHE_MAX_RANK], *xi[LATHE_MAX_RANK];
  iters(c, rank, idx);
  if (op->kind == LATHE_OP_IDENTITY || op->kind == LATHE_OP_DROPOUT) {
    set_expr(c, op, 0, dims, x->expr, x->gemm);
    return NULL;
  }
  if (op->kind == LATHE_OP_SQUEEZE || op->kind == LATHE_OP_UNSQUEEZE) {
    bool unit[LATHE_MAX_RANK + 1] = {0};
    LATHE_RETURN_IF_ERROR(unit_dims(op, x, unit));
    for (uint32_t d = 0, j = 0; d < x->rank || j < rank;) {
      if (op->kind == LATHE_OP_SQUEEZE && d < x->rank && unit[d]) xi[d++] = kint(c, 0);
      else if (op->kind == LATHE_OP_UNSQUEEZE && j < rank && unit[j]) ++j;
      else if (d < x->rank && j < rank) xi[d++] = idx[j++];
      else break;
    }
  } else {
    remap(c, x, rank, dims, idx, xi);
  }
  set_expr(c, op, 0, dims, lv_at(c, x, xi), x->gemm);
  return NULL;
}

/* shape: the i64 dims [start, end) of the operand; size: their product. */
lathe_status_t lower_shape(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  lathe_kdim_t dims[1] = {lathe_kdim_static(1)};
  if (op->kind == LATHE_OP_SIZE) {
    set_expr(c, op, 0, dims, product(c, x->dims, 0, x->rank), NULL);
    return NULL;
  }
  int64_t start = lathe_op_attr_int(op, "start"), end = lathe_op_attr_int(op, "end"), r = x->rank;
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = start < 0 ? 0 : start > r ? r : start;
  end = end < start ? start : end > r ? r : end;
  dims[0] = lathe_kdim_static(end - start);
  const lathe_kexpr_t *i = lathe_kexpr_iter(c->p, 0), *e = kint(c, 0);
  for (int64_t d = end; d-- > start;)
    e = ksel(c, kbin(c, LATHE_KOP_EQ, i, kint(c, d - start)), kdim(c, x->dims[d]), e);
  set_expr(c, op, 0, dims, e, NULL);
  return NULL;
}

/* iota: 0, 1, ..., dims[axis] - 1. */
lathe_status_t lower_iota(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  int64_t axis = lathe_op_attr_int(op, "axis");
  if (axis < 0) axis += x->rank;
  if (axis < 0 || axis >= (int64_t)x->rank) return unsupported(op, "bad axis");
  lathe_kdim_t dims[1];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, &x->dims[axis], dims));
  set_expr(c, op, 0, dims, lathe_kexpr_iter(c->p, 0), NULL);
  return NULL;
}

/* eye_like: an expression over the result's index; x's values are unused. */
lathe_status_t lower_eye_like(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  if (x->rank != 2) return unsupported(op, "needs a 2-D operand");
  lathe_kdim_t dims[2];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, x->dims, dims));
  lathe_dtype_t cd = compute_dtype(op->results[0].type.dtype);
  const lathe_kexpr_t *it[2];
  iters(c, 2, it);
  const lathe_kexpr_t *on =
      kbin(c, LATHE_KOP_EQ, kbin(c, LATHE_KOP_SUB, it[1], it[0]), kint(c, lathe_op_attr_int(op, "k")));
  set_expr(c, op, 0, dims, ksel(c, on, kf(c, cd, 1), kf(c, cd, 0)), NULL);
  return NULL;
}

/* range(start, limit, delta) with constant operands (fold-constants normally
 * folds it first; this serves unoptimized pipelines): start + i * delta over
 * max(ceil((limit - start) / delta), 0) elements, in the operands' dtype (f32
 * rounded after each step, as the spec's loop computes it). Operands that are
 * not constants make the length depend on the data: unsupported. */
lathe_status_t lower_range(lower_ctx_t *c, const lathe_op_t *op) {
  const lathe_kexpr_t *v[3];
  for (uint32_t i = 0; i < 3; ++i) {
    const lval_t *x = lv_operand(c, op, i);
    v[i] = x && !x->buf && x->rank == 0 ? x->expr : NULL;
    if (!v[i] || (v[i]->kind != LATHE_KEXPR_INT && v[i]->kind != LATHE_KEXPR_FLOAT))
      return unsupported(op, "its result size depends on the data (start, limit and delta are "
                             "not constants)");
  }
  lathe_dtype_t dtype = op->results[0].type.dtype, cd = compute_dtype(dtype);
  bool is_float = lathe_dtype_is_float(dtype);
  double s = is_float ? v[0]->f : (double)v[0]->i, l = is_float ? v[1]->f : (double)v[1]->i,
         d = is_float ? v[2]->f : (double)v[2]->i;
  if (d == 0) return unsupported(op, "delta is 0");
  double n = dtype == LATHE_DTYPE_F32 ? ceil((double)(((float)l - (float)s) / (float)d))
                                      : ceil((l - s) / d);
  if (!(n >= 0)) n = 0;
  if (n > (double)INT64_MAX / 2) return unsupported(op, "the range is too long");
  lathe_kdim_t dims[1] = {lathe_kdim_static((int64_t)n)}, declared[1];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, dims, declared));
  if (!lathe_kdim_is_static(declared[0]) || declared[0].size != (int64_t)n)
    return unsupported(op, "the declared length disagrees with the operands (%lld)", (long long)n);
  const lathe_kexpr_t *i = lathe_kexpr_cast(c->p, cd, lathe_kexpr_iter(c->p, 0)), *e;
  if (is_float) { /* f64 steps rounded to the dtype: exact f32/f64 arithmetic */
    lathe_dtype_t f = LATHE_DTYPE_F64;
    const lathe_kexpr_t *step =
        lathe_kexpr_cast(c->p, f,
                         lathe_kexpr_cast(c->p, cd,
                                          kbin(c, LATHE_KOP_MUL, lathe_kexpr_cast(c->p, f, i),
                                               lathe_kexpr_cast(c->p, f, v[2]))));
    e = kbin(c, LATHE_KOP_ADD, lathe_kexpr_cast(c->p, f, v[0]), step);
  } else {
    e = kbin(c, LATHE_KOP_ADD, v[0], kbin(c, LATHE_KOP_MUL, i, v[2]));
  }
  set_expr(c, op, 0, dims, lathe_kexpr_cast(c->p, cd, e), NULL);
  return NULL;
}
