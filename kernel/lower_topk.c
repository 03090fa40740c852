/* top_k: the k first elements along an axis in a total order, and their
 * positions.
 *
 * The order is ONNX's: by value (descending when `largest`, ascending
 * otherwise), ties to the lower index; NaN counts as greater than every
 * number (the reference sorts it so: first when largest, last otherwise) and
 * NaNs tie among themselves. Results are always sorted (`sorted` = 0 leaves
 * the order to the implementation).
 *
 * Two lowerings, both plain reductions (no new statement kind):
 *   - small k: k passes of selection. Pass j picks the first element, in the
 *     order, of those that come after pass j-1's pick: one reduction finds
 *     the best number among them (max or min), a second the lowest position
 *     holding it, encoded so a NaN (which beats every number when largest,
 *     loses to them otherwise) wins or loses by priority. 2k statements of
 *     O(n) each per row, sharing the row loops.
 *   - larger k: ranks. rank[i] = the number of elements before element i in
 *     the order (an O(n^2) count per row; the ranks are a permutation), then
 *     output j is the position whose rank is j.
 * The values are then a gather of x at the chosen positions.
 */
#include <math.h>
#include <string.h>

#include "kernel/lower.h"

#define MAX_PASSES 16 /* larger k use ranks (each pass costs compile time) */

typedef struct {
  lower_ctx_t *c;
  const lval_t *x;
  uint32_t axis, rank;
  bool largest, is_float;
  lathe_kdim_t n;
} tk_t;

/* x at the outer iterators (every dim but the axis, in order) and position pos. */
static const lathe_kexpr_t *x_at(const tk_t *t, const lathe_kexpr_t *const *outer,
                                 const lathe_kexpr_t *pos) {
  const lathe_kexpr_t *idx[LATHE_MAX_RANK];
  for (uint32_t d = 0, o = 0; d < t->rank; ++d) idx[d] = d == t->axis ? pos : outer[o++];
  return lv_at(t->c, t->x, idx);
}

/* An index of a result-shaped buffer: the outer iterators with j at the axis. */
static void at_axis(const tk_t *t, const lathe_kexpr_t *const *outer, const lathe_kexpr_t *j,
                    const lathe_kexpr_t **out) {
  for (uint32_t d = 0, o = 0; d < t->rank; ++d) out[d] = d == t->axis ? j : outer[o++];
}

static const lathe_kexpr_t *isnan_(const tk_t *t, const lathe_kexpr_t *v) {
  return kun(t->c, LATHE_KOP_ISNAN, v);
}

/* a > b in the value order (NaN above every number). */
static const lathe_kexpr_t *greater(const tk_t *t, const lathe_kexpr_t *a, const lathe_kexpr_t *b) {
  lower_ctx_t *c = t->c;
  const lathe_kexpr_t *gt = kbin(c, LATHE_KOP_GT, a, b);
  if (!t->is_float) return gt;
  return kbin(c, LATHE_KOP_OR, gt,
              kbin(c, LATHE_KOP_AND, isnan_(t, a), kun(c, LATHE_KOP_NOT, isnan_(t, b))));
}

static const lathe_kexpr_t *same(const tk_t *t, const lathe_kexpr_t *a, const lathe_kexpr_t *b) {
  lower_ctx_t *c = t->c;
  const lathe_kexpr_t *eq = kbin(c, LATHE_KOP_EQ, a, b);
  if (!t->is_float) return eq;
  return kbin(c, LATHE_KOP_OR, eq, kbin(c, LATHE_KOP_AND, isnan_(t, a), isnan_(t, b)));
}

/* Element (v, i) comes before element (u, j) in the top_k order. */
static const lathe_kexpr_t *before(const tk_t *t, const lathe_kexpr_t *v, const lathe_kexpr_t *i,
                                   const lathe_kexpr_t *u, const lathe_kexpr_t *j) {
  lower_ctx_t *c = t->c;
  const lathe_kexpr_t *better = t->largest ? greater(t, v, u) : greater(t, u, v);
  return kbin(c, LATHE_KOP_OR, better,
              kbin(c, LATHE_KOP_AND, same(t, v, u), kbin(c, LATHE_KOP_LT, i, j)));
}

