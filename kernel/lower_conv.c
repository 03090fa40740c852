/* Convolution and pooling as direct LOOPS reductions over the window.
 *
 * out[n, m, o...] = bias[m] + sum over (c, k...) of x[n, g*Cg + c, o*s + k*d - p] * w[m, c, k...]
 * Pooling is the same window walk with max, sum (average) or |x|^p (lp)
 * instead of the product. Positions in the padding read nothing: the load is
 * clamped into the input and a select substitutes the identity of the
 * reduction (0, or -inf for max), so padded windows cost no branches in
 * generated code and no out-of-bounds reads. This is the simple form; conv
 * as an implicit GEMM is the fast one, a later kernel kind.
 */
#include <math.h>
#include <string.h>

#include "kernel/lower.h"

/* The window geometry of a conv or pool over `s` spatial dims. */
typedef struct {
  uint32_t s;
  int64_t kernel[LATHE_MAX_RANK], stride[LATHE_MAX_RANK], dil[LATHE_MAX_RANK];
  int64_t pad_begin[LATHE_MAX_RANK], pad_end[LATHE_MAX_RANK];
  bool padded;
} window_t;

static void list_or(const lathe_op_t *op, const char *name, uint32_t n, int64_t dflt,
                    int64_t *out) {
  const int64_t *v;
  size_t k = lathe_op_attr_ints(op, name, &v);
  for (uint32_t i = 0; i < n; ++i) out[i] = k == n ? v[i] : dflt;
}

static lathe_status_t window(const lathe_op_t *op, const lval_t *x, const lathe_kdim_t *out_dims,
                             const int64_t *kernel_from_w, window_t *w) {
  w->s = x->rank - 2;
  const int64_t *ks;
  size_t nk = lathe_op_attr_ints(op, "kernel_shape", &ks);
  for (uint32_t i = 0; i < w->s; ++i)
    w->kernel[i] = nk == w->s ? ks[i] : kernel_from_w ? kernel_from_w[i] : 1;
  list_or(op, "strides", w->s, 1, w->stride);
  list_or(op, "dilations", w->s, 1, w->dil);
  const int64_t *pads;
  size_t np = lathe_op_attr_ints(op, "pads", &pads);
  for (uint32_t i = 0; i < w->s; ++i) {
    w->pad_begin[i] = np == 2 * w->s ? pads[i] : 0;
    w->pad_end[i] = np == 2 * w->s ? pads[i + w->s] : 0;
  }
  const char *auto_pad = lathe_op_attr_string(op, "auto_pad");
  if (strncmp(auto_pad, "SAME", 4) == 0) {
    for (uint32_t i = 0; i < w->s; ++i) {
      lathe_kdim_t in = x->dims[2 + i], out = out_dims[2 + i];
      if (!lathe_kdim_is_static(in) || !lathe_kdim_is_static(out))
        return unsupported(op, "auto_pad SAME needs static spatial dims");
      int64_t total = (out.size - 1) * w->stride[i] + (w->kernel[i] - 1) * w->dil[i] + 1 - in.size;
      if (total < 0) total = 0;
      w->pad_begin[i] = strcmp(auto_pad, "SAME_UPPER") == 0 ? total / 2 : total - total / 2;
      w->pad_end[i] = total - w->pad_begin[i];
    }
  } else if (strcmp(auto_pad, "VALID") == 0) {
    memset(w->pad_begin, 0, sizeof w->pad_begin);
    memset(w->pad_end, 0, sizeof w->pad_end);
  }
  w->padded = false;
  for (uint32_t i = 0; i < w->s; ++i) w->padded |= w->pad_begin[i] != 0 || w->pad_end[i] != 0;
  return NULL;
}

