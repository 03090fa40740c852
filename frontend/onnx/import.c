/* The ONNX import driver: file -> skeleton -> ModelProto -> checks -> graph.
 *
 * Order of work, so that a model is rejected early and completely:
 *   1. map the file; wire.c strips raw_data into a skeleton; protobuf-c
 *      unpacks the skeleton (the weights are never copied)
 *   2. find the default-domain opset; pre-flight every node (domain, op
 *      table, attributes) and fail with one message listing all problems
 *   3. decode initializers, add graph inputs, convert nodes in order, return
 *      the graph outputs; verify the module
 * Constants (initializers, Constant nodes, Identity/Cast of small constants,
 * graph inputs given values) are lazy: their const op is created only when an
 * op uses them as an operand, so a shape that became an attribute leaves
 * nothing behind. A shape input computed in the graph is folded on demand
 * (fold.c), and the ops that folding leaves unused are removed at the end.
 *
 * ONNX names may contain any character; Lathe value names are
 * [A-Za-z0-9_.]+, so other characters become '_' and clashes get a ".N"
 * suffix. Symbolic dims are interned module symbols.
 */
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx/onnx_import.h"
#include "ir/verify.h"
#include "onnx_internal.h"

typedef struct importer {
  const char *path;
  lathe_module_t *module;
  lathe_arena_t *arena;
  lathe_graph_t *graph;
  lathe_builder_t builder;
  onnx_tensor_ctx_t tensors;
  lathe_hashmap_t external; /* location -> mapped file (one reference each) */
  lathe_hashmap_t values;   /* ONNX name -> onnx_value_t* */
  lathe_hashmap_t names;    /* Lathe value names in use */
  const onnx_skeleton_t *skeleton;
  int64_t opset;
  size_t attr_base; /* ordinal of the current node's first attribute */
  const Onnx__NodeProto *node; /* the node being converted, and its label */
  const char *label;
  const lathe_onnx_import_options_t *options;
  onnx_folder_t folder;
  lathe_hashmap_t bindings; /* symbol -> size taken by a given input value */
} importer_t;

static lathe_status_t err(lathe_status_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static lathe_status_t err(lathe_status_code_t code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lathe_status_t st = lathe_status_makev(code, fmt, ap);
  va_end(ap);
  return st;
}

/* ---- names ----------------------------------------------------------------- */

static bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.';
}

/* `s` with every character outside [A-Za-z0-9_.] replaced by '_'; a leading
 * '_' is added when `identifier` and s starts with a digit or '.'. */
