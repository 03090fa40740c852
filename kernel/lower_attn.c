/* Transformer building blocks: attention and rotary embeddings.
 *
 * attention is one LOOPS kernel of four statements sharing the (b, h, i)
 * query-row loops, in the order docs/ops.md defines the op:
 *   s0: scores[b,h,i,j] += q[b,h,i,d] * k[b,g,j,d]                 (over d)
 *   s1: rowmax[b,h,i]   max= masked(scale * scores)                 (over j)
 *   s2: rowsum[b,h,i]   += exp(masked(...) - rowmax)                (over j)
 *   s3: out[b,h,i,e]    += exp(masked(...) - rowmax) / rowsum * v[b,g,j,e]
 * with g = h / (H / Hkv) and masked() = -inf where the bool mask is false or
 * causality hides the key, + the mask where it is a float. A row with no
 * visible key gives NaN, as the op defines. (A flash-attention kernel kind
 * would avoid the scores buffer; this is the reference form.)
 *
 * rotary_embedding (and rotary_embedding_cached, with caches given) is an
 * expression: each feature reads its pair partner.
 */
#include <math.h>

#include "kernel/lower.h"

lathe_status_t lower_attention(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *q = lv_operand(c, op, 0), *k = lv_operand(c, op, 1), *v = lv_operand(c, op, 2);
  const lval_t *mask = lv_operand(c, op, 3);
  if (q->rank != 4 || k->rank != 4 || v->rank != 4) return unsupported(op, "needs 4-D q, k, v");
  lathe_kdim_t H = q->dims[1], Hkv = k->dims[1], S = q->dims[2], T = k->dims[2];
  lathe_kdim_t D = q->dims[3], Dv = v->dims[3];
  lathe_dtype_t dtype = op->results[0].type.dtype, cd = compute_dtype(dtype);
  lathe_kdim_t dims[4];
  const lathe_kdim_t guess[4] = {q->dims[0], H, S, Dv};
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, guess, dims));
  double scale = lathe_op_attr_float(op, "scale");
  const lathe_kexpr_t *it[5];
  iters(c, 5, it);
  /* g = h / (H / Hkv) */
  const lathe_kexpr_t *g = kbin(
      c, LATHE_KOP_FLOORDIV, it[1],
      kbin(c, LATHE_KOP_MAX, kbin(c, LATHE_KOP_FLOORDIV, kdim(c, H), kdim(c, Hkv)), kint(c, 1)));
  /* s0 over (b, h, i, j | d) */
  lathe_kdim_t e0[5] = {dims[0], H, S, T, D};
  const lathe_kbuffer_t *sc = scratch(c, "scores", cd, 4, e0);
  const lathe_kexpr_t *qi[4] = {it[0], it[1], it[2], it[4]}, *ki[4] = {it[0], g, it[3], it[4]};
  lathe_kstmt_desc_t s0 = {.num_iters = 5,
                           .extents = e0,
                           .num_reduce = 1,
                           .target = sc,
                           .target_index = it,
                           .value = kbin(c, LATHE_KOP_MUL, lv_at(c, q, qi), lv_at(c, k, ki)),
                           .combiner = LATHE_KCOMB_SUM,
                           .init = kf(c, cd, 0)};
  LATHE_RETURN_IF_ERROR(emit(c, &s0));
  /* masked score at (b, h, i, j) = iterators 0..2 and iterator 3 (j) */
  const lathe_kexpr_t *sj[4] = {it[0], it[1], it[2], it[3]};
  const lathe_kexpr_t *scale_e =
      scale > 0                 ? kf(c, cd, scale)
      : lathe_kdim_is_static(D) ? kf(c, cd, 1.0 / sqrt((double)D.size))
                                : kun(c, LATHE_KOP_RSQRT, lathe_kexpr_cast(c->p, cd, kdim(c, D)));
  const lathe_kexpr_t *s = kbin(c, LATHE_KOP_MUL, lathe_kexpr_load(c->p, sc, sj), scale_e);
  const lathe_kexpr_t *hidden = NULL;
  if (mask) {
    const lathe_kexpr_t *mv = lv_at_bcast(c, mask, 4, sj);
    if (mask->dtype == LATHE_DTYPE_BOOL) hidden = kun(c, LATHE_KOP_NOT, mv);
    else s = kbin(c, LATHE_KOP_ADD, s, lathe_kexpr_cast(c->p, cd, mv));
  }
  if (lathe_op_attr_int(op, "causal")) {
    /* hide j > i + (T - S) */
    const lathe_kexpr_t *lim =
        kbin(c, LATHE_KOP_ADD, it[2], kbin(c, LATHE_KOP_SUB, kdim(c, T), kdim(c, S)));
    const lathe_kexpr_t *h = kbin(c, LATHE_KOP_GT, it[3], lim);
    hidden = hidden ? kbin(c, LATHE_KOP_OR, hidden, h) : h;
  }
  if (hidden) s = ksel(c, hidden, kf(c, cd, -INFINITY), s);
  /* s1, s2 over (b, h, i | j) */
  lathe_kdim_t e1[4] = {dims[0], H, S, T};
  const lathe_kbuffer_t *mb = scratch(c, "rowmax", cd, 3, e1);
  const lathe_kbuffer_t *lb = scratch(c, "rowsum", cd, 3, e1);
  lathe_kstmt_desc_t s1 = {.num_iters = 4,
                           .extents = e1,
                           .num_reduce = 1,
                           .target = mb,
                           .target_index = it,
                           .value = s,
                           .combiner = LATHE_KCOMB_MAX,
                           .init = kf(c, cd, -INFINITY)};
  LATHE_RETURN_IF_ERROR(emit(c, &s1));
  const lathe_kexpr_t *p =
      kun(c, LATHE_KOP_EXP, kbin(c, LATHE_KOP_SUB, s, lathe_kexpr_load(c->p, mb, it)));
  lathe_kstmt_desc_t s2 = s1;
  s2.target = lb;
  s2.value = p;
  s2.combiner = LATHE_KCOMB_SUM;
  s2.init = kf(c, cd, 0);
  LATHE_RETURN_IF_ERROR(emit(c, &s2));
  /* s3 over (b, h, i, e | j): j is iterator 4 here, e iterator 3. */
  const lathe_kexpr_t *swap[5] = {it[0], it[1], it[2], it[4], it[3]};
  const lathe_kexpr_t *pj = subst(c, p, 5, swap);
  const lathe_kexpr_t *vi[4] = {it[0], g, it[4], it[3]};
  lathe_kdim_t e3[5] = {dims[0], H, S, Dv, T};
  const lathe_kexpr_t *w = kbin(c, LATHE_KOP_DIV, pj, lathe_kexpr_load(c->p, lb, it));
  const lathe_kbuffer_t *out =
      cd == dtype ? set_buffer(c, op, 0, dims) : scratch(c, "acc", cd, 4, dims);
  lathe_kstmt_desc_t s3 = {.num_iters = 5,
                           .extents = e3,
                           .num_reduce = 1,
                           .target = out,
                           .target_index = it,
                           .value = kbin(c, LATHE_KOP_MUL, w, lv_at(c, v, vi)),
                           .combiner = LATHE_KCOMB_SUM,
                           .init = kf(c, cd, 0)};
  LATHE_RETURN_IF_ERROR(emit(c, &s3));
  if (cd != dtype) set_expr(c, op, 0, dims, lathe_kexpr_load(c->p, out, it), NULL);
  return NULL;
}

