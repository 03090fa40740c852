/* Ops that read at data-dependent indices: gather, gather_elements, one_hot,
 * plus trilu's positional mask. An index tensor's element becomes part of a
 * load's index expression (a LOAD inside an index is a gather); negative
 * indices count from the end, and every index is clamped into the dim so a
 * bad index reads a wrong element, never out of bounds (the kernel-IR
 * contract: loads are always in bounds).
 */
#include <string.h>

#include "kernel/lower.h"

static lathe_status_t axis_of(const lathe_op_t *op, int64_t axis, uint32_t rank, uint32_t *out) {
  lathe_status_t st = lathe_normalize_axis(axis, rank, out);
  if (!st) return NULL;
  lathe_status_free(st);
  return unsupported(op, "axis %lld is out of range for rank %u", (long long)axis, rank);
}

/* An index value (any integer dtype) as a position in [0, size). */
static const lathe_kexpr_t *position(lower_ctx_t *c, const lathe_kexpr_t *v, lathe_kdim_t size) {
  const lathe_kexpr_t *i = lathe_kexpr_cast(c->p, LATHE_DTYPE_I64, v), *d = kdim(c, size);
  i = ksel(c, kbin(c, LATHE_KOP_LT, i, kint(c, 0)), kbin(c, LATHE_KOP_ADD, i, d), i);
  return kclamp(c, i, kint(c, 0), kbin(c, LATHE_KOP_SUB, d, kint(c, 1)));
}

lathe_status_t lower_gather(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0), *ix = lv_operand(c, op, 1);
  uint32_t a, rank = op->results[0].type.rank;
  LATHE_RETURN_IF_ERROR(axis_of(op, lathe_op_attr_int(op, "axis"), x->rank, &a));
  lathe_kdim_t fallback[LATHE_MAX_RANK], dims[LATHE_MAX_RANK];
  for (uint32_t d = 0; d < rank; ++d)
    fallback[d] = d < a              ? x->dims[d]
                  : d < a + ix->rank ? ix->dims[d - a]
                                     : x->dims[d - ix->rank + 1];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, fallback, dims));
  const lathe_kexpr_t *idx[LATHE_MAX_RANK], *xi[LATHE_MAX_RANK];
  iters(c, rank, idx);
  for (uint32_t d = 0; d < x->rank; ++d)
    xi[d] = d < a   ? idx[d]
            : d > a ? idx[d + ix->rank - 1]
                    : position(c, lv_at(c, ix, idx + a), x->dims[a]);
  set_expr(c, op, 0, dims, lv_at(c, x, xi), NULL);
  return NULL;
}

lathe_status_t lower_gather_elements(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0), *ix = lv_operand(c, op, 1);
  uint32_t a;
  LATHE_RETURN_IF_ERROR(axis_of(op, lathe_op_attr_int(op, "axis"), x->rank, &a));
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, ix->dims, dims));
  const lathe_kexpr_t *idx[LATHE_MAX_RANK], *xi[LATHE_MAX_RANK];
  iters(c, ix->rank, idx);
  for (uint32_t d = 0; d < x->rank; ++d) xi[d] = idx[d];
  xi[a] = position(c, lv_at(c, ix, idx), x->dims[a]);
  set_expr(c, op, 0, dims, lv_at(c, x, xi), NULL);
  return NULL;
}

/* one_hot(indices, values = [off, on]): a new dim of size depth at axis. */
lathe_status_t lower_one_hot(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *ix = lv_operand(c, op, 0), *vals = lv_operand(c, op, 1);
  uint32_t a, rank = ix->rank + 1;
  LATHE_RETURN_IF_ERROR(axis_of(op, lathe_op_attr_int(op, "axis"), rank, &a));
  int64_t depth = lathe_op_attr_int(op, "depth");
  lathe_kdim_t fallback[LATHE_MAX_RANK + 1], dims[LATHE_MAX_RANK + 1];
  const lathe_kexpr_t *idx[LATHE_MAX_RANK + 1], *ii[LATHE_MAX_RANK];
  iters(c, rank, idx);
  for (uint32_t d = 0, j = 0; d < rank; ++d) {
    fallback[d] = d == a ? lathe_kdim_static(depth) : ix->dims[j];
    if (d != a) ii[j++] = idx[d];
  }
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, fallback, dims));
  const lathe_kexpr_t *v = lathe_kexpr_cast(c->p, LATHE_DTYPE_I64, lv_at(c, ix, ii));
  v = ksel(c, kbin(c, LATHE_KOP_LT, v, kint(c, 0)), kbin(c, LATHE_KOP_ADD, v, kint(c, depth)), v);
  const lathe_kexpr_t *off = kint(c, 0), *on = kint(c, 1);
  set_expr(c, op, 0, dims,
           ksel(c, kbin(c, LATHE_KOP_EQ, idx[a], v), lv_at(c, vals, &on), lv_at(c, vals, &off)),
           NULL);
  return NULL;
}