/* k passes of selection into the i64 buffer `out` (the indices result). */
static lathe_status_t by_passes(const tk_t *t, int64_t k, lathe_kdim_t *outer_dims,
                                const lathe_kbuffer_t *out) {
  lower_ctx_t *c = t->c;
  lathe_dtype_t cd = compute_dtype(t->x->dtype);
  uint32_t no = t->rank - 1;
  lathe_kdim_t ext[LATHE_MAX_RANK + 1], kd[LATHE_MAX_RANK];
  memcpy(ext, outer_dims, no * sizeof *ext);
  ext[no] = t->n;
  memcpy(kd, outer_dims, no * sizeof *kd);
  kd[no] = lathe_kdim_static(k);
  /* best[outer, j]: the pass's best number; key[outer, j]: its encoded position. */
  const lathe_kbuffer_t *best = scratch(c, "best", cd, no + 1, kd);
  const lathe_kbuffer_t *key = scratch(c, "key", LATHE_DTYPE_I64, no + 1, kd);
  const lathe_kexpr_t *it[LATHE_MAX_RANK + 1], *ti[LATHE_MAX_RANK + 1];
  iters(c, no + 1, it);
  const lathe_kexpr_t *r = it[no], *v = x_at(t, it, r), *n = kdim(c, t->n);
  const lathe_kexpr_t *two_n = kbin(c, LATHE_KOP_MUL, n, kint(c, 2));
  double worst = t->largest ? -INFINITY : INFINITY;
  memcpy(ti, it, no * sizeof *ti);
  for (int64_t j = 0; j < k; ++j) {
    const lathe_kexpr_t *eligible = NULL;
    if (j > 0) {
      ti[no] = kint(c, j - 1);
      const lathe_kexpr_t *kp = lathe_kexpr_load(c->p, key, ti);
      const lathe_kexpr_t *pi =
          ksel(c, kbin(c, LATHE_KOP_GE, kp, n), kbin(c, LATHE_KOP_SUB, kp, n), kp);
      const lathe_kexpr_t *pv =
          x_at(t, it, kclamp(c, pi, kint(c, 0), kbin(c, LATHE_KOP_SUB, n, kint(c, 1))));
      eligible = before(t, pv, pi, v, r);
    }
    ti[no] = kint(c, j);
    const lathe_kexpr_t *number = t->is_float ? kun(c, LATHE_KOP_NOT, isnan_(t, v)) : NULL;
    const lathe_kexpr_t *pick = number;
    if (eligible) pick = pick ? kbin(c, LATHE_KOP_AND, eligible, pick) : eligible;
    lathe_kstmt_desc_t sa = {.num_iters = no + 1,
                             .extents = ext,
                             .num_reduce = 1,
                             .target = best,
                             .target_index = ti,
                             .value = pick ? ksel(c, pick, v, kf(c, cd, worst)) : v,
                             .combiner = t->largest ? LATHE_KCOMB_MAX : LATHE_KCOMB_MIN,
                             .init = kf(c, cd, worst)};
    LATHE_RETURN_IF_ERROR(emit(c, &sa));
    /* Position r with priority: NaNs before the best number when largest,
     * after it otherwise (+n); ineligible ones never (2n). */
    const lathe_kexpr_t *m = lathe_kexpr_load(c->p, best, ti);
    const lathe_kexpr_t *eq = kbin(c, LATHE_KOP_EQ, v, m), *nan = NULL;
    if (eligible) eq = kbin(c, LATHE_KOP_AND, eligible, eq);
    if (t->is_float) nan = eligible ? kbin(c, LATHE_KOP_AND, eligible, isnan_(t, v)) : isnan_(t, v);
    const lathe_kexpr_t *first = t->largest && nan ? nan : eq, *second = t->largest ? eq : nan;
    const lathe_kexpr_t *enc =
        ksel(c, first, r, second ? ksel(c, second, kbin(c, LATHE_KOP_ADD, r, n), two_n) : two_n);
    lathe_kstmt_desc_t sb = {.num_iters = no + 1,
                             .extents = ext,
                             .num_reduce = 1,
                             .target = key,
                             .target_index = ti,
                             .value = enc,
                             .combiner = LATHE_KCOMB_MIN,
                             .init = two_n};
    LATHE_RETURN_IF_ERROR(emit(c, &sb));
  }
  /* The indices result: the decoded keys. */
  const lathe_kexpr_t *oi[LATHE_MAX_RANK], *ki[LATHE_MAX_RANK + 1];
  iters(c, t->rank, oi);
  for (uint32_t d = 0, o = 0; d < t->rank; ++d)
    if (d != t->axis) ki[o++] = oi[d];
  ki[no] = oi[t->axis];
  const lathe_kexpr_t *kp = lathe_kexpr_load(c->p, key, ki);
  lathe_kstmt_desc_t sf = {
      .num_iters = t->rank,
      .extents = out->dims,
      .target = out,
      .target_index = oi,
      .value = ksel(c, kbin(c, LATHE_KOP_GE, kp, n), kbin(c, LATHE_KOP_SUB, kp, n), kp)};
  return emit(c, &sf);
}

