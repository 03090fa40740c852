/* scatter_elements and scatter_nd as gathers: every output element looks
 * for the updates that land on it.
 *
 * out[p] starts as data[p]; the updates whose index selects p are the
 * candidates, in the order ONNX applies them (the updates' row-major order):
 * scatter_elements walks the axis (the candidates of p are the updates at p
 * with the axis position replaced), scatter_nd walks the batch dims of the
 * indices (all index rows). So each output element is one reduction over the
 * candidates, with data[p] as init and the reduction as combiner:
 *   add, mul, max, min   COMB= (matches ? update : identity), where the
 *                        identity (-0.0 for add, 1, -inf, +inf) leaves the
 *                        value bit-exact, and updates fold in ONNX's order;
 *   none                 the last matching candidate wins (ONNX leaves
 *                        duplicates undefined; its reference applies them in
 *                        order): a MAX reduction finds it, then the result is
 *                        that update or data[p].
 * This costs |out| x |candidates| instead of |updates|, but needs no
 * data-dependent store and no ordering between parallel iterations, which
 * the kernel IR does not have. Negative indices count from the end; indices
 * out of range match nothing.
 */
#include <math.h>
#include <string.h>

#include "kernel/lower.h"

typedef enum { R_NONE, R_ADD, R_MUL, R_MAX, R_MIN } scatter_red_t;

static lathe_status_t reduction_of(const lathe_op_t *op, scatter_red_t *out) {
  static const char *const names[] = {"none", "add", "mul", "max", "min"};
  const char *r = lathe_op_attr_string(op, "reduction");
  for (int i = 0; i < 5; ++i)
    if (strcmp(r, names[i]) == 0) {
      *out = (scatter_red_t)i;
      return NULL;
    }
  return unsupported(op, "unknown reduction '%s'", r);
}

/* An index value as a position in a dim of `size` (negative from the end);
 * out of range stays out of range. */
static const lathe_kexpr_t *position(lower_ctx_t *c, const lathe_kexpr_t *v, lathe_kdim_t size) {
  const lathe_kexpr_t *i = lathe_kexpr_cast(c->p, LATHE_DTYPE_I64, v);
  return ksel(c, kbin(c, LATHE_KOP_LT, i, kint(c, 0)), kbin(c, LATHE_KOP_ADD, i, kdim(c, size)), i);
}

static const lathe_kexpr_t *in_range(lower_ctx_t *c, const lathe_kexpr_t *i, lathe_kdim_t size) {
  return kbin(c, LATHE_KOP_AND, kbin(c, LATHE_KOP_GE, i, kint(c, 0)),
              kbin(c, LATHE_KOP_LT, i, kdim(c, size)));
}

static const lathe_kexpr_t *clamp_to(lower_ctx_t *c, const lathe_kexpr_t *i, lathe_kdim_t size) {
  return kclamp(c, i, kint(c, 0), kbin(c, LATHE_KOP_SUB, kdim(c, size), kint(c, 1)));
}

static const lathe_kexpr_t *and_(lower_ctx_t *c, const lathe_kexpr_t *a, const lathe_kexpr_t *b) {
  return a ? kbin(c, LATHE_KOP_AND, a, b) : b;
}

/* The scatter as a whole: the data, the candidate loop and, at statement
 * iterators (output index..., candidate...), whether the candidate lands on
 * the output element, its update, and its order (an i64 growing with ONNX's
 * application order). */
typedef struct {
  const lval_t *data;
  uint32_t rank, nc;                    /* output rank, candidate iterators */
  lathe_kdim_t ext[2 * LATHE_MAX_RANK]; /* output dims, then candidate extents */
  const lathe_kexpr_t *match, *update, *order;
  /* The update at a given order value (for "none"). */
  const lathe_kexpr_t *(*update_at)(lower_ctx_t *c, const void *ctx, const lathe_kexpr_t *order,
                                    const lathe_kexpr_t *const *out_index);
  const void *ctx;
} scatter_t;

