/* Graph inputs given values: `lathe import --const-input NAME=FILE`.
 *
 * Lathe keeps shapes and axes as attributes, so a model that takes them as
 * graph inputs (ONNX's node tests do, and so do models exported with
 * dynamic shapes) imports only once those inputs have values. A given value
 * turns the input into a constant, like an initializer: the input leaves the
 * graph's signature and its consumers see a known tensor.
 *
 * The value must fit the input's declared type: the same dtype and rank,
 * the same size for every static dim. A symbolic dim takes any size, but
 * the same one wherever the symbol appears among the given values; an
 * unknown dim (`?`) takes any size. The bytes are copied into an INLINE
 * weight, so the caller's buffer is free once the import returns.
 */
#include <string.h>

#include "onnx_internal.h"

static const char *type_text(lathe_arena_t *a, const lathe_type_t *t) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  lathe_type_print(&sb, t);
  const char *s = lathe_arena_strdup(a, lathe_strbuf_cstr(&sb));
  lathe_strbuf_destroy(&sb);
  return s;
}

static bool is_graph_input(const Onnx__GraphProto *g, const char *name) {
  for (size_t i = 0; i < g->n_input; ++i)
    if (g->input[i]->name && !strcmp(g->input[i]->name, name)) return true;
  return false;
}

static bool is_initializer(const Onnx__GraphProto *g, const char *name) {
  for (size_t i = 0; i < g->n_initializer; ++i)
    if (g->initializer[i]->name && !strcmp(g->initializer[i]->name, name)) return true;
  return false;
}

/* "'a', 'b'": the graph inputs that are not initializers. */
static lathe_status_t not_an_input(const Onnx__GraphProto *g, const char *name) {
  lathe_strbuf_t list;
  lathe_strbuf_init(&list);
  for (size_t j = 0, n = 0; j < g->n_input; ++j) {
    const char *in = g->input[j]->name ? g->input[j]->name : "";
    if (!is_initializer(g, in)) lathe_strbuf_printf(&list, "%s'%s'", n++ ? ", " : "", in);
  }
  lathe_status_t st =
      lathe_status_make(LATHE_STATUS_NOT_FOUND,
                        "a value is given for '%s', which is not a graph input (%s: %s)", name,
                        is_initializer(g, name) ? "it is an initializer; the graph inputs are"
                                                : "the graph inputs are",
                        list.len ? lathe_strbuf_cstr(&list) : "none");
  lathe_strbuf_destroy(&list);
  return st;
}

lathe_status_t onnx_const_inputs_check(const Onnx__GraphProto *g,
                                       const lathe_onnx_import_options_t *options) {
  const lathe_onnx_const_input_t *inputs = options->const_inputs;
  for (size_t i = 0; i < options->num_const_inputs; ++i) {
    if (!inputs[i].name || !*inputs[i].name)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "a given input value has no name");
    for (size_t j = 0; j < i; ++j)
      if (!strcmp(inputs[i].name, inputs[j].name))
        return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                                 "graph input '%s' is given a value twice", inputs[i].name);
    if (inputs[i].rank > LATHE_MAX_RANK || (inputs[i].rank && !inputs[i].dims))
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "the value given for graph input '%s' has a bad rank (%u)",
                               inputs[i].name, inputs[i].rank);
    if (!is_graph_input(g, inputs[i].name)) return not_an_input(g, inputs[i].name);
  }
  return NULL;
}

/* The size symbol `sym` already took, or -1. */
static int64_t bound_size(lathe_hashmap_t *bindings, const char *sym) {
  void *v = NULL;
  if (!lathe_hashmap_get(bindings, &sym, sizeof sym, &v)) return -1;
  return (int64_t)(intptr_t)v - 1; /* stored +1, so size 0 is not a NULL value */
}

lathe_status_t onnx_const_input_make(lathe_module_t *m, const char *name,
                                     const lathe_type_t *declared,
                                     const lathe_onnx_const_input_t *given,
                                     lathe_hashmap_t *bindings, onnx_const_t *out_const) {
  lathe_arena_t *a = lathe_module_arena(m);
  const char *source = given->source && *given->source ? given->source : "the given value";
  lathe_type_t type = lathe_type_make_static(a, given->dtype, given->rank, given->dims);
  const char *want = type_text(a, declared);
  int64_t count = 1;
  for (uint32_t i = 0; i < given->rank; ++i)
    if (given->dims[i] < 0 || !lathe_checked_mul_i64(count, given->dims[i], &count))
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "graph input '%s': %s has a negative or overflowing dim", name,
                               source);
  if (given->dtype != declared->dtype || given->rank != declared->rank)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "graph input '%s' is %s, but %s holds %s", name, want, source,
                             type_text(a, &type));
  for (uint32_t i = 0; i < given->rank; ++i) {
    lathe_dim_t d = declared->dims[i];
    int64_t size = given->dims[i];
    if (lathe_dim_is_static(d) && d.size != size)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "graph input '%s' is %s, but %s holds %s (dim %u)", name, want,
                               source, type_text(a, &type), i);
    if (!lathe_dim_is_symbolic(d)) continue;
    int64_t bound = bound_size(bindings, d.sym);
    if (bound >= 0 && bound != size)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "graph input '%s': %s gives dim %s the size %lld, but another "
                               "given value made it %lld",
                               name, source, d.sym, (long long)size, (long long)bound);
    if (!lathe_hashmap_put(bindings, &d.sym, sizeof d.sym, (void *)(intptr_t)(size + 1)))
      return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  uint64_t bytes;
  if (!lathe_dtype_storage_bytes(given->dtype, (uint64_t)count, &bytes) ||
      bytes != given->num_bytes || (bytes && !given->data))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "graph input '%s': %s has %llu bytes of data, expected %llu for %s",
                             name, source, (unsigned long long)given->num_bytes,
                             (unsigned long long)bytes, type_text(a, &type));
  lathe_weight_t *w;
  LATHE_RETURN_IF_ERROR(lathe_weight_create_inline(m, given->dtype, given->data, bytes, &w));
  *out_const = (onnx_const_t){.type = type, .weight = w, .data = w->data};
  return NULL;
}