/* trilu: keep the elements on or above (upper) / below the k-th diagonal of
 * the last two dims; zero elsewhere. */
lathe_status_t lower_trilu(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  if (x->rank < 2) return unsupported(op, "needs at least 2 dims");
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, x->dims, dims));
  const lathe_kexpr_t *idx[LATHE_MAX_RANK];
  iters(c, x->rank, idx);
  const lathe_kexpr_t *diff = kbin(c, LATHE_KOP_SUB, idx[x->rank - 1], idx[x->rank - 2]);
  const lathe_kexpr_t *k = kint(c, lathe_op_attr_int(op, "k"));
  const lathe_kexpr_t *keep =
      kbin(c, lathe_op_attr_int(op, "upper") ? LATHE_KOP_GE : LATHE_KOP_LE, diff, k);
  const lathe_kexpr_t *v = lv_at(c, x, idx);
  set_expr(c, op, 0, dims, ksel(c, keep, v, lathe_kexpr_cast(c->p, v->dtype, kint(c, 0))), NULL);
  return NULL;
}

/* gather_nd(data, indices[..., k]): the last dim of indices picks k leading
 * dims of data (after batch_dims shared leading dims). */
lathe_status_t lower_gather_nd(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0), *ix = lv_operand(c, op, 1);
  int64_t batch = lathe_op_attr_int(op, "batch_dims");
  lathe_kdim_t kd = ix->rank ? ix->dims[ix->rank - 1] : lathe_kdim_static(0);
  if (!lathe_kdim_is_static(kd) || batch < 0 || ix->rank < 1 + (uint32_t)batch)
    return unsupported(op, "the index depth must be static");
  uint32_t b = (uint32_t)batch, k = (uint32_t)kd.size, nq = ix->rank - 1 - b;
  uint32_t rank = op->results[0].type.rank;
  if (b + k > x->rank || rank != b + nq + x->rank - b - k)
    return unsupported(op, "bad index depth");
  lathe_kdim_t fallback[LATHE_MAX_RANK], dims[LATHE_MAX_RANK];
  for (uint32_t d = 0; d < rank; ++d) fallback[d] = d < b + nq ? ix->dims[d] : x->dims[d - nq + k];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, fallback, dims));
  const lathe_kexpr_t *idx[LATHE_MAX_RANK], *xi[LATHE_MAX_RANK], *ii[LATHE_MAX_RANK];
  iters(c, rank, idx);
  for (uint32_t d = 0; d < b + nq; ++d) ii[d] = idx[d];
  for (uint32_t d = 0; d < x->rank; ++d) {
    if (d < b) {
      xi[d] = idx[d];
    } else if (d < b + k) {
      ii[b + nq] = kint(c, d - b);
      xi[d] = position(c, lv_at(c, ix, ii), x->dims[d]);
    } else {
      xi[d] = idx[d - k + nq];
    }
  }
  set_expr(c, op, 0, dims, lv_at(c, x, xi), NULL);
  return NULL;
}

/* depth_to_space and space_to_depth: pure index arithmetic over NCHW. */
lathe_status_t lower_depth_space(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  int64_t bs = lathe_op_attr_int(op, "blocksize");
  if (x->rank != 4 || bs <= 0) return unsupported(op, "needs NCHW and a positive blocksize");
  lathe_kdim_t dims[4];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, NULL, dims));
  const lathe_kexpr_t *it[4], *xi[4], *b = kint(c, bs);
  iters(c, 4, it);
  xi[0] = it[0];
  if (op->kind == LATHE_OP_DEPTH_TO_SPACE) {
    const lathe_kexpr_t *bh = kbin(c, LATHE_KOP_MOD, it[2], b),
                        *bw = kbin(c, LATHE_KOP_MOD, it[3], b);
    const lathe_kexpr_t *blk = kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MUL, bh, b), bw);
    bool crd = strcmp(lathe_op_attr_string(op, "mode"), "CRD") == 0;
    xi[1] = crd ? kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MUL, it[1], kint(c, bs * bs)), blk)
                : kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MUL, blk, kdim(c, dims[1])), it[1]);
    xi[2] = kbin(c, LATHE_KOP_FLOORDIV, it[2], b);
    xi[3] = kbin(c, LATHE_KOP_FLOORDIV, it[3], b);
  } else {
    const lathe_kexpr_t *C = kdim(c, x->dims[1]), *blk = kbin(c, LATHE_KOP_FLOORDIV, it[1], C);
    xi[1] = kbin(c, LATHE_KOP_MOD, it[1], C);
    xi[2] = kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MUL, it[2], b),
                 kbin(c, LATHE_KOP_FLOORDIV, blk, b));
    xi[3] =
        kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MUL, it[3], b), kbin(c, LATHE_KOP_MOD, blk, b));
  }
  set_expr(c, op, 0, dims, lv_at(c, x, xi), NULL);
  return NULL;
}