lathe_status_t lower_rotary(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  if (x->rank != 4) return unsupported(op, "needs [B, H, S, D]");
  lathe_kdim_t dims[4];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, x->dims, dims));
  lathe_dtype_t cd = compute_dtype(x->dtype);
  const lathe_kexpr_t *it[4];
  iters(c, 4, it);
  const lathe_kexpr_t *i = it[3], *D = kdim(c, x->dims[3]),
                      *half = kbin(c, LATHE_KOP_FLOORDIV, D, kint(c, 2));
  const lathe_kexpr_t *pair, *partner, *first;
  if (lathe_op_attr_int(op, "interleaved")) {
    pair = kbin(c, LATHE_KOP_FLOORDIV, i, kint(c, 2));
    first = kbin(c, LATHE_KOP_EQ, kbin(c, LATHE_KOP_MOD, i, kint(c, 2)), kint(c, 0));
    partner = ksel(c, first, kbin(c, LATHE_KOP_ADD, i, kint(c, 1)),
                   kbin(c, LATHE_KOP_SUB, i, kint(c, 1)));
  } else {
    first = kbin(c, LATHE_KOP_LT, i, half);
    pair = ksel(c, first, i, kbin(c, LATHE_KOP_SUB, i, half));
    partner = ksel(c, first, kbin(c, LATHE_KOP_ADD, i, half), kbin(c, LATHE_KOP_SUB, i, half));
  }
  /* angle = p * theta^(-2 pair / D), computed in f64 */
  const lathe_kexpr_t *f64 = lathe_kexpr_cast(c->p, LATHE_DTYPE_F64, pair);
  const lathe_kexpr_t *expo =
      kbin(c, LATHE_KOP_DIV, kbin(c, LATHE_KOP_MUL, kf(c, LATHE_DTYPE_F64, -2.0), f64),
           lathe_kexpr_cast(c->p, LATHE_DTYPE_F64, D));
  const lathe_kexpr_t *freq =
      kbin(c, LATHE_KOP_POW, kf(c, LATHE_DTYPE_F64, lathe_op_attr_float(op, "theta")), expo);
  const lathe_kexpr_t *angle =
      kbin(c, LATHE_KOP_MUL, lathe_kexpr_cast(c->p, LATHE_DTYPE_F64, it[2]), freq);
  const lathe_kexpr_t *cs = lathe_kexpr_cast(c->p, cd, kun(c, LATHE_KOP_COS, angle));
  const lathe_kexpr_t *sn = lathe_kexpr_cast(c->p, cd, kun(c, LATHE_KOP_SIN, angle));
  const lathe_kexpr_t *xp[4] = {
      it[0], it[1], it[2], kclamp(c, partner, kint(c, 0), kbin(c, LATHE_KOP_SUB, D, kint(c, 1)))};
  const lathe_kexpr_t *rot = kbin(c, LATHE_KOP_MUL, lv_at(c, x, xp), sn);
  const lathe_kexpr_t *y = kbin(c, LATHE_KOP_MUL, lv_at(c, x, it), cs);
  y = ksel(c, first, kbin(c, LATHE_KOP_SUB, y, rot), kbin(c, LATHE_KOP_ADD, y, rot));
  set_expr(c, op, 0, dims, y, NULL);
  return NULL;
}

