/* Graphs, values and ops: construction and mutation (see ir.h).
 *
 * Use lists are intrusive doubly linked lists through the operand slots, so
 * replacing all uses or erasing an op is proportional to the uses touched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/infer.h"
#include "ir/ir.h"

static lathe_arena_t *arena_of(lathe_graph_t *g) { return lathe_module_arena(g->module); }

static void init_value(lathe_graph_t *g, lathe_value_t *v, const lathe_type_t *type) {
  v->graph = g;
  v->id = g->next_value_id++;
  if (type) v->type = lathe_type_clone(arena_of(g), type);
}

lathe_value_t *lathe_graph_add_input(lathe_graph_t *g, const char *name, const lathe_type_t *type) {
  lathe_arena_t *a = arena_of(g);
  lathe_value_t **inputs = LATHE_ARENA_NEW_ARRAY(a, lathe_value_t *, g->num_inputs + 1);
  if (g->num_inputs) memcpy(inputs, g->inputs, g->num_inputs * sizeof *inputs);
  lathe_value_t *v = LATHE_ARENA_NEW(a, lathe_value_t);
  init_value(g, v, type);
  v->name = name ? lathe_arena_strdup(a, name) : NULL;
  v->index = g->num_inputs;
  inputs[g->num_inputs++] = v;
  g->inputs = inputs;
  return v;
}

lathe_op_t *lathe_graph_return(const lathe_graph_t *g) {
  return g->last && g->last->kind == LATHE_OP_RETURN ? g->last : NULL;
}

uint32_t lathe_graph_num_outputs(const lathe_graph_t *g) {
  lathe_op_t *r = lathe_graph_return(g);
  return r ? r->num_operands : 0;
}

lathe_value_t *lathe_graph_output(const lathe_graph_t *g, uint32_t i) {
  lathe_op_t *r = lathe_graph_return(g);
  return r && i < r->num_operands ? r->operands[i].value : NULL;
}

/* ---- use lists ---- */

static void link_use(lathe_operand_t *o) {
  lathe_value_t *v = o->value;
  o->prev_use = NULL;
  o->next_use = v->uses;
  if (v->uses) v->uses->prev_use = o;
  v->uses = o;
}

static void unlink_use(lathe_operand_t *o) {
  if (!o->value) return;
  if (o->prev_use) o->prev_use->next_use = o->next_use;
  else o->value->uses = o->next_use;
  if (o->next_use) o->next_use->prev_use = o->prev_use;
  o->prev_use = o->next_use = NULL;
}

void lathe_op_set_operand(lathe_op_t *op, uint32_t index, lathe_value_t *value) {
  lathe_operand_t *o = &op->operands[index];
  unlink_use(o);
  o->value = value;
  if (value) link_use(o);
}

void lathe_value_replace_all_uses(lathe_value_t *from, lathe_value_t *to) {
  if (from == to) return;
  while (from->uses) lathe_op_set_operand(from->uses->owner, from->uses->index, to);
}

bool lathe_value_has_uses(const lathe_value_t *v) { return v->uses != NULL; }

uint32_t lathe_value_num_uses(const lathe_value_t *v) {
  uint32_t n = 0;
  for (const lathe_operand_t *o = v->uses; o; o = o->next_use) ++n;
  return n;
}

void lathe_value_set_type(lathe_value_t *v, const lathe_type_t *type) {
  v->type = lathe_type_clone(arena_of(v->graph), type);
}

/* ---- op list ---- */

static void link_op(lathe_graph_t *g, lathe_op_t *op, lathe_op_t *before) {
  op->graph = g;
  op->next = before;
  op->prev = before ? before->prev : g->last;
  if (op->prev) op->prev->next = op;
  else g->first = op;
  if (before) before->prev = op;
  else g->last = op;
  g->num_ops++;
}

static void unlink_op(lathe_op_t *op) {
  lathe_graph_t *g = op->graph;
  if (op->prev) op->prev->next = op->next;
  else g->first = op->next;
  if (op->next) op->next->prev = op->prev;
  else g->last = op->prev;
  op->prev = op->next = NULL;
  g->num_ops--;
}

