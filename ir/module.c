/* Modules and the weight store: see ir.h and weights.h.
 *
 * The module owns one arena for all IR objects, a symbol table for symbolic
 * dims, the weights created through it, and the weight sources it declared.
 * Weights are kept in a list so destroying the module releases mappings and
 * frees owned buffers exactly once.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

typedef struct weight_node {
  lathe_weight_t weight;
  struct weight_node *next;
} weight_node_t;

typedef struct source_node {
  lathe_weight_source_t source;
  const char *display_path;
} source_node_t;

struct lathe_module {
  lathe_arena_t arena;
  lathe_hashmap_t symbols;
  const char *source_name;
  lathe_graph_t *first_graph, *last_graph;
  uint32_t num_graphs;
  weight_node_t *weights;
  source_node_t *sources;
  uint32_t num_sources, cap_sources;
};

lathe_module_t *lathe_module_create(const char *source_name) {
  lathe_module_t *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  lathe_arena_init(&m->arena);
  lathe_hashmap_init(&m->symbols);
  if (source_name) m->source_name = lathe_arena_strdup(&m->arena, source_name);
  return m;
}

void lathe_module_destroy(lathe_module_t *m) {
  if (!m) return;
  for (weight_node_t *w = m->weights; w; w = w->next) {
    lathe_mapped_file_release(w->weight.file);
    free(w->weight.owned);
  }
  for (uint32_t i = 0; i < m->num_sources; ++i)
    if (m->sources[i].source.close) m->sources[i].source.close(m->sources[i].source.impl);
  free(m->sources);
  lathe_hashmap_destroy(&m->symbols);
  lathe_arena_destroy(&m->arena);
  free(m);
}

lathe_arena_t *lathe_module_arena(lathe_module_t *m) { return &m->arena; }
const char *lathe_module_source_name(const lathe_module_t *m) { return m->source_name; }
lathe_graph_t *lathe_module_first_graph(const lathe_module_t *m) { return m->first_graph; }
uint32_t lathe_module_num_graphs(const lathe_module_t *m) { return m->num_graphs; }

const char *lathe_module_intern(lathe_module_t *m, const char *name) {
  const char *found = lathe_hashmap_get_str(&m->symbols, name);
  if (found) return found;
  char *copy = lathe_arena_strdup(&m->arena, name);
  if (!lathe_hashmap_put_str(&m->symbols, copy, copy)) abort();
  return copy;
}

lathe_graph_t *lathe_module_find_graph(const lathe_module_t *m, const char *name) {
  for (lathe_graph_t *g = m->first_graph; g; g = g->next)
    if (strcmp(g->name, name) == 0) return g;
  return NULL;
}

lathe_status_t lathe_graph_create(lathe_module_t *m, const char *name, lathe_graph_t **out) {
  if (lathe_module_find_graph(m, name))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "graph @%s is defined twice", name);
  lathe_graph_t *g = LATHE_ARENA_NEW(&m->arena, lathe_graph_t);
  g->module = m;
  g->name = lathe_arena_strdup(&m->arena, name);
  if (m->last_graph) m->last_graph->next = g;
  else m->first_graph = g;
  m->last_graph = g;
  m->num_graphs++;
  *out = g;
  return NULL;
}

/* ---- weight sources ---- */

uint32_t lathe_module_num_weight_sources(const lathe_module_t *m) { return m->num_sources; }

const lathe_weight_source_t *lathe_module_weight_source(const lathe_module_t *m, uint32_t i) {
  return i < m->num_sources ? &m->sources[i].source : NULL;
}

const char *lathe_module_weight_source_display_path(const lathe_module_t *m, uint32_t i) {
  return i < m->num_sources ? m->sources[i].display_path : NULL;
}

void lathe_module_add_weight_source(lathe_module_t *m, const char *display_path,
                                    const lathe_weight_source_t *source) {
  if (m->num_sources == m->cap_sources) {
    uint32_t cap = m->cap_sources ? m->cap_sources * 2 : 4;
    source_node_t *s = realloc(m->sources, cap * sizeof *s);
    if (!s) abort();
    m->sources = s;
    m->cap_sources = cap;
  }
  m->sources[m->num_sources++] =
      (source_node_t){*source, lathe_arena_strdup(&m->arena, display_path)};
}

/* ---- weights ---- */

static lathe_weight_t *new_weight(lathe_module_t *m) {
  weight_node_t *n = LATHE_ARENA_NEW(&m->arena, weight_node_t);
  n->next = m->weights;
  m->weights = n;
  return &n->weight;
}

