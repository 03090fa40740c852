/* Normalizations and softmax: each is a few statements in one kernel that
 * reduce a row (max and sum of exponentials; mean and variance), then an
 * expression for the result that reads those per-row scratch values. The
 * statements iterate the row index first, so the kernel shares the outer
 * loops and a row is normalized while it is still in cache.
 *
 * Statistics use two passes (mean, then the mean of squared deviations),
 * not E[x^2] - E[x]^2, which loses everything to cancellation on rows with a
 * large mean. Their dtype is the op's stash type (f32 unless it asks for f64).
 */
#include "kernel/lower.h"

static lathe_dtype_t stash_dtype(const lathe_op_t *op, lathe_dtype_t x) {
  if (!lathe_op_attr_schema(op->kind, "stash_type")) return compute_dtype(x);
  return lathe_op_attr_int(op, "stash_type") == 11 ? LATHE_DTYPE_F64 : LATHE_DTYPE_F32;
}

static const lathe_kexpr_t *load_outer(lower_ctx_t *c, const lathe_kbuffer_t *b, const red_t *r,
                                       const lathe_kexpr_t *const *result_index) {
  const lathe_kexpr_t *o[LATHE_MAX_RANK];
  red_outer_of(r, result_index, o);
  return lathe_kexpr_load(c->p, b, o);
}

static const lathe_kexpr_t *count_of(lower_ctx_t *c, const red_t *r, lathe_dtype_t t) {
  const lathe_kexpr_t *n = kint(c, 1);
  for (uint32_t i = 0; i < r->nr; ++i) n = kbin(c, LATHE_KOP_MUL, n, kdim(c, r->red[i]));
  return lathe_kexpr_cast(c->p, t, n);
}

/* softmax, log_softmax, hardmax along one axis. */
lathe_status_t lower_softmax(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  int64_t axis = lathe_op_attr_int(op, "axis");
  red_t r;
  LATHE_RETURN_IF_ERROR(red_init(op, x, &axis, 1, true, &r));
  lathe_dtype_t cd = compute_dtype(x->dtype);
  const lathe_kexpr_t *xi[LATHE_MAX_RANK], *ti[LATHE_MAX_RANK], *idx[LATHE_MAX_RANK];
  red_input_index(c, &r, xi);
  iters(c, r.no, ti);
  iters(c, x->rank, idx);
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, x->dims, dims));
  const lathe_kexpr_t *v = lv_at(c, x, xi);
  const lathe_kbuffer_t *mb, *sb;
  LATHE_RETURN_IF_ERROR(accumulate(c, &r, "max", cd, v, LATHE_KCOMB_MAX, &mb));
  const lathe_kexpr_t *m = lathe_kexpr_load(c->p, mb, ti);
  if (op->kind == LATHE_OP_HARDMAX) {
    /* One-hot of the first position holding the maximum. */
    const lathe_kexpr_t *pos = lathe_kexpr_iter(c->p, r.no), *miss = kdim(c, r.red[0]);
    const lathe_kbuffer_t *ib = scratch(c, "argmax", LATHE_DTYPE_I64, r.no, r.outer);
    lathe_kstmt_desc_t s = {.num_iters = r.no + 1,
                            .extents = r.all,
                            .num_reduce = 1,
                            .target = ib,
                            .target_index = ti,
                            .value = ksel(c, kbin(c, LATHE_KOP_EQ, v, m), pos, miss),
                            .combiner = LATHE_KCOMB_MIN,
                            .init = miss};
    LATHE_RETURN_IF_ERROR(emit(c, &s));
    uint32_t a = 0;
    while (!r.reduced[a]) ++a;
    const lathe_kexpr_t *hit = kbin(c, LATHE_KOP_EQ, idx[a], load_outer(c, ib, &r, idx));
    set_expr(c, op, 0, dims, ksel(c, hit, kf(c, cd, 1), kf(c, cd, 0)), NULL);
    return NULL;
  }
  LATHE_RETURN_IF_ERROR(accumulate(
      c, &r, "sum", cd, kun(c, LATHE_KOP_EXP, kbin(c, LATHE_KOP_SUB, v, m)), LATHE_KCOMB_SUM, &sb));
  const lathe_kexpr_t *shifted =
      kbin(c, LATHE_KOP_SUB, lv_at(c, x, idx), load_outer(c, mb, &r, idx));
  const lathe_kexpr_t *sum = load_outer(c, sb, &r, idx), *y;
  if (op->kind == LATHE_OP_LOG_SOFTMAX)
    y = kbin(c, LATHE_KOP_SUB, shifted, kun(c, LATHE_KOP_LOG, sum));
  else y = kbin(c, LATHE_KOP_DIV, kun(c, LATHE_KOP_EXP, shifted), sum);
  set_expr(c, op, 0, dims, y, NULL);
  return NULL;
}

