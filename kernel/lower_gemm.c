/* matmul and gemm as GEMM kernels, with their elementwise consumers fused as
 * the epilogue.
 *
 * A matmul whose operands are buffers and whose batch dims fit one of three
 * shapes becomes a pending GEMM: its result is the expression ACC over its
 * own index, which epilogue ops in the same group extend (bias add, relu,
 * residual add, scale...). When the group's output is materialized,
 * emit_gemm maps that expression from the output's index to the GEMM's
 * (b, m, n):
 *   - B has no batch (or only 1s): A's batch dims fold into M (one big GEMM
 *     over all rows: the usual x @ W of a linear layer);
 *   - A has no batch: batch = B's batch dims, A broadcast;
 *   - equal batch dims: one GEMM per batch entry (attention's q @ k^T).
 * Loads of other tensors with the output's own shape (a residual) become
 * loads of a [batch, M, N] view at (b, m, n), so the epilogue stays affine;
 * anything else is indexed through the unflattened (b, m) position.
 * Everything else (rank-1 operands, partial batch broadcasting, operands that
 * are fused expressions) lowers as a LOOPS reduction.
 */
#include <stdio.h>
#include <string.h>

#include "kernel/lower.h"

struct gemm_pending {
  lathe_kgemm_t g;
  uint32_t rank; /* of the matmul result */
  lathe_kdim_t dims[LATHE_MAX_RANK];
  bool fold; /* batch dims folded into M */
};

static bool all_unit(const lathe_kdim_t *d, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i)
    if (!lathe_kdim_is_static(d[i]) || d[i].size != 1) return false;
  return true;
}

lathe_dtype_t gemm_acc_dtype(const gemm_pending_t *g) { return g->g.acc_dtype; }

gemm_pending_t *gemm_plan(lower_ctx_t *c, const lval_t *a, const lval_t *b, bool ta, bool tb,
                          const lathe_kdim_t *dims, uint32_t rank) {
  if (!a->buf || !b->buf || a->rank < 2 || b->rank < 2 || rank < 2) return NULL;
  if (a->rank > 2 && b->rank > 2 && a->rank != b->rank) return NULL;
  uint32_t na = a->rank - 2, nb = b->rank - 2;
  gemm_pending_t *p = LATHE_ARENA_NEW(&c->p->arena, gemm_pending_t);
  p->rank = rank;
  memcpy(p->dims, dims, rank * sizeof *dims);
  p->g.a = (lathe_kgemm_operand_t){a->buf->id, ta, false};
  p->g.b = (lathe_kgemm_operand_t){b->buf->id, tb, false};
  p->g.k = a->dims[ta ? na : na + 1];
  p->g.m = dims[rank - 2];
  p->g.n = dims[rank - 1];
  lathe_kdim_t batch = lathe_kdim_static(1);
  for (uint32_t d = 0; d + 2 < rank; ++d) batch = dim_mul(c, batch, dims[d]);
  if (all_unit(b->dims, nb)) {
    p->fold = true;
    p->g.b.broadcast = true;
    p->g.m = dim_mul(c, batch, p->g.m);
    p->g.batch = lathe_kdim_static(1);
    if (ta && na) return NULL; /* a transposed batch of A cannot fold into M */
  } else if (all_unit(a->dims, na)) {
    p->g.a.broadcast = true;
    p->g.batch = batch;
  } else {
    for (uint32_t d = 0; d < na; ++d)
      if (!dim_eq(a->dims[d], b->dims[d])) return NULL;
    p->g.batch = batch;
  }
  lathe_dtype_t t = a->dtype;
  p->g.acc_dtype = lathe_dtype_is_float(t) ? (t == LATHE_DTYPE_F64 ? t : LATHE_DTYPE_F32)
                   : t == LATHE_DTYPE_I64  ? LATHE_DTYPE_I64
                                           : LATHE_DTYPE_I32;
  return p;
}

