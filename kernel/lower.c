/* Lowering a graph to a kernel program: the driver.
 *
 * 1. Graph inputs become INPUT buffers; each symbolic (or unknown) input dim
 *    becomes a param bound to that dim.
 * 2. Ops are grouped by passes/fuse.c's side table (graph->fusion); ops without
 *    a group are groups of one. A group that could not run as one kernel (it is
 *    not convex in the op order, or a heavy op's group is not a GEMM epilogue
 *    pattern) is split into groups of one, so a bad grouping costs speed,
 *    never correctness.
 * 3. Each group is lowered when its last op is reached: every op's lowering
 *    (lower.def) defines its results as expressions or buffers, emitting
 *    statements into the group's kernel; values used outside the group are
 *    then materialized (a statement, or the GEMM kernel with its epilogue).
 * 4. Graph outputs that no kernel wrote (an input, a constant, a view, a value
 *    returned twice) get a copy kernel.
 */
#include <stdlib.h>
#include <string.h>

#include "kernel/lower.h"

typedef struct lower_entry {
  lower_fn_t fn;
  const char *why;
} lower_entry_t;

static const lower_entry_t lower_table[LATHE_OP_KIND_COUNT] = {
#define LOWER(e, f) [LATHE_OP_##e] = {f, NULL},
#define LOWER_NONE(e, w) [LATHE_OP_##e] = {NULL, w},
#include "kernel/lower.def"
#undef LOWER
#undef LOWER_NONE
};

enum {
  LOWER_TABLE_SIZE = 0
#define LOWER(e, f) +1
#define LOWER_NONE(e, w) +1
#include "kernel/lower.def"
#undef LOWER
#undef LOWER_NONE
};
_Static_assert((int)LOWER_TABLE_SIZE == (int)LATHE_OP_KIND_COUNT,
               "kernel/lower.def must have one entry per op in ir/ops.def");

lathe_status_t lower_const(lower_ctx_t *c, const lathe_op_t *op) {
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, NULL, dims));
  const lathe_type_t *t = &op->results[0].type;
  const lathe_weight_t *w = op->weight;
  int64_t count = 1;
  for (uint32_t d = 0; d < t->rank; ++d) count *= dims[d].size;
  /* One element, or a splat: a constant expression instead of a buffer. */
  if (w && w->num_bytes && (count == 1 || w->form == LATHE_WEIGHT_FORM_SPLAT)) {
    kval_t v = kval_load(t->dtype, w->data, 0);
    lathe_dtype_t cd = compute_dtype(t->dtype);
    const lathe_kexpr_t *e =
        lathe_dtype_is_float(t->dtype) ? kf(c, cd, v.f) : lathe_kexpr_int(c->p, cd, v.i);
    set_expr(c, op, 0, dims, e, NULL);
    return NULL;
  }
  const lathe_value_t *value = &op->results[0];
  char hint[32];
  snprintf(hint, sizeof hint, "w%u", value->id);
  lathe_kbuffer_t *b = lathe_kprogram_add_buffer(c->p, value->name ? value->name : hint, t->dtype,
                                                 t->rank, dims, LATHE_KBUF_CONST);
  b->weight = w;
  lval_t *v = LATHE_ARENA_NEW(&c->p->arena, lval_t);
  v->dtype = t->dtype;
  v->rank = t->rank;
  memcpy(v->dims, dims, t->rank * sizeof *dims);
  v->buf = b;
  c->vals[value->id] = v;
  return NULL;
}

lathe_status_t lower_return(lower_ctx_t *c, const lathe_op_t *op) {
  (void)c;
  (void)op;
  return NULL;
}

/* ---- inputs ---- */

static lathe_status_t bind_inputs(lower_ctx_t *c) {
  const lathe_graph_t *g = c->graph;
  for (uint32_t k = 0; k < g->num_inputs; ++k) {
    const lathe_value_t *in = g->inputs[k];
    lval_t *v = LATHE_ARENA_NEW(&c->p->arena, lval_t);
    v->dtype = in->type.dtype;
    v->rank = in->type.rank;
    char name[32];
    snprintf(name, sizeof name, "in%u", k);
    const char *vname = in->name ? in->name : name;
    for (uint32_t d = 0; d < v->rank; ++d) {
      lathe_dim_t dim = in->type.dims[d];
      void *found;
      if (lathe_dim_is_static(dim)) {
        v->dims[d] = lathe_kdim_static(dim.size);
      } else if (dim.sym && lathe_hashmap_get(&c->syms, &dim.sym, sizeof dim.sym, &found)) {
        v->dims[d] = lathe_kdim_param((int32_t)((uintptr_t)found - 1));
      } else {
        char hint[64];
        snprintf(hint, sizeof hint, "%s_d%u", vname, d);
        uint32_t q = lathe_kprogram_add_input_param(c->p, dim.sym ? dim.sym : hint, k, d);
        if (dim.sym)
          lathe_hashmap_put(&c->syms, &dim.sym, sizeof dim.sym, (void *)(uintptr_t)(q + 1));
        v->dims[d] = lathe_kdim_param((int32_t)q);
      }
    }
    v->buf = lathe_kprogram_add_buffer(c->p, vname, v->dtype, v->rank, v->dims, LATHE_KBUF_INPUT);
    lathe_kprogram_set_input(c->p, k, v->buf->id);
    c->vals[in->id] = v;
  }
  return NULL;
}