static char *sanitize(lathe_arena_t *a, const char *s, bool identifier) {
  size_t n = strlen(s);
  bool prefix = identifier && (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') ||
                                           (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'));
  char *r = lathe_arena_alloc(a, n + 2);
  if (prefix) r[0] = '_';
  for (size_t i = 0; i < n; ++i) r[i + prefix] = name_char(s[i]) ? s[i] : '_';
  return r;
}

/* A value name not used yet in the graph; NULL for an empty ONNX name. */
static const char *unique_name(importer_t *im, const char *onnx_name) {
  if (!onnx_name || !*onnx_name) return NULL;
  const char *base = sanitize(im->arena, onnx_name, false), *name = base;
  for (unsigned k = 1; lathe_hashmap_get_str(&im->names, name); ++k)
    name = lathe_arena_printf(im->arena, "%s.%u", base, k);
  lathe_hashmap_put_str(&im->names, name, (void *)name);
  return name;
}

static const char *node_label(importer_t *im, const Onnx__NodeProto *n, size_t index) {
  return n->name && *n->name ? lathe_arena_printf(im->arena, "'%s'", n->name)
                             : lathe_arena_printf(im->arena, "#%zu", index);
}

/* ---- the value table ------------------------------------------------------- */

static lathe_status_t define(importer_t *im, const char *name, onnx_value_t *v) {
  v->name = lathe_arena_strdup(im->arena, name); /* outlives the unpacked model */
  if (lathe_hashmap_get_str(&im->values, name))
    return err(LATHE_STATUS_INVALID_ARGUMENT, "value '%s' is defined more than once", name);
  if (!lathe_hashmap_put_str(&im->values, name, v))
    return err(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  return onnx_folder_track(&im->folder, v);
}

static lathe_status_t lookup(void *self, const char *name, onnx_value_t **out_value) {
  importer_t *im = self;
  *out_value = NULL;
  if (!name || !*name) return NULL;
  onnx_value_t *v = lathe_hashmap_get_str(&im->values, name);
  if (!v)
    return err(LATHE_STATUS_NOT_FOUND, "input '%s' is not a graph input, an initializer or the "
               "output of an earlier node", name);
  *out_value = v;
  return NULL;
}

/* The lathe value of an entry; a lazy constant gets its const op (named
 * after the ONNX value) on first use. */
static lathe_status_t materialize(void *self, onnx_value_t *v, lathe_value_t **out_value) {
  importer_t *im = self;
  if (!v->value) {
    lathe_builder_t b = lathe_builder_at_end(im->graph);
    b.loc.name = v->name;
    LATHE_RETURN_IF_ERROR(lathe_build_const(&b, v->konst->weight, &v->konst->type, &v->value));
    v->value->name = unique_name(im, v->name);
    LATHE_RETURN_IF_ERROR(onnx_folder_track(&im->folder, v));
  }
  *out_value = v->value;
  return NULL;
}

/* ---- graph inputs ---------------------------------------------------------- */

/* The declared type of a graph input; fails for what Lathe cannot take. */
static lathe_status_t input_type(importer_t *im, const Onnx__ValueInfoProto *vi,
                                 lathe_type_t *out_type) {
  const char *name = vi->name ? vi->name : "";
  const Onnx__TypeProto *tp = vi->type;
  if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
    return err(LATHE_STATUS_UNSUPPORTED, "graph input '%s': only tensor inputs are supported",
               name);
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  int32_t et = tt->has_elem_type ? tt->elem_type : 0;
  lathe_dtype_t dtype = onnx_dtype_to_lathe(et);
  if (dtype == LATHE_DTYPE_INVALID)
    return err(LATHE_STATUS_UNSUPPORTED, "graph input '%s': data type %s is not supported", name,
               onnx_dtype_name(et));
  if (!tt->shape)
    return err(LATHE_STATUS_UNSUPPORTED, "graph input '%s' has no shape (unranked inputs are not "
               "supported)", name);
  if (tt->shape->n_dim > LATHE_MAX_RANK)
    return err(LATHE_STATUS_UNSUPPORTED, "graph input '%s': rank %zu is above the maximum of %d",
               name, tt->shape->n_dim, LATHE_MAX_RANK);
  lathe_dim_t dims[LATHE_MAX_RANK];
  int64_t count = 1; /* of the static dims: a shape no tensor could have is refused */
  for (size_t i = 0; i < tt->shape->n_dim; ++i) {
    const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
    if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
      if (d->dim_value < 0)
        return err(LATHE_STATUS_INVALID_ARGUMENT, "graph input '%s': dim %zu is negative (%lld)",
                   name, i, (long long)d->dim_value);
      if (!lathe_checked_mul_i64(count, d->dim_value, &count))
        return err(LATHE_STATUS_INVALID_ARGUMENT, "graph input '%s': the element count of its "
                   "dims overflows int64", name);
      dims[i] = lathe_dim_static(d->dim_value);
    } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
               d->dim_param && *d->dim_param) {
      dims[i] = lathe_dim_symbolic(
          lathe_module_intern(im->module, sanitize(im->arena, d->dim_param, true)));
    } else {
      dims[i] = lathe_dim_unknown();
    }
  }
  *out_type = lathe_type_make(im->arena, dtype, (uint32_t)tt->shape->n_dim, dims);
  return NULL;
}

/* The value given for graph input `name`, or NULL. */
static const lathe_onnx_const_input_t *given_value(const importer_t *im, const char *name) {
  for (size_t i = 0; i < im->options->num_const_inputs; ++i)
    if (!strcmp(im->options->const_inputs[i].name, name)) return &im->options->const_inputs[i];
  return NULL;
}

/* A graph input, or the constant its given value makes of it. */
static lathe_status_t add_input(importer_t *im, const Onnx__ValueInfoProto *vi) {
  const char *name = vi->name ? vi->name : "";
  lathe_type_t type;
  LATHE_RETURN_IF_ERROR(input_type(im, vi, &type));
  onnx_value_t *v = LATHE_ARENA_NEW(im->arena, onnx_value_t);
  const lathe_onnx_const_input_t *given = given_value(im, name);
  if (given) {
    v->konst = LATHE_ARENA_NEW(im->arena, onnx_const_t);
    LATHE_RETURN_IF_ERROR(onnx_const_input_make(im->module, name, &type, given, &im->bindings,
                                                v->konst));
  } else {
    v->value = lathe_graph_add_input(im->graph, NULL, &type);
    v->value->name = unique_name(im, name);
  }
  return define(im, name, v);
}

/* ---- nodes ----------------------------------------------------------------- */

static bool default_domain(const char *d) { return !d || !*d || !strcmp(d, "ai.onnx"); }

/* Decodes attribute tensor `i` of the current node (raw_data from the
 * skeleton). */
static lathe_status_t attr_tensor(importer_t *im, const Onnx__NodeProto *n, size_t i,
                                  const char *what, onnx_const_t *out) {
  const onnx_raw_ref_t *raw = &im->skeleton->attributes[im->attr_base + i];
  return onnx_tensor_decode(&im->tensors, n->attribute[i]->t, raw, what, out);
}

/* Constant: one of value, value_float(s), value_int(s) becomes a lazy constant. */
static lathe_status_t convert_constant(importer_t *im, const Onnx__NodeProto *n,
                                       const char *label) {
  if (n->n_attribute != 1 || n->n_output != 1)
    return err(LATHE_STATUS_INVALID_ARGUMENT, "node %s (Constant) must have one attribute and "
               "one output", label);
  const Onnx__AttributeProto *a = n->attribute[0];
  const char *an = a->name ? a->name : "";
  onnx_const_t *k = LATHE_ARENA_NEW(im->arena, onnx_const_t);
  const char *what = lathe_arena_printf(im->arena, "node %s (Constant)", label);
  if (!strcmp(an, "value") && a->t) {
    LATHE_RETURN_IF_ERROR(attr_tensor(im, n, 0, what, k));
  } else {
    bool is_float = !strcmp(an, "value_float") || !strcmp(an, "value_floats");
    bool is_list = !strcmp(an, "value_floats") || !strcmp(an, "value_ints");
    bool is_int = !strcmp(an, "value_int") || !strcmp(an, "value_ints");
    if (!is_float && !is_int)
      return err(LATHE_STATUS_UNSUPPORTED, "%s: attribute '%s' is not supported", what, an);
    size_t count = is_list ? (is_float ? a->n_floats : a->n_ints) : 1;
    int64_t dim = (int64_t)count;
    k->type = lathe_type_make_static(im->arena, is_float ? LATHE_DTYPE_F32 : LATHE_DTYPE_I64,
                                     is_list, &dim);
    const void *data = is_float ? (is_list ? (const void *)a->floats : (const void *)&a->f)
                                : (is_list ? (const void *)a->ints : (const void *)&a->i);
    LATHE_RETURN_IF_ERROR(lathe_weight_create_inline(im->module, k->type.dtype, data,
                                                     count * (is_float ? 4 : 8), &k->weight));
  }
  k->data = k->weight->data;
  onnx_value_t *v = LATHE_ARENA_NEW(im->arena, onnx_value_t);
  v->konst = k;
  return define(im, n->output[0], v);
}

/* Identity or Cast of a small constant stays a constant, so shape inputs
 * computed that way still become attributes. Returns true when handled. */
static lathe_status_t fold_constant(importer_t *im, const Onnx__NodeProto *n, bool *out_done) {
  *out_done = false;
  bool identity = !strcmp(n->op_type, "Identity"), cast = !strcmp(n->op_type, "Cast");
  if ((!identity && !cast) || n->n_input != 1 || n->n_output != 1) return NULL;
  onnx_value_t *in = n->input[0] && *n->input[0] ? lathe_hashmap_get_str(&im->values, n->input[0])
                                                 : NULL;
  if (!in || !in->konst || onnx_const_count(in->konst) > ONNX_FOLD_MAX_ELEMENTS) return NULL;
  onnx_const_t *k = in->konst;
  if (cast) {
    const Onnx__AttributeProto *to = onnx_node_attr(n, "to");
    lathe_dtype_t d = to && to->i >= INT32_MIN && to->i <= INT32_MAX
                          ? onnx_dtype_to_lathe((int32_t)to->i)
                          : LATHE_DTYPE_INVALID;
    bool plain = lathe_dtype_is_integer(d) || d == LATHE_DTYPE_F32 || d == LATHE_DTYPE_F64;
    if (!plain || (lathe_dtype_flags(d) & LATHE_DTYPE_PACKED)) return NULL;
    int64_t count = onnx_const_count(k);
    unsigned size = lathe_dtype_bits(d) / 8;
    uint8_t *buf = malloc(count ? (size_t)count * size : 1);
    if (!buf) return err(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    for (int64_t i = 0; i < count; ++i) {
      uint8_t *dst = buf + (size_t)i * size;
      if (d == LATHE_DTYPE_F32) {
        float f = (float)onnx_const_float(k, i);
        memcpy(dst, &f, 4);
      } else if (d == LATHE_DTYPE_F64) {
        double g = onnx_const_float(k, i);
        memcpy(dst, &g, 8);
      } else {
        uint64_t u = (uint64_t)onnx_const_int(k, i);
        for (unsigned b = 0; b < size; ++b) dst[b] = (uint8_t)(u >> (8 * b));
      }
    }
    onnx_const_t *c = LATHE_ARENA_NEW(im->arena, onnx_const_t);
    c->type = lathe_type_make(im->arena, d, k->type.rank, k->type.dims);
    c->weight = lathe_weight_adopt_buffer(im->module, d, buf, (uint64_t)count * size);
    c->data = c->weight->data;
    k = c;
  }
  onnx_value_t *v = LATHE_ARENA_NEW(im->arena, onnx_value_t);
  v->konst = k;
  *out_done = true;
  return define(im, n->output[0], v);
}

static lathe_status_t ctx_attr_tensor(void *self, size_t index, onnx_const_t *out_const) {
  importer_t *im = self;
  const Onnx__NodeProto *n = im->node;
  if (index >= n->n_attribute || !n->attribute[index]->t)
    return err(LATHE_STATUS_INTERNAL, "attribute %zu of node %s is not a tensor", index,
               im->label);
  const char *what = lathe_arena_printf(im->arena, "node %s (%s): attribute '%s'", im->label,
                                        n->op_type, n->attribute[index]->name);
  return attr_tensor(im, n, index, what, out_const);
}

static lathe_status_t ctx_constant(void *self, onnx_value_t *v, const char **out_why) {
  importer_t *im = self;
  return onnx_fold_constant(&im->folder, im->module, v, out_why);
}

static lathe_status_t convert_node(importer_t *im, const Onnx__NodeProto *n, const char *label) {
  if (!strcmp(n->op_type, "Constant")) return convert_constant(im, n, label);
  bool folded;
  LATHE_RETURN_IF_ERROR(fold_constant(im, n, &folded));
  if (folded) return NULL;

  im->node = n;
  im->label = label;
  /* Locations outlive the unpacked model: copy the name. */
  im->builder.loc.name = n->name && *n->name ? lathe_arena_strdup(im->arena, n->name) : NULL;
  onnx_node_ctx_t ctx = {
      .module = im->module,
      .builder = &im->builder,
      .opset = im->opset,
      .node = n,
      .label = label,
      .lookup = lookup,
      .materialize = materialize,
      .attr_tensor = ctx_attr_tensor,
      .constant = ctx_constant,
      .self = im,
  };
  lathe_op_t *op;
  LATHE_RETURN_IF_ERROR(onnx_node_convert(&ctx, &op));
  for (uint32_t i = 0; i < op->num_results && i < n->n_output; ++i) {
    if (!n->output[i] || !*n->output[i]) continue;
    onnx_value_t *v = LATHE_ARENA_NEW(im->arena, onnx_value_t);
    v->value = &op->results[i];
    v->value->name = unique_name(im, n->output[i]);
    LATHE_RETURN_IF_ERROR(define(im, n->output[i], v));
  }
  return NULL;
}

/* ---- pre-flight ------------------------------------------------------------ */

/* Why the node cannot be imported (text for the parentheses), or NULL. */
static const char *check_node(importer_t *im, const Onnx__NodeProto *n) {
  /* Later stages rely on op types and attribute names being present. */
  if (!n->op_type || !*n->op_type) return "no op_type";
  const char *op_type = n->op_type;
  for (size_t i = 0; i < n->n_attribute; ++i)
    if (!n->attribute[i]->name || !*n->attribute[i]->name)
      return lathe_arena_printf(im->arena, "%s: attribute %zu has no name", op_type, i);
  if (!default_domain(n->domain))
    return lathe_arena_printf(im->arena, "%s.%s: unknown domain", n->domain, op_type);
  if (!strcmp(op_type, "Constant")) {
    for (size_t i = 0; i < n->n_attribute; ++i) {
      const char *an = n->attribute[i]->name ? n->attribute[i]->name : "";
      if (strcmp(an, "value") && strcmp(an, "value_float") && strcmp(an, "value_floats") &&
          strcmp(an, "value_int") && strcmp(an, "value_ints"))
        return lathe_arena_printf(im->arena, "Constant: attribute '%s' is not supported", an);
    }
    return NULL;
  }
  return onnx_node_check(n, im->opset, im->arena);
}

static lathe_status_t preflight(importer_t *im, const Onnx__GraphProto *g) {
  lathe_strbuf_t list;
  lathe_strbuf_init(&list);
  size_t bad = 0;
  for (size_t i = 0; i < g->n_node; ++i) {
    const char *why = check_node(im, g->node[i]);
    if (!why) continue;
    lathe_strbuf_printf(&list, "%s%s (%s)", bad ? ", " : "", node_label(im, g->node[i], i), why);
    ++bad;
  }
  lathe_status_t st = NULL;
  if (bad)
    st = err(LATHE_STATUS_UNSUPPORTED, "%zu unsupported node%s: %s", bad, bad == 1 ? "" : "s",
             lathe_strbuf_cstr(&list));
  lathe_strbuf_destroy(&list);
  return st;
}

/* ---- the model ------------------------------------------------------------- */

static lathe_status_t find_opset(const Onnx__ModelProto *m, int64_t *out_opset) {
  for (size_t i = 0; i < m->n_opset_import; ++i) {
    const Onnx__OperatorSetIdProto *o = m->opset_import[i];
    if (!default_domain(o->domain)) continue;
    int64_t v = o->has_version ? o->version : 0;
    if (v < LATHE_ONNX_MIN_OPSET || v > LATHE_ONNX_MAX_OPSET)
      return err(LATHE_STATUS_UNSUPPORTED, "opset %lld of the default domain is not supported "
                 "(Lathe imports opsets %d to %d)", (long long)v, LATHE_ONNX_MIN_OPSET,
                 LATHE_ONNX_MAX_OPSET);
    *out_opset = v;
    return NULL;
  }
  return err(LATHE_STATUS_UNSUPPORTED, "the model imports no opset of the default domain");
}

static lathe_status_t build_graph(importer_t *im, const Onnx__GraphProto *g) {
  const char *gname = g->name && *g->name ? sanitize(im->arena, g->name, true) : "main";
  LATHE_RETURN_IF_ERROR(lathe_graph_create(im->module, gname, &im->graph));
  im->builder = lathe_builder_at_end(im->graph);

  if (g->n_sparse_initializer)
    return err(LATHE_STATUS_UNSUPPORTED, "sparse initializer '%s' is not supported",
               g->sparse_initializer[0]->values && g->sparse_initializer[0]->values->name
                   ? g->sparse_initializer[0]->values->name
                   : "");
  if (im->skeleton->num_initializers != g->n_initializer)
    return err(LATHE_STATUS_PARSE_ERROR, "not a valid ONNX model: initializer count mismatch");
  LATHE_RETURN_IF_ERROR(onnx_const_inputs_check(g, im->options));
  for (size_t i = 0; i < g->n_initializer; ++i) {
    const Onnx__TensorProto *t = g->initializer[i];
    const char *name = t->name ? t->name : "";
    if (!*name) return err(LATHE_STATUS_INVALID_ARGUMENT, "initializer %zu has no name", i);
    if (given_value(im, name)) continue; /* a default the given value replaces */
    onnx_value_t *v = LATHE_ARENA_NEW(im->arena, onnx_value_t);
    v->konst = LATHE_ARENA_NEW(im->arena, onnx_const_t);
    LATHE_RETURN_IF_ERROR(onnx_tensor_decode(&im->tensors, t, &im->skeleton->initializers[i],
                                             lathe_arena_printf(im->arena, "initializer '%s'",
                                                                name),
                                             v->konst));
    LATHE_RETURN_IF_ERROR(define(im, name, v));
  }
  for (size_t i = 0; i < g->n_input; ++i) {
    const char *name = g->input[i]->name ? g->input[i]->name : "";
    if (lathe_hashmap_get_str(&im->values, name)) continue; /* an initializer (old ONNX) */
    LATHE_RETURN_IF_ERROR(add_input(im, g->input[i]));
  }

  size_t attrs = 0;
  for (size_t i = 0; i < g->n_node; ++i) attrs += g->node[i]->n_attribute;
  if (attrs != im->skeleton->num_attributes)
    return err(LATHE_STATUS_PARSE_ERROR, "not a valid ONNX model: attribute count mismatch");
  im->attr_base = 0;
  for (size_t i = 0; i < g->n_node; ++i) {
    const Onnx__NodeProto *n = g->node[i];
    LATHE_RETURN_IF_ERROR(convert_node(im, n, node_label(im, n, i)));
    im->attr_base += n->n_attribute;
  }

  lathe_value_t **outs = LATHE_ARENA_NEW_ARRAY(im->arena, lathe_value_t *, g->n_output + 1);
  for (size_t i = 0; i < g->n_output; ++i) {
    const char *name = g->output[i]->name ? g->output[i]->name : "";
    onnx_value_t *v = lathe_hashmap_get_str(&im->values, name);
    if (!v) return err(LATHE_STATUS_NOT_FOUND, "graph output '%s' is never defined", name);
    LATHE_RETURN_IF_ERROR(materialize(im, v, &outs[i]));
  }
  lathe_build_return(im->graph, (uint32_t)g->n_output, outs);
  onnx_folder_sweep(&im->folder, im->graph);
  return NULL;
}

static lathe_status_t import_mapped(importer_t *im, lathe_mapped_file_t *file) {
  onnx_skeleton_t sk;
  LATHE_RETURN_IF_ERROR(
      onnx_skeleton_build(lathe_mapped_file_data(file), lathe_mapped_file_size(file), &sk));
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, sk.len, sk.data);
  free(sk.data); /* protobuf-c copied what it needs */
  sk.data = NULL;
  im->skeleton = &sk;
  lathe_status_t st = NULL;
  if (!m) st = err(LATHE_STATUS_PARSE_ERROR, "not a valid ONNX model (protobuf parse failed)");
  else if (!m->graph) st = err(LATHE_STATUS_PARSE_ERROR, "not a valid ONNX model (no graph)");
  if (!st) st = find_opset(m, &im->opset);
  if (!st) st = preflight(im, m->graph);
  if (!st) st = build_graph(im, m->graph);
  if (m) onnx__model_proto__free_unpacked(m, NULL);
  onnx_skeleton_free(&sk);
  return st;
}

static const char *dir_of(lathe_arena_t *a, const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return ".";
  if (slash == path) return "/";
  return lathe_arena_strndup(a, path, (size_t)(slash - path));
}

static const char *base_of(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* The final error: "PATH: message", on one line whatever bytes the model's
 * names hold (control characters are escaped), without the location IR
 * errors carry (it is the module source, the model path, again). */
static lathe_status_t one_line(lathe_status_t st, const char *path) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  lathe_strbuf_printf(&sb, "%s: ", path);
  for (const unsigned char *p = (const unsigned char *)lathe_status_message(st); *p; ++p) {
    if (*p < 0x20 || *p == 0x7f) lathe_strbuf_printf(&sb, "\\x%02x", *p);
    else lathe_strbuf_putc(&sb, (char)*p);
  }
  lathe_status_t r = lathe_status_make(lathe_status_code(st), "%s", lathe_strbuf_cstr(&sb));
  lathe_strbuf_destroy(&sb);
  lathe_status_free(st);
  return r;
}

lathe_status_t lathe_onnx_import_file(const char *path, const lathe_onnx_import_options_t *options,
                                      lathe_module_t **out_module) {
  lathe_onnx_import_options_t opts = options ? *options : (lathe_onnx_import_options_t){0};
  lathe_mapped_file_t *file;
  lathe_status_t st = lathe_mapped_file_open(path, &file);
  if (st) return st; /* the message already names the path */

  importer_t im = {.path = path, .options = &opts};
  im.module = lathe_module_create(path);
  im.arena = lathe_module_arena(im.module);
  lathe_hashmap_init(&im.external);
  lathe_hashmap_init(&im.values);
  lathe_hashmap_init(&im.names);
  lathe_hashmap_init(&im.bindings);
  onnx_folder_init(&im.folder, opts.fold);
  const char *display_dir = opts.display_dir && *opts.display_dir ? opts.display_dir : NULL;
  im.tensors = (onnx_tensor_ctx_t){
      .module = im.module,
      .model = file,
      .model_dir = dir_of(im.arena, path),
      .display_dir = display_dir ? display_dir : dir_of(im.arena, path),
      .inline_max_elements = opts.inline_max_elements == 0 ? LATHE_ONNX_DEFAULT_INLINE_MAX
                                                           : opts.inline_max_elements,
      .external = &im.external,
  };
  im.tensors.model_display =
      display_dir ? lathe_arena_printf(im.arena, "%s/%s", display_dir, base_of(path)) : path;
  if (display_dir && !strcmp(display_dir, ".")) im.tensors.model_display = base_of(path);

  st = import_mapped(&im, file);
  if (!st) {
    st = lathe_module_verify(im.module);
    if (st) st = lathe_status_annotate(st, "internal error: the imported graph fails to verify");
  }

  for (size_t i = 0; i < im.external.capacity; ++i)
    if (im.external.slots[i].key) lathe_mapped_file_release(im.external.slots[i].value);
  lathe_hashmap_destroy(&im.external);
  lathe_hashmap_destroy(&im.values);
  lathe_hashmap_destroy(&im.names);
  lathe_hashmap_destroy(&im.bindings);
  onnx_folder_destroy(&im.folder);
  lathe_mapped_file_release(file);
  if (st) {
    lathe_module_destroy(im.module);
    return one_line(st, path);
  }
  *out_module = im.module;
  return NULL;
}