void matmul_index(lower_ctx_t *c, const lval_t *a, const lval_t *b, bool ta, bool tb, uint32_t rank,
                  const lathe_kexpr_t *const *it, const lathe_kexpr_t **ai,
                  const lathe_kexpr_t **bi, lathe_kdim_t *out_k) {
  const lathe_kexpr_t *k = it[rank];
  uint32_t nm = a->rank >= 2, nn = b->rank >= 2; /* result has an m / n dim */
  const lathe_kexpr_t *m = nm ? it[rank - 1 - nn] : NULL, *n = nn ? it[rank - 1] : NULL;
  uint32_t nbatch = rank - nm - nn;
  for (uint32_t d = 0; d + 2 <= a->rank; ++d) ai[d] = it[nbatch - (a->rank - 2) + d];
  for (uint32_t d = 0; d + 2 <= b->rank; ++d) bi[d] = it[nbatch - (b->rank - 2) + d];
  if (nm) {
    ai[a->rank - 2] = ta ? k : m;
    ai[a->rank - 1] = ta ? m : k;
  } else {
    ai[0] = k;
  }
  if (nn) {
    bi[b->rank - 2] = tb ? n : k;
    bi[b->rank - 1] = tb ? k : n;
  } else {
    bi[0] = k;
  }
  /* Broadcast batch dims read index 0. */
  for (uint32_t d = 0; d + 2 <= a->rank; ++d)
    if (lathe_kdim_is_static(a->dims[d]) && a->dims[d].size == 1) ai[d] = kint(c, 0);
  for (uint32_t d = 0; d + 2 <= b->rank; ++d)
    if (lathe_kdim_is_static(b->dims[d]) && b->dims[d].size == 1) bi[d] = kint(c, 0);
  *out_k = a->dims[nm ? (ta ? a->rank - 2 : a->rank - 1) : 0];
}

/* result[..., m, n] += a[..., m, k] * b[..., k, n] as a LOOPS reduction;
 * rank-1 operands per numpy (a vector is a row on the left, a column on the
 * right). */
static lathe_status_t matmul_loops(lower_ctx_t *c, const lathe_op_t *op, const lval_t *a,
                                   const lval_t *b, bool ta, bool tb, const lathe_kdim_t *dims,
                                   bool to_scratch) {
  uint32_t rank = op->results[0].type.rank;
  lathe_dtype_t dtype = op->results[0].type.dtype, cd = compute_dtype(dtype);
  const lathe_kexpr_t *it[LATHE_MAX_RANK + 1], *ai[LATHE_MAX_RANK], *bi[LATHE_MAX_RANK];
  iters(c, rank + 1, it);
  lathe_kdim_t ext[LATHE_MAX_RANK + 1];
  memcpy(ext, dims, rank * sizeof *dims);
  matmul_index(c, a, b, ta, tb, rank, it, ai, bi, &ext[rank]);
  bool direct = cd == dtype && !to_scratch;
  const lathe_kbuffer_t *t =
      direct ? set_buffer(c, op, 0, dims) : scratch(c, "acc", cd, rank, dims);
  lathe_kstmt_desc_t s = {
      .num_iters = rank + 1,
      .extents = ext,
      .num_reduce = 1,
      .target = t,
      .target_index = it,
      .value = lathe_kexpr_cast(c->p, cd, kbin(c, LATHE_KOP_MUL, lv_at(c, a, ai), lv_at(c, b, bi))),
      .combiner = LATHE_KCOMB_SUM,
      .init = kf(c, cd, 0)};
  LATHE_RETURN_IF_ERROR(emit(c, &s));
  if (!direct) set_expr(c, op, 0, dims, lathe_kexpr_load(c->p, t, it), NULL);
  return NULL;
}

void matmul_dims(const lval_t *a, const lval_t *b, bool ta, bool tb, uint32_t rank,
                 lathe_kdim_t *out) {
  uint32_t nm = a->rank >= 2, nn = b->rank >= 2, nbatch = rank - nm - nn;
  for (uint32_t d = 0; d < nbatch; ++d) {
    out[d] = lathe_kdim_static(1);
    for (uint32_t k = 0; k < 2; ++k) {
      const lval_t *v = k ? b : a;
      uint32_t vb = v->rank >= 2 ? v->rank - 2 : 0;
      if (d + vb < nbatch) continue;
      lathe_kdim_t vd = v->dims[d + vb - nbatch];
      if (lathe_kdim_is_static(out[d]) && out[d].size == 1) out[d] = vd;
    }
  }
  if (nm) out[nbatch] = a->dims[ta ? a->rank - 1 : a->rank - 2];
  if (nn) out[rank - 1] = b->dims[tb ? b->rank - 2 : b->rank - 1];
}