/* ---- groups ---- */

static bool in_group(const lower_ctx_t *c, const lathe_op_t *op) {
  for (uint32_t i = 0; i < c->group_size; ++i)
    if (c->group[i] == op) return true;
  return false;
}

/* Used by an op outside the group, or returned. */
static bool escapes(const lower_ctx_t *c, const lathe_value_t *v) {
  for (const lathe_operand_t *u = v->uses; u; u = u->next_use)
    if (!in_group(c, u->owner) || u->owner->kind == LATHE_OP_RETURN) return true;
  return false;
}

/* Ops that may become a GEMM kernel (einsum when its equation is a matrix
 * product): a group holding one must be a GEMM epilogue pattern headed by
 * it, else its ops are lowered one per kernel. */
static bool is_heavy(const lathe_op_t *op) {
  return op->kind == LATHE_OP_MATMUL || op->kind == LATHE_OP_GEMM || op->kind == LATHE_OP_EINSUM;
}

/* No op between the group's first and last one may use a group result: the
 * group runs as one kernel at its last op. */
static bool convex(const lathe_op_t *const *ops, uint32_t n) {
  lower_ctx_t probe = {.group = (const lathe_op_t **)ops, .group_size = n};
  for (const lathe_op_t *x = ops[0]->next; x && x != ops[n - 1]; x = x->next) {
    if (in_group(&probe, x)) continue;
    for (uint32_t i = 0; i < x->num_operands; ++i) {
      const lathe_value_t *v = x->operands[i].value;
      if (v && v->def && in_group(&probe, v->def)) return false;
    }
  }
  return true;
}

static bool group_ok(lower_ctx_t *c, const lathe_op_t *const *ops, uint32_t n) {
  if (n <= 1) return true;
  if (!convex(ops, n)) return false;
  for (uint32_t i = 0; i < n; ++i)
    if (is_heavy(ops[i])) return gemm_group_ok(c, ops, n);
  return true;
}

static void kernel_name(lower_ctx_t *c) {
  size_t len = 0;
  c->kernel_name[0] = '\0';
  for (uint32_t i = 0; i < c->group_size; ++i) {
    const char *name = lathe_op_name(c->group[i]->kind);
    size_t n = strlen(name);
    if (len + n + 2 >= sizeof c->kernel_name - 4) {
      strcpy(c->kernel_name + len, "_etc");
      return;
    }
    if (len) c->kernel_name[len++] = '_';
    memcpy(c->kernel_name + len, name, n + 1);
    len += n;
  }
}

/* Index expression e reads shared iterator j: ITER(j), or 0 when that
 * iterator only takes the value 0. */
static bool at_iter(const lathe_kexpr_t *e, uint32_t j, lathe_kdim_t extent) {
  if (e->kind == LATHE_KEXPR_ITER) return e->index == j;
  return e->kind == LATHE_KEXPR_INT && e->i == 0 && lathe_kdim_is_static(extent) &&
         extent.size == 1;
}

/* The number of leading iterators all statements can share: equal extents,
 * and every value a statement reads from an earlier statement's buffer is
 * the one written at the same shared point. */
