/* Reductions: reduce_*, argmax/argmin, global pooling and cum_sum.
 *
 * A reduction is one statement whose iterators are the kept dims (outer)
 * followed by the reduced dims, with a combiner and an init value. When the
 * accumulated value is the result itself (sum, max, min, prod in a dtype that
 * computes in itself) the statement writes the result's buffer; otherwise
 * (mean, l2, log-sum-exp, f16 results accumulated in f32) it writes a scratch
 * buffer and the result is an expression over it, which a consumer in the
 * same group fuses.
 */
#include <math.h>

#include "kernel/lower.h"

lathe_status_t red_init(const lathe_op_t *op, const lval_t *x, const int64_t *axes, size_t n,
                        bool keep, red_t *r) {
  *r = (red_t){.rank = x->rank, .keep = keep};
  for (size_t i = 0; i < n; ++i) {
    uint32_t a;
    lathe_status_t st = lathe_normalize_axis(axes[i], x->rank, &a);
    if (st) {
      lathe_status_free(st);
      return unsupported(op, "axis %lld is out of range", (long long)axes[i]);
    }
    r->reduced[a] = true;
  }
  if (!n)
    for (uint32_t d = 0; d < x->rank; ++d) r->reduced[d] = true;
  for (uint32_t d = 0; d < x->rank; ++d) {
    if (r->reduced[d]) r->red[r->nr++] = x->dims[d];
    else r->outer[r->no++] = x->dims[d];
  }
  for (uint32_t i = 0; i < r->no; ++i) r->all[i] = r->outer[i];
  for (uint32_t i = 0; i < r->nr; ++i) r->all[r->no + i] = r->red[i];
  return NULL;
}

/* The operand index at statement iterators (outer..., reduced...). */
void red_input_index(lower_ctx_t *c, const red_t *r, const lathe_kexpr_t **out) {
  for (uint32_t d = 0, o = 0, k = 0; d < r->rank; ++d)
    out[d] = lathe_kexpr_iter(c->p, r->reduced[d] ? r->no + k++ : o++);
}

/* The result's dims, and its index from the outer iterators. */
void red_result(lower_ctx_t *c, const red_t *r, lathe_kdim_t *dims, const lathe_kexpr_t **index) {
  uint32_t n = 0;
  for (uint32_t d = 0, o = 0; d < r->rank; ++d) {
    if (!r->reduced[d]) {
      dims[n] = r->outer[o];
      index[n++] = lathe_kexpr_iter(c->p, o++);
    } else if (r->keep) {
      dims[n] = lathe_kdim_static(1);
      index[n++] = kint(c, 0);
    }
  }
}

/* The outer index from a result index. */
void red_outer_of(const red_t *r, const lathe_kexpr_t *const *result_index,
                  const lathe_kexpr_t **out) {
  for (uint32_t d = 0, o = 0, j = 0; d < r->rank; ++d) {
    if (!r->reduced[d]) out[o++] = result_index[j];
    if (!r->reduced[d] || r->keep) ++j;
  }
}

static const lathe_kexpr_t *count_of(lower_ctx_t *c, const red_t *r, lathe_dtype_t t) {
  const lathe_kexpr_t *n = kint(c, 1);
  for (uint32_t i = 0; i < r->nr; ++i) n = kbin(c, LATHE_KOP_MUL, n, kdim(c, r->red[i]));
  return lathe_kexpr_cast(c->p, t, n);
}

static const double kInit[] = {[LATHE_KCOMB_SUM] = 0,
                               [LATHE_KCOMB_PROD] = 1,
                               [LATHE_KCOMB_MAX] = -INFINITY,
                               [LATHE_KCOMB_MIN] = INFINITY};

lathe_status_t accumulate(lower_ctx_t *c, const red_t *r, const char *name, lathe_dtype_t t,
                          const lathe_kexpr_t *value, lathe_kcombiner_t comb,
                          const lathe_kbuffer_t **out) {
  const lathe_kbuffer_t *acc = scratch(c, name, t, r->no, r->outer);
  const lathe_kexpr_t *ti[LATHE_MAX_RANK];
  iters(c, r->no, ti);
  lathe_kstmt_desc_t s = {.num_iters = r->no + r->nr,
                          .extents = r->all,
                          .num_reduce = r->nr,
                          .target = acc,
                          .target_index = ti,
                          .value = lathe_kexpr_cast(c->p, t, value),
                          .combiner = comb,
                          .init = kf(c, t, kInit[comb])};
  *out = acc;
  return emit(c, &s);
}

