/* ONNX node -> Lathe op, driven by the mapping table in op_table.def.
 *
 * The generic path does, for every entry: pick the entry for the model's
 * opset; turn the inputs the entry names into attributes (they must be
 * constants, as Lathe keeps shapes and axes static); pass the other inputs
 * as operands; convert each ONNX attribute to the kind the registry's schema
 * declares under its snake_case name; then build the op, letting the
 * registry infer the result types. Special functions handle what a table
 * row cannot say.
 *
 * The same attribute conversion runs in the pre-flight check (into a scratch
 * arena), so a node that passes the check fails later only for reasons that
 * depend on values: a non-constant shape input, inference rejecting shapes.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

typedef struct op_entry {
  const char *onnx;
  int since;
  const char *lathe;
  const char *inputs;
  const char *attrs;
  onnx_special_fn special;
} op_entry_t;

static const op_entry_t table[] = {
#define M(onnx, since, lathe, inputs, attrs, special) {onnx, since, lathe, inputs, attrs, special},
#include "op_table.def"
#undef M
};
#define TABLE_SIZE (sizeof table / sizeof table[0])

/* The entry of `op_type` in force at `opset`; *out_known tells whether the op
 * type appears at all (so "not before opset N" can be told apart). */
static const op_entry_t *find_entry(const char *op_type, int64_t opset, bool *out_known) {
  const op_entry_t *best = NULL;
  *out_known = false;
  for (size_t i = 0; i < TABLE_SIZE; ++i) {
    if (strcmp(table[i].onnx, op_type)) continue;
    *out_known = true;
    if (table[i].since <= opset && (!best || table[i].since > best->since)) best = &table[i];
  }
  return best;
}

/* Finds `key` in a rule list "k=v,k:v"; returns the operator ('=' or ':') and
 * the value (not NUL-terminated), or 0 when absent. */
static char find_rule(const char *spec, const char *key, const char **out_value,
                      size_t *out_len) {
  size_t key_len = strlen(key);
  for (const char *p = spec; p && *p;) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    const char *op = memchr(p, '=', n);
    if (!op) op = memchr(p, ':', n);
    if (op && (size_t)(op - p) == key_len && !memcmp(p, key, key_len)) {
      *out_value = op + 1;
      *out_len = n - key_len - 1;
      return *op;
    }
    p = end ? end + 1 : NULL;
  }
  return 0;
}

/* What an ONNX input becomes: NULL for an operand, "-" (a static string)
 * for an ignored input, ":V" for an input that must hold the value V, else
 * the attribute name; in `arena`. */
static const char *input_rule(const op_entry_t *e, uint32_t i, lathe_arena_t *arena) {
  char key[16];
  snprintf(key, sizeof key, "%u", i);
  const char *v;
  size_t n;
  char op = find_rule(e->inputs, key, &v, &n);
  if (op == ':') return lathe_arena_printf(arena, ":%.*s", (int)n, v);
  if (op != '=') return NULL;
  if (n == 1 && v[0] == '-') return "-";
  return lathe_arena_strndup(arena, v, n);
}

static const char *snake_case(lathe_arena_t *arena, const char *name) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  for (const char *p = name; *p; ++p) {
    if (*p >= 'A' && *p <= 'Z') {
      if (p != name && p[-1] != '_') lathe_strbuf_putc(&sb, '_');
      lathe_strbuf_putc(&sb, (char)(*p - 'A' + 'a'));
    } else {
      lathe_strbuf_putc(&sb, *p);
    }
  }
  const char *s = lathe_arena_strdup(arena, lathe_strbuf_cstr(&sb));
  lathe_strbuf_destroy(&sb);
  return s;
}

/* ---- attributes ------------------------------------------------------------ */

/* The attribute's type, deduced from the fields set when `type` is missing
 * (very old exporters). */
static Onnx__AttributeProto__AttributeType attr_type(const Onnx__AttributeProto *a) {
  if (a->has_type) return a->type;
  if (a->has_f) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
  if (a->has_i) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  if (a->has_s) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
  if (a->t) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
  if (a->g) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
  if (a->n_floats) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
  if (a->n_ints) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  if (a->n_strings) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
  if (a->n_graphs) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS;
  return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED;
}

static const char *onnx_attr_type_name(Onnx__AttributeProto__AttributeType t) {
  switch (t) {
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return "FLOAT";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return "INT";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return "STRING";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: return "TENSOR";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH: return "GRAPH";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return "FLOATS";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return "INTS";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: return "STRINGS";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS: return "TENSORS";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS: return "GRAPHS";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR: return "SPARSE_TENSOR";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS: return "SPARSE_TENSORS";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO: return "TYPE_PROTO";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS: return "TYPE_PROTOS";
  default: return "UNDEFINED";
  }
}