/* Mean and 1/sqrt(var + eps) of each row of r, as scratch buffers. */
static lathe_status_t moments(lower_ctx_t *c, const red_t *r, const lathe_kexpr_t *v,
                              lathe_dtype_t t, double eps, const lathe_kbuffer_t **out_mean,
                              const lathe_kbuffer_t **out_rstd) {
  const lathe_kbuffer_t *sum, *sq;
  const lathe_kexpr_t *ti[LATHE_MAX_RANK];
  iters(c, r->no, ti);
  v = lathe_kexpr_cast(c->p, t, v);
  LATHE_RETURN_IF_ERROR(accumulate(c, r, "sum", t, v, LATHE_KCOMB_SUM, &sum));
  const lathe_kexpr_t *mean =
      kbin(c, LATHE_KOP_DIV, lathe_kexpr_load(c->p, sum, ti), count_of(c, r, t));
  const lathe_kexpr_t *dev = kbin(c, LATHE_KOP_SUB, v, mean);
  LATHE_RETURN_IF_ERROR(
      accumulate(c, r, "sqdev", t, kbin(c, LATHE_KOP_MUL, dev, dev), LATHE_KCOMB_SUM, &sq));
  /* Two small per-row statements turn the sums into the moments. */
  const lathe_kbuffer_t *mb = scratch(c, "mean", t, r->no, r->outer);
  const lathe_kbuffer_t *rb = scratch(c, "rstd", t, r->no, r->outer);
  const lathe_kexpr_t *var =
      kbin(c, LATHE_KOP_DIV, lathe_kexpr_load(c->p, sq, ti), count_of(c, r, t));
  lathe_kstmt_desc_t s = {
      .num_iters = r->no, .extents = r->outer, .target = mb, .target_index = ti, .value = mean};
  LATHE_RETURN_IF_ERROR(emit(c, &s));
  s.target = rb;
  s.value = kun(c, LATHE_KOP_RSQRT, kbin(c, LATHE_KOP_ADD, var, kf(c, t, eps)));
  LATHE_RETURN_IF_ERROR(emit(c, &s));
  *out_mean = mb;
  *out_rstd = rb;
  return NULL;
}