/* What each reduce op accumulates and how the result follows from it. */
typedef enum { V_X, V_ABS, V_SQUARE, V_ABS_POW } value_kind_t;
typedef enum { P_NONE, P_MEAN, P_SQRT, P_LOG, P_ROOT } post_kind_t;
typedef struct {
  lathe_kcombiner_t comb;
  value_kind_t value;
  post_kind_t post;
} red_kind_t;

static red_kind_t kind_of(lathe_op_kind_t k) {
  switch (k) {
  case LATHE_OP_REDUCE_MEAN:
  case LATHE_OP_GLOBAL_AVERAGE_POOL: return (red_kind_t){LATHE_KCOMB_SUM, V_X, P_MEAN};
  case LATHE_OP_REDUCE_MAX:
  case LATHE_OP_GLOBAL_MAX_POOL: return (red_kind_t){LATHE_KCOMB_MAX, V_X, P_NONE};
  case LATHE_OP_REDUCE_MIN: return (red_kind_t){LATHE_KCOMB_MIN, V_X, P_NONE};
  case LATHE_OP_REDUCE_PROD: return (red_kind_t){LATHE_KCOMB_PROD, V_X, P_NONE};
  case LATHE_OP_REDUCE_L1: return (red_kind_t){LATHE_KCOMB_SUM, V_ABS, P_NONE};
  case LATHE_OP_REDUCE_L2: return (red_kind_t){LATHE_KCOMB_SUM, V_SQUARE, P_SQRT};
  case LATHE_OP_REDUCE_LOG_SUM: return (red_kind_t){LATHE_KCOMB_SUM, V_X, P_LOG};
  case LATHE_OP_REDUCE_SUM_SQUARE: return (red_kind_t){LATHE_KCOMB_SUM, V_SQUARE, P_NONE};
  case LATHE_OP_GLOBAL_LP_POOL: return (red_kind_t){LATHE_KCOMB_SUM, V_ABS_POW, P_ROOT};
  default: return (red_kind_t){LATHE_KCOMB_SUM, V_X, P_NONE};
  }
}

