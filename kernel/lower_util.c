/* The lowering's toolbox (see lower.h): lvals and their elements, index
 * substitution, result definitions, statements, small expression helpers.
 * Every per-op lowering is written in these terms.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kernel/lower.h"

/* ---- expressions ---- */

const lathe_kexpr_t *kint(lower_ctx_t *c, int64_t v) {
  return lathe_kexpr_int(c->p, LATHE_DTYPE_I64, v);
}
const lathe_kexpr_t *kf(lower_ctx_t *c, lathe_dtype_t dtype, double v) {
  return lathe_kexpr_float(c->p, dtype, v);
}
const lathe_kexpr_t *kdim(lower_ctx_t *c, lathe_kdim_t d) { return lathe_kexpr_dim(c->p, d); }
const lathe_kexpr_t *kbin(lower_ctx_t *c, lathe_kop_t op, const lathe_kexpr_t *a,
                          const lathe_kexpr_t *b) {
  return lathe_kexpr_binary(c->p, op, a, b);
}
const lathe_kexpr_t *kun(lower_ctx_t *c, lathe_kop_t op, const lathe_kexpr_t *a) {
  return lathe_kexpr_unary(c->p, op, a);
}
const lathe_kexpr_t *ksel(lower_ctx_t *c, const lathe_kexpr_t *cond, const lathe_kexpr_t *a,
                          const lathe_kexpr_t *b) {
  return lathe_kexpr_select(c->p, cond, a, b);
}
const lathe_kexpr_t *kclamp(lower_ctx_t *c, const lathe_kexpr_t *e, const lathe_kexpr_t *lo,
                            const lathe_kexpr_t *hi) {
  return kbin(c, LATHE_KOP_MIN, kbin(c, LATHE_KOP_MAX, e, lo), hi);
}

lathe_kdim_t dim_of(lower_ctx_t *c, const lathe_kexpr_t *e) {
  return lathe_kprogram_dim_of(c->p, e);
}

lathe_kdim_t dim_mul(lower_ctx_t *c, lathe_kdim_t a, lathe_kdim_t b) {
  return dim_of(c, kbin(c, LATHE_KOP_MUL, kdim(c, a), kdim(c, b)));
}

bool dim_eq(lathe_kdim_t a, lathe_kdim_t b) {
  return a.param == b.param && (a.param >= 0 || a.size == b.size);
}

void iters(lower_ctx_t *c, uint32_t n, const lathe_kexpr_t **out) {
  for (uint32_t i = 0; i < n; ++i) out[i] = lathe_kexpr_iter(c->p, i);
}

typedef struct {
  lower_ctx_t *c;
  uint32_t n;
  const lathe_kexpr_t *const *index;
  lathe_hashmap_t memo;
} subst_t;

static const lathe_kexpr_t *subst_rec(subst_t *s, const lathe_kexpr_t *e) {
  void *hit;
  if (!e) return NULL;
  if (e->kind == LATHE_KEXPR_ITER) return e->index < s->n ? s->index[e->index] : e;
  if (!e->num_args) return e;
  if (lathe_hashmap_get(&s->memo, &e, sizeof e, &hit)) return hit;
  const lathe_kexpr_t *a[LATHE_MAX_RANK + 3];
  bool same = true;
  for (uint32_t i = 0; i < e->num_args; ++i) {
    a[i] = subst_rec(s, e->args[i]);
    same &= a[i] == e->args[i];
  }
  lathe_kprogram_t *p = s->c->p;
  const lathe_kexpr_t *r = e;
  if (!same) switch (e->kind) {
    case LATHE_KEXPR_LOAD: r = lathe_kexpr_load(p, p->buffers[e->index], a); break;
    case LATHE_KEXPR_UNARY: r = lathe_kexpr_unary(p, e->op, a[0]); break;
    case LATHE_KEXPR_BINARY: r = lathe_kexpr_binary(p, e->op, a[0], a[1]); break;
    case LATHE_KEXPR_SELECT: r = lathe_kexpr_select(p, a[0], a[1], a[2]); break;
    case LATHE_KEXPR_CAST: r = lathe_kexpr_cast(p, e->dtype, a[0]); break;
    default: break;
    }
  lathe_hashmap_put(&s->memo, &e, sizeof e, (void *)r);
  return r;
}