/* Spatial output dims for `?` result dims: floor((in + pads - span) / stride) + 1. */
static void window_out_dims(lower_ctx_t *c, const window_t *w, const lval_t *x, lathe_kdim_t lead,
                            const lathe_kexpr_t **out) {
  out[0] = kdim(c, x->dims[0]);
  out[1] = kdim(c, lead);
  for (uint32_t i = 0; i < w->s; ++i) {
    int64_t span = (w->kernel[i] - 1) * w->dil[i] + 1;
    const lathe_kexpr_t *e = kbin(c, LATHE_KOP_ADD, kdim(c, x->dims[2 + i]),
                                  kint(c, w->pad_begin[i] + w->pad_end[i] - span));
    out[2 + i] =
        kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_FLOORDIV, e, kint(c, w->stride[i])), kint(c, 1));
  }
}

/* The input position of output position o and tap k on spatial dim i, and
 * whether it lies inside the input (NULL when no padding can reach out). */
static const lathe_kexpr_t *tap(lower_ctx_t *c, const window_t *w, const lval_t *x, uint32_t i,
                                const lathe_kexpr_t *o, const lathe_kexpr_t *k,
                                const lathe_kexpr_t **inside) {
  const lathe_kexpr_t *pos =
      kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MUL, o, kint(c, w->stride[i])),
           kbin(c, LATHE_KOP_SUB, kbin(c, LATHE_KOP_MUL, k, kint(c, w->dil[i])),
                kint(c, w->pad_begin[i])));
  const lathe_kexpr_t *size = kdim(c, x->dims[2 + i]);
  if (!w->padded) return pos;
  const lathe_kexpr_t *in = kbin(c, LATHE_KOP_AND, kbin(c, LATHE_KOP_GE, pos, kint(c, 0)),
                                 kbin(c, LATHE_KOP_LT, pos, size));
  *inside = *inside ? kbin(c, LATHE_KOP_AND, *inside, in) : in;
  return kclamp(c, pos, kint(c, 0), kbin(c, LATHE_KOP_SUB, size, kint(c, 1)));
}

/* A quantization param's element for output channel m: per tensor (one
 * element) or per channel ([M]); NULL for other shapes, or a per-channel
 * param where only per tensor is allowed (m NULL). */
static const lathe_kexpr_t *channel_param(lower_ctx_t *c, const lval_t *p, const lathe_kexpr_t *m,
                                          lathe_kdim_t M) {
  const lathe_kexpr_t *idx[LATHE_MAX_RANK];
  bool one = true;
  for (uint32_t d = 0; d < p->rank; ++d) {
    idx[d] = kint(c, 0);
    one &= lathe_kdim_is_static(p->dims[d]) && p->dims[d].size == 1;
  }
  if (one) return lv_at(c, p, idx);
  if (!m || p->rank != 1 || !dim_eq(p->dims[0], M)) return NULL;
  return lv_at(c, p, &m);
}

/* The sum of a convolution into a buffer of the accumulator dtype `acc`
 * (the result itself when `direct`): init(m) + sum over (c, k...) of
 * x[n, g*Cg + c, o*s + k*d - p] * w[m, c, k...]. Integer accumulators
 * (conv_integer, qlinear_conv) take (x - x_zero_point) * (w - w_zero_point)
 * in i32, so padded taps, which contribute 0, act as padding with the zero
 * point. `bias` (optional) is the init. */
