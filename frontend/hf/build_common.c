/* The graph pieces every Hugging Face family is made of.
 *
 * Each helper builds one recognisable step of a transformer (a projection, a
 * norm, an activation, multi-head attention) the same way for every family,
 * so compression passes meet one shape of IR: projections are a single
 * `matmul` whose right operand is the weight [in, out] (nn.Linear weights,
 * stored [out, in], go through a `transpose` first), biases a following
 * `add`, attention a reshape/transpose into heads around an `attention` op.
 *
 * Weights are checked as they are requested: present in the checkpoint,
 * f32/f16/bf16, and exactly the shape the config implies. f16 and bf16
 * tensors get a cast to f32 right after the const, so everything downstream
 * computes in f32; a tensor used twice (tied embeddings) is one const.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "frontend/hf/hf_internal.h"
#include "frontend/safetensors/safetensors.h"
#include "support/strbuf.h"

const char *hf_name(hf_builder_t *h, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  size_t size = (size_t)(len > 0 ? len : 0) + 1;
  char *s = lathe_arena_alloc(lathe_module_arena(h->module), size);
  va_start(ap, fmt);
  vsnprintf(s, size, fmt, ap);
  va_end(ap);
  return s;
}

/* Tensor names become value names; the text IR allows [A-Za-z0-9_.]. */
static const char *value_name(hf_builder_t *h, const char *tensor) {
  char *s = lathe_arena_strdup(lathe_module_arena(h->module), tensor);
  for (char *p = s; *p; ++p)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '.'))
      *p = '_';
  return s;
}

/* A shard the index names but the OS cannot open: say which tensor needed it. */
static lathe_status_t name_shard_error(hf_builder_t *h, const char *name, lathe_status_t st) {
  if (lathe_status_code(st) != LATHE_STATUS_IO_ERROR) return st;
  return lathe_status_annotate(st, "%s: %s: its shard", h->weights_path, name);
}

lathe_status_t hf_find_tensor(hf_builder_t *h, const char *name, bool *out_found) {
  const lathe_weight_source_t *src = lathe_module_weight_source(h->module, 0);
  lathe_weight_source_entry_t e;
  lathe_status_t st = src->lookup(src->impl, name, &e);
  if (lathe_status_code(st) == LATHE_STATUS_NOT_FOUND) {
    lathe_status_free(st);
    *out_found = false;
    return NULL;
  }
  LATHE_RETURN_IF_ERROR(name_shard_error(h, name, st));
  *out_found = true;
  return NULL;
}

lathe_status_t hf_choose_prefix(hf_builder_t *h, const char *base, const char *probe) {
  bool found = false;
  LATHE_RETURN_IF_ERROR(hf_find_tensor(h, hf_name(h, "%s%s", base, probe), &found));
  if (found) {
    h->prefix = base;
    return NULL;
  }
  LATHE_RETURN_IF_ERROR(hf_find_tensor(h, probe, &found));
  if (found) {
    h->prefix = "";
    return NULL;
  }
  return lathe_status_make(LATHE_STATUS_NOT_FOUND, "%s: %s%s: no such tensor (nor %s)",
                           h->weights_path, base, probe, probe);
}

static void format_dims(lathe_strbuf_t *sb, uint32_t rank, const int64_t *dims) {
  lathe_strbuf_putc(sb, '[');
  for (uint32_t i = 0; i < rank; ++i) lathe_strbuf_printf(sb, "%s%" PRId64, i ? ", " : "", dims[i]);
  lathe_strbuf_putc(sb, ']');
}

/* Error unless the checkpoint's entry has one of the float dtypes and `dims`. */
static lathe_status_t check_entry(const char *name, const lathe_weight_source_entry_t *e,
                                  uint32_t rank, const int64_t *dims) {
  const char *file = lathe_mapped_file_path(e->file);
  if (e->dtype != LATHE_DTYPE_F32 && e->dtype != LATHE_DTYPE_F16 && e->dtype != LATHE_DTYPE_BF16) {
    const char *st_name = lathe_safetensors_dtype_name(e->dtype);
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED,
                             "%s: %s: dtype %s is not supported (F32, F16 or BF16)", file, name,
                             st_name ? st_name : lathe_dtype_name(e->dtype));
  }
  bool same = e->rank == rank;
  for (uint32_t i = 0; same && i < rank; ++i) same = e->dims[i] == dims[i];
  if (same) return NULL;
  lathe_strbuf_t got, want;
  lathe_strbuf_init(&got);
  lathe_strbuf_init(&want);
  format_dims(&got, e->rank, e->dims);
  format_dims(&want, rank, dims);
  lathe_status_t st =
      lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "%s: %s: shape %s, but the config gives %s",
                        file, name, lathe_strbuf_cstr(&got), lathe_strbuf_cstr(&want));
  lathe_strbuf_destroy(&got);
  lathe_strbuf_destroy(&want);
  return st;
}