lathe_status_t lower_matmul(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *a = lv_operand(c, op, 0), *b = lv_operand(c, op, 1);
  lathe_kdim_t fallback[LATHE_MAX_RANK], dims[LATHE_MAX_RANK];
  uint32_t rank = op->results[0].type.rank;
  matmul_dims(a, b, false, false, rank, fallback);
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, fallback, dims));
  gemm_pending_t *g = gemm_plan(c, a, b, false, false, dims, rank);
  if (!g) return matmul_loops(c, op, a, b, false, false, dims, false);
  set_expr(c, op, 0, dims, lathe_kexpr_acc(c->p, g->g.acc_dtype), g);
  return NULL;
}

/* gemm(a, b, c?) = alpha * a' b' + beta * c, c broadcast to [M, N]. */
lathe_status_t lower_gemm_op(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *a = lv_operand(c, op, 0), *b = lv_operand(c, op, 1), *cc = lv_operand(c, op, 2);
  bool ta = lathe_op_attr_int(op, "trans_a"), tb = lathe_op_attr_int(op, "trans_b");
  double alpha = lathe_op_attr_float(op, "alpha"), beta = lathe_op_attr_float(op, "beta");
  lathe_kdim_t fallback[2], dims[LATHE_MAX_RANK];
  if (a->rank != 2 || b->rank != 2) return unsupported(op, "needs 2-D operands");
  matmul_dims(a, b, ta, tb, 2, fallback);
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, fallback, dims));
  lathe_dtype_t cd = compute_dtype(op->results[0].type.dtype);
  const lathe_kexpr_t *idx[2];
  iters(c, 2, idx);
  gemm_pending_t *g = gemm_plan(c, a, b, ta, tb, dims, 2);
  const lathe_kexpr_t *acc;
  if (g) {
    acc = lathe_kexpr_cast(c->p, cd, lathe_kexpr_acc(c->p, g->g.acc_dtype));
  } else {
    LATHE_RETURN_IF_ERROR(matmul_loops(c, op, a, b, ta, tb, dims, true));
    acc = lv_at(c, c->vals[op->results[0].id], idx);
  }
  const lathe_kexpr_t *y = alpha == 1.0 ? acc : kbin(c, LATHE_KOP_MUL, kf(c, cd, alpha), acc);
  if (cc && beta != 0.0) {
    const lathe_kexpr_t *bias = lv_at_bcast(c, cc, 2, idx);
    y = kbin(c, LATHE_KOP_ADD, y,
             beta == 1.0 ? bias : kbin(c, LATHE_KOP_MUL, kf(c, cd, beta), bias));
  }
  set_expr(c, op, 0, dims, y, g);
  return NULL;
}

/* ---- fusion check ---- */

bool gemm_group_ok(lower_ctx_t *c, const lathe_op_t *const *ops, uint32_t n) {
  const lathe_op_t *h = ops[0];
  if (h->kind != LATHE_OP_MATMUL && h->kind != LATHE_OP_GEMM && h->kind != LATHE_OP_EINSUM)
    return false;
  const lathe_type_t *ht = &h->results[0].type;
  lower_ctx_t probe = {.group = (const lathe_op_t **)ops, .group_size = n};
  (void)c;
  for (uint32_t i = 1; i < n; ++i) {
    const lathe_op_t *op = ops[i];
    if (!(lathe_op_info(op->kind)->flags & LATHE_OPF_ELEMENTWISE) || op->num_results != 1)
      return false;
    const lathe_type_t *t = &op->results[0].type;
    if (t->rank != ht->rank) return false;
    for (uint32_t d = 0; d < t->rank; ++d)
      if (!lathe_dim_equal(t->dims[d], ht->dims[d])) return false;
  }
  /* Only the last op's result may leave the group; nothing else may use H. */
  for (uint32_t i = 0; i + 1 < n; ++i)
    for (const lathe_operand_t *u = ops[i]->results[0].uses; u; u = u->next_use) {
      bool inside = false;
      for (uint32_t j = 0; j < probe.group_size; ++j) inside |= probe.group[j] == u->owner;
      if (!inside) return false;
    }
  for (uint32_t j = 0; j < h->num_operands; ++j) {
    const lathe_value_t *v = h->operands[j].value;
    for (uint32_t i = 0; v && v->def && i < n; ++i)
      if (ops[i] == v->def) return false;
  }
  return true;
}

/* ---- the GEMM kernel ---- */