/* layer_norm(x, scale, bias?) and rms_norm(x, scale) over dims [axis, rank). */
lathe_status_t lower_layer_norm(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0), *scale = lv_operand(c, op, 1);
  const lval_t *bias = op->kind == LATHE_OP_LAYER_NORM ? lv_operand(c, op, 2) : NULL;
  uint32_t axis;
  lathe_status_t st = lathe_normalize_axis(lathe_op_attr_int(op, "axis"), x->rank, &axis);
  if (st) {
    lathe_status_free(st);
    return unsupported(op, "axis is out of range");
  }
  int64_t axes[LATHE_MAX_RANK];
  for (uint32_t d = axis; d < x->rank; ++d) axes[d - axis] = d;
  red_t r;
  LATHE_RETURN_IF_ERROR(red_init(op, x, axes, x->rank - axis, true, &r));
  if (r.nr == 0) return unsupported(op, "normalizes no dims");
  lathe_dtype_t t = stash_dtype(op, x->dtype), cd = compute_dtype(x->dtype);
  double eps = lathe_op_attr_float(op, "epsilon");
  const lathe_kexpr_t *xi[LATHE_MAX_RANK], *idx[LATHE_MAX_RANK];
  red_input_index(c, &r, xi);
  iters(c, x->rank, idx);
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, x->dims, dims));
  const lathe_kexpr_t *xv = lathe_kexpr_cast(c->p, t, lv_at(c, x, idx)), *y;
  if (op->kind == LATHE_OP_RMS_NORM) {
    const lathe_kexpr_t *v = lathe_kexpr_cast(c->p, t, lv_at(c, x, xi));
    const lathe_kbuffer_t *ss;
    LATHE_RETURN_IF_ERROR(
        accumulate(c, &r, "sumsq", t, kbin(c, LATHE_KOP_MUL, v, v), LATHE_KCOMB_SUM, &ss));
    const lathe_kexpr_t *ms =
        kbin(c, LATHE_KOP_DIV, load_outer(c, ss, &r, idx), count_of(c, &r, t));
    y = kbin(c, LATHE_KOP_MUL, xv,
             kun(c, LATHE_KOP_RSQRT, kbin(c, LATHE_KOP_ADD, ms, kf(c, t, eps))));
  } else {
    const lathe_kbuffer_t *mb, *rb;
    LATHE_RETURN_IF_ERROR(moments(c, &r, lv_at(c, x, xi), t, eps, &mb, &rb));
    y = kbin(c, LATHE_KOP_MUL, kbin(c, LATHE_KOP_SUB, xv, load_outer(c, mb, &r, idx)),
             load_outer(c, rb, &r, idx));
    /* Optional results: mean and inverse std dev, reduced dims kept as 1. */
    for (uint32_t k = 1; k < op->num_results && k < 3; ++k) {
      lathe_kdim_t sd[LATHE_MAX_RANK];
      LATHE_RETURN_IF_ERROR(result_dims(c, op, k, NULL, sd));
      set_expr(c, op, k, sd, load_outer(c, k == 1 ? mb : rb, &r, idx), NULL);
    }
  }
  y = kbin(c, LATHE_KOP_MUL, lathe_kexpr_cast(c->p, cd, y), lv_at_bcast(c, scale, x->rank, idx));
  if (bias) y = kbin(c, LATHE_KOP_ADD, y, lv_at_bcast(c, bias, x->rank, idx));
  set_expr(c, op, 0, dims, y, NULL);
  return NULL;
}

/* instance_norm (one group per channel) and group_norm: statistics over the
 * channels of a group and every spatial position; scale and bias per channel. */
lathe_status_t lower_instance_norm(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0), *scale = lv_operand(c, op, 1),
               *bias = lv_operand(c, op, 2);
  if (x->rank < 2) return unsupported(op, "needs [N, C, ...]");
  lathe_kdim_t C = x->dims[1];
  int64_t groups = op->kind == LATHE_OP_GROUP_NORM ? lathe_op_attr_int(op, "num_groups") : 0;
  if (groups && (!lathe_kdim_is_static(C) || groups <= 0 || C.size % groups))
    return unsupported(op, "channels must be static and divisible by num_groups");
  lathe_kdim_t G = groups ? lathe_kdim_static(groups) : C;
  lathe_kdim_t CG = groups ? lathe_kdim_static(C.size / groups) : lathe_kdim_static(1);
  /* Statement space: (n, g) outer; (c in group, spatial...) reduced. */
  red_t r = {.rank = x->rank + 1, .no = 2, .nr = x->rank - 1, .keep = false};
  r.outer[0] = x->dims[0];
  r.outer[1] = G;
  r.red[0] = CG;
  for (uint32_t d = 2; d < x->rank; ++d) r.red[d - 1] = x->dims[d];
  for (uint32_t i = 0; i < r.no; ++i) r.all[i] = r.outer[i];
  for (uint32_t i = 0; i < r.nr; ++i) r.all[r.no + i] = r.red[i];
  const lathe_kexpr_t *xi[LATHE_MAX_RANK], *idx[LATHE_MAX_RANK], *o[2];
  xi[0] = lathe_kexpr_iter(c->p, 0);
  xi[1] = kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MUL, lathe_kexpr_iter(c->p, 1), kdim(c, CG)),
               lathe_kexpr_iter(c->p, 2));
  for (uint32_t d = 2; d < x->rank; ++d) xi[d] = lathe_kexpr_iter(c->p, d + 1);
  lathe_dtype_t t = stash_dtype(op, x->dtype), cd = compute_dtype(x->dtype);
  const lathe_kbuffer_t *mb, *rb;
  LATHE_RETURN_IF_ERROR(
      moments(c, &r, lv_at(c, x, xi), t, lathe_op_attr_float(op, "epsilon"), &mb, &rb));
  iters(c, x->rank, idx);
  o[0] = idx[0];
  o[1] = kbin(c, LATHE_KOP_FLOORDIV, idx[1], kdim(c, CG));
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, x->dims, dims));
  const lathe_kexpr_t *ch = idx[1];
  const lathe_kexpr_t *y = kbin(c, LATHE_KOP_MUL,
                                kbin(c, LATHE_KOP_SUB, lathe_kexpr_cast(c->p, t, lv_at(c, x, idx)),
                                     lathe_kexpr_load(c->p, mb, o)),
                                lathe_kexpr_load(c->p, rb, o));
  y = kbin(c, LATHE_KOP_MUL, lathe_kexpr_cast(c->p, cd, y), lv_at(c, scale, &ch));
  y = kbin(c, LATHE_KOP_ADD, y, lv_at(c, bias, &ch));
  set_expr(c, op, 0, dims, y, NULL);
  return NULL;
}