static lathe_status_t reduce_common(lower_ctx_t *c, const lathe_op_t *op, const red_t *r) {
  const lval_t *x = lv_operand(c, op, 0);
  lathe_dtype_t dtype = op->results[0].type.dtype, cd = compute_dtype(dtype);
  /* Bools (reduce_max = any, reduce_min = all) accumulate as u8 0/1, where
   * max and min are defined; the inits saturate to 0 and 255, and an empty
   * reduce_min reads back as true, an empty reduce_max as false. */
  if (dtype == LATHE_DTYPE_BOOL) cd = LATHE_DTYPE_U8;
  red_kind_t k = kind_of(op->kind);
  const lathe_kexpr_t *xi[LATHE_MAX_RANK], *ri[LATHE_MAX_RANK], *oi[LATHE_MAX_RANK];
  lathe_kdim_t fallback[LATHE_MAX_RANK], dims[LATHE_MAX_RANK];
  red_input_index(c, r, xi);
  red_result(c, r, fallback, ri);
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, fallback, dims));
  const lathe_kexpr_t *v = lv_at(c, x, xi);
  double p = op->kind == LATHE_OP_GLOBAL_LP_POOL ? (double)lathe_op_attr_int(op, "p") : 2;
  if (k.value == V_ABS || k.value == V_ABS_POW) v = kun(c, LATHE_KOP_ABS, v);
  if (k.value == V_SQUARE) v = kbin(c, LATHE_KOP_MUL, v, v);
  if (k.value == V_ABS_POW) v = kbin(c, LATHE_KOP_POW, v, kf(c, cd, p));
  const lathe_kexpr_t *m = NULL; /* log-sum-exp: the row max, subtracted for range */
  if (op->kind == LATHE_OP_REDUCE_LOG_SUM_EXP) {
    const lathe_kbuffer_t *mb;
    LATHE_RETURN_IF_ERROR(accumulate(c, r, "max", cd, v, LATHE_KCOMB_MAX, &mb));
    const lathe_kexpr_t *ti[LATHE_MAX_RANK];
    iters(c, r->no, ti);
    m = lathe_kexpr_load(c->p, mb, ti);
    v = kun(c, LATHE_KOP_EXP, kbin(c, LATHE_KOP_SUB, v, m));
    k.post = P_LOG;
  }
  if (k.post == P_NONE && !m && cd == dtype) {
    lathe_kbuffer_t *out = set_buffer(c, op, 0, dims);
    lathe_kstmt_desc_t s = {.num_iters = r->no + r->nr,
                            .extents = r->all,
                            .num_reduce = r->nr,
                            .target = out,
                            .target_index = ri,
                            .value = lathe_kexpr_cast(c->p, dtype, v),
                            .combiner = k.comb,
                            .init = kf(c, dtype, kInit[k.comb])};
    return emit(c, &s);
  }
  const lathe_kbuffer_t *acc;
  LATHE_RETURN_IF_ERROR(accumulate(c, r, "acc", cd, v, k.comb, &acc));
  /* The result, as an expression over its own index. */
  const lathe_kexpr_t *idx[LATHE_MAX_RANK];
  iters(c, op->results[0].type.rank, idx);
  red_outer_of(r, idx, oi);
  const lathe_kexpr_t *e = lathe_kexpr_load(c->p, acc, oi);
  if (k.post == P_MEAN) e = kbin(c, LATHE_KOP_DIV, e, count_of(c, r, cd));
  if (k.post == P_SQRT) e = kun(c, LATHE_KOP_SQRT, e);
  if (k.post == P_LOG) e = kun(c, LATHE_KOP_LOG, e);
  if (k.post == P_ROOT) e = kbin(c, LATHE_KOP_POW, e, kf(c, cd, 1.0 / p));
  if (m) e = kbin(c, LATHE_KOP_ADD, e, subst(c, m, r->no, oi));
  set_expr(c, op, 0, dims, e, NULL);
  return NULL;
}

lathe_status_t lower_reduce(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  const int64_t *axes;
  size_t n = lathe_op_attr_ints(op, "axes", &axes);
  if (!n && lathe_op_attr_int(op, "noop_with_empty_axes")) {
    const lathe_kexpr_t *idx[LATHE_MAX_RANK];
    iters(c, x->rank, idx);
    set_expr(c, op, 0, x->dims, lv_at(c, x, idx), NULL);
    return NULL;
  }
  red_t r;
  LATHE_RETURN_IF_ERROR(red_init(op, x, axes, n, lathe_op_attr_int(op, "keepdims") != 0, &r));
  return reduce_common(c, op, &r);
}

lathe_status_t lower_global_pool(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  int64_t axes[LATHE_MAX_RANK];
  if (x->rank < 3) return unsupported(op, "needs [N, C, spatial...]");
  for (uint32_t d = 2; d < x->rank; ++d) axes[d - 2] = d;
  red_t r;
  LATHE_RETURN_IF_ERROR(red_init(op, x, axes, x->rank - 2, true, &r));
  return reduce_common(c, op, &r);
}

/* argmax/argmin: the extremum, then the first (or last) position holding it
 * (NaN counts as the extremum, as numpy's argmax does). */