typedef struct {
  lower_ctx_t *c;
  const gemm_pending_t *g;
  const lathe_kexpr_t *const *map; /* output index -> expression of (b, m, n) */
  lathe_hashmap_t memo;
} rw_t;

/* Loads at exactly the output's own index become loads of a [batch, M, N]
 * view at (b, m, n). */
static const lathe_kexpr_t *rewrite(rw_t *w, const lathe_kexpr_t *e) {
  void *hit;
  if (!e || !e->num_args) return e;
  if (lathe_hashmap_get(&w->memo, &e, sizeof e, &hit)) return hit;
  lathe_kprogram_t *p = w->c->p;
  const lathe_kexpr_t *r = e;
  if (e->kind == LATHE_KEXPR_LOAD && e->num_args == w->g->rank) {
    bool same = true;
    for (uint32_t d = 0; d < e->num_args; ++d) same &= e->args[d] == w->map[d];
    if (same) {
      const lathe_kgemm_t *g = &w->g->g;
      lathe_kdim_t vd[3] = {g->batch, g->m, g->n};
      const lathe_kexpr_t *vi[3];
      iters(w->c, 3, vi);
      bool batched = !lathe_kdim_is_static(g->batch) || g->batch.size != 1;
      const lathe_kbuffer_t *view =
          lathe_kprogram_add_view(p, p->buffers[e->index]->name, p->buffers[e->index],
                                  batched ? 3 : 2, batched ? vd : vd + 1);
      r = lathe_kexpr_load(p, view, batched ? vi : vi + 1);
    }
  }
  if (r == e) {
    const lathe_kexpr_t *a[LATHE_MAX_RANK + 3];
    bool same = true;
    for (uint32_t i = 0; i < e->num_args; ++i) {
      a[i] = rewrite(w, e->args[i]);
      same &= a[i] == e->args[i];
    }
    if (!same) switch (e->kind) {
      case LATHE_KEXPR_LOAD: r = lathe_kexpr_load(p, p->buffers[e->index], a); break;
      case LATHE_KEXPR_UNARY: r = lathe_kexpr_unary(p, e->op, a[0]); break;
      case LATHE_KEXPR_BINARY: r = lathe_kexpr_binary(p, e->op, a[0], a[1]); break;
      case LATHE_KEXPR_SELECT: r = lathe_kexpr_select(p, a[0], a[1], a[2]); break;
      case LATHE_KEXPR_CAST: r = lathe_kexpr_cast(p, e->dtype, a[0]); break;
      default: break;
      }
  }
  lathe_hashmap_put(&w->memo, &e, sizeof e, (void *)r);
  return r;
}

lathe_status_t emit_gemm(lower_ctx_t *c, const lval_t *v, const lathe_kbuffer_t *target) {
  const gemm_pending_t *g = v->gemm;
  if (v->rank != g->rank)
    return lathe_status_make(LATHE_STATUS_INTERNAL, "gemm epilogue changes the rank");
  /* Output index j as an expression of b = ITER 0, m = ITER 1, n = ITER 2. */
  const lathe_kexpr_t *map[LATHE_MAX_RANK], *bmn[3];
  iters(c, 3, bmn);
  uint32_t r = g->rank;
  map[r - 1] = bmn[2];
  const lathe_kexpr_t *rest = g->fold ? bmn[1] : bmn[0];
  uint32_t last = g->fold ? r - 1 : r - 2;
  if (!g->fold) map[r - 2] = bmn[1];
  for (uint32_t j = last; j-- > 0;) {
    const lathe_kexpr_t *size = kdim(c, g->dims[j]);
    map[j] = j == 0 ? rest : kbin(c, LATHE_KOP_MOD, rest, size);
    rest = kbin(c, LATHE_KOP_FLOORDIV, rest, size);
  }
  rw_t w = {c, g, map, {0}};
  lathe_hashmap_init(&w.memo);
  const lathe_kexpr_t *e = rewrite(&w, subst(c, v->expr, r, map));
  lathe_hashmap_destroy(&w.memo);
  lathe_kgemm_t desc = g->g;
  desc.c = target->id;
  desc.epilogue = lathe_kexpr_cast(c->p, target->dtype, e);
  char name[128];
  snprintf(name, sizeof name, "k%u_%s", c->p->num_kernels, c->kernel_name);
  lathe_kprogram_add_gemm_kernel(c->p, name, &desc);
  return NULL;
}
