/* The text IR printer: writes a module in the canonical form that the parser
 * reads back to the same module (docs/ir.md).
 *
 * Value names: a value keeps its stored name. Names are cleaned to the
 * VALUE alphabet ([A-Za-z0-9_.], other bytes become '_') because frontends
 * import names like "input:0". When two values would print the same name (a
 * pass created a clash, or cleaning merged two names) the later one gets the
 * first free "NAME_1", "NAME_2"...; unnamed values get the lowest unused
 * numbers %0, %1... in definition order. Every printed name is therefore
 * unique, and text that came from the parser prints its names unchanged.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ir/text.h"
#include "ir/text_literal.h"

static int is_name_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.';
}

/* `s` with bytes outside [A-Za-z0-9_.] replaced by '_' (arena copy). */
static char *clean_name(lathe_arena_t *a, const char *s) {
  char *copy = lathe_arena_strdup(a, s);
  for (char *p = copy; *p; ++p)
    if (!is_name_char((unsigned char)*p)) *p = '_';
  return copy;
}

/* ---- value naming ---- */

typedef struct {
  lathe_arena_t arena;
  lathe_hashmap_t used;
  const lathe_graph_t *graph;
  const char **names; /* by value id, graph->next_value_id entries */
} namer_t;

static bool name_free(const namer_t *n, const char *name) {
  return lathe_hashmap_get_str(&n->used, name) == NULL;
}

static void take(namer_t *n, const lathe_value_t *v, const char *name) {
  n->names[v->id] = name;
  if (!lathe_hashmap_put_str(&n->used, name, (void *)name)) abort();
}

/* Calls fn on every value of `g` in definition order. */
static void for_each_value(const lathe_graph_t *g, namer_t *n,
                           void (*fn)(namer_t *, const lathe_value_t *, uint64_t *),
                           uint64_t *state) {
  for (uint32_t i = 0; i < g->num_inputs; ++i) fn(n, g->inputs[i], state);
  LATHE_GRAPH_FOR_EACH_OP(g, op)
  for (uint32_t i = 0; i < op->num_results; ++i) fn(n, &op->results[i], state);
}

static void keep_stored_name(namer_t *n, const lathe_value_t *v, uint64_t *state) {
  (void)state;
  if (!v->name || !v->name[0]) return;
  char *name = clean_name(&n->arena, v->name);
  if (name_free(n, name)) take(n, v, name);
}

static void suffix_clashing_name(namer_t *n, const lathe_value_t *v, uint64_t *state) {
  (void)state;
  if (!v->name || !v->name[0] || n->names[v->id]) return;
  char *base = clean_name(&n->arena, v->name);
  for (uint64_t k = 1;; ++k) {
    char *name = lathe_arena_printf(&n->arena, "%s_%" PRIu64, base, k);
    if (name_free(n, name)) {
      take(n, v, name);
      return;
    }
  }
}

static void number_unnamed(namer_t *n, const lathe_value_t *v, uint64_t *next) {
  if (n->names[v->id]) return;
  for (;; ++*next) {
    char *name = lathe_arena_printf(&n->arena, "%" PRIu64, *next);
    if (name_free(n, name)) {
      take(n, v, name);
      return;
    }
  }
}

static void namer_init(namer_t *n, const lathe_graph_t *g) {
  lathe_arena_init(&n->arena);
  lathe_hashmap_init(&n->used);
  n->graph = g;
  n->names = LATHE_ARENA_NEW_ARRAY(&n->arena, const char *, g->next_value_id + 1);
  uint64_t next = 0;
  for_each_value(g, n, keep_stored_name, NULL);
  for_each_value(g, n, suffix_clashing_name, NULL);
  for_each_value(g, n, number_unnamed, &next);
}

static void namer_destroy(namer_t *n) {
  lathe_hashmap_destroy(&n->used);
  lathe_arena_destroy(&n->arena);
}

static void print_value(lathe_strbuf_t *sb, const namer_t *n, const lathe_value_t *v) {
  lathe_strbuf_putc(sb, '%');
  /* A value of another graph is malformed IR; print something, never crash. */
  bool ours = v->graph == n->graph && v->id < n->graph->next_value_id && n->names[v->id];
  lathe_strbuf_append(sb, ours ? n->names[v->id] : "<invalid>");
}

/* ---- strings and attributes ---- */

