/* The verifier: see verify.h. */
#include "ir/verify.h"

#include <stdlib.h>
#include <string.h>

static lathe_status_t verify_attrs(const lathe_op_t *op) {
  const lathe_op_info_t *info = lathe_op_info(op->kind);
  for (uint32_t i = 0; i < op->num_attrs; ++i) {
    const lathe_attr_t *a = &op->attrs[i];
    const lathe_attr_schema_t *s = lathe_op_attr_schema(op->kind, a->name);
    if (!s) return lathe_op_error(op, LATHE_STATUS_VERIFY_ERROR, "unknown attribute '%s'", a->name);
    if (s->kind != a->kind)
      return lathe_op_error(op, LATHE_STATUS_VERIFY_ERROR, "attribute '%s' must be %s, got %s",
                            a->name, lathe_attr_kind_name(s->kind), lathe_attr_kind_name(a->kind));
    if (a->kind == LATHE_ATTR_DTYPE && (a->u.dtype <= LATHE_DTYPE_INVALID || a->u.dtype >= LATHE_DTYPE_COUNT))
      return lathe_op_error(op, LATHE_STATUS_VERIFY_ERROR, "attribute '%s' has an invalid dtype",
                            a->name);
    for (uint32_t j = 0; j < i; ++j)
      if (strcmp(op->attrs[j].name, a->name) == 0)
        return lathe_op_error(op, LATHE_STATUS_VERIFY_ERROR, "attribute '%s' is given twice",
                              a->name);
  }
  if (info->attrs)
    for (const lathe_attr_schema_t *s = info->attrs; s->name; ++s)
      if (s->required && !lathe_op_find_attr(op, s->name))
        return lathe_op_error(op, LATHE_STATUS_VERIFY_ERROR, "required attribute '%s' is missing",
                              s->name);
  return NULL;
}

static lathe_status_t type_mismatch(const lathe_op_t *op, uint32_t i, const lathe_type_t *declared,
                                    const lathe_type_t *inferred) {
  lathe_strbuf_t a, b;
  lathe_strbuf_init(&a);
  lathe_strbuf_init(&b);
  lathe_type_print(&a, declared);
  lathe_type_print(&b, inferred);
  lathe_status_t st = lathe_op_error(op, LATHE_STATUS_VERIFY_ERROR,
                                     "result %u is declared %s but its operands give %s", i,
                                     lathe_strbuf_cstr(&a), lathe_strbuf_cstr(&b));
  lathe_strbuf_destroy(&a);
  lathe_strbuf_destroy(&b);
  return st;
}

lathe_status_t lathe_op_verify(const lathe_op_t *op) {
  const lathe_op_info_t *info = lathe_op_info(op->kind);
  if (!info) return lathe_op_error(op, LATHE_STATUS_VERIFY_ERROR, "invalid op kind");
  lathe_status_t st = lathe_op_check_arity(op->kind, op->num_operands, op->num_results);
  if (st) {
    lathe_status_t located = lathe_op_error(op, LATHE_STATUS_VERIFY_ERROR, "%s",
                                            lathe_status_message(st));
    lathe_status_free(st);
    return located;
  }
  for (uint32_t i = 0; i < op->num_operands; ++i)
    if (!op->operands[i].value && (int32_t)i < info->min_operands)
      return lathe_op_error(op, LATHE_STATUS_VERIFY_ERROR, "required operand %u is missing", i);
  LATHE_RETURN_IF_ERROR(verify_attrs(op));
  if (info->verify) {
    st = info->verify(op);
    if (st) {
      lathe_status_t located =
          lathe_op_error(op, lathe_status_code(st), "%s", lathe_status_message(st));
      lathe_status_free(st);
      return located;
    }
  }
  if (info->infer && op->num_results) {
    lathe_type_t inferred[op->num_results];
    LATHE_RETURN_IF_ERROR(lathe_op_infer_types(op, inferred));
    for (uint32_t i = 0; i < op->num_results; ++i)
      if (!lathe_type_consistent(&op->results[i].type, &inferred[i]))
        return type_mismatch(op, i, &op->results[i].type, &inferred[i]);
  }
  return NULL;
}

lathe_status_t lathe_graph_verify(const lathe_graph_t *g) {
  /* defined[id] marks values visible at the current point of the walk. */
  bool *defined = calloc(g->next_value_id ? g->next_value_id : 1, sizeof *defined);
  if (!defined) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  lathe_status_t st = NULL;
  for (uint32_t i = 0; i < g->num_inputs; ++i) {
    lathe_value_t *v = g->inputs[i];
    if (v->graph != g || v->def || v->id >= g->next_value_id) {
      st = lathe_status_make(LATHE_STATUS_VERIFY_ERROR, "graph @%s: input %u is malformed", g->name, i);
      goto done;
    }
    defined[v->id] = true;
  }
  if (!g->last || g->last->kind != LATHE_OP_RETURN) {
    st = lathe_status_make_at(LATHE_STATUS_VERIFY_ERROR,
                              lathe_loc_format(g->module, g->loc),
                              "graph @%s does not end with 'return'", g->name);
    goto done;
  }
  uint32_t count = 0;
  LATHE_GRAPH_FOR_EACH_OP(g, op) {
    ++count;
    if (op->graph != g) {
      st = lathe_status_make(LATHE_STATUS_INTERNAL, "graph @%s: op list is corrupt", g->name);
      goto done;
    }
    if (op->kind == LATHE_OP_RETURN && op != g->last) {
      st = lathe_op_error(op, LATHE_STATUS_VERIFY_ERROR, "'return' must be the last op");
      goto done;
    }
    for (uint32_t i = 0; i < op->num_operands; ++i) {
      const lathe_operand_t *o = &op->operands[i];
      if (!o->value) continue;
      if (o->value->graph != g || !defined[o->value->id]) {
        st = lathe_op_error(op, LATHE_STATUS_VERIFY_ERROR,
                            "operand %u is not defined before its use", i);
        goto done;
      }
      bool listed = false;
      for (const lathe_operand_t *u = o->value->uses; u && !listed; u = u->next_use) listed = u == o;
      if (!listed) {
        st = lathe_op_error(op, LATHE_STATUS_INTERNAL, "operand %u is missing from its use list", i);
        goto done;
      }
    }
    if ((st = lathe_op_verify(op))) goto done;
    for (uint32_t i = 0; i < op->num_results; ++i) {
      const lathe_value_t *r = &op->results[i];
      if (r->def != op || r->index != i || r->id >= g->next_value_id) {
        st = lathe_op_error(op, LATHE_STATUS_INTERNAL, "result %u is malformed", i);
        goto done;
      }
      defined[r->id] = true;
    }
  }
  if (count != g->num_ops)
    st = lathe_status_make(LATHE_STATUS_INTERNAL, "graph @%s: op count is stale", g->name);
done:
  free(defined);
  return st;
}

lathe_status_t lathe_module_verify(const lathe_module_t *m) {
  for (lathe_graph_t *g = lathe_module_first_graph(m); g; g = g->next)
    LATHE_RETURN_IF_ERROR(lathe_graph_verify(g));
  return NULL;
}