static bool is_subgraph(const Onnx__AttributeProto *a) {
  Onnx__AttributeProto__AttributeType t = attr_type(a);
  return t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH ||
         t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS;
}

/* The double an f32 attribute means: the shortest decimal that reads back as
 * the same float (1e-3f -> 0.001, not 0.0010000000474974513), so printed IR
 * shows what the exporter wrote and narrowing to f32 gives the float back. */
static double widen(float f) {
  if (f != f || f == (float)(int64_t)f) return f; /* nan, integers: exact already */
  char buf[32];
  for (int digits = 1; digits <= 9; ++digits) {
    snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
    double d = strtod(buf, NULL);
    if ((float)d == f) return d;
  }
  return f;
}

static const char *bytes_str(lathe_arena_t *arena, ProtobufCBinaryData b) {
  return lathe_arena_strndup(arena, b.data ? (const char *)b.data : "", b.len);
}

/* Converts ONNX attribute `a` for op `kind` under the entry's rules. Returns
 * NULL with *out_skip set (dropped) or *out_attr filled (payload in `arena`),
 * or the reason it cannot be converted. */
static const char *convert_attr(lathe_arena_t *arena, const op_entry_t *e, lathe_op_kind_t kind,
                                const Onnx__AttributeProto *a, lathe_attr_t *out_attr,
                                bool *out_skip) {
  Onnx__AttributeProto__AttributeType t = attr_type(a);
  const char *name = a->name ? a->name : "";
  *out_skip = false;
  if (a->ref_attr_name)
    return lathe_arena_printf(arena, "attribute '%s' refers to a function attribute", name);
  const char *v;
  size_t n;
  char rule = find_rule(e->attrs, name, &v, &n);
  const char *lathe_name = NULL;
  if (rule == '=' && n == 1 && v[0] == '-') {
    *out_skip = true;
    return NULL;
  }
  if (rule == ':') { /* only one value is supported; it is dropped */
    const char *want = lathe_arena_strndup(arena, v, n);
    bool ok = t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT
                  ? a->i == strtoll(want, NULL, 10)
                  : t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING &&
                        !strcmp(bytes_str(arena, a->s), want);
    if (!ok) return lathe_arena_printf(arena, "attribute '%s' other than %s is not supported",
                                       name, want);
    *out_skip = true;
    return NULL;
  }
  lathe_name = rule == '=' ? lathe_arena_strndup(arena, v, n) : snake_case(arena, name);
  if (is_subgraph(a)) return "subgraphs are not supported";
  const lathe_attr_schema_t *schema = lathe_op_attr_schema(kind, lathe_name);
  if (!schema) return lathe_arena_printf(arena, "attribute '%s' is not supported", name);

  lathe_attr_t r = {.name = schema->name, .kind = schema->kind};
  bool ok = true;
  switch (schema->kind) {
  case LATHE_ATTR_INT:
    ok = t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    r.u.i = a->i;
    break;
  case LATHE_ATTR_FLOAT:
    ok = t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    r.u.f = widen(a->f);
    break;
  case LATHE_ATTR_STRING:
    ok = t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    r.u.s = bytes_str(arena, a->s);
    break;
  case LATHE_ATTR_DTYPE:
    ok = t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    if (ok && (a->i < INT32_MIN || a->i > INT32_MAX ||
               (r.u.dtype = onnx_dtype_to_lathe((int32_t)a->i)) == LATHE_DTYPE_INVALID))
      return lathe_arena_printf(arena, "attribute '%s': data type %s is not supported", name,
                                onnx_dtype_name((int32_t)a->i));
    break;
  case LATHE_ATTR_INTS: {
    ok = t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    r.u.ints.count = a->n_ints;
    r.u.ints.data = a->n_ints ? lathe_arena_memdup(arena, a->ints, a->n_ints * sizeof(int64_t))
                              : NULL;
    break;
  }
  case LATHE_ATTR_FLOATS: {
    ok = t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    double *d = a->n_floats ? LATHE_ARENA_NEW_ARRAY(arena, double, a->n_floats) : NULL;
    for (size_t i = 0; i < a->n_floats; ++i) d[i] = widen(a->floats[i]);
    r.u.floats.data = d;
    r.u.floats.count = a->n_floats;
    break;
  }
  case LATHE_ATTR_STRINGS: {
    ok = t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    const char **s = a->n_strings ? LATHE_ARENA_NEW_ARRAY(arena, const char *, a->n_strings)
                                  : NULL;
    for (size_t i = 0; i < a->n_strings; ++i) s[i] = bytes_str(arena, a->strings[i]);
    r.u.strings.data = s;
    r.u.strings.count = a->n_strings;
    break;
  }
  default: ok = false; break;
  }
  if (!ok)
    return lathe_arena_printf(arena, "attribute '%s' has type %s, expected %s", name,
                              onnx_attr_type_name(t), lathe_attr_kind_name(schema->kind));
  *out_attr = r;
  return NULL;
}

