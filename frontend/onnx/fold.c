/* Import-time folding: the shapes and axes that ONNX computes in the graph.
 *
 * Lathe keeps shapes, axes, pads and the like as attributes, but exporters
 * and ONNX function bodies compute them: Shape -> Gather -> Concat ->
 * Reshape, Range over Size(Shape(x)) -> ReduceSum's axes. When such an input
 * must be a constant, the importer asks here. The ops computing it were
 * built as ordinary graph-IR ops when their nodes were converted; this file
 * walks back from the value to the ops it depends on, stopping at constants
 * and at the operands of `shape` and `size` (which read only types), and
 * evaluates them in program order with the evaluator the caller passed in
 * (options.fold: fold-constants' evaluator, wired by the tools, because
 * frontend/ does not depend on passes/). Each evaluated op is replaced by a
 * const op, which is what fold-constants would do after import, and the ONNX
 * entry that held its result is repointed at the constant.
 *
 * Folding is on demand: only values that must be constants are evaluated,
 * so everywhere else the graph keeps the ops the model wrote (a model whose
 * inputs were all given values is not folded into one constant).
 *
 * A failure says why, for the error message: a graph input in the way, a
 * shape that is not static, an op the evaluator cannot do, a result too large.
 */
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

void onnx_folder_init(onnx_folder_t *f, lathe_onnx_fold_fn fold) {
  f->fold = fold;
  lathe_hashmap_init(&f->owners);
  lathe_hashmap_init(&f->orphans);
}

void onnx_folder_destroy(onnx_folder_t *f) {
  lathe_hashmap_destroy(&f->owners);
  lathe_hashmap_destroy(&f->orphans);
}

static lathe_status_t oom(void) {
  return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
}

lathe_status_t onnx_folder_track(onnx_folder_t *f, onnx_value_t *v) {
  if (v->value && !lathe_hashmap_put(&f->owners, &v->value, sizeof v->value, v)) return oom();
  return NULL;
}

static onnx_value_t *owner_of(const onnx_folder_t *f, const lathe_value_t *lv) {
  void *owner = NULL;
  lathe_hashmap_get(&f->owners, &lv, sizeof lv, &owner);
  return owner;
}

/* How messages name a value: the ONNX name of the entry holding it. */
static const char *name_of(const onnx_folder_t *f, const lathe_value_t *lv) {
  const onnx_value_t *o = owner_of(f, lv);
  return o ? o->name : lv->name ? lv->name : "?";
}

static void mark_orphan(onnx_folder_t *f, lathe_op_t *op) {
  /* Out of memory here only keeps a dead op in the output. */
  if (op) lathe_hashmap_put(&f->orphans, &op, sizeof op, op);
}

static bool reads_types_only(lathe_op_kind_t kind) {
  return kind == LATHE_OP_SHAPE || kind == LATHE_OP_SIZE;
}

static const char *type_text(lathe_arena_t *a, const lathe_type_t *t) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  lathe_type_print(&sb, t);
  const char *s = lathe_arena_strdup(a, lathe_strbuf_cstr(&sb));
  lathe_strbuf_destroy(&sb);
  return s;
}

/* The constant a const op's result holds. */
static onnx_const_t *konst_of(lathe_arena_t *a, const lathe_value_t *lv) {
  onnx_const_t *k = LATHE_ARENA_NEW(a, onnx_const_t);
  k->type = lv->type;
  k->weight = lv->def->weight;
  k->data = k->weight->data;
  return k;
}

/* ---- which ops to evaluate ------------------------------------------------- */

typedef struct frame {
  lathe_op_t *op;
  uint32_t next; /* operand to visit next */
} frame_t;

/* Fills `order` with the ops `root` depends on, each after the ops it
 * depends on. Stops (with *out_why) at the first graph input on the way. */
static lathe_status_t collect(onnx_folder_t *f, lathe_arena_t *a, lathe_op_t *root,
                              lathe_op_t **order, size_t *out_n, const char **out_why) {
  size_t num_ops = root->graph->next_op_id;
  uint8_t *seen = calloc(num_ops ? num_ops : 1, 1);
  frame_t *stack = malloc((num_ops ? num_ops : 1) * sizeof *stack);
  if (!seen || !stack) {
    free(seen);
    free(stack);
    return oom();
  }
  size_t depth = 0, n = 0;
  stack[depth++] = (frame_t){root, 0};
  seen[root->id] = 1;
  while (depth && !*out_why) {
    frame_t *top = &stack[depth - 1];
    lathe_op_t *op = top->op;
    if (reads_types_only(op->kind) || top->next == op->num_operands) {
      order[n++] = op;
      --depth;
      continue;
    }
    const lathe_value_t *u = op->operands[top->next++].value;
    if (!u || (u->def && u->def->kind == LATHE_OP_CONST)) continue;
    if (!u->def) {
      *out_why = lathe_arena_printf(a, "it depends on graph input '%s'", name_of(f, u));
    } else if (!seen[u->def->id]) {
      seen[u->def->id] = 1;
      stack[depth++] = (frame_t){u->def, 0};
    }
  }
  free(seen);
  free(stack);
  *out_n = n;
  return NULL;
}