static lathe_status_t conv_sum(lower_ctx_t *c, const lathe_op_t *op, const lval_t *x,
                               const lval_t *w, const lval_t *xzp, const lval_t *wzp,
                               const lval_t *b, lathe_dtype_t acc, bool direct,
                               const lathe_kbuffer_t **out_acc, lathe_kdim_t *dims) {
  if (x->rank < 3 || w->rank != x->rank)
    return unsupported(op, "needs [N, C, spatial...] operands");
  int64_t groups = lathe_op_attr_int(op, "group"), kw[LATHE_MAX_RANK];
  lathe_kdim_t M = w->dims[0], Cg = w->dims[1];
  for (uint32_t i = 2; i < w->rank; ++i) {
    if (!lathe_kdim_is_static(w->dims[i])) return unsupported(op, "kernel dims must be static");
    kw[i - 2] = w->dims[i].size;
  }
  if (!lathe_kdim_is_static(M) || groups <= 0 || M.size % groups)
    return unsupported(op, "output channels must be static and divisible by group");
  window_t win;
  const lathe_kexpr_t *guess[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(window(op, x, x->dims, kw, &win));
  window_out_dims(c, &win, x, M, guess);
  LATHE_RETURN_IF_ERROR(result_dims_e(c, op, 0, guess, dims));
  LATHE_RETURN_IF_ERROR(window(op, x, dims, kw, &win));
  uint32_t rank = x->rank, s = win.s;
  /* Iterators: n, m, o... | c, k... */
  lathe_kdim_t ext[2 * LATHE_MAX_RANK];
  memcpy(ext, dims, rank * sizeof *dims);
  ext[rank] = Cg;
  for (uint32_t i = 0; i < s; ++i) ext[rank + 1 + i] = lathe_kdim_static(kw[i]);
  const lathe_kexpr_t *it[2 * LATHE_MAX_RANK], *xi[LATHE_MAX_RANK], *wi[LATHE_MAX_RANK],
      *inside = NULL;
  iters(c, 2 * rank - 1, it);
  int64_t mg = M.size / groups;
  xi[0] = it[0];
  xi[1] = kbin(c, LATHE_KOP_ADD,
               kbin(c, LATHE_KOP_MUL, kbin(c, LATHE_KOP_FLOORDIV, it[1], kint(c, mg)), kdim(c, Cg)),
               it[rank]);
  wi[0] = it[1];
  wi[1] = it[rank];
  for (uint32_t i = 0; i < s; ++i) {
    xi[2 + i] = tap(c, &win, x, i, it[2 + i], it[rank + 1 + i], &inside);
    wi[2 + i] = it[rank + 1 + i];
  }
  const lathe_kexpr_t *xv = lv_at(c, x, xi), *wv = lv_at(c, w, wi);
  if (lathe_dtype_is_integer(acc)) {
    const lathe_kexpr_t *xz = xzp ? channel_param(c, xzp, NULL, M) : kint(c, 0);
    const lathe_kexpr_t *wz = wzp ? channel_param(c, wzp, it[1], M) : kint(c, 0);
    if (!xz || !wz)
      return unsupported(op, "zero points must be per tensor (x) or per output channel (w)");
    xv = kbin(c, LATHE_KOP_SUB, lathe_kexpr_cast(c->p, acc, xv), lathe_kexpr_cast(c->p, acc, xz));
    wv = kbin(c, LATHE_KOP_SUB, lathe_kexpr_cast(c->p, acc, wv), lathe_kexpr_cast(c->p, acc, wz));
  }
  const lathe_kexpr_t *v = lathe_kexpr_cast(c->p, acc, kbin(c, LATHE_KOP_MUL, xv, wv));
  if (inside) v = ksel(c, inside, v, kf(c, acc, 0));
  const lathe_kbuffer_t *t =
      direct ? set_buffer(c, op, 0, dims) : scratch(c, "acc", acc, rank, dims);
  const lathe_kexpr_t *init = b ? lathe_kexpr_cast(c->p, acc, lv_at(c, b, &it[1])) : kf(c, acc, 0);
  lathe_kstmt_desc_t st = {.num_iters = 2 * rank - 1,
                           .extents = ext,
                           .num_reduce = rank - 1,
                           .target = t,
                           .target_index = it,
                           .value = v,
                           .combiner = LATHE_KCOMB_SUM,
                           .init = init};
  *out_acc = t;
  return emit(c, &st);
}

lathe_status_t lower_conv(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0), *w = lv_operand(c, op, 1), *b = lv_operand(c, op, 2);
  lathe_dtype_t dtype = op->results[0].type.dtype, cd = compute_dtype(dtype);
  const lathe_kbuffer_t *t;
  lathe_kdim_t dims[LATHE_MAX_RANK];
  const lathe_kexpr_t *it[LATHE_MAX_RANK];
  if (op->kind == LATHE_OP_CONV_INTEGER) {
    const lval_t *xzp = lv_operand(c, op, 2), *wzp = lv_operand(c, op, 3);
    return conv_sum(c, op, x, w, xzp, wzp, NULL, LATHE_DTYPE_I32, true, &t, dims);
  }
  if (op->kind == LATHE_OP_QLINEAR_CONV) {
    /* x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, b? */
    const lval_t *xs = lv_operand(c, op, 1), *ws = lv_operand(c, op, 4), *ys = lv_operand(c, op, 6);
    w = lv_operand(c, op, 3);
    LATHE_RETURN_IF_ERROR(conv_sum(c, op, x, w, lv_operand(c, op, 2), lv_operand(c, op, 5),
                                   lv_operand(c, op, 8), LATHE_DTYPE_I32, false, &t, dims));
    iters(c, x->rank, it);
    if (xs->dtype != ws->dtype || xs->dtype != ys->dtype)
      return unsupported(op, "the three scales must have one dtype");
    lathe_kdim_t M = w->dims[0];
    const lathe_kexpr_t *y;
    LATHE_RETURN_IF_ERROR(requantize(c, op, lathe_kexpr_load(c->p, t, it), xs->dtype,
                                     channel_param(c, xs, NULL, M), channel_param(c, ws, it[1], M),
                                     channel_param(c, ys, NULL, M),
                                     channel_param(c, lv_operand(c, op, 7), NULL, M), dtype, &y));
    set_expr(c, op, 0, dims, y, NULL);
    return NULL;
  }
  LATHE_RETURN_IF_ERROR(conv_sum(c, op, x, w, NULL, NULL, b, cd, cd == dtype, &t, dims));
  iters(c, x->rank, it);
  if (cd != dtype) set_expr(c, op, 0, dims, lathe_kexpr_load(c->p, t, it), NULL);
  return NULL;
}