lathe_weight_t *lathe_weight_adopt_buffer(lathe_module_t *m, lathe_dtype_t dtype, void *buffer,
                                          uint64_t num_bytes) {
  lathe_weight_t *w = new_weight(m);
  w->kind = LATHE_WEIGHT_INLINE;
  w->dtype = dtype;
  w->num_bytes = num_bytes;
  w->owned = buffer;
  w->data = buffer;
  return w;
}

lathe_status_t lathe_weight_create_inline(lathe_module_t *m, lathe_dtype_t dtype,
                                          const void *data, uint64_t num_bytes,
                                          lathe_weight_t **out) {
  if (num_bytes > SIZE_MAX)
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "constant of %llu bytes is too large",
                             (unsigned long long)num_bytes);
  void *buf = malloc(num_bytes ? (size_t)num_bytes : 1);
  if (!buf)
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED,
                             "out of memory for a constant of %llu bytes",
                             (unsigned long long)num_bytes);
  if (num_bytes) memcpy(buf, data, (size_t)num_bytes);
  *out = lathe_weight_adopt_buffer(m, dtype, buf, num_bytes);
  return NULL;
}

lathe_status_t lathe_weight_create_file_view(lathe_module_t *m, lathe_dtype_t dtype,
                                             lathe_mapped_file_t *file, const char *display_path,
                                             uint64_t offset, uint64_t num_bytes,
                                             lathe_weight_t **out) {
  LATHE_RETURN_IF_ERROR(lathe_mapped_file_check_range(file, offset, num_bytes));
  lathe_weight_t *w = new_weight(m);
  w->kind = LATHE_WEIGHT_FILE;
  w->dtype = dtype;
  w->num_bytes = num_bytes;
  w->data = lathe_mapped_file_data(file) ? lathe_mapped_file_data(file) + offset : NULL;
  lathe_mapped_file_retain(file);
  w->file = file;
  w->path = lathe_arena_strdup(&m->arena, display_path);
  w->offset = offset;
  *out = w;
  return NULL;
}

lathe_status_t lathe_weight_create_named(lathe_module_t *m, const char *name,
                                         lathe_weight_source_entry_t *out_entry,
                                         lathe_weight_t **out) {
  for (uint32_t i = 0; i < m->num_sources; ++i) {
    lathe_weight_source_entry_t e;
    lathe_status_t st = m->sources[i].source.lookup(m->sources[i].source.impl, name, &e);
    if (lathe_status_code(st) == LATHE_STATUS_NOT_FOUND) {
      lathe_status_free(st);
      continue;
    }
    LATHE_RETURN_IF_ERROR(st);
    LATHE_RETURN_IF_ERROR(lathe_mapped_file_check_range(e.file, e.offset, e.num_bytes));
    lathe_weight_t *w = new_weight(m);
    w->kind = LATHE_WEIGHT_NAMED;
    w->dtype = e.dtype;
    w->num_bytes = e.num_bytes;
    w->data = lathe_mapped_file_data(e.file) ? lathe_mapped_file_data(e.file) + e.offset : NULL;
    lathe_mapped_file_retain(e.file);
    w->file = e.file;
    w->path = m->sources[i].display_path;
    w->offset = e.offset;
    w->name = lathe_arena_strdup(&m->arena, name);
    if (out_entry) *out_entry = e;
    *out = w;
    return NULL;
  }
  return lathe_status_make(LATHE_STATUS_NOT_FOUND,
                           m->num_sources ? "no weight source provides a tensor named \"%s\""
                                          : "weight \"%s\" is referenced but no `weights` source is declared",
                           name);
}

/* ---- locations ---- */

const char *lathe_loc_format(lathe_module_t *m, lathe_loc_t loc) {
  const char *file = loc.file ? loc.file : m->source_name;
  if (!file) return NULL;
  if (loc.line)
    return lathe_arena_printf(&m->arena, "%s:%u:%u", file, loc.line, loc.col ? loc.col : 1);
  return file;
}

lathe_status_t lathe_op_error(const lathe_op_t *op, lathe_status_code_t code, const char *fmt,
                              ...) {
  va_list ap;
  va_start(ap, fmt);
  lathe_status_t st = lathe_status_makev(code, fmt, ap);
  va_end(ap);
  if (op->loc.name)
    st = lathe_status_annotate(st, "op '%s' (node \"%s\")", lathe_op_name(op->kind), op->loc.name);
  else
    st = lathe_status_annotate(st, "op '%s'", lathe_op_name(op->kind));
  const char *where = lathe_loc_format(op->graph->module, op->loc);
  if (!where) return st;
  lathe_status_t located =
      lathe_status_make_at(lathe_status_code(st), where, "%s", lathe_status_message(st));
  lathe_status_free(st);
  return located;
}
