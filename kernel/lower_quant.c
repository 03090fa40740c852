/* quantize_linear and dequantize_linear as elementwise expressions (and
 * dynamic_quantize_linear, at the end):
 *   dequantize: y = (x - zero_point) * scale
 *   quantize:   y = saturate(round_half_even(x / scale) + zero_point)
 * The scale (and zero point) is per tensor (a scalar), per axis (1-D along
 * `axis`) or blocked (x's rank, dims along `axis` divided by block_size);
 * each reads its element at the index that granularity implies. The float
 * to integer conversion of a CAST saturates, which is the ONNX rule.
 */
#include "kernel/lower.h"

/* The scale/zero-point element for x's element at idx. */
static const lathe_kexpr_t *param_at(lower_ctx_t *c, const lval_t *p, const lval_t *x,
                                     uint32_t axis, int64_t block,
                                     const lathe_kexpr_t *const *idx) {
  if (p->rank == 0) return lv_at(c, p, NULL);
  /* A one-element parameter ([1], [1, 1]) is per tensor too, whatever x's rank. */
  bool single = true;
  for (uint32_t d = 0; d < p->rank; ++d)
    single &= lathe_kdim_is_static(p->dims[d]) && p->dims[d].size == 1;
  if (single) {
    const lathe_kexpr_t *zeros[LATHE_MAX_RANK];
    for (uint32_t d = 0; d < p->rank; ++d) zeros[d] = kint(c, 0);
    return lv_at(c, p, zeros);
  }
  if (p->rank == 1 && x->rank != 1) return lv_at(c, p, &idx[axis]);
  const lathe_kexpr_t *pi[LATHE_MAX_RANK];
  for (uint32_t d = 0; d < p->rank; ++d) pi[d] = idx[d];
  if (block > 0) pi[axis] = kbin(c, LATHE_KOP_FLOORDIV, idx[axis], kint(c, block));
  else if (p->rank == 1)
    pi[0] = lathe_kdim_is_static(p->dims[0]) && p->dims[0].size == 1 ? kint(c, 0) : idx[0];
  return lv_at(c, p, pi);
}

lathe_status_t lower_quantize(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0), *scale = lv_operand(c, op, 1), *zp = lv_operand(c, op, 2);
  uint32_t axis = 0;
  /* ONNX ignores `axis` for a per-tensor (scalar) scale, even out of range. */
  if (x->rank && scale->rank > 0) {
    lathe_status_t st = lathe_normalize_axis(lathe_op_attr_int(op, "axis"), x->rank, &axis);
    if (st) {
      lathe_status_free(st);
      return unsupported(op, "axis is out of range");
    }
  }
  int64_t block = lathe_op_attr_int(op, "block_size");
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, x->dims, dims));
  const lathe_kexpr_t *idx[LATHE_MAX_RANK];
  iters(c, x->rank, idx);
  lathe_dtype_t f = LATHE_DTYPE_F32, out = op->results[0].type.dtype;
  const lathe_kexpr_t *s = lathe_kexpr_cast(c->p, f, param_at(c, scale, x, axis, block, idx));
  const lathe_kexpr_t *z =
      zp ? lathe_kexpr_cast(c->p, f, param_at(c, zp, x, axis, block, idx)) : kf(c, f, 0);
  const lathe_kexpr_t *v = lathe_kexpr_cast(c->p, f, lv_at(c, x, idx)), *y;
  if (op->kind == LATHE_OP_DEQUANTIZE_LINEAR) {
    y = kbin(c, LATHE_KOP_MUL, kbin(c, LATHE_KOP_SUB, v, z), s);
  } else {
    y = kbin(c, LATHE_KOP_ADD, kun(c, LATHE_KOP_ROUND, kbin(c, LATHE_KOP_DIV, v, s)), z);
    y = lathe_kexpr_cast(c->p, out, y);
  }
  set_expr(c, op, 0, dims, y, NULL);
  return NULL;
}