/* conv_transpose: out[n, m, o] = b[m] + sum over (c, k...) of
 * x[n, g*Cg + c, i] * w[g*Cg + c, m % Mg, k...] where o = i*s + k*d - p, as a
 * gather: each output position walks every tap and keeps those whose source
 * position i = (o + p - k*d) / s is whole and inside the input. The begin
 * pads follow ONNX (auto_pad SAME_*: from the total padding; output_shape
 * with explicit or no pads: those pads, where the spec's derived pads agree). */
lathe_status_t lower_conv_transpose(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0), *w = lv_operand(c, op, 1), *b = lv_operand(c, op, 2);
  if (x->rank < 3 || w->rank != x->rank)
    return unsupported(op, "needs [N, C, spatial...] operands");
  uint32_t rank = x->rank, s = rank - 2;
  int64_t groups = lathe_op_attr_int(op, "group"), kw[LATHE_MAX_RANK];
  for (uint32_t i = 2; i < rank; ++i) {
    if (!lathe_kdim_is_static(w->dims[i])) return unsupported(op, "kernel dims must be static");
    kw[i - 2] = w->dims[i].size;
  }
  lathe_kdim_t C = x->dims[1], Mg = w->dims[1];
  if (!lathe_kdim_is_static(C) || !lathe_kdim_is_static(Mg) || groups <= 0 || C.size % groups)
    return unsupported(op, "channels must be static and divisible by group");
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, NULL, dims));
  int64_t stride[LATHE_MAX_RANK], dil[LATHE_MAX_RANK], opad[LATHE_MAX_RANK], begin[LATHE_MAX_RANK];
  list_or(op, "strides", s, 1, stride);
  list_or(op, "dilations", s, 1, dil);
  list_or(op, "output_padding", s, 0, opad);
  const int64_t *pads, *oshape;
  size_t np = lathe_op_attr_ints(op, "pads", &pads);
  size_t nos = lathe_op_attr_ints(op, "output_shape", &oshape);
  const char *auto_pad = lathe_op_attr_string(op, "auto_pad");
  bool same = strncmp(auto_pad, "SAME", 4) == 0, valid = strcmp(auto_pad, "VALID") == 0;
  for (uint32_t i = 0; i < s; ++i) {
    int64_t given = np == 2 * s && !valid ? pads[i] : 0;
    begin[i] = given;
    if (!same && !nos) continue;
    if (!lathe_kdim_is_static(x->dims[2 + i]) || !lathe_kdim_is_static(dims[2 + i]))
      return unsupported(op, "derived pads need static spatial dims");
    int64_t total = stride[i] * (x->dims[2 + i].size - 1) + opad[i] + (kw[i] - 1) * dil[i] + 1 -
                    dims[2 + i].size;
    int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2); /* floor */
    int64_t derived = strcmp(auto_pad, "SAME_UPPER") == 0 ? half : total - half;
    if (same && np != 2 * s) begin[i] = derived;
    else if (derived != given)
      return unsupported(op, "pads %lld and output_shape disagree (ONNX's spec derives %lld)",
                         (long long)given, (long long)derived);
  }
  /* Iterators: n, m, o... | c, k... */
  lathe_kdim_t ext[2 * LATHE_MAX_RANK], Cg = lathe_kdim_static(C.size / groups);
  memcpy(ext, dims, rank * sizeof *dims);
  ext[rank] = Cg;
  for (uint32_t i = 0; i < s; ++i) ext[rank + 1 + i] = lathe_kdim_static(kw[i]);
  const lathe_kexpr_t *it[2 * LATHE_MAX_RANK], *xi[LATHE_MAX_RANK], *wi[LATHE_MAX_RANK],
      *inside = NULL;
  iters(c, 2 * rank - 1, it);
  const lathe_kexpr_t *ch =
      kbin(c, LATHE_KOP_ADD,
           kbin(c, LATHE_KOP_MUL, kbin(c, LATHE_KOP_FLOORDIV, it[1], kdim(c, Mg)), kdim(c, Cg)),
           it[rank]);
  xi[0] = it[0];
  xi[1] = ch;
  wi[0] = ch;
  wi[1] = kbin(c, LATHE_KOP_MOD, it[1], kdim(c, Mg));
  for (uint32_t i = 0; i < s; ++i) {
    const lathe_kexpr_t *q =
        kbin(c, LATHE_KOP_SUB, kbin(c, LATHE_KOP_ADD, it[2 + i], kint(c, begin[i])),
             kbin(c, LATHE_KOP_MUL, it[rank + 1 + i], kint(c, dil[i])));
    const lathe_kexpr_t *size = kdim(c, x->dims[2 + i]);
    const lathe_kexpr_t *src = kbin(c, LATHE_KOP_FLOORDIV, q, kint(c, stride[i]));
    const lathe_kexpr_t *ok =
        kbin(c, LATHE_KOP_AND,
             kbin(c, LATHE_KOP_EQ, kbin(c, LATHE_KOP_MOD, q, kint(c, stride[i])), kint(c, 0)),
             kbin(c, LATHE_KOP_AND, kbin(c, LATHE_KOP_GE, src, kint(c, 0)),
                  kbin(c, LATHE_KOP_LT, src, size)));
    inside = inside ? kbin(c, LATHE_KOP_AND, inside, ok) : ok;
    xi[2 + i] = kclamp(c, src, kint(c, 0), kbin(c, LATHE_KOP_SUB, size, kint(c, 1)));
    wi[2 + i] = it[rank + 1 + i];
  }
  lathe_dtype_t dtype = op->results[0].type.dtype, cd = compute_dtype(dtype);
  const lathe_kexpr_t *v =
      ksel(c, inside, kbin(c, LATHE_KOP_MUL, lv_at(c, x, xi), lv_at(c, w, wi)), kf(c, cd, 0));
  const lathe_kbuffer_t *t =
      cd == dtype ? set_buffer(c, op, 0, dims) : scratch(c, "acc", cd, rank, dims);
  lathe_kstmt_desc_t st = {.num_iters = 2 * rank - 1,
                           .extents = ext,
                           .num_reduce = rank - 1,
                           .target = t,
                           .target_index = it,
                           .value = v,
                           .combiner = LATHE_KCOMB_SUM,
                           .init =
                               b ? lathe_kexpr_cast(c->p, cd, lv_at(c, b, &it[1])) : kf(c, cd, 0)};
  LATHE_RETURN_IF_ERROR(emit(c, &st));
  if (cd != dtype) set_expr(c, op, 0, dims, lathe_kexpr_load(c->p, t, it), NULL);
  return NULL;
}