static void print_string(lathe_strbuf_t *sb, const char *s) {
  lathe_strbuf_putc(sb, '"');
  for (; *s; ++s) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') lathe_strbuf_printf(sb, "\\%c", c);
    else if (c == '\n') lathe_strbuf_append(sb, "\\n");
    else if (c == '\t') lathe_strbuf_append(sb, "\\t");
    else if (c == '\r') lathe_strbuf_append(sb, "\\r");
    else if (c < 0x20 || c == 0x7f) lathe_strbuf_printf(sb, "\\x%02x", c);
    else lathe_strbuf_putc(sb, (char)c);
  }
  lathe_strbuf_putc(sb, '"');
}

static void print_attr_value(lathe_strbuf_t *sb, const lathe_attr_t *a) {
  switch (a->kind) {
  case LATHE_ATTR_INT: lathe_strbuf_printf(sb, "%" PRId64, a->u.i); return;
  case LATHE_ATTR_FLOAT: lathe_text_print_double(sb, a->u.f); return;
  case LATHE_ATTR_STRING: print_string(sb, a->u.s); return;
  case LATHE_ATTR_DTYPE: lathe_strbuf_append(sb, lathe_dtype_name(a->u.dtype)); return;
  default: break;
  }
  size_t count = a->kind == LATHE_ATTR_INTS      ? a->u.ints.count
                 : a->kind == LATHE_ATTR_FLOATS  ? a->u.floats.count
                 : a->kind == LATHE_ATTR_STRINGS ? a->u.strings.count
                                                 : 0;
  lathe_strbuf_putc(sb, '[');
  for (size_t i = 0; i < count; ++i) {
    if (i) lathe_strbuf_append(sb, ", ");
    if (a->kind == LATHE_ATTR_INTS) lathe_strbuf_printf(sb, "%" PRId64, a->u.ints.data[i]);
    else if (a->kind == LATHE_ATTR_FLOATS) lathe_text_print_double(sb, a->u.floats.data[i]);
    else print_string(sb, a->u.strings.data[i]);
  }
  lathe_strbuf_putc(sb, ']');
}

static void print_attrs(lathe_strbuf_t *sb, const lathe_op_t *op) {
  if (!op->num_attrs) return;
  lathe_strbuf_append(sb, " {");
  for (uint32_t i = 0; i < op->num_attrs; ++i) {
    if (i) lathe_strbuf_append(sb, ", ");
    lathe_strbuf_printf(sb, "%s = ", op->attrs[i].name);
    print_attr_value(sb, &op->attrs[i]);
  }
  lathe_strbuf_putc(sb, '}');
}

/* ---- weights ---- */

/* Element count of an inline weight: from its type when that agrees with the
 * byte size, else from the bytes (an inconsistent op the verifier reports). */
static uint64_t inline_count(const lathe_weight_t *w, const lathe_type_t *type) {
  int64_t n;
  uint64_t bytes;
  lathe_status_t st = lathe_type_num_elements(type, &n);
  if (!st && type->dtype == w->dtype && lathe_dtype_storage_bytes(w->dtype, (uint64_t)n, &bytes) &&
      bytes == w->num_bytes)
    return (uint64_t)n;
  lathe_status_free(st);
  unsigned bits = lathe_dtype_bits(w->dtype);
  return bits ? w->num_bytes * 8 / bits : 0;
}

static void print_inline(lathe_strbuf_t *sb, const lathe_weight_t *w, const lathe_type_t *type) {
  uint64_t count = w->data ? inline_count(w, type) : 0;
  bool splat = count > 0 && (w->form == LATHE_WEIGHT_FORM_SPLAT ||
                             (w->form == LATHE_WEIGHT_FORM_AUTO && count > 1 &&
                              lathe_text_elements_equal(w->dtype, w->data, count)));
  if (splat) {
    lathe_strbuf_append(sb, "splat(");
    lathe_text_print_element(sb, w->dtype, w->data, 0);
    lathe_strbuf_putc(sb, ')');
    return;
  }
  lathe_strbuf_append(sb, "dense[");
  for (uint64_t i = 0; i < count; ++i) {
    if (i) lathe_strbuf_append(sb, ", ");
    lathe_text_print_element(sb, w->dtype, w->data, i);
  }
  lathe_strbuf_putc(sb, ']');
}