const Onnx__AttributeProto *onnx_node_attr(const Onnx__NodeProto *node, const char *name) {
  for (size_t i = 0; i < node->n_attribute; ++i)
    if (node->attribute[i]->name && !strcmp(node->attribute[i]->name, name))
      return node->attribute[i];
  return NULL;
}

/* ---- arity ----------------------------------------------------------------- */

/* Outputs up to the last named one. */
static uint32_t num_outputs(const Onnx__NodeProto *node) {
  uint32_t n = (uint32_t)node->n_output;
  while (n > 0 && (!node->output[n - 1] || !*node->output[n - 1])) --n;
  return n;
}

/* How many operands the generic mapping passes (trailing absent ones cut). */
static uint32_t num_operands(const op_entry_t *e, const Onnx__NodeProto *node,
                             lathe_arena_t *arena) {
  uint32_t n = 0, last = 0;
  for (uint32_t i = 0; i < node->n_input; ++i) {
    if (input_rule(e, i, arena)) continue;
    ++n;
    if (node->input[i] && *node->input[i]) last = n;
  }
  return last;
}

/* ---- pre-flight ------------------------------------------------------------ */

const char *onnx_node_check(const Onnx__NodeProto *node, int64_t opset, lathe_arena_t *arena) {
  const char *op_type = node->op_type ? node->op_type : "";
  for (size_t i = 0; i < node->n_attribute; ++i)
    if (is_subgraph(node->attribute[i]))
      return lathe_arena_printf(arena, "%s: subgraphs are not supported", op_type);
  bool known;
  const op_entry_t *e = find_entry(op_type, opset, &known);
  if (!e)
    return known ? lathe_arena_printf(arena, "%s: not available at opset %lld", op_type,
                                      (long long)opset)
                 : lathe_arena_strdup(arena, op_type);
  lathe_op_kind_t kind;
  if (!lathe_op_kind_from_name(e->lathe, strlen(e->lathe), &kind))
    return lathe_arena_printf(arena, "%s: no Lathe op '%s' yet", op_type, e->lathe);
  const lathe_op_info_t *info = lathe_op_info(kind);
  for (size_t i = 0; i < node->n_attribute; ++i) {
    lathe_attr_t attr;
    bool skip;
    const char *why = convert_attr(arena, e, kind, node->attribute[i], &attr, &skip);
    if (why) return lathe_arena_printf(arena, "%s: %s", op_type, why);
  }
  uint32_t nres = num_outputs(node);
  if (info->max_results >= 0 && nres > (uint32_t)info->max_results)
    return lathe_arena_printf(arena, "%s: output %u ('%s') is not supported", op_type,
                              info->max_results, node->output[info->max_results]);
  uint32_t nops = num_operands(e, node, arena);
  if (info->max_operands >= 0 && nops > (uint32_t)info->max_operands && !e->special)
    return lathe_arena_printf(arena, "%s: %u inputs, Lathe's '%s' takes at most %d", op_type,
                              nops, e->lathe, info->max_operands);
  return NULL;
}

/* ---- conversion ------------------------------------------------------------ */

lathe_status_t onnx_conv_error(const onnx_conv_t *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lathe_status_t st = lathe_status_makev(LATHE_STATUS_INVALID_ARGUMENT, fmt, ap);
  va_end(ap);
  return lathe_status_annotate(st, "node %s (%s)", c->ctx->label, c->ctx->node->op_type);
}

const lathe_attr_t *onnx_conv_find_attr(const onnx_conv_t *c, const char *name) {
  for (uint32_t i = 0; i < c->num_attrs; ++i)
    if (!strcmp(c->attrs[i].name, name)) return &c->attrs[i];
  return NULL;
}