/* max_pool's second result: the flat index (row-major over the whole input,
 * or with storage_order = 1 column-major over the spatial dims) of the
 * first tap holding the maximum. */
static lathe_status_t pool_indices(lower_ctx_t *c, const lathe_op_t *op, const lval_t *x,
                                   const lathe_kbuffer_t *maxbuf,
                                   const lathe_kstmt_desc_t *max_stmt,
                                   const lathe_kexpr_t *const *xi, const lathe_kexpr_t *inside) {
  uint32_t rank = x->rank;
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 1, maxbuf->dims, dims));
  const lathe_kexpr_t *flat =
      kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MUL, xi[0], kdim(c, x->dims[1])), xi[1]);
  bool col = lathe_op_attr_int(op, "storage_order") == 1;
  const lathe_kexpr_t *spatial = kint(c, 0), *size = kint(c, 1);
  for (uint32_t k = 0; k + 2 < rank; ++k) {
    uint32_t d = col ? rank - 1 - k : 2 + k;
    spatial = kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MUL, spatial, kdim(c, x->dims[d])), xi[d]);
    size = kbin(c, LATHE_KOP_MUL, size, kdim(c, x->dims[d]));
  }
  flat = kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MUL, flat, size), spatial);
  const lathe_kexpr_t *hit = kbin(c, LATHE_KOP_EQ, lv_at(c, x, xi),
                                  lathe_kexpr_load(c->p, maxbuf, max_stmt->target_index));
  if (inside) hit = kbin(c, LATHE_KOP_AND, hit, inside);
  const lathe_kexpr_t *miss = kint(c, INT64_MAX);
  lathe_kstmt_desc_t s = *max_stmt;
  s.target = set_buffer(c, op, 1, dims);
  s.value = ksel(c, hit, flat, miss);
  s.combiner = LATHE_KCOMB_MIN;
  s.init = miss;
  return emit(c, &s);
}

