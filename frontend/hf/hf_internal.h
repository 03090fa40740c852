/* Internals of the Hugging Face importer, shared by its files:
 *
 *   config.c        typed reads of config.json keys, with one-line errors
 *   build_common.c  the graph pieces every family uses (checked weights,
 *                   projections, norms, activations, multi-head attention)
 *   gpt2.c opt.c llama.c   one builder per family
 *   import.c        the entry point: folder, config, weight source, dispatch
 *
 * Names in the graph follow the checkpoint: a const is named after its tensor
 * and an activation after the module that produces it (`%h.0.ln_1`,
 * `%model.layers.3.self_attn.q_proj`), with a suffix for the steps inside a
 * module (`.matmul`, `.q_heads`), so the IR reads like the model's code.
 */
#ifndef LATHE_FRONTEND_HF_INTERNAL_H
#define LATHE_FRONTEND_HF_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "frontend/hf/hf_import.h"
#include "support/hashmap.h"

/* ---- config.json (config.c) ------------------------------------------------ */

/* Sizes above this are refused as malformed, so products of a few of them
 * (3 * n_embd, heads * head_dim) stay far from overflow. */
#define HF_MAX_SIZE ((int64_t)1 << 31)

typedef struct hf_config {
  const char *path; /* "DIR/config.json", as the messages print it */
  cJSON *root;      /* an object */
} hf_config_t;

/* Reads and parses `path`; the root must be a JSON object. */
lathe_status_t hf_config_load(const char *path, hf_config_t *out_config);
void hf_config_free(hf_config_t *config);