lathe_status_t hf_weight(hf_builder_t *h, const char *name, uint32_t rank, const int64_t *dims,
                         lathe_value_t **out) {
  lathe_value_t *cached = lathe_hashmap_get_str(&h->weights, name);
  if (cached) {
    /* A second use (tied embeddings) must agree with the first. */
    const lathe_type_t *t = &cached->type;
    bool same = t->rank == rank;
    for (uint32_t i = 0; same && i < rank; ++i) same = t->dims[i].size == dims[i];
    if (!same)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "%s: %s: used with two different shapes", h->weights_path, name);
    *out = cached;
    return NULL;
  }
  lathe_weight_source_entry_t e;
  lathe_weight_t *w = NULL;
  lathe_status_t st = lathe_weight_create_named(h->module, name, &e, &w);
  if (lathe_status_code(st) == LATHE_STATUS_NOT_FOUND) {
    lathe_status_free(st);
    return lathe_status_make(LATHE_STATUS_NOT_FOUND, "%s: %s: no such tensor", h->weights_path,
                             name);
  }
  LATHE_RETURN_IF_ERROR(name_shard_error(h, name, st));
  LATHE_RETURN_IF_ERROR(check_entry(name, &e, rank, dims));
  lathe_type_t type = lathe_type_make_static(lathe_module_arena(h->module), e.dtype, rank, dims);
  lathe_value_t *v = NULL;
  LATHE_RETURN_IF_ERROR(lathe_build_const(&h->at_end, w, &type, &v));
  v->name = value_name(h, name);
  if (e.dtype != LATHE_DTYPE_F32) {
    lathe_attr_t to = lathe_attr_dtype("to", LATHE_DTYPE_F32);
    LATHE_RETURN_IF_ERROR(
        hf_op(h, LATHE_OP_CAST, hf_name(h, "%s.f32", v->name), 1, &v, 1, &to, &v));
  }
  if (!lathe_hashmap_put_str(&h->weights, name, v))
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  *out = v;
  return NULL;
}

lathe_status_t hf_op(hf_builder_t *h, lathe_op_kind_t kind, const char *name, uint32_t n,
                     lathe_value_t *const *operands, uint32_t num_attrs, const lathe_attr_t *attrs,
                     lathe_value_t **out) {
  lathe_op_t *op = NULL;
  LATHE_RETURN_IF_ERROR_CTX(lathe_build_op(&h->at_end, kind, n, operands, num_attrs, attrs, 0, &op),
                            "building %%%s", name);
  op->results[0].name = name;
  *out = &op->results[0];
  return NULL;
}

lathe_status_t hf_embedding(hf_builder_t *h, const char *tensor, int64_t rows, int64_t dim,
                            lathe_value_t *ids, const char *name, lathe_value_t **out) {
  lathe_value_t *table = NULL;
  LATHE_RETURN_IF_ERROR(hf_weight(h, tensor, 2, (int64_t[]){rows, dim}, &table));
  return hf_op(h, LATHE_OP_GATHER, name, 2, (lathe_value_t *[]){table, ids}, 0, NULL, out);
}

/* x @ W + b, W read from `weight` in `layout`; bias NULL for none. */
static lathe_status_t project(hf_builder_t *h, lathe_value_t *x, const char *weight,
                              hf_layout_t layout, int64_t in, int64_t out, const char *bias,
                              const char *name, lathe_value_t **out_value) {
  lathe_value_t *w = NULL, *y = NULL;
  int64_t dims[2] = {layout == HF_CONV1D ? in : out, layout == HF_CONV1D ? out : in};
  LATHE_RETURN_IF_ERROR(hf_weight(h, weight, 2, dims, &w));
  if (layout == HF_LINEAR) {
    lathe_attr_t perm = lathe_attr_ints("perm", (int64_t[]){1, 0}, 2);
    LATHE_RETURN_IF_ERROR(hf_op(h, LATHE_OP_TRANSPOSE, hf_name(h, "%s.t", value_name(h, weight)), 1,
                                &w, 1, &perm, &w));
  }
  const char *mm_name = bias ? hf_name(h, "%s.matmul", name) : name;
  LATHE_RETURN_IF_ERROR(
      hf_op(h, LATHE_OP_MATMUL, mm_name, 2, (lathe_value_t *[]){x, w}, 0, NULL, &y));
  if (bias) {
    lathe_value_t *b = NULL;
    LATHE_RETURN_IF_ERROR(hf_weight(h, bias, 1, &out, &b));
    LATHE_RETURN_IF_ERROR(hf_op(h, LATHE_OP_ADD, name, 2, (lathe_value_t *[]){y, b}, 0, NULL, &y));
  }
  *out_value = y;
  return NULL;
}