const lathe_kexpr_t *subst(lower_ctx_t *c, const lathe_kexpr_t *e, uint32_t n,
                           const lathe_kexpr_t *const *index) {
  bool identity = true;
  for (uint32_t i = 0; i < n && identity; ++i)
    identity = index[i] && index[i]->kind == LATHE_KEXPR_ITER && index[i]->index == i;
  if (identity || !e) return e;
  subst_t s = {c, n, index, {0}};
  lathe_hashmap_init(&s.memo);
  const lathe_kexpr_t *r = subst_rec(&s, e);
  lathe_hashmap_destroy(&s.memo);
  return r;
}

/* ---- values ---- */

lathe_dtype_t compute_dtype(lathe_dtype_t dtype) {
  return dtype == LATHE_DTYPE_F16 || dtype == LATHE_DTYPE_BF16 ? LATHE_DTYPE_F32 : dtype;
}

const lval_t *lv_operand(lower_ctx_t *c, const lathe_op_t *op, uint32_t i) {
  if (i >= op->num_operands || !op->operands[i].value) return NULL;
  return c->vals[op->operands[i].value->id];
}

const lathe_kexpr_t *lv_at(lower_ctx_t *c, const lval_t *v, const lathe_kexpr_t *const *index) {
  if (v->buf)
    return lathe_kexpr_cast(c->p, compute_dtype(v->dtype), lathe_kexpr_load(c->p, v->buf, index));
  return subst(c, v->expr, v->rank, index);
}

const lathe_kexpr_t *lv_at_bcast(lower_ctx_t *c, const lval_t *v, uint32_t rank,
                                 const lathe_kexpr_t *const *index) {
  const lathe_kexpr_t *idx[LATHE_MAX_RANK];
  uint32_t off = rank - v->rank;
  for (uint32_t d = 0; d < v->rank; ++d) {
    lathe_kdim_t dim = v->dims[d];
    idx[d] = lathe_kdim_is_static(dim) && dim.size == 1 ? kint(c, 0) : index[off + d];
  }
  return lv_at(c, v, idx);
}