/* batch_norm (inference): per channel (dim 1), an elementwise expression. */
lathe_status_t lower_batch_norm(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, x->dims, dims));
  const lathe_kexpr_t *idx[LATHE_MAX_RANK];
  iters(c, x->rank, idx);
  const lathe_kexpr_t *ch = x->rank > 1 ? idx[1] : kint(c, 0);
  const lathe_kexpr_t *p[4];
  for (uint32_t i = 0; i < 4; ++i) p[i] = lv_at(c, lv_operand(c, op, i + 1), &ch);
  lathe_dtype_t cd = compute_dtype(x->dtype);
  const lathe_kexpr_t *inv =
      kun(c, LATHE_KOP_RSQRT,
          kbin(c, LATHE_KOP_ADD, p[3], kf(c, cd, lathe_op_attr_float(op, "epsilon"))));
  const lathe_kexpr_t *y = kbin(c, LATHE_KOP_MUL, kbin(c, LATHE_KOP_SUB, lv_at(c, x, idx), p[2]),
                                kbin(c, LATHE_KOP_MUL, p[0], inv));
  set_expr(c, op, 0, dims, kbin(c, LATHE_KOP_ADD, y, p[1]), NULL);
  return NULL;
}

/* mean_variance_normalization: (x - mean) / (sqrt(var) + 1e-9) over `axes`
 * (default [0, 2, 3]), ONNX's function body. */
lathe_status_t lower_mvn(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  const int64_t *axes, dflt[3] = {0, 2, 3};
  size_t n = lathe_op_attr_ints(op, "axes", &axes);
  if (!n) {
    if (x->rank < 4) return unsupported(op, "the default axes need a 4-D operand");
    axes = dflt;
    n = 3;
  }
  red_t r;
  LATHE_RETURN_IF_ERROR(red_init(op, x, axes, n, true, &r));
  lathe_dtype_t t = compute_dtype(x->dtype);
  const lathe_kexpr_t *xi[LATHE_MAX_RANK], *idx[LATHE_MAX_RANK];
  red_input_index(c, &r, xi);
  iters(c, x->rank, idx);
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, x->dims, dims));
  const lathe_kbuffer_t *mb, *rb;
  LATHE_RETURN_IF_ERROR(moments(c, &r, lv_at(c, x, xi), t, 0.0, &mb, &rb));
  const lathe_kexpr_t *sd = kbin(c, LATHE_KOP_DIV, kf(c, t, 1), load_outer(c, rb, &r, idx));
  const lathe_kexpr_t *dev = kbin(c, LATHE_KOP_SUB, lv_at(c, x, idx), load_outer(c, mb, &r, idx));
  set_expr(c, op, 0, dims, kbin(c, LATHE_KOP_DIV, dev, kbin(c, LATHE_KOP_ADD, sd, kf(c, t, 1e-9))),
           NULL);
  return NULL;
}

/* lrn: x / (bias + alpha / size * sum of x^2 over a window of channels)^beta,
 * the window [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped to [0, C). */