/* dynamic_quantize_linear(x) -> (y: u8, y_scale: f32[], y_zero_point: u8[]):
 *   scale = (max(0, max x) - min(0, min x)) / 255   (1 / 255 when that range is 0)
 *   zp    = round_half_even(clamp(-min(0, min x) / scale, 0, 255))
 *   y     = clamp(round_half_even(x / scale) + zp, 0, 255)
 * Two reductions (max and min, starting at 0) and expressions over them; the
 * f32 operations are done in f64 and rounded to f32 after each step, which
 * gives f32 arithmetic's exact results (ONNX's reference computes in f32). */
lathe_status_t lower_dynamic_quantize(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  lathe_dtype_t f = LATHE_DTYPE_F32, d = LATHE_DTYPE_F64;
  if (x->dtype != f) return unsupported(op, "x must be f32");
  const lathe_kexpr_t *it[LATHE_MAX_RANK], *none[1] = {NULL};
  lathe_kdim_t scalar[1] = {lathe_kdim_static(1)}; /* rank 0: never read */
  iters(c, x->rank, it);
  const lathe_kbuffer_t *lim[2];
  static const lathe_kcombiner_t comb[2] = {LATHE_KCOMB_MAX, LATHE_KCOMB_MIN};
  for (int i = 0; i < 2; ++i) {
    lim[i] = scratch(c, i ? "min" : "max", f, 0, scalar);
    lathe_kstmt_desc_t s = {.num_iters = x->rank,
                            .extents = x->dims,
                            .num_reduce = x->rank,
                            .target = lim[i],
                            .target_index = none,
                            .value = lv_at(c, x, it),
                            .combiner = comb[i],
                            .init = kf(c, f, 0)};
    LATHE_RETURN_IF_ERROR(emit(c, &s));
  }
  /* f32 arithmetic: an f64 operation on f32 values, rounded to f32. */
#define F32(e) lathe_kexpr_cast(c->p, d, lathe_kexpr_cast(c->p, f, (e)))
  const lathe_kexpr_t *mx = lathe_kexpr_cast(c->p, d, lathe_kexpr_load(c->p, lim[0], none));
  const lathe_kexpr_t *mn = lathe_kexpr_cast(c->p, d, lathe_kexpr_load(c->p, lim[1], none));
  const lathe_kexpr_t *range =
      ksel(c, kbin(c, LATHE_KOP_EQ, mx, mn), kf(c, d, 1.0), F32(kbin(c, LATHE_KOP_SUB, mx, mn)));
  const lathe_kexpr_t *scale = F32(kbin(c, LATHE_KOP_DIV, range, kf(c, d, 255.0)));
  const lathe_kexpr_t *zero = kf(c, d, 0.0), *top = kf(c, d, 255.0);
  const lathe_kexpr_t *izp = kun(c, LATHE_KOP_NEG, F32(kbin(c, LATHE_KOP_DIV, mn, scale)));
  const lathe_kexpr_t *zp = kun(c, LATHE_KOP_ROUND, kclamp(c, izp, zero, top));
  const lathe_kexpr_t *xv = lathe_kexpr_cast(c->p, d, lv_at(c, x, it));
  const lathe_kexpr_t *y =
      kbin(c, LATHE_KOP_ADD, kun(c, LATHE_KOP_ROUND, F32(kbin(c, LATHE_KOP_DIV, xv, scale))), zp);
#undef F32
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, x->dims, dims));
  set_expr(c, op, 0, dims, lathe_kexpr_cast(c->p, LATHE_DTYPE_U8, kclamp(c, y, zero, top)), NULL);
  set_expr(c, op, 1, scalar, lathe_kexpr_cast(c->p, f, scale), NULL);
  set_expr(c, op, 2, scalar, lathe_kexpr_cast(c->p, LATHE_DTYPE_U8, zp), NULL);
  return NULL;
}