/* ---- evaluating ------------------------------------------------------------ */

/* Replaces op's result by a const op holding `w`, and repoints its entry. */
static lathe_status_t replace(onnx_folder_t *f, lathe_arena_t *a, lathe_op_t *op,
                              lathe_weight_t *w) {
  lathe_value_t *r = &op->results[0], *c;
  lathe_builder_t b = lathe_builder_before(op);
  LATHE_RETURN_IF_ERROR(lathe_build_const(&b, w, &r->type, &c));
  c->name = r->name;
  lathe_value_replace_all_uses(r, c);
  for (uint32_t i = 0; i < op->num_operands; ++i)
    if (op->operands[i].value) mark_orphan(f, op->operands[i].value->def);
  onnx_value_t *owner = owner_of(f, r);
  if (owner) {
    lathe_hashmap_remove(&f->owners, &r, sizeof r);
    owner->value = c;
    owner->konst = konst_of(a, c);
    LATHE_RETURN_IF_ERROR(onnx_folder_track(f, owner));
  }
  lathe_op_erase(op);
  return NULL;
}

/* Why `op` cannot be evaluated before even trying, or NULL. */
static const char *precheck(const onnx_folder_t *f, lathe_arena_t *a, const lathe_op_t *op) {
  const char *what = op->num_results ? name_of(f, &op->results[0]) : "?";
  if (op->num_results != 1)
    return lathe_arena_printf(a, "it depends on '%s' (%s), which has %u results", what,
                              lathe_op_name(op->kind), op->num_results);
  if (reads_types_only(op->kind) && op->num_operands == 1 && op->operands[0].value &&
      !lathe_type_is_static(&op->operands[0].value->type)) {
    const lathe_value_t *x = op->operands[0].value;
    return lathe_arena_printf(a, "it depends on the shape of '%s' (%s), which is not static",
                              name_of(f, x), type_text(a, &x->type));
  }
  const lathe_type_t *rt = &op->results[0].type;
  int64_t count = 0;
  lathe_status_t st = lathe_type_is_static(rt) ? lathe_type_num_elements(rt, &count) : NULL;
  bool counted = lathe_type_is_static(rt) && !st;
  lathe_status_free(st);
  if (!counted)
    return lathe_arena_printf(a, "it depends on '%s' (%s), whose shape %s is not static", what,
                              lathe_op_name(op->kind), type_text(a, rt));
  if (count > ONNX_FOLD_MAX_ELEMENTS)
    return lathe_arena_printf(a,
                              "it depends on '%s' (%s), whose %lld elements are more than "
                              "import-time folding takes (%d)",
                              what, lathe_op_name(op->kind), (long long)count,
                              ONNX_FOLD_MAX_ELEMENTS);
  return NULL;
}

lathe_status_t onnx_fold_constant(onnx_folder_t *f, lathe_module_t *m, onnx_value_t *v,
                                  const char **out_why) {
  lathe_arena_t *a = lathe_module_arena(m);
  *out_why = NULL;
  if (v->konst) return NULL;
  lathe_value_t *lv = v->value;
  if (!lv->def) {
    *out_why = lathe_arena_printf(a, "it is graph input '%s'", v->name);
    return NULL;
  }
  if (lv->def->kind != LATHE_OP_CONST) {
    if (!f->fold) {
      *out_why = "it is computed in the graph and import-time folding is off";
      return NULL;
    }
    lathe_op_t **order = malloc((lv->graph->next_op_id + 1) * sizeof *order);
    if (!order) return oom();
    size_t n = 0;
    lathe_status_t st = collect(f, a, lv->def, order, &n, out_why);
    for (size_t i = 0; !st && !*out_why && i < n; ++i) {
      lathe_weight_t *w = NULL;
      *out_why = precheck(f, a, order[i]);
      if (!*out_why) st = f->fold(order[i], &w);
      if (!st && !*out_why && !w)
        *out_why =
            lathe_arena_printf(a,
                               "it depends on '%s' (%s), which cannot be evaluated "
                               "at import time",
                               name_of(f, &order[i]->results[0]), lathe_op_name(order[i]->kind));
      if (!st && !*out_why) st = replace(f, a, order[i], w);
    }
    free(order);
    if (st || *out_why) return st;
  }
  /* v is now a const op's result (its entry was repointed by replace). */
  if (!v->konst) v->konst = konst_of(a, v->value);
  return NULL;
}

void onnx_folder_sweep(onnx_folder_t *f, lathe_graph_t *g) {
  /* Backwards, so an op's users are gone before the op is looked at. */
  for (lathe_op_t *op = g->last, *prev; op; op = prev) {
    prev = op->prev;
    bool used = op->kind == LATHE_OP_RETURN;
    for (uint32_t i = 0; i < op->num_results && !used; ++i)
      used = lathe_value_has_uses(&op->results[i]);
    void *orphan = NULL;
    if (used ||
        (op->kind != LATHE_OP_CONST && !lathe_hashmap_get(&f->orphans, &op, sizeof op, &orphan)))
      continue;
    for (uint32_t i = 0; i < op->num_operands; ++i)
      if (op->operands[i].value) mark_orphan(f, op->operands[i].value->def);
    lathe_op_erase(op);
  }
}