void onnx_conv_set_attr(onnx_conv_t *c, lathe_attr_t attr) {
  for (uint32_t i = 0; i < c->num_attrs; ++i)
    if (!strcmp(c->attrs[i].name, attr.name)) {
      c->attrs[i] = attr;
      return;
    }
  if (c->num_attrs == c->cap_attrs) {
    uint32_t cap = c->cap_attrs * 2 + 4;
    lathe_attr_t *a = LATHE_ARENA_NEW_ARRAY(lathe_module_arena(c->ctx->module), lathe_attr_t, cap);
    if (c->num_attrs) memcpy(a, c->attrs, c->num_attrs * sizeof *a);
    c->attrs = a;
    c->cap_attrs = cap;
  }
  c->attrs[c->num_attrs++] = attr;
}

lathe_status_t onnx_conv_scalar(onnx_conv_t *c, lathe_dtype_t dtype, double v,
                                lathe_value_t **out_value) {
  onnx_const_t k = {.type = {.dtype = dtype}};
  uint8_t bytes[8] = {0};
  unsigned size = lathe_dtype_bits(dtype) / 8;
  switch (dtype) {
  case LATHE_DTYPE_F32: {
    float f = (float)v;
    memcpy(bytes, &f, 4);
    break;
  }
  case LATHE_DTYPE_F64: memcpy(bytes, &v, 8); break;
  default: {
    if (!lathe_dtype_is_integer(dtype) || size == 0)
      return onnx_conv_error(c, "cannot make a %s scalar", lathe_dtype_name(dtype));
    int64_t i = (int64_t)v;
    for (unsigned b = 0; b < size; ++b) bytes[b] = (uint8_t)((uint64_t)i >> (8 * b));
  }
  }
  LATHE_RETURN_IF_ERROR(lathe_weight_create_inline(c->ctx->module, dtype, bytes, size, &k.weight));
  return lathe_build_const(c->ctx->builder, k.weight, &k.type, out_value);
}

/* Element j of a constant as an attribute double (f32 and narrower floats
 * widened like f32 attributes). */
static double const_float(const onnx_const_t *k, int64_t j) {
  double d = onnx_const_float(k, j);
  lathe_dtype_t t = k->type.dtype;
  bool narrow = t == LATHE_DTYPE_F32 || t == LATHE_DTYPE_F16 || t == LATHE_DTYPE_BF16;
  return narrow ? widen((float)d) : d;
}

/* The constant ONNX input `i`, folded if need be; *out_value is NULL when
 * the input is absent. */
static lathe_status_t constant_input(onnx_conv_t *c, uint32_t i, onnx_value_t **out_value) {
  const Onnx__NodeProto *node = c->ctx->node;
  onnx_value_t *v;
  LATHE_RETURN_IF_ERROR_CTX(c->ctx->lookup(c->ctx->self, node->input[i], &v), "node %s (%s)",
                            c->ctx->label, node->op_type);
  const char *why = NULL;
  if (v) LATHE_RETURN_IF_ERROR(c->ctx->constant(c->ctx->self, v, &why));
  if (v && !v->konst)
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED,
                             "input '%s' of node %s (%s) must be a constant, but %s",
                             node->input[i], c->ctx->label, node->op_type, why);
  *out_value = v;
  return NULL;
}

/* Checks that the ONNX input `i`, when present, holds the one value `want`. */
static lathe_status_t input_must_be(onnx_conv_t *c, uint32_t i, const char *want) {
  onnx_value_t *v;
  LATHE_RETURN_IF_ERROR(constant_input(c, i, &v));
  if (v && (onnx_const_count(v->konst) != 1 || onnx_const_float(v->konst, 0) != strtod(want, NULL)))
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED,
                             "input '%s' of node %s (%s) other than %s is not supported",
                             c->ctx->node->input[i], c->ctx->label, c->ctx->node->op_type, want);
  return NULL;
}

