/* Integer matrix products and requantization: matmul_integer,
 * qlinear_matmul, and the requantize step qlinear_conv shares.
 *
 *   matmul_integer:  y = sum_k (a - a_zp) * (b - b_zp)              in i32
 *   qlinear_matmul:  y = saturate(round_half_even(acc * M + y_zp)),
 *                    M = (a_scale * b_scale) / y_scale
 *
 * The sum is a LOOPS reduction in i32 (operands widen first, so u8 * i8 and
 * zero points cannot overflow before accumulating; the i32 sum itself wraps
 * like ONNX's). When both zero points are absent or the constant 0 and the
 * op is alone in its group, it is a GEMM kernel with an i32 accumulator
 * instead, requantizing in its epilogue. M is computed the way ONNX's
 * reference does, in the scales' dtype one rounding per operation (here: f64
 * arithmetic cast back to that dtype after each step, which rounds the same),
 * and the rest in f64.
 *
 * Zero points and scales are per tensor (one element), or for `a` per row
 * ([M], or a's shape with K = 1) and for `b` per column ([N], or b's shape
 * with K = 1), as MatMulInteger's spec allows; other shapes are unsupported.
 */
#include <string.h>

#include "kernel/lower.h"

static bool one_element(const lval_t *v) {
  for (uint32_t d = 0; d < v->rank; ++d)
    if (!lathe_kdim_is_static(v->dims[d]) || v->dims[d].size != 1) return false;
  return true;
}

const lathe_kexpr_t *qparam_at(lower_ctx_t *c, const lval_t *p, const lval_t *v, uint32_t kdim,
                               uint32_t chan, const lathe_kexpr_t *const *idx) {
  const lathe_kexpr_t *pi[LATHE_MAX_RANK];
  for (uint32_t d = 0; d < p->rank; ++d) pi[d] = kint(c, 0);
  if (one_element(p)) return lv_at(c, p, pi);
  if (p->rank == 1 && v->rank >= 2 && dim_eq(p->dims[0], v->dims[chan])) {
    pi[0] = idx[chan];
    return lv_at(c, p, pi);
  }
  if (p->rank != v->rank || !lathe_kdim_is_static(p->dims[kdim]) || p->dims[kdim].size != 1)
    return NULL;
  for (uint32_t d = 0; d < p->rank; ++d) {
    bool unit = lathe_kdim_is_static(p->dims[d]) && p->dims[d].size == 1;
    if (!unit && !dim_eq(p->dims[d], v->dims[d])) return NULL;
    if (!unit) pi[d] = idx[d];
  }
  return lv_at(c, p, pi);
}

lathe_status_t requantize(lower_ctx_t *c, const lathe_op_t *op, const lathe_kexpr_t *acc,
                          lathe_dtype_t scale_dtype, const lathe_kexpr_t *a_scale,
                          const lathe_kexpr_t *b_scale, const lathe_kexpr_t *y_scale,
                          const lathe_kexpr_t *y_zp, lathe_dtype_t out,
                          const lathe_kexpr_t **out_y) {
  if (!a_scale || !b_scale || !y_scale || !y_zp)
    return unsupported(op, "scales and zero points must be per tensor or per channel");
  if (!lathe_dtype_is_integer(out) || lathe_dtype_bits(out) > 32)
    return unsupported(op, "the result must be an integer of at most 32 bits");
  lathe_dtype_t f = LATHE_DTYPE_F64, t = scale_dtype;
  const lathe_kexpr_t *as = lathe_kexpr_cast(c->p, f, a_scale),
                      *bs = lathe_kexpr_cast(c->p, f, b_scale),
                      *ys = lathe_kexpr_cast(c->p, f, y_scale);
  /* (a_scale * b_scale) / y_scale, rounded to the scales' dtype per step. */
  const lathe_kexpr_t *m =
      lathe_kexpr_cast(c->p, f, lathe_kexpr_cast(c->p, t, kbin(c, LATHE_KOP_MUL, as, bs)));
  m = lathe_kexpr_cast(c->p, f, lathe_kexpr_cast(c->p, t, kbin(c, LATHE_KOP_DIV, m, ys)));
  const lathe_kexpr_t *y =
      kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MUL, lathe_kexpr_cast(c->p, f, acc), m),
           lathe_kexpr_cast(c->p, f, y_zp));
  /* Round half to even; the cast to the result saturates. */
  *out_y = lathe_kexpr_cast(c->p, out, kun(c, LATHE_KOP_ROUND, y));
  return NULL;
}

static bool is_zero(const lval_t *zp) {
  return !zp || (!zp->buf && zp->expr && zp->expr->kind == LATHE_KEXPR_INT && zp->expr->i == 0);
}

/* a - a_zp (or b - b_zp) in i32 at the operand's index; NULL for a zero
 * point of an unsupported shape. */