/* "PATH: KEY: message". */
lathe_status_t hf_config_error(const hf_config_t *config, lathe_status_code_t code, const char *key,
                               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* True when `key` is present and not null. */
bool hf_config_has(const hf_config_t *config, const char *key);
/* Required keys fail when absent or null; the _or forms return `fallback`
 * then. Integers are sizes: whole numbers in [1, HF_MAX_SIZE]. */
lathe_status_t hf_config_size(const hf_config_t *config, const char *key, int64_t *out);
lathe_status_t hf_config_size_or(const hf_config_t *config, const char *key, int64_t fallback,
                                 int64_t *out);
/* Finite numbers >= 0 (epsilons, rope theta). */
lathe_status_t hf_config_number_or(const hf_config_t *config, const char *key, double fallback,
                                   double *out);
lathe_status_t hf_config_bool_or(const hf_config_t *config, const char *key, bool fallback,
                                 bool *out);
/* Borrowed from the config. */
lathe_status_t hf_config_string(const hf_config_t *config, const char *key, const char **out);
lathe_status_t hf_config_string_or(const hf_config_t *config, const char *key, const char *fallback,
                                   const char **out);
/* Fails (UNSUPPORTED) unless `key` is absent or null: for features such as
 * rope_scaling that change the math when set. */
lathe_status_t hf_config_require_null(const hf_config_t *config, const char *key);
/* Fails (UNSUPPORTED) when `key` is present and not `expected`. */
lathe_status_t hf_config_require_bool(const hf_config_t *config, const char *key, bool expected,
                                      const char *why);
/* Fails (INVALID_ARGUMENT) unless `divisor_key`'s value divides `key`'s. */
lathe_status_t hf_config_check_divides(const hf_config_t *config, const char *divisor_key,
                                       int64_t divisor, const char *key, int64_t value);

/* Activation functions by their transformers (ACT2FN) name. */
typedef enum {
  HF_ACT_RELU,
  HF_ACT_GELU,      /* exact, erf */
  HF_ACT_GELU_TANH, /* gelu_new and its aliases */
  HF_ACT_SILU,
} hf_act_t;

lathe_status_t hf_config_activation_or(const hf_config_t *config, const char *key,
                                       const char *fallback, hf_act_t *out);

/* ---- graph building (build_common.c) --------------------------------------- */

typedef struct hf_builder {
  lathe_module_t *module;
  lathe_graph_t *graph;
  lathe_builder_t at_end;
  const char *weights_path; /* the checkpoint file or index, for messages */
  const char *prefix;       /* prepended to the family's tensor names */
  lathe_value_t *input_ids; /* i64[N, seq] */
  lathe_hashmap_t weights;  /* tensor name -> its f32 value (tied weights share it) */
} hf_builder_t;

/* nn.Linear stores a weight [out, in]; GPT-2's Conv1D stores [in, out]. */
typedef enum { HF_LINEAR, HF_CONV1D } hf_layout_t;

/* An arena copy of the formatted string (value names). */
const char *hf_name(hf_builder_t *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether the checkpoint has a tensor called `name`; fails only when looking
 * breaks (a shard the index names is missing or malformed). */
lathe_status_t hf_find_tensor(hf_builder_t *h, const char *name, bool *out_found);

/* The f32 value of tensor `name` (a full name: the builder's prefix is not
 * added), checked to be present, f32/f16/bf16 and of shape `dims`. */
lathe_status_t hf_weight(hf_builder_t *h, const char *name, uint32_t rank, const int64_t *dims,
                         lathe_value_t **out_value);

/* Builds one op with inferred result types, naming result 0 `name`. */
lathe_status_t hf_op(hf_builder_t *h, lathe_op_kind_t kind, const char *name, uint32_t num_operands,
                     lathe_value_t *const *operands, uint32_t num_attrs, const lathe_attr_t *attrs,
                     lathe_value_t **out_value);

/* table[ids] along axis 0: embeddings [..., dim] of the rows `ids` names. */
lathe_status_t hf_embedding(hf_builder_t *h, const char *tensor, int64_t rows, int64_t dim,
                            lathe_value_t *ids, const char *name, lathe_value_t **out_value);

/* x @ W (+ b) for the projection `module` (tensors "<module>.weight" and,
 * when `bias`, "<module>.bias"); the result is named `module`. */
lathe_status_t hf_linear(hf_builder_t *h, lathe_value_t *x, const char *module, hf_layout_t layout,
                         int64_t in, int64_t out, bool bias, lathe_value_t **out_value);
/* The logits: x @ tensor^T for an embedding-shaped [vocab, dim] tensor (the
 * tied input embedding or lm_head.weight), named "logits". */
lathe_status_t hf_lm_head(hf_builder_t *h, lathe_value_t *x, const char *tensor, int64_t vocab,
                          int64_t dim, lathe_value_t **out_value);

typedef enum { HF_LAYER_NORM, HF_RMS_NORM } hf_norm_kind_t;
/* Normalizes the last dim (`dim` wide) of x with module `module`'s weight
 * (and bias for layer norm); without `affine` the scale is ones and there is
 * no bias. */
lathe_status_t hf_norm(hf_builder_t *h, hf_norm_kind_t kind, lathe_value_t *x, const char *module,
                       int64_t dim, double eps, bool affine, lathe_value_t **out_value);

lathe_status_t hf_activation(hf_builder_t *h, hf_act_t act, lathe_value_t *x, const char *name,
                             lathe_value_t **out_value);

/* Causal self-attention on projections q, k, v of layout [N, seq, heads*D]:
 * split into heads, optional rotary embedding, attention, heads merged back
 * into [N, seq, heads*D]. Values are named "<module>.q", ... */
typedef struct hf_attention {
  const char *module;
  int64_t heads, kv_heads, head_dim;
  double scale;      /* 0: 1/sqrt(head_dim) */
  double rope_theta; /* 0: no rotary embedding */
} hf_attention_t;

lathe_status_t hf_self_attention(hf_builder_t *h, const hf_attention_t *a, lathe_value_t *q,
                                 lathe_value_t *k, lathe_value_t *v, lathe_value_t **out_value);

/* iota over input_ids' seq axis (+ offset when nonzero): i64[seq]. */
lathe_status_t hf_positions(hf_builder_t *h, int64_t offset, lathe_value_t **out_value);

/* ---- families (gpt2.c, opt.c, llama.c) --------------------------------------- */

/* Reads the family's config keys and builds its graph body; returns the
 * logits value. The builder's graph has input_ids and no ops yet. */
typedef lathe_status_t (*hf_family_build_fn)(hf_builder_t *h, const hf_config_t *config,
                                             lathe_value_t **out_logits);

lathe_status_t hf_build_gpt2(hf_builder_t *h, const hf_config_t *config,
                             lathe_value_t **out_logits);
lathe_status_t hf_build_opt(hf_builder_t *h, const hf_config_t *config, lathe_value_t **out_logits);
lathe_status_t hf_build_llama(hf_builder_t *h, const hf_config_t *config,
                              lathe_value_t **out_logits);

/* Sets h->prefix to `base` when the checkpoint has "<base><probe>", else to
 * "" when it has "<probe>"; fails naming both otherwise. */
lathe_status_t hf_choose_prefix(hf_builder_t *h, const char *base, const char *probe);

#endif