bool lathe_op_erase(lathe_op_t *op) {
  for (uint32_t i = 0; i < op->num_results; ++i)
    if (op->results[i].uses) return false;
  for (uint32_t i = 0; i < op->num_operands; ++i) lathe_op_set_operand(op, i, NULL);
  unlink_op(op);
  return true;
}

void lathe_op_move_before(lathe_op_t *op, lathe_op_t *before) {
  if (op == before) return;
  lathe_graph_t *g = op->graph;
  unlink_op(op);
  link_op(g, op, before);
}

/* ---- building ---- */

lathe_builder_t lathe_builder_at_end(lathe_graph_t *g) {
  return (lathe_builder_t){g, NULL, {0}};
}

lathe_builder_t lathe_builder_before(lathe_op_t *op) {
  return (lathe_builder_t){op->graph, op, op->loc};
}

/* Copies attributes into the arena in schema order; unknown names keep their
 * relative order after the known ones (the verifier reports them). */
static void copy_attrs(lathe_arena_t *a, lathe_op_t *op, uint32_t n, const lathe_attr_t *attrs) {
  op->num_attrs = 0;
  op->attrs = NULL;
  for (uint32_t i = 0; i < n; ++i) lathe_op_set_attr(op, &attrs[i]);
  (void)a;
}

/* Allocates an op with operand slots and result values, not yet linked. */
static lathe_op_t *new_op(lathe_graph_t *g, lathe_op_kind_t kind, uint32_t num_operands,
                          lathe_value_t *const *operands, uint32_t num_attrs,
                          const lathe_attr_t *attrs, uint32_t num_results, lathe_loc_t loc) {
  lathe_arena_t *a = arena_of(g);
  lathe_op_t *op = LATHE_ARENA_NEW(a, lathe_op_t);
  op->kind = kind;
  op->graph = g;
  op->id = g->next_op_id++;
  op->loc = loc;
  op->num_operands = num_operands;
  op->operands = num_operands ? LATHE_ARENA_NEW_ARRAY(a, lathe_operand_t, num_operands) : NULL;
  for (uint32_t i = 0; i < num_operands; ++i) {
    op->operands[i].owner = op;
    op->operands[i].index = i;
  }
  op->num_results = num_results;
  op->results = num_results ? LATHE_ARENA_NEW_ARRAY(a, lathe_value_t, num_results) : NULL;
  for (uint32_t i = 0; i < num_results; ++i) {
    init_value(g, &op->results[i], NULL);
    op->results[i].def = op;
    op->results[i].index = i;
  }
  copy_attrs(a, op, num_attrs, attrs);
  /* Operands are linked only once the op is accepted (see link_operands). */
  for (uint32_t i = 0; i < num_operands; ++i) op->operands[i].value = operands ? operands[i] : NULL;
  return op;
}

static void link_operands(lathe_op_t *op) {
  for (uint32_t i = 0; i < op->num_operands; ++i)
    if (op->operands[i].value) link_use(&op->operands[i]);
}

/* "2", "2 to 3" or "at least 1". */
static const char *describe_range(char *buf, size_t n, int32_t lo, int32_t hi) {
  if (hi == lo) snprintf(buf, n, "%d", lo);
  else if (hi < 0) snprintf(buf, n, "at least %d", lo);
  else snprintf(buf, n, "%d to %d", lo, hi);
  return buf;
}

lathe_status_t lathe_op_check_arity(lathe_op_kind_t kind, uint32_t num_operands,
                                    uint32_t num_results) {
  const lathe_op_info_t *info = lathe_op_info(kind);
  if (!info) return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "invalid op kind %d", kind);
  char buf[48];
  if ((int64_t)num_operands < info->min_operands ||
      (info->max_operands >= 0 && (int64_t)num_operands > info->max_operands))
    return lathe_status_make(LATHE_STATUS_VERIFY_ERROR, "op '%s' takes %s operands, got %u",
                             info->name,
                             describe_range(buf, sizeof buf, info->min_operands, info->max_operands),
                             num_operands);
  if ((int64_t)num_results < info->min_results ||
      (info->max_results >= 0 && (int64_t)num_results > info->max_results))
    return lathe_status_make(LATHE_STATUS_VERIFY_ERROR, "op '%s' has %s results, got %u",
                             info->name,
                             describe_range(buf, sizeof buf, info->min_results, info->max_results),
                             num_results);
  return NULL;
}