lathe_status_t lower_lrn(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  int64_t size = lathe_op_attr_int(op, "size");
  if (x->rank < 2 || size <= 0) return unsupported(op, "needs [N, C, ...] and a positive size");
  lathe_dtype_t t = compute_dtype(x->dtype);
  uint32_t rank = x->rank;
  lathe_kdim_t ext[LATHE_MAX_RANK + 1], dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, x->dims, dims));
  for (uint32_t d = 0; d < rank; ++d) ext[d] = x->dims[d];
  ext[rank] = lathe_kdim_static(size);
  const lathe_kexpr_t *it[LATHE_MAX_RANK + 1], *xi[LATHE_MAX_RANK];
  iters(c, rank + 1, it);
  const lathe_kexpr_t *C = kdim(c, x->dims[1]);
  const lathe_kexpr_t *j =
      kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_SUB, it[1], kint(c, (size - 1) / 2)), it[rank]);
  for (uint32_t d = 0; d < rank; ++d) xi[d] = it[d];
  xi[1] = kclamp(c, j, kint(c, 0), kbin(c, LATHE_KOP_SUB, C, kint(c, 1)));
  const lathe_kexpr_t *v = lv_at(c, x, xi);
  const lathe_kexpr_t *in =
      kbin(c, LATHE_KOP_AND, kbin(c, LATHE_KOP_GE, j, kint(c, 0)), kbin(c, LATHE_KOP_LT, j, C));
  const lathe_kbuffer_t *sq = scratch(c, "sqsum", t, rank, x->dims);
  lathe_kstmt_desc_t s = {.num_iters = rank + 1,
                          .extents = ext,
                          .num_reduce = 1,
                          .target = sq,
                          .target_index = it,
                          .value = ksel(c, in, kbin(c, LATHE_KOP_MUL, v, v), kf(c, t, 0)),
                          .combiner = LATHE_KCOMB_SUM,
                          .init = kf(c, t, 0)};
  LATHE_RETURN_IF_ERROR(emit(c, &s));
  double alpha = lathe_op_attr_float(op, "alpha"), beta = lathe_op_attr_float(op, "beta");
  const lathe_kexpr_t *den =
      kbin(c, LATHE_KOP_ADD, kf(c, t, lathe_op_attr_float(op, "bias")),
           kbin(c, LATHE_KOP_MUL, kf(c, t, alpha / (double)size), lathe_kexpr_load(c->p, sq, it)));
  set_expr(c, op, 0, dims,
           kbin(c, LATHE_KOP_DIV, lv_at(c, x, it), kbin(c, LATHE_KOP_POW, den, kf(c, t, beta))),
           NULL);
  return NULL;
}

/* lp_normalization: x / (sum over axis of |x|^p)^(1/p), p 1 or 2 (ONNX's
 * spec: the Lp norm; onnx.reference sums x^p, the same for p 2 and for
 * nonnegative x). */
lathe_status_t lower_lp_normalization(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  int64_t axis = lathe_op_attr_int(op, "axis"), p = lathe_op_attr_int(op, "p");
  red_t r;
  LATHE_RETURN_IF_ERROR(red_init(op, x, &axis, 1, true, &r));
  lathe_dtype_t cd = compute_dtype(x->dtype);
  const lathe_kexpr_t *xi[LATHE_MAX_RANK], *idx[LATHE_MAX_RANK], *oi[LATHE_MAX_RANK];
  red_input_index(c, &r, xi);
  iters(c, x->rank, idx);
  red_outer_of(&r, idx, oi);
  const lathe_kexpr_t *v = lv_at(c, x, xi);
  v = p == 1 ? kun(c, LATHE_KOP_ABS, v) : kbin(c, LATHE_KOP_MUL, v, v);
  const lathe_kbuffer_t *sb;
  LATHE_RETURN_IF_ERROR(accumulate(c, &r, "norm", cd, v, LATHE_KCOMB_SUM, &sb));
  const lathe_kexpr_t *norm = lathe_kexpr_load(c->p, sb, oi);
  if (p != 1) norm = kun(c, LATHE_KOP_SQRT, norm);
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, x->dims, dims));
  set_expr(c, op, 0, dims, kbin(c, LATHE_KOP_DIV, lv_at(c, x, idx), norm), NULL);
  return NULL;
}