/* Sets attribute `attr_name` from the constant ONNX input `i`. */
static lathe_status_t input_to_attr(onnx_conv_t *c, uint32_t i, const char *attr_name) {
  const Onnx__NodeProto *node = c->ctx->node;
  onnx_value_t *v;
  LATHE_RETURN_IF_ERROR(constant_input(c, i, &v));
  if (!v) return NULL; /* absent optional input: the attribute keeps its default */
  const lathe_attr_schema_t *schema = lathe_op_attr_schema(c->kind, attr_name);
  if (!schema)
    return lathe_status_make(LATHE_STATUS_INTERNAL, "op table: '%s' has no attribute '%s'",
                             lathe_op_name(c->kind), attr_name);
  const onnx_const_t *k = v->konst;
  int64_t n = onnx_const_count(k);
  lathe_arena_t *arena = lathe_module_arena(c->ctx->module);
  lathe_attr_t attr = {.name = schema->name, .kind = schema->kind};
  bool scalar = schema->kind == LATHE_ATTR_INT || schema->kind == LATHE_ATTR_FLOAT;
  if (scalar && n != 1)
    return onnx_conv_error(c, "input '%s' must hold one element, not %lld", node->input[i],
                           (long long)n);
  switch (schema->kind) {
  case LATHE_ATTR_INT: attr.u.i = onnx_const_int(k, 0); break;
  case LATHE_ATTR_FLOAT: attr.u.f = const_float(k, 0); break;
  case LATHE_ATTR_INTS: {
    int64_t *d = n ? LATHE_ARENA_NEW_ARRAY(arena, int64_t, (size_t)n) : NULL;
    for (int64_t j = 0; j < n; ++j) d[j] = onnx_const_int(k, j);
    attr.u.ints.data = d;
    attr.u.ints.count = (size_t)n;
    break;
  }
  case LATHE_ATTR_FLOATS: {
    double *d = n ? LATHE_ARENA_NEW_ARRAY(arena, double, (size_t)n) : NULL;
    for (int64_t j = 0; j < n; ++j) d[j] = const_float(k, j);
    attr.u.floats.data = d;
    attr.u.floats.count = (size_t)n;
    break;
  }
  default:
    return lathe_status_make(LATHE_STATUS_INTERNAL, "op table: attribute '%s' of '%s' cannot "
                             "come from an input", attr_name, lathe_op_name(c->kind));
  }
  onnx_conv_set_attr(c, attr);
  return NULL;
}

lathe_status_t onnx_node_convert(onnx_node_ctx_t *ctx, lathe_op_t **out_op) {
  const Onnx__NodeProto *node = ctx->node;
  lathe_arena_t *arena = lathe_module_arena(ctx->module);
  bool known;
  const op_entry_t *e = find_entry(node->op_type, ctx->opset, &known);
  onnx_conv_t c = {.ctx = ctx};
  if (!e || !lathe_op_kind_from_name(e->lathe, strlen(e->lathe), &c.kind))
    return lathe_status_make(LATHE_STATUS_INTERNAL, "node %s (%s) passed the pre-flight check "
                             "but has no mapping", ctx->label, node->op_type);

  /* Attribute inputs first: folding one may replace values that operands
   * would otherwise have taken already. */
  for (uint32_t i = 0; i < node->n_input; ++i) {
    const char *rule = input_rule(e, i, arena);
    if (rule && rule[0] == ':') LATHE_RETURN_IF_ERROR(input_must_be(&c, i, rule + 1));
    else if (rule && strcmp(rule, "-")) LATHE_RETURN_IF_ERROR(input_to_attr(&c, i, rule));
  }
  c.operands = LATHE_ARENA_NEW_ARRAY(arena, lathe_value_t *, node->n_input + 1);
  for (uint32_t i = 0; i < node->n_input; ++i) {
    if (input_rule(e, i, arena)) continue;
    onnx_value_t *v;
    lathe_value_t *lv = NULL;
    LATHE_RETURN_IF_ERROR_CTX(ctx->lookup(ctx->self, node->input[i], &v), "node %s (%s)",
                              ctx->label, node->op_type);
    if (v) LATHE_RETURN_IF_ERROR(ctx->materialize(ctx->self, v, &lv));
    c.operands[c.num_operands++] = lv;
  }
  while (c.num_operands > 0 && !c.operands[c.num_operands - 1]) --c.num_operands;

  for (size_t i = 0; i < node->n_attribute; ++i) {
    lathe_attr_t attr;
    bool skip;
    const char *why = convert_attr(arena, e, c.kind, node->attribute[i], &attr, &skip);
    if (why) return onnx_conv_error(&c, "%s", why);
    if (!skip) onnx_conv_set_attr(&c, attr);
  }

  const lathe_op_info_t *info = lathe_op_info(c.kind);
  c.num_results = num_outputs(node);
  if (c.num_results < (uint32_t)info->min_results) c.num_results = (uint32_t)info->min_results;

  if (e->special) LATHE_RETURN_IF_ERROR(e->special(&c));
  if (!c.op) {
    /* A required attribute missing here came from an absent input. */
    for (const lathe_attr_schema_t *s = info->attrs; s && s->name; ++s)
      if (s->required && !onnx_conv_find_attr(&c, s->name))
        return onnx_conv_error(&c, "attribute or input '%s' is required", s->name);
    lathe_status_t st = lathe_build_op(ctx->builder, c.kind, c.num_operands, c.operands,
                                       c.num_attrs, c.attrs, c.num_results, &c.op);
    if (st) return lathe_status_annotate(st, "node %s (%s)", ctx->label, node->op_type);
  }
  *out_op = c.op;
  return NULL;
}