static void print_weight(lathe_strbuf_t *sb, const lathe_op_t *op) {
  const lathe_weight_t *w = op->weight;
  if (!w) {
    lathe_strbuf_append(sb, "dense[]"); /* malformed; the verifier says so */
    return;
  }
  switch (w->kind) {
  case LATHE_WEIGHT_INLINE: print_inline(sb, w, &op->results[0].type); break;
  case LATHE_WEIGHT_FILE:
    lathe_strbuf_append(sb, "@file(");
    print_string(sb, w->path ? w->path : "");
    lathe_strbuf_printf(sb, ", %" PRIu64 ")", w->offset);
    break;
  case LATHE_WEIGHT_NAMED:
    lathe_strbuf_putc(sb, '@');
    print_string(sb, w->name ? w->name : "");
    break;
  }
}

/* ---- ops and graphs ---- */

static void print_op(lathe_strbuf_t *sb, const namer_t *n, const lathe_op_t *op) {
  lathe_strbuf_append(sb, "  ");
  for (uint32_t i = 0; i < op->num_results; ++i) {
    if (i) lathe_strbuf_append(sb, ", ");
    print_value(sb, n, &op->results[i]);
  }
  if (op->num_results) lathe_strbuf_append(sb, " = ");
  lathe_strbuf_append(sb, lathe_op_name(op->kind));
  if (op->kind == LATHE_OP_CONST) {
    lathe_strbuf_putc(sb, ' ');
    print_weight(sb, op);
  }
  for (uint32_t i = 0; i < op->num_operands; ++i) {
    lathe_strbuf_append(sb, i ? ", " : " ");
    if (op->operands[i].value) print_value(sb, n, op->operands[i].value);
    else lathe_strbuf_putc(sb, '_');
  }
  print_attrs(sb, op);
  for (uint32_t i = 0; i < op->num_results; ++i) {
    lathe_strbuf_append(sb, i ? ", " : " : ");
    lathe_type_print(sb, &op->results[i].type);
  }
  lathe_strbuf_putc(sb, '\n');
}

void lathe_graph_print(lathe_strbuf_t *sb, const lathe_graph_t *g) {
  namer_t n;
  namer_init(&n, g);
  lathe_strbuf_append(sb, "graph @");
  lathe_strbuf_append(sb, clean_name(&n.arena, g->name && g->name[0] ? g->name : "_"));
  lathe_strbuf_putc(sb, '(');
  for (uint32_t i = 0; i < g->num_inputs; ++i) {
    if (i) lathe_strbuf_append(sb, ", ");
    print_value(sb, &n, g->inputs[i]);
    lathe_strbuf_append(sb, ": ");
    lathe_type_print(sb, &g->inputs[i]->type);
  }
  /* The signature's result types are those of the returned values. */
  lathe_strbuf_append(sb, ") -> (");
  for (uint32_t i = 0, count = lathe_graph_num_outputs(g); i < count; ++i) {
    if (i) lathe_strbuf_append(sb, ", ");
    const lathe_value_t *v = lathe_graph_output(g, i);
    if (v) lathe_type_print(sb, &v->type);
    else lathe_strbuf_append(sb, "?");
  }
  lathe_strbuf_append(sb, ") {\n");
  LATHE_GRAPH_FOR_EACH_OP(g, op) print_op(sb, &n, op);
  lathe_strbuf_append(sb, "}\n");
  namer_destroy(&n);
}

void lathe_module_print(lathe_strbuf_t *sb, const lathe_module_t *m) {
  uint32_t num_sources = lathe_module_num_weight_sources(m);
  for (uint32_t i = 0; i < num_sources; ++i) {
    lathe_strbuf_append(sb, "weights ");
    print_string(sb, lathe_module_weight_source_display_path(m, i));
    lathe_strbuf_putc(sb, '\n');
  }
  for (lathe_graph_t *g = lathe_module_first_graph(m); g; g = g->next) {
    if (g != lathe_module_first_graph(m) || num_sources) lathe_strbuf_putc(sb, '\n');
    lathe_graph_print(sb, g);
  }
}

void lathe_module_dump(FILE *out, const lathe_module_t *m) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  lathe_module_print(&sb, m);
  fwrite(lathe_strbuf_cstr(&sb), 1, sb.len, out);
  lathe_strbuf_destroy(&sb);
}