/* max_pool, average_pool, lp_pool over the window of each output position. */
lathe_status_t lower_pool(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  if (x->rank < 3) return unsupported(op, "needs [N, C, spatial...]");
  bool indices = op->num_results > 1 && lathe_value_has_uses(&op->results[1]);
  if (indices && lathe_op_attr_int(op, "storage_order") > 1)
    return unsupported(op, "storage_order must be 0 or 1");
  window_t win;
  const lathe_kexpr_t *guess[LATHE_MAX_RANK];
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(window(op, x, x->dims, NULL, &win));
  window_out_dims(c, &win, x, x->dims[1], guess);
  /* ceil_mode sizes come from the type only */
  LATHE_RETURN_IF_ERROR(
      result_dims_e(c, op, 0, lathe_op_attr_int(op, "ceil_mode") ? NULL : guess, dims));
  LATHE_RETURN_IF_ERROR(window(op, x, dims, NULL, &win));
  uint32_t rank = x->rank, s = win.s;
  bool ceil_mode = lathe_op_attr_int(op, "ceil_mode") != 0;
  /* ceil_mode windows may run past the padded input: always bounds-check. */
  if (ceil_mode) win.padded = true;
  lathe_kdim_t ext[2 * LATHE_MAX_RANK];
  memcpy(ext, dims, rank * sizeof *dims);
  for (uint32_t i = 0; i < s; ++i) ext[rank + i] = lathe_kdim_static(win.kernel[i]);
  const lathe_kexpr_t *it[2 * LATHE_MAX_RANK], *xi[LATHE_MAX_RANK], *inside = NULL;
  iters(c, rank + s, it);
  xi[0] = it[0];
  xi[1] = it[1];
  for (uint32_t i = 0; i < s; ++i) xi[2 + i] = tap(c, &win, x, i, it[2 + i], it[rank + i], &inside);
  lathe_dtype_t dtype = op->results[0].type.dtype, cd = compute_dtype(dtype);
  const lathe_kexpr_t *v = lv_at(c, x, xi);
  bool is_max = op->kind == LATHE_OP_MAX_POOL, is_lp = op->kind == LATHE_OP_LP_POOL;
  double p = is_lp ? (double)lathe_op_attr_int(op, "p") : 1;
  if (is_lp) v = kbin(c, LATHE_KOP_POW, kun(c, LATHE_KOP_ABS, v), kf(c, cd, p));
  if (inside) v = ksel(c, inside, v, kf(c, cd, is_max ? -INFINITY : 0));
  bool direct = is_max && cd == dtype;
  const lathe_kbuffer_t *t =
      direct ? set_buffer(c, op, 0, dims) : scratch(c, "acc", cd, rank, dims);
  lathe_kstmt_desc_t st = {.num_iters = rank + s,
                           .extents = ext,
                           .num_reduce = s,
                           .target = t,
                           .target_index = it,
                           .value = v,
                           .combiner = is_max ? LATHE_KCOMB_MAX : LATHE_KCOMB_SUM,
                           .init = kf(c, cd, is_max ? -INFINITY : 0)};
  LATHE_RETURN_IF_ERROR(emit(c, &st));
  if (indices) LATHE_RETURN_IF_ERROR(pool_indices(c, op, x, t, &st, xi, inside));
  if (direct) return NULL;
  const lathe_kexpr_t *y = lathe_kexpr_load(c->p, t, it);
  if (is_lp) y = kbin(c, LATHE_KOP_POW, y, kf(c, cd, 1.0 / p));
  if (op->kind == LATHE_OP_AVERAGE_POOL) {
    /* The divisor: taps inside the input, or inside the padded input with
     * count_include_pad; a second reduction counts them. */
    const lathe_kexpr_t *counted = NULL;
    bool include_pad = lathe_op_attr_int(op, "count_include_pad");
    for (uint32_t i = 0; i < s; ++i) {
      const lathe_kexpr_t *pos =
          kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MUL, it[2 + i], kint(c, win.stride[i])),
               kbin(c, LATHE_KOP_MUL, it[rank + i], kint(c, win.dil[i])));
      const lathe_kexpr_t *lo = kint(c, include_pad ? 0 : win.pad_begin[i]);
      const lathe_kexpr_t *hi =
          kbin(c, LATHE_KOP_ADD, kdim(c, x->dims[2 + i]),
               kint(c, win.pad_begin[i] + (include_pad ? win.pad_end[i] : 0)));
      const lathe_kexpr_t *in =
          kbin(c, LATHE_KOP_AND, kbin(c, LATHE_KOP_GE, pos, lo), kbin(c, LATHE_KOP_LT, pos, hi));
      counted = counted ? kbin(c, LATHE_KOP_AND, counted, in) : in;
    }
    const lathe_kbuffer_t *n = scratch(c, "count", cd, rank, dims);
    lathe_kstmt_desc_t cs = st;
    cs.target = n;
    cs.value = counted ? ksel(c, counted, kf(c, cd, 1), kf(c, cd, 0)) : kf(c, cd, 1);
    cs.combiner = LATHE_KCOMB_SUM;
    cs.init = kf(c, cd, 0);
    LATHE_RETURN_IF_ERROR(emit(c, &cs));
    y = kbin(c, LATHE_KOP_DIV, y, lathe_kexpr_load(c->p, n, it));
  }
  set_expr(c, op, 0, dims, y, NULL);
  return NULL;
}