lathe_status_t lathe_build_op(lathe_builder_t *b, lathe_op_kind_t kind, uint32_t num_operands,
                              lathe_value_t *const *operands, uint32_t num_attrs,
                              const lathe_attr_t *attrs, uint32_t num_results,
                              lathe_op_t **out_op) {
  const lathe_op_info_t *info = lathe_op_info(kind);
  if (info && num_results == 0) num_results = (uint32_t)info->min_results;
  LATHE_RETURN_IF_ERROR(lathe_op_check_arity(kind, num_operands, num_results));
  if (!info->infer)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "op '%s' has no type inference; build it with explicit types",
                             info->name);
  lathe_graph_t *g = b->graph;
  lathe_op_t *op = new_op(g, kind, num_operands, operands, num_attrs, attrs, num_results, b->loc);
  lathe_arena_t *a = arena_of(g);
  lathe_type_t *types = num_results ? LATHE_ARENA_NEW_ARRAY(a, lathe_type_t, num_results) : NULL;
  lathe_status_t st = lathe_op_infer_types(op, types);
  if (st) return st; /* the op was never linked: nothing to undo */
  for (uint32_t i = 0; i < num_results; ++i) op->results[i].type = types[i];
  link_operands(op);
  link_op(g, op, b->before);
  if (out_op) *out_op = op;
  return NULL;
}

lathe_op_t *lathe_build_op_typed(lathe_builder_t *b, lathe_op_kind_t kind, uint32_t num_operands,
                                 lathe_value_t *const *operands, uint32_t num_attrs,
                                 const lathe_attr_t *attrs, uint32_t num_results,
                                 const lathe_type_t *result_types) {
  lathe_graph_t *g = b->graph;
  lathe_op_t *op = new_op(g, kind, num_operands, operands, num_attrs, attrs, num_results, b->loc);
  for (uint32_t i = 0; i < num_results; ++i)
    op->results[i].type = lathe_type_clone(arena_of(g), &result_types[i]);
  link_operands(op);
  link_op(g, op, b->before);
  return op;
}

lathe_status_t lathe_build_const(lathe_builder_t *b, lathe_weight_t *weight,
                                 const lathe_type_t *type, lathe_value_t **out_value) {
  uint64_t bytes;
  LATHE_RETURN_IF_ERROR(lathe_type_num_bytes(type, &bytes));
  if (weight->dtype != type->dtype || weight->num_bytes != bytes) {
    lathe_strbuf_t sb;
    lathe_strbuf_init(&sb);
    lathe_type_print(&sb, type);
    lathe_status_t st = lathe_status_make(
        LATHE_STATUS_VERIFY_ERROR, "constant of type %s needs %llu bytes of %s, the weight has %llu of %s",
        lathe_strbuf_cstr(&sb), (unsigned long long)bytes, lathe_dtype_name(type->dtype),
        (unsigned long long)weight->num_bytes, lathe_dtype_name(weight->dtype));
    lathe_strbuf_destroy(&sb);
    return st;
  }
  lathe_op_t *op = lathe_build_op_typed(b, LATHE_OP_CONST, 0, NULL, 0, NULL, 1, type);
  op->weight = weight;
  *out_value = &op->results[0];
  return NULL;
}

lathe_op_t *lathe_build_return(lathe_graph_t *g, uint32_t n, lathe_value_t *const *values) {
  lathe_builder_t b = lathe_builder_at_end(g);
  return lathe_build_op_typed(&b, LATHE_OP_RETURN, n, values, 0, NULL, 0, NULL);
}