lathe_status_t hf_linear(hf_builder_t *h, lathe_value_t *x, const char *module, hf_layout_t layout,
                         int64_t in, int64_t out, bool bias, lathe_value_t **out_value) {
  return project(h, x, hf_name(h, "%s.weight", module), layout, in, out,
                 bias ? hf_name(h, "%s.bias", module) : NULL, value_name(h, module), out_value);
}

lathe_status_t hf_lm_head(hf_builder_t *h, lathe_value_t *x, const char *tensor, int64_t vocab,
                          int64_t dim, lathe_value_t **out_value) {
  return project(h, x, tensor, HF_LINEAR, dim, vocab, NULL, "logits", out_value);
}

lathe_status_t hf_norm(hf_builder_t *h, hf_norm_kind_t kind, lathe_value_t *x, const char *module,
                       int64_t dim, double eps, bool affine, lathe_value_t **out) {
  lathe_value_t *operands[3] = {x, NULL, NULL};
  if (affine) {
    LATHE_RETURN_IF_ERROR(hf_weight(h, hf_name(h, "%s.weight", module), 1, &dim, &operands[1]));
    if (kind == HF_LAYER_NORM)
      LATHE_RETURN_IF_ERROR(hf_weight(h, hf_name(h, "%s.bias", module), 1, &dim, &operands[2]));
  } else {
    /* No parameters: a scalar scale of one broadcasts over the normalized dim. */
    float one = 1.0f;
    lathe_weight_t *w = NULL;
    LATHE_RETURN_IF_ERROR(
        lathe_weight_create_inline(h->module, LATHE_DTYPE_F32, &one, sizeof one, &w));
    lathe_type_t scalar = {LATHE_DTYPE_F32, 0, NULL};
    LATHE_RETURN_IF_ERROR(lathe_build_const(&h->at_end, w, &scalar, &operands[1]));
    operands[1]->name = hf_name(h, "%s.unit_scale", value_name(h, module));
  }
  lathe_attr_t epsilon = lathe_attr_float("epsilon", eps);
  lathe_op_kind_t op = kind == HF_LAYER_NORM ? LATHE_OP_LAYER_NORM : LATHE_OP_RMS_NORM;
  uint32_t n = operands[2] ? 3 : 2;
  return hf_op(h, op, value_name(h, module), n, operands, 1, &epsilon, out);
}

lathe_status_t hf_activation(hf_builder_t *h, hf_act_t act, lathe_value_t *x, const char *name,
                             lathe_value_t **out) {
  switch (act) {
  case HF_ACT_RELU: return hf_op(h, LATHE_OP_RELU, name, 1, &x, 0, NULL, out);
  case HF_ACT_GELU: return hf_op(h, LATHE_OP_GELU, name, 1, &x, 0, NULL, out);
  case HF_ACT_GELU_TANH: {
    lathe_attr_t tanh = lathe_attr_string("approximate", "tanh");
    return hf_op(h, LATHE_OP_GELU, name, 1, &x, 1, &tanh, out);
  }
  case HF_ACT_SILU: { /* x * sigmoid(x): ONNX has no SiLU either */
    lathe_value_t *s = NULL;
    LATHE_RETURN_IF_ERROR(
        hf_op(h, LATHE_OP_SIGMOID, hf_name(h, "%s.sigmoid", name), 1, &x, 0, NULL, &s));
    return hf_op(h, LATHE_OP_MUL, name, 2, (lathe_value_t *[]){x, s}, 0, NULL, out);
  }
  }
  return lathe_status_make(LATHE_STATUS_INTERNAL, "unknown activation %d", (int)act);
}