static const lathe_kexpr_t *centered(lower_ctx_t *c, const lval_t *v, const lval_t *zp, bool is_b,
                                     const lathe_kexpr_t *const *idx) {
  const lathe_kexpr_t *x = lathe_kexpr_cast(c->p, LATHE_DTYPE_I32, lv_at(c, v, idx));
  if (!zp) return x;
  uint32_t kd = is_b ? (v->rank >= 2 ? v->rank - 2 : 0) : v->rank - 1;
  uint32_t chan = is_b ? v->rank - 1 : (v->rank >= 2 ? v->rank - 2 : 0);
  const lathe_kexpr_t *z = qparam_at(c, zp, v, kd, chan, idx);
  return z ? kbin(c, LATHE_KOP_SUB, x, lathe_kexpr_cast(c->p, LATHE_DTYPE_I32, z)) : NULL;
}

/* matmul_integer(a, b, a_zp?, b_zp?) and qlinear_matmul(a, a_scale, a_zp, b,
 * b_scale, b_zp, y_scale, y_zp). */
lathe_status_t lower_matmul_integer(lower_ctx_t *c, const lathe_op_t *op) {
  bool q = op->kind == LATHE_OP_QLINEAR_MATMUL;
  const lval_t *a = lv_operand(c, op, 0), *b = lv_operand(c, op, q ? 3 : 1);
  const lval_t *za = lv_operand(c, op, 2), *zb = lv_operand(c, op, q ? 5 : 3);
  uint32_t rank = op->results[0].type.rank;
  lathe_kdim_t fallback[LATHE_MAX_RANK], dims[LATHE_MAX_RANK];
  matmul_dims(a, b, false, false, rank, fallback);
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, fallback, dims));
  const lathe_kexpr_t *it[LATHE_MAX_RANK + 1], *ai[LATHE_MAX_RANK], *bi[LATHE_MAX_RANK];
  iters(c, rank + 1, it);
  lathe_kdim_t ext[LATHE_MAX_RANK + 1];
  memcpy(ext, dims, rank * sizeof *dims);
  matmul_index(c, a, b, false, false, rank, it, ai, bi, &ext[rank]);
  gemm_pending_t *g = NULL;
  if (c->group_size == 1 && is_zero(za) && is_zero(zb))
    g = gemm_plan(c, a, b, false, false, dims, rank);
  const lathe_kexpr_t *acc;
  if (g) {
    acc = lathe_kexpr_acc(c->p, gemm_acc_dtype(g));
  } else {
    const lathe_kexpr_t *va = centered(c, a, za, false, ai), *vb = centered(c, b, zb, true, bi);
    if (!va || !vb)
      return unsupported(op, "zero points must be per tensor, per row of a or per column of b");
    const lathe_kbuffer_t *t =
        q ? scratch(c, "acc", LATHE_DTYPE_I32, rank, dims) : set_buffer(c, op, 0, dims);
    lathe_kstmt_desc_t s = {.num_iters = rank + 1,
                            .extents = ext,
                            .num_reduce = 1,
                            .target = t,
                            .target_index = it,
                            .value = kbin(c, LATHE_KOP_MUL, va, vb),
                            .combiner = LATHE_KCOMB_SUM,
                            .init = lathe_kexpr_int(c->p, LATHE_DTYPE_I32, 0)};
    LATHE_RETURN_IF_ERROR(emit(c, &s));
    if (!q) return NULL;
    acc = lathe_kexpr_load(c->p, t, it);
  }
  if (q) {
    const lval_t *as = lv_operand(c, op, 1), *bs = lv_operand(c, op, 4), *ys = lv_operand(c, op, 6),
                 *yz = lv_operand(c, op, 7);
    if (as->dtype != bs->dtype || as->dtype != ys->dtype)
      return unsupported(op, "the three scales must have one dtype");
    /* The scales per output element: a's by row, b's by column. */
    const lathe_kexpr_t *sa = NULL, *sb = NULL;
    if (a->rank >= 2) {
      const lathe_kexpr_t *rowi[LATHE_MAX_RANK];
      matmul_index(c, a, b, false, false, rank, it, rowi, bi, &ext[rank]);
      rowi[a->rank - 1] = kint(c, 0);
      sa = qparam_at(c, as, a, a->rank - 1, a->rank - 2, rowi);
    } else if (one_element(as)) {
      sa = qparam_at(c, as, a, 0, 0, ai);
    }
    const lathe_kexpr_t *coli[LATHE_MAX_RANK];
    matmul_index(c, a, b, false, false, rank, it, ai, coli, &ext[rank]);
    coli[b->rank >= 2 ? b->rank - 2 : 0] = kint(c, 0);
    sb = b->rank >= 2 ? qparam_at(c, bs, b, b->rank - 2, b->rank - 1, coli)
                      : (one_element(bs) ? qparam_at(c, bs, b, 0, 0, coli) : NULL);
    const lathe_kexpr_t *zero[LATHE_MAX_RANK];
    for (uint32_t d = 0; d < LATHE_MAX_RANK; ++d) zero[d] = kint(c, 0);
    const lathe_kexpr_t *y;
    LATHE_RETURN_IF_ERROR(
        requantize(c, op, acc, as->dtype, sa, sb, one_element(ys) ? lv_at(c, ys, zero) : NULL,
                   one_element(yz) ? lv_at(c, yz, zero) : NULL, op->results[0].type.dtype, &y));
    acc = y;
  }
  set_expr(c, op, 0, dims, acc, g);
  return NULL;
}