static lathe_status_t emit_scatter(lower_ctx_t *c, const lathe_op_t *op, const scatter_t *s,
                                   scatter_red_t red) {
  lathe_dtype_t dtype = op->results[0].type.dtype, cd = compute_dtype(dtype);
  const lathe_kexpr_t *it[2 * LATHE_MAX_RANK];
  iters(c, s->rank + s->nc, it);
  const lathe_kexpr_t *data = lv_at(c, s->data, it);
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, s->data->dims, dims));
  if (red == R_NONE) {
    const lathe_kbuffer_t *last = scratch(c, "last", LATHE_DTYPE_I64, s->rank, dims);
    lathe_kstmt_desc_t st = {.num_iters = s->rank + s->nc,
                             .extents = s->ext,
                             .num_reduce = s->nc,
                             .target = last,
                             .target_index = it,
                             .value = ksel(c, s->match, s->order, kint(c, -1)),
                             .combiner = LATHE_KCOMB_MAX,
                             .init = kint(c, -1)};
    LATHE_RETURN_IF_ERROR(emit(c, &st));
    const lathe_kexpr_t *o = lathe_kexpr_load(c->p, last, it);
    const lathe_kexpr_t *u = s->update_at(c, s->ctx, kbin(c, LATHE_KOP_MAX, o, kint(c, 0)), it);
    set_expr(c, op, 0, dims, ksel(c, kbin(c, LATHE_KOP_GE, o, kint(c, 0)), u, data), NULL);
    return NULL;
  }
  static const lathe_kcombiner_t comb[] = {[R_ADD] = LATHE_KCOMB_SUM,
                                           [R_MUL] = LATHE_KCOMB_PROD,
                                           [R_MAX] = LATHE_KCOMB_MAX,
                                           [R_MIN] = LATHE_KCOMB_MIN};
  static const double identity[] = {
      [R_ADD] = -0.0, [R_MUL] = 1.0, [R_MAX] = -INFINITY, [R_MIN] = INFINITY};
  bool direct = cd == dtype;
  const lathe_kbuffer_t *t =
      direct ? set_buffer(c, op, 0, dims) : scratch(c, "acc", cd, s->rank, dims);
  lathe_kstmt_desc_t st = {
      .num_iters = s->rank + s->nc,
      .extents = s->ext,
      .num_reduce = s->nc,
      .target = t,
      .target_index = it,
      .value = ksel(c, s->match, lathe_kexpr_cast(c->p, cd, s->update), kf(c, cd, identity[red])),
      .combiner = comb[red],
      .init = lathe_kexpr_cast(c->p, cd, data)};
  LATHE_RETURN_IF_ERROR(emit(c, &st));
  if (!direct) set_expr(c, op, 0, dims, lathe_kexpr_load(c->p, t, it), NULL);
  return NULL;
}

/* ---- scatter_elements ---- */

typedef struct {
  const lval_t *upd;
  uint32_t axis;
} se_t;

static const lathe_kexpr_t *se_update_at(lower_ctx_t *c, const void *ctx,
                                         const lathe_kexpr_t *order,
                                         const lathe_kexpr_t *const *out_index) {
  const se_t *e = ctx;
  const lathe_kexpr_t *ui[LATHE_MAX_RANK];
  for (uint32_t d = 0; d < e->upd->rank; ++d)
    ui[d] = d == e->axis ? clamp_to(c, order, e->upd->dims[d])
                         : clamp_to(c, out_index[d], e->upd->dims[d]);
  return lv_at(c, e->upd, ui);
}

lathe_status_t lower_scatter_elements(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0), *ix = lv_operand(c, op, 1), *up = lv_operand(c, op, 2);
  scatter_red_t red;
  LATHE_RETURN_IF_ERROR(reduction_of(op, &red));
  uint32_t a;
  if (x->rank == 0 || ix->rank != x->rank || up->rank != x->rank)
    return unsupported(op, "data, indices and updates must have one rank >= 1");
  lathe_status_t st = lathe_normalize_axis(lathe_op_attr_int(op, "axis"), x->rank, &a);
  if (st) {
    lathe_status_free(st);
    return unsupported(op, "axis is out of range");
  }
  scatter_t s = {.data = x, .rank = x->rank, .nc = 1};
  memcpy(s.ext, x->dims, x->rank * sizeof *x->dims);
  s.ext[x->rank] = ix->dims[a];
  const lathe_kexpr_t *it[LATHE_MAX_RANK + 1], *ii[LATHE_MAX_RANK], *inside = NULL;
  iters(c, x->rank + 1, it);
  const lathe_kexpr_t *r = it[x->rank];
  /* The candidate: indices/updates at p with the axis position r; p's other
   * coordinates must lie inside the indices. */
  for (uint32_t d = 0; d < x->rank; ++d) {
    if (d == a) {
      ii[d] = r;
      continue;
    }
    if (!dim_eq(ix->dims[d], x->dims[d])) inside = and_(c, inside, in_range(c, it[d], ix->dims[d]));
    ii[d] = clamp_to(c, it[d], ix->dims[d]);
  }
  const lathe_kexpr_t *pos = position(c, lv_at(c, ix, ii), x->dims[a]);
  s.match = and_(c, inside, kbin(c, LATHE_KOP_EQ, pos, it[a]));
  s.update = lv_at(c, up, ii);
  s.order = r;
  se_t e = {up, a};
  s.update_at = se_update_at;
  s.ctx = &e;
  return emit_scatter(c, op, &s, red);
}