static const int64_t to_heads_perm[4] = {0, 2, 1, 3}; /* [N, seq, H, D] <-> [N, H, seq, D] */

/* [N, seq, heads*D] -> [N, heads, seq, D], named "<module>.<what>". */
static lathe_status_t split_heads(hf_builder_t *h, lathe_value_t *x, const char *module,
                                  const char *what, int64_t heads, int64_t head_dim,
                                  lathe_value_t **out) {
  lathe_attr_t shape = lathe_attr_ints("shape", (int64_t[]){0, 0, heads, head_dim}, 4);
  lathe_attr_t perm = lathe_attr_ints("perm", to_heads_perm, 4);
  lathe_value_t *y = NULL;
  LATHE_RETURN_IF_ERROR(
      hf_op(h, LATHE_OP_RESHAPE, hf_name(h, "%s.%s_heads", module, what), 1, &x, 1, &shape, &y));
  return hf_op(h, LATHE_OP_TRANSPOSE, hf_name(h, "%s.%s", module, what), 1, &y, 1, &perm, out);
}

lathe_status_t hf_self_attention(hf_builder_t *h, const hf_attention_t *a, lathe_value_t *q,
                                 lathe_value_t *k, lathe_value_t *v, lathe_value_t **out) {
  const char *m = value_name(h, a->module);
  LATHE_RETURN_IF_ERROR(split_heads(h, q, m, "q", a->heads, a->head_dim, &q));
  LATHE_RETURN_IF_ERROR(split_heads(h, k, m, "k", a->kv_heads, a->head_dim, &k));
  LATHE_RETURN_IF_ERROR(split_heads(h, v, m, "v", a->kv_heads, a->head_dim, &v));
  if (a->rope_theta > 0) {
    lathe_attr_t theta = lathe_attr_float("theta", a->rope_theta);
    LATHE_RETURN_IF_ERROR(
        hf_op(h, LATHE_OP_ROTARY_EMBEDDING, hf_name(h, "%s.q_rot", m), 1, &q, 1, &theta, &q));
    LATHE_RETURN_IF_ERROR(
        hf_op(h, LATHE_OP_ROTARY_EMBEDDING, hf_name(h, "%s.k_rot", m), 1, &k, 1, &theta, &k));
  }
  lathe_attr_t attrs[2] = {lathe_attr_int("causal", 1), lathe_attr_float("scale", a->scale)};
  lathe_value_t *y = NULL;
  LATHE_RETURN_IF_ERROR(hf_op(h, LATHE_OP_ATTENTION, hf_name(h, "%s.attention", m), 3,
                              (lathe_value_t *[]){q, k, v}, a->scale > 0 ? 2 : 1, attrs, &y));
  lathe_attr_t perm = lathe_attr_ints("perm", to_heads_perm, 4);
  LATHE_RETURN_IF_ERROR(
      hf_op(h, LATHE_OP_TRANSPOSE, hf_name(h, "%s.context_heads", m), 1, &y, 1, &perm, &y));
  lathe_attr_t shape = lathe_attr_ints("shape", (int64_t[]){0, 0, a->heads * a->head_dim}, 3);
  return hf_op(h, LATHE_OP_RESHAPE, hf_name(h, "%s.context", m), 1, &y, 1, &shape, out);
}

lathe_status_t hf_positions(hf_builder_t *h, int64_t offset, lathe_value_t **out) {
  lathe_attr_t axis = lathe_attr_int("axis", 1);
  lathe_value_t *p = NULL;
  LATHE_RETURN_IF_ERROR(hf_op(h, LATHE_OP_IOTA, "position_ids", 1, &h->input_ids, 1, &axis, &p));
  if (offset != 0) {
    lathe_weight_t *w = NULL;
    LATHE_RETURN_IF_ERROR(
        lathe_weight_create_inline(h->module, LATHE_DTYPE_I64, &offset, sizeof offset, &w));
    lathe_type_t scalar = {LATHE_DTYPE_I64, 0, NULL};
    lathe_value_t *c = NULL;
    LATHE_RETURN_IF_ERROR(lathe_build_const(&h->at_end, w, &scalar, &c));
    c->name = "position_offset";
    LATHE_RETURN_IF_ERROR(
        hf_op(h, LATHE_OP_ADD, "position_rows", 2, (lathe_value_t *[]){p, c}, 0, NULL, &p));
  }
  *out = p;
  return NULL;
}