/* rotary_embedding_cached (ONNX's RotaryEmbedding): an expression over x's
 * index. Each output feature d of a head reads its pair partner and the
 * cache entry of its pair; every index is clamped into its buffer, so the
 * select over rotated / passed-through features never loads outside. */
lathe_status_t lower_rotary_cached(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0), *cs = lv_operand(c, op, 1), *sn = lv_operand(c, op, 2);
  const lval_t *pos = lv_operand(c, op, 3);
  uint32_t r = x->rank;
  lathe_kdim_t last = x->dims[r - 1];
  int64_t heads = lathe_op_attr_int(op, "num_heads");
  if (!lathe_kdim_is_static(last)) return unsupported(op, "the head size must be static");
  if (r == 3 && (heads <= 0 || last.size % heads))
    return unsupported(op, "num_heads must divide the hidden size");
  int64_t D = r == 4 ? last.size : last.size / heads;
  int64_t R = lathe_op_attr_int(op, "rotary_embedding_dim");
  if (!R) R = D;
  if (R > D || R % 2) return unsupported(op, "rotary_embedding_dim must be even and <= head size");
  lathe_kdim_t dims[4];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, x->dims, dims));
  const lathe_kexpr_t *it[4], *xi[4];
  iters(c, r, it);
  if (R == 0) { /* empty heads */
    set_expr(c, op, 0, dims, lv_at(c, x, it), NULL);
    return NULL;
  }
  int64_t half = R / 2;
  const lathe_kexpr_t *f = it[r - 1], *b = it[0], *s = it[r == 4 ? 2 : 1];
  const lathe_kexpr_t *d = r == 4 ? f : kbin(c, LATHE_KOP_MOD, f, kint(c, D));
  const lathe_kexpr_t *first, *i, *partner;
  if (lathe_op_attr_int(op, "interleaved")) {
    first = kbin(c, LATHE_KOP_EQ, kbin(c, LATHE_KOP_MOD, d, kint(c, 2)), kint(c, 0));
    i = kbin(c, LATHE_KOP_FLOORDIV, d, kint(c, 2));
    partner = ksel(c, first, kbin(c, LATHE_KOP_ADD, d, kint(c, 1)),
                   kbin(c, LATHE_KOP_SUB, d, kint(c, 1)));
  } else {
    first = kbin(c, LATHE_KOP_LT, d, kint(c, half));
    i = ksel(c, first, d, kbin(c, LATHE_KOP_SUB, d, kint(c, half)));
    partner = ksel(c, first, kbin(c, LATHE_KOP_ADD, d, kint(c, half)),
                   kbin(c, LATHE_KOP_SUB, d, kint(c, half)));
  }
  i = kclamp(c, i, kint(c, 0), kint(c, half - 1));
  partner = kclamp(c, partner, kint(c, 0), kint(c, D - 1));
  for (uint32_t k = 0; k + 1 < r; ++k) xi[k] = it[k];
  xi[r - 1] = kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_SUB, f, d), partner);
  const lathe_kexpr_t *ci[3];
  uint32_t cn = 0;
  if (pos) {
    const lathe_kexpr_t *pi[2] = {b, s};
    const lathe_kexpr_t *p = lathe_kexpr_cast(c->p, LATHE_DTYPE_I64, lv_at(c, pos, pi));
    ci[cn++] = kclamp(c, p, kint(c, 0), kbin(c, LATHE_KOP_SUB, kdim(c, cs->dims[0]), kint(c, 1)));
  } else {
    ci[cn++] = b;
    ci[cn++] = s;
  }
  ci[cn] = i;
  const lathe_kexpr_t *v = lv_at(c, x, it), *vp = lv_at(c, x, xi);
  const lathe_kexpr_t *co = lv_at(c, cs, ci), *si = lv_at(c, sn, ci);
  const lathe_kexpr_t *lo = kbin(c, LATHE_KOP_SUB, kbin(c, LATHE_KOP_MUL, v, co),
                                 kbin(c, LATHE_KOP_MUL, vp, si));
  const lathe_kexpr_t *hi = kbin(c, LATHE_KOP_ADD, kbin(c, LATHE_KOP_MUL, vp, si),
                                 kbin(c, LATHE_KOP_MUL, v, co));
  const lathe_kexpr_t *rotated = kbin(c, LATHE_KOP_LT, d, kint(c, R));
  set_expr(c, op, 0, dims, ksel(c, rotated, ksel(c, first, lo, hi), v), NULL);
  return NULL;
}