static uint32_t shared_prefix(const lathe_kprogram_t *p, const lathe_kernel_t *k) {
  if (k->num_stmts < 2) return 0;
  uint32_t n = LATHE_KMAX_ITERS;
  for (uint32_t s = 0; s < k->num_stmts; ++s) {
    const lathe_kstmt_t *st = k->stmts[s];
    uint32_t outer = st->num_iters - st->num_reduce;
    if (outer < n) n = outer;
    for (uint32_t j = 0; j < n; ++j)
      if (!dim_eq(st->extents[j], k->stmts[0]->extents[j])) n = j;
    uint32_t rank = p->buffers[st->target]->rank;
    for (uint32_t j = 0; j < n; ++j)
      if (j >= rank || !at_iter(st->target_index[j], j, st->extents[j])) n = j;
  }
  /* Loads of buffers written earlier in the kernel must index [i0, .., in-1, ...]. */
  for (uint32_t s = 1; s < k->num_stmts && n; ++s) {
    kvec_t stack = {0};
    const lathe_kstmt_t *st = k->stmts[s];
    *(const lathe_kexpr_t **)kvec_push(&stack, sizeof(void *)) = st->value;
    if (st->init) *(const lathe_kexpr_t **)kvec_push(&stack, sizeof(void *)) = st->init;
    for (uint32_t d = 0; d < p->buffers[st->target]->rank; ++d)
      *(const lathe_kexpr_t **)kvec_push(&stack, sizeof(void *)) = st->target_index[d];
    while (stack.len && n) {
      const lathe_kexpr_t *e = ((const lathe_kexpr_t **)stack.data)[--stack.len];
      for (uint32_t a = 0; a < e->num_args; ++a)
        *(const lathe_kexpr_t **)kvec_push(&stack, sizeof(void *)) = e->args[a];
      if (e->kind != LATHE_KEXPR_LOAD) continue;
      uint32_t root =
          p->buffers[e->index]->view_of >= 0 ? (uint32_t)p->buffers[e->index]->view_of : e->index;
      bool written = false;
      for (uint32_t w = 0; w < s; ++w) {
        uint32_t t = k->stmts[w]->target;
        written |=
            t == root || (p->buffers[t]->view_of >= 0 && (uint32_t)p->buffers[t]->view_of == root);
      }
      if (!written) continue;
      if (e->index != root && p->buffers[e->index]->view_of >= 0) n = 0; /* a reshaped read */
      for (uint32_t j = 0; j < n; ++j)
        if (j >= e->num_args || !at_iter(e->args[j], j, k->stmts[0]->extents[j])) n = j;
    }
    kvec_free(&stack);
  }
  return n == LATHE_KMAX_ITERS ? 0 : n;
}

/* An expression that reads no buffer (a splat constant, iota, a shape):
 * consumers recompute it rather than load it. */
static bool is_constant(const lathe_kexpr_t *e) {
  if (!e || e->kind == LATHE_KEXPR_LOAD || e->kind == LATHE_KEXPR_ACC) return false;
  for (uint32_t i = 0; i < e->num_args; ++i)
    if (!is_constant(e->args[i])) return false;
  return true;
}

static lathe_status_t lower_group(lower_ctx_t *c, const lathe_op_t **ops, uint32_t n) {
  c->group = ops;
  c->group_size = n;
  c->kernel = NULL;
  c->first_buffer = c->p->num_buffers;
  kernel_name(c);
  for (uint32_t i = 0; i < n; ++i) {
    const lathe_op_t *op = ops[i];
    const lower_entry_t *e = &lower_table[op->kind];
    c->op = op;
    if (!e->fn) return unsupported(op, "%s", e->why);
    for (uint32_t j = 0; j < op->num_operands; ++j)
      if (op->operands[j].value && !c->vals[op->operands[j].value->id])
        return lathe_op_error(op, LATHE_STATUS_INTERNAL, "operand %u was not lowered", j);
    LATHE_RETURN_IF_ERROR(e->fn(c, op));
    for (uint32_t r = 0; r < op->num_results; ++r)
      if (!c->vals[op->results[r].id] && lathe_value_has_uses(&op->results[r]))
        return lathe_op_error(op, LATHE_STATUS_INTERNAL, "result %u was not lowered", r);
  }
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t r = 0; r < ops[i]->num_results; ++r) {
      const lathe_value_t *value = &ops[i]->results[r];
      lval_t *v = c->vals[value->id];
      if (!v || v->buf || !escapes(c, value) || is_constant(v->expr)) continue;
      c->op = ops[i];
      lathe_kbuffer_t *b = set_buffer(c, ops[i], r, v->dims);
      lval_t *stored = c->vals[value->id];
      c->vals[value->id] = v; /* emit from the expression */
      LATHE_RETURN_IF_ERROR(emit_copy(c, v, b));
      c->vals[value->id] = stored;
    }
  if (c->kernel) {
    lathe_kernel_set_num_shared(c->kernel, shared_prefix(c->p, c->kernel));
    /* TEMP buffers of this group that no escaping value holds are scratch. */
    for (uint32_t b = c->first_buffer; b < c->p->num_buffers; ++b) {
      lathe_kbuffer_t *buf = c->p->buffers[b];
      if (buf->role != LATHE_KBUF_TEMP || buf->view_of >= 0) continue;
      bool held = false;
      for (uint32_t i = 0; i < n && !held; ++i)
        for (uint32_t r = 0; r < ops[i]->num_results && !held; ++r) {
          const lval_t *v = c->vals[ops[i]->results[r].id];
          held = v && v->buf && (v->buf == buf || v->buf->view_of == (int32_t)b) &&
                 escapes(c, &ops[i]->results[r]);
        }
      if (!held) buf->local_to = (int32_t)c->kernel->index;
    }
  }
  return NULL;
}

/* ---- outputs ---- */