/* ---- scatter_nd ---- */

typedef struct {
  const lval_t *upd;
  uint32_t nb, k, rank; /* batch dims of the indices, index length, data rank */
  const lathe_kdim_t *batch;
} snd_t;

/* The update at a row-major order over the batch dims. */
static const lathe_kexpr_t *snd_update_at(lower_ctx_t *c, const void *ctx,
                                          const lathe_kexpr_t *order,
                                          const lathe_kexpr_t *const *out_index) {
  const snd_t *e = ctx;
  const lathe_kexpr_t *ui[LATHE_MAX_RANK], *rest = order;
  for (uint32_t j = e->nb; j-- > 0;) {
    const lathe_kexpr_t *size = kdim(c, e->batch[j]);
    ui[j] = clamp_to(c, j ? kbin(c, LATHE_KOP_MOD, rest, size) : rest, e->batch[j]);
    rest = kbin(c, LATHE_KOP_FLOORDIV, rest, size);
  }
  for (uint32_t d = e->k; d < e->rank; ++d) ui[e->nb + d - e->k] = out_index[d];
  return lv_at(c, e->upd, ui);
}

lathe_status_t lower_scatter_nd(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0), *ix = lv_operand(c, op, 1), *up = lv_operand(c, op, 2);
  scatter_red_t red;
  LATHE_RETURN_IF_ERROR(reduction_of(op, &red));
  if (ix->rank == 0 || !lathe_kdim_is_static(ix->dims[ix->rank - 1]))
    return unsupported(op, "the index length (last dim of indices) must be static");
  uint32_t nb = ix->rank - 1, k = (uint32_t)ix->dims[nb].size;
  if (k > x->rank || up->rank != nb + x->rank - k)
    return unsupported(op, "indices and updates do not fit the data");
  if (x->rank + (nb ? nb : 1) > LATHE_KMAX_ITERS) return unsupported(op, "too many dims");
  scatter_t s = {.data = x, .rank = x->rank, .nc = nb ? nb : 1};
  memcpy(s.ext, x->dims, x->rank * sizeof *x->dims);
  if (nb) memcpy(s.ext + x->rank, ix->dims, nb * sizeof *ix->dims);
  else s.ext[x->rank] = lathe_kdim_static(1);
  const lathe_kexpr_t *it[2 * LATHE_MAX_RANK], *ii[LATHE_MAX_RANK], *ui[LATHE_MAX_RANK];
  iters(c, x->rank + s.nc, it);
  const lathe_kexpr_t *order = kint(c, 0), *match = NULL;
  for (uint32_t j = 0; j < nb; ++j) {
    ii[j] = ui[j] = it[x->rank + j];
    order = kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MUL, order, kdim(c, ix->dims[j])),
                 it[x->rank + j]);
  }
  for (uint32_t q = 0; q < k; ++q) {
    ii[nb] = kint(c, q);
    const lathe_kexpr_t *pos = position(c, lv_at(c, ix, ii), x->dims[q]);
    match = and_(c, match, kbin(c, LATHE_KOP_EQ, pos, it[q]));
  }
  for (uint32_t d = k; d < x->rank; ++d) ui[nb + d - k] = it[d];
  s.match = match ? match : lathe_kexpr_int(c->p, LATHE_DTYPE_BOOL, 1);
  s.update = lv_at(c, up, ui);
  s.order = order;
  snd_t e = {up, nb, k, x->rank, ix->dims};
  s.update_at = snd_update_at;
  s.ctx = &e;
  return emit_scatter(c, op, &s, red);
}