lathe_status_t unsupported(const lathe_op_t *op, const char *fmt, ...) {
  char why[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  char node[64];
  if (op->loc.name) snprintf(node, sizeof node, "node '%s'", op->loc.name);
  else if (op->num_results && op->results[0].name)
    snprintf(node, sizeof node, "node %%%s", op->results[0].name);
  else snprintf(node, sizeof node, "node #%u", op->id);
  return lathe_status_make_at(LATHE_STATUS_UNSUPPORTED,
                              lathe_loc_format(op->graph->module, op->loc),
                              "unsupported op '%s' (%s): %s", lathe_op_name(op->kind), node, why);
}

lathe_status_t result_dims(lower_ctx_t *c, const lathe_op_t *op, uint32_t i,
                           const lathe_kdim_t *fallback, lathe_kdim_t *out) {
  const lathe_type_t *t = &op->results[i].type;
  for (uint32_t d = 0; d < t->rank; ++d) {
    lathe_dim_t dim = t->dims[d];
    void *param;
    if (lathe_dim_is_static(dim)) out[d] = lathe_kdim_static(dim.size);
    else if (dim.sym && lathe_hashmap_get(&c->syms, &dim.sym, sizeof dim.sym, &param))
      out[d] = lathe_kdim_param((int32_t)((uintptr_t)param - 1));
    else if (fallback) out[d] = fallback[d];
    else if (dim.sym)
      return unsupported(op, "symbol '%s' is not a dim of any graph input", dim.sym);
    else return unsupported(op, "result dim %u is unknown; run infer-shapes or bind the sizes", d);
  }
  return NULL;
}

lathe_status_t result_dims_e(lower_ctx_t *c, const lathe_op_t *op, uint32_t i,
                             const lathe_kexpr_t *const *fallback, lathe_kdim_t *out) {
  const lathe_type_t *t = &op->results[i].type;
  lathe_kdim_t dims[LATHE_MAX_RANK];
  for (uint32_t d = 0; d < t->rank; ++d) {
    lathe_dim_t dim = t->dims[d];
    void *param;
    bool known = lathe_dim_is_static(dim) ||
                 (dim.sym && lathe_hashmap_get(&c->syms, &dim.sym, sizeof dim.sym, &param));
    dims[d] = known || !fallback ? lathe_kdim_static(0) : dim_of(c, fallback[d]);
  }
  return result_dims(c, op, i, fallback ? dims : NULL, out);
}

static lval_t *new_lval(lower_ctx_t *c, const lathe_op_t *op, uint32_t i,
                        const lathe_kdim_t *dims) {
  lval_t *v = LATHE_ARENA_NEW(&c->p->arena, lval_t);
  v->dtype = op->results[i].type.dtype;
  v->rank = op->results[i].type.rank;
  memcpy(v->dims, dims, v->rank * sizeof *dims);
  c->vals[op->results[i].id] = v;
  return v;
}

void set_expr(lower_ctx_t *c, const lathe_op_t *op, uint32_t i, const lathe_kdim_t *dims,
              const lathe_kexpr_t *expr, const gemm_pending_t *gemm) {
  lval_t *v = new_lval(c, op, i, dims);
  v->expr = lathe_kexpr_cast(c->p, compute_dtype(v->dtype), expr);
  v->gemm = gemm;
}

/* The graph output index of `value` when it should be stored straight into
 * an OUTPUT buffer: returned exactly once, and not yet bound. */
static int32_t output_slot(lower_ctx_t *c, const lathe_value_t *value) {
  int32_t slot = -1;
  uint32_t n = lathe_graph_num_outputs(c->graph);
  for (uint32_t k = 0; k < n; ++k)
    if (lathe_graph_output(c->graph, k) == value) {
      if (slot >= 0) return -1;
      slot = (int32_t)k;
    }
  if (slot >= 0 && (uint32_t)slot < c->p->num_outputs && c->p->outputs[slot] != UINT32_MAX)
    return -1;
  return slot;
}

lathe_kbuffer_t *set_buffer(lower_ctx_t *c, const lathe_op_t *op, uint32_t i,
                            const lathe_kdim_t *dims) {
  lval_t *v = new_lval(c, op, i, dims);
  const lathe_value_t *value = &op->results[i];
  int32_t slot = output_slot(c, value);
  char hint[32];
  if (!value->name) snprintf(hint, sizeof hint, "t%u", value->id);
  lathe_kbuffer_t *b =
      lathe_kprogram_add_buffer(c->p, value->name ? value->name : hint, v->dtype, v->rank, dims,
                                slot >= 0 ? LATHE_KBUF_OUTPUT : LATHE_KBUF_TEMP);
  if (b && slot >= 0) lathe_kprogram_set_output(c->p, (uint32_t)slot, b->id);
  v->buf = b;
  return b;
}

void set_view(lower_ctx_t *c, const lathe_op_t *op, uint32_t i, const lathe_kbuffer_t *base,
              const lathe_kdim_t *dims) {
  lval_t *v = new_lval(c, op, i, dims);
  const lathe_value_t *value = &op->results[i];
  char hint[32];
  if (!value->name) snprintf(hint, sizeof hint, "v%u", value->id);
  v->buf = lathe_kprogram_add_view(c->p, value->name ? value->name : hint, base, v->rank, dims);
}

lathe_kbuffer_t *scratch(lower_ctx_t *c, const char *name, lathe_dtype_t dtype, uint32_t rank,
                         const lathe_kdim_t *dims) {
  return lathe_kprogram_add_buffer(c->p, name, dtype, rank, dims, LATHE_KBUF_TEMP);
}

lathe_status_t emit(lower_ctx_t *c, const lathe_kstmt_desc_t *d) {
  if (!c->kernel) {
    char name[128];
    snprintf(name, sizeof name, "k%u_%s", c->p->num_kernels, c->kernel_name);
    c->kernel = lathe_kprogram_add_loops_kernel(c->p, name);
  }
  if (!lathe_kernel_add_stmt(c->p, c->kernel, d)) {
    lathe_status_t st = kbuild_take_error(c->p);
    return st ? st : lathe_status_make(LATHE_STATUS_INTERNAL, "statement rejected");
  }
  return NULL;
}

lathe_status_t emit_copy(lower_ctx_t *c, const lval_t *v, const lathe_kbuffer_t *target) {
  if (v->gemm) return emit_gemm(c, v, target);
  const lathe_kexpr_t *idx[LATHE_MAX_RANK];
  iters(c, v->rank, idx);
  lathe_kstmt_desc_t d = {.num_iters = v->rank,
                          .extents = v->dims,
                          .target = target,
                          .target_index = idx,
                          .value = lathe_kexpr_cast(c->p, target->dtype, lv_at(c, v, idx))};
  return emit(c, &d);
}