lathe_status_t lower_arg_reduce(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  int64_t axis = lathe_op_attr_int(op, "axis");
  red_t r;
  LATHE_RETURN_IF_ERROR(red_init(op, x, &axis, 1, lathe_op_attr_int(op, "keepdims") != 0, &r));
  bool is_max = op->kind == LATHE_OP_ARGMAX, last = lathe_op_attr_int(op, "select_last_index");
  lathe_dtype_t cd = compute_dtype(x->dtype);
  const lathe_kexpr_t *xi[LATHE_MAX_RANK], *ri[LATHE_MAX_RANK], *ti[LATHE_MAX_RANK];
  lathe_kdim_t fallback[LATHE_MAX_RANK], dims[LATHE_MAX_RANK];
  red_input_index(c, &r, xi);
  red_result(c, &r, fallback, ri);
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, fallback, dims));
  const lathe_kexpr_t *v = lv_at(c, x, xi);
  const lathe_kbuffer_t *mb;
  LATHE_RETURN_IF_ERROR(accumulate(c, &r, is_max ? "max" : "min", cd, v,
                                   is_max ? LATHE_KCOMB_MAX : LATHE_KCOMB_MIN, &mb));
  iters(c, r.no, ti);
  const lathe_kexpr_t *m = lathe_kexpr_load(c->p, mb, ti), *hit = kbin(c, LATHE_KOP_EQ, v, m);
  if (lathe_dtype_is_float(cd))
    hit = kbin(c, LATHE_KOP_OR, hit,
               kbin(c, LATHE_KOP_AND, kun(c, LATHE_KOP_ISNAN, v), kun(c, LATHE_KOP_ISNAN, m)));
  const lathe_kexpr_t *pos = lathe_kexpr_iter(c->p, r.no);
  const lathe_kexpr_t *miss = last ? kint(c, -1) : kdim(c, r.red[0]);
  lathe_kbuffer_t *out = set_buffer(c, op, 0, dims);
  lathe_kstmt_desc_t s = {.num_iters = r.no + 1,
                          .extents = r.all,
                          .num_reduce = 1,
                          .target = out,
                          .target_index = ri,
                          .value = ksel(c, hit, pos, miss),
                          .combiner = last ? LATHE_KCOMB_MAX : LATHE_KCOMB_MIN,
                          .init = miss};
  return emit(c, &s);
}

/* cum_sum: out[i] = sum of x[r] along the axis for r <= i (r < i when
 * exclusive; r >= i / r > i when reversed): a masked reduction. */
lathe_status_t lower_cum_sum(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  uint32_t a;
  lathe_status_t st = lathe_normalize_axis(lathe_op_attr_int(op, "axis"), x->rank, &a);
  if (st) {
    lathe_status_free(st);
    return unsupported(op, "axis is out of range");
  }
  bool excl = lathe_op_attr_int(op, "exclusive"), rev = lathe_op_attr_int(op, "reverse");
  lathe_dtype_t dtype = x->dtype, cd = compute_dtype(dtype);
  lathe_kdim_t ext[LATHE_MAX_RANK + 1];
  for (uint32_t d = 0; d < x->rank; ++d) ext[d] = x->dims[d];
  ext[x->rank] = x->dims[a];
  const lathe_kexpr_t *idx[LATHE_MAX_RANK + 1], *xi[LATHE_MAX_RANK];
  iters(c, x->rank + 1, idx);
  for (uint32_t d = 0; d < x->rank; ++d) xi[d] = d == a ? idx[x->rank] : idx[d];
  lathe_kop_t cmp =
      rev ? (excl ? LATHE_KOP_GT : LATHE_KOP_GE) : (excl ? LATHE_KOP_LT : LATHE_KOP_LE);
  const lathe_kexpr_t *v =
      ksel(c, kbin(c, cmp, idx[x->rank], idx[a]), lv_at(c, x, xi), kf(c, cd, 0));
  const lathe_kbuffer_t *target =
      cd == dtype ? set_buffer(c, op, 0, x->dims) : scratch(c, "acc", cd, x->rank, x->dims);
  lathe_kstmt_desc_t s = {.num_iters = x->rank + 1,
                          .extents = ext,
                          .num_reduce = 1,
                          .target = target,
                          .target_index = idx,
                          .value = lathe_kexpr_cast(c->p, target->dtype, v),
                          .combiner = LATHE_KCOMB_SUM,
                          .init = kf(c, target->dtype, 0)};
  LATHE_RETURN_IF_ERROR(emit(c, &s));
  if (cd != dtype) set_expr(c, op, 0, x->dims, lathe_kexpr_load(c->p, target, idx), NULL);
  return NULL;
}