/* Ranks, then the position holding each rank below k, into `out`. */
static lathe_status_t by_ranks(const tk_t *t, const lathe_kbuffer_t *out) {
  lower_ctx_t *c = t->c;
  uint32_t R = t->rank, a = t->axis;
  lathe_kdim_t ext[LATHE_MAX_RANK + 1];
  memcpy(ext, t->x->dims, R * sizeof *ext);
  ext[R] = t->n;
  const lathe_kbuffer_t *rk = scratch(c, "rank", LATHE_DTYPE_I64, R, t->x->dims);
  const lathe_kexpr_t *it[LATHE_MAX_RANK + 1], *outer[LATHE_MAX_RANK], *other[LATHE_MAX_RANK];
  iters(c, R + 1, it);
  for (uint32_t d = 0, o = 0; d < R; ++d)
    if (d != a) outer[o++] = it[d];
  const lathe_kexpr_t *r = it[R], *one = kint(c, 1), *zero = kint(c, 0);
  const lathe_kexpr_t *counted = before(t, x_at(t, outer, r), r, x_at(t, outer, it[a]), it[a]);
  lathe_kstmt_desc_t s1 = {.num_iters = R + 1,
                           .extents = ext,
                           .num_reduce = 1,
                           .target = rk,
                           .target_index = it,
                           .value = ksel(c, counted, one, zero),
                           .combiner = LATHE_KCOMB_SUM,
                           .init = zero};
  LATHE_RETURN_IF_ERROR(emit(c, &s1));
  memcpy(ext, out->dims, R * sizeof *ext);
  at_axis(t, outer, r, other);
  lathe_kstmt_desc_t s2 = {
      .num_iters = R + 1,
      .extents = ext,
      .num_reduce = 1,
      .target = out,
      .target_index = it,
      .value = ksel(c, kbin(c, LATHE_KOP_EQ, lathe_kexpr_load(c->p, rk, other), it[a]), r, zero),
      .combiner = LATHE_KCOMB_SUM,
      .init = zero};
  return emit(c, &s2);
}

lathe_status_t lower_top_k(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  uint32_t a;
  if (x->rank == 0) return unsupported(op, "needs a tensor of rank >= 1");
  lathe_status_t st = lathe_normalize_axis(lathe_op_attr_int(op, "axis"), x->rank, &a);
  if (st) {
    lathe_status_free(st);
    return unsupported(op, "axis is out of range");
  }
  int64_t k = lathe_op_attr_int(op, "k");
  lathe_kdim_t n = x->dims[a];
  if (k < 0 || (lathe_kdim_is_static(n) && k > n.size))
    return unsupported(op, "k = %lld is not in [0, %lld]", (long long)k,
                       (long long)(lathe_kdim_is_static(n) ? n.size : 0));
  tk_t t = {.c = c,
            .x = x,
            .axis = a,
            .rank = x->rank,
            .largest = lathe_op_attr_int(op, "largest") != 0,
            .is_float = lathe_dtype_is_float(x->dtype),
            .n = n};
  lathe_kdim_t fallback[LATHE_MAX_RANK], dims[LATHE_MAX_RANK], outer_dims[LATHE_MAX_RANK];
  for (uint32_t d = 0, o = 0; d < x->rank; ++d) {
    fallback[d] = d == a ? lathe_kdim_static(k) : x->dims[d];
    if (d != a) outer_dims[o++] = x->dims[d];
  }
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 1, fallback, dims));
  const lathe_kbuffer_t *idx = set_buffer(c, op, 1, dims);
  if (k <= MAX_PASSES) LATHE_RETURN_IF_ERROR(by_passes(&t, k, outer_dims, idx));
  else LATHE_RETURN_IF_ERROR(by_ranks(&t, idx));
  /* The values: x at the chosen positions (clamped: every load in bounds). */
  const lathe_kexpr_t *it[LATHE_MAX_RANK], *outer[LATHE_MAX_RANK];
  iters(c, x->rank, it);
  for (uint32_t d = 0, o = 0; d < x->rank; ++d)
    if (d != a) outer[o++] = it[d];
  const lathe_kexpr_t *pos = kclamp(c, lathe_kexpr_load(c->p, idx, it), kint(c, 0),
                                    kbin(c, LATHE_KOP_SUB, kdim(c, n), kint(c, 1)));
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, fallback, dims));
  set_expr(c, op, 0, dims, x_at(&t, outer, pos), NULL);
  return NULL;
}