static lathe_status_t bind_outputs(lower_ctx_t *c) {
  uint32_t n = lathe_graph_num_outputs(c->graph);
  for (uint32_t k = 0; k < n; ++k) {
    if (k < c->p->num_outputs && c->p->outputs[k] != UINT32_MAX) continue;
    const lathe_value_t *value = lathe_graph_output(c->graph, k);
    const lval_t *v = c->vals[value->id];
    if (!v) return lathe_status_make(LATHE_STATUS_INTERNAL, "graph output %u was not lowered", k);
    char name[32];
    snprintf(name, sizeof name, "out%u", k);
    lathe_kbuffer_t *b =
        lathe_kprogram_add_buffer(c->p, name, v->dtype, v->rank, v->dims, LATHE_KBUF_OUTPUT);
    lathe_kprogram_set_output(c->p, k, b->id);
    c->kernel = NULL;
    snprintf(c->kernel_name, sizeof c->kernel_name, "copy");
    LATHE_RETURN_IF_ERROR(emit_copy(c, v, b));
  }
  return NULL;
}

static lathe_status_t lower_all(lower_ctx_t *c) {
  const lathe_graph_t *g = c->graph;
  LATHE_RETURN_IF_ERROR(bind_inputs(c));
  /* Members of each fusion group, in op order; group ids index `members`. */
  uint32_t num_ops = g->next_op_id, max_group = 0;
  for (uint32_t i = 0; g->fusion && i < g->fusion_size; ++i)
    if (g->fusion[i] > max_group) max_group = g->fusion[i];
  kvec_t *members = calloc(max_group + 1, sizeof *members);
  uint32_t *group_of = calloc(num_ops + 1, sizeof *group_of);
  if (!members || !group_of) abort();
  LATHE_GRAPH_FOR_EACH_OP(g, op) {
    uint32_t gid = g->fusion && op->id < g->fusion_size ? g->fusion[op->id] : 0;
    group_of[op->id] = gid;
    if (gid) *(const lathe_op_t **)kvec_push(&members[gid], sizeof(void *)) = op;
  }
  for (uint32_t gid = 1; gid <= max_group; ++gid) {
    const lathe_op_t **ops = members[gid].data;
    if (members[gid].len && !group_ok(c, ops, (uint32_t)members[gid].len))
      for (size_t i = 0; i < members[gid].len; ++i) group_of[ops[i]->id] = 0;
  }
  lathe_status_t st = NULL;
  LATHE_GRAPH_FOR_EACH_OP(g, op) {
    uint32_t gid = group_of[op->id];
    if (!gid) {
      const lathe_op_t *one = op;
      st = lower_group(c, &one, 1);
    } else {
      const lathe_op_t **ops = members[gid].data;
      if (ops[members[gid].len - 1] == op) st = lower_group(c, ops, (uint32_t)members[gid].len);
    }
    if (st) break;
  }
  for (uint32_t gid = 0; gid <= max_group; ++gid) kvec_free(&members[gid]);
  free(members);
  free(group_of);
  if (!st) st = bind_outputs(c);
  return st;
}

/* Gives the signature's buffers the graph's names verbatim (io_name): buffer
 * names are identifiers, and an output may be a copy named out<k>. */
static void name_signature(lower_ctx_t *c) {
  lathe_kprogram_t *p = c->p;
  for (uint32_t k = 0; k < p->num_inputs && k < c->graph->num_inputs; ++k) {
    const char *name = c->graph->inputs[k]->name;
    if (p->inputs[k] < p->num_buffers && name)
      p->buffers[p->inputs[k]]->io_name = lathe_arena_strdup(&p->arena, name);
  }
  for (uint32_t k = 0; k < p->num_outputs; ++k) {
    const char *name = lathe_graph_output(c->graph, k)->name;
    if (p->outputs[k] < p->num_buffers && name)
      p->buffers[p->outputs[k]]->io_name = lathe_arena_strdup(&p->arena, name);
  }
}

lathe_status_t lathe_kernel_lower_graph(const lathe_graph_t *graph,
                                        lathe_kprogram_t **out_program) {
  lower_ctx_t c = {.graph = graph};
  c.p = lathe_kprogram_create(graph->name);
  c.vals = calloc(graph->next_value_id + 1, sizeof *c.vals);
  if (!c.vals) abort();
  lathe_hashmap_init(&c.syms);
  lathe_status_t st = lower_all(&c);
  if (!st) st = kbuild_take_error(c.p);
  if (!st) name_signature(&c);
  if (!st) st = lathe_kprogram_finish(c.p);
  free(c.vals);
  lathe_hashmap_destroy(&c.syms);
  if (st) {
    lathe_kprogram_destroy(c.p);
    return st;
  }
  *out_program = c.p;
  return NULL;
}
