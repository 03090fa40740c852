/* GPT-2 (model_type "gpt2"): GPT2LMHeadModel checkpoints.
 *
 * Pre-LN blocks with learned positions, Conv1D projections (weights stored
 * [in, out], so they multiply directly), one fused query/key/value projection
 * whose output is split in three, and an lm_head tied to the token
 * embedding. Tensor names come with or without the "transformer." prefix that
 * GPT2LMHeadModel adds to GPT2Model's. docs/hf.md has the key and tensor
 * tables; tests/gen/hf_reference.py's gpt2() is the math this mirrors.
 */
#include <inttypes.h>
#include <math.h>

#include "frontend/hf/hf_internal.h"

typedef struct {
  int64_t embd, heads, layers, positions, inner, vocab;
  double eps;
  hf_act_t act;
  bool tied, scale_weights, scale_by_layer;
} gpt2_t;

static lathe_status_t read_config(const hf_config_t *c, gpt2_t *g) {
  LATHE_RETURN_IF_ERROR(hf_config_size(c, "n_embd", &g->embd));
  LATHE_RETURN_IF_ERROR(hf_config_size(c, "n_head", &g->heads));
  LATHE_RETURN_IF_ERROR(hf_config_size(c, "n_layer", &g->layers));
  LATHE_RETURN_IF_ERROR(hf_config_size(c, "n_positions", &g->positions));
  LATHE_RETURN_IF_ERROR(hf_config_size(c, "vocab_size", &g->vocab));
  LATHE_RETURN_IF_ERROR(hf_config_size_or(c, "n_inner", 4 * g->embd, &g->inner));
  LATHE_RETURN_IF_ERROR(hf_config_number_or(c, "layer_norm_epsilon", 1e-5, &g->eps));
  LATHE_RETURN_IF_ERROR(hf_config_activation_or(c, "activation_function", "gelu_new", &g->act));
  LATHE_RETURN_IF_ERROR(hf_config_bool_or(c, "tie_word_embeddings", true, &g->tied));
  LATHE_RETURN_IF_ERROR(hf_config_bool_or(c, "scale_attn_weights", true, &g->scale_weights));
  LATHE_RETURN_IF_ERROR(
      hf_config_bool_or(c, "scale_attn_by_inverse_layer_idx", false, &g->scale_by_layer));
  LATHE_RETURN_IF_ERROR(
      hf_config_require_bool(c, "add_cross_attention", false, "cross-attention needs an encoder"));
  return hf_config_check_divides(c, "n_head", g->heads, "n_embd", g->embd);
}

/* The fused c_attn output [N, seq, 3E] -> query, key, value [N, seq, E]. */
static lathe_status_t split_qkv(hf_builder_t *h, lathe_value_t *qkv, const char *attn, int64_t embd,
                                lathe_value_t **out_qkv) {
  lathe_attr_t attrs[2] = {lathe_attr_int("axis", 2),
                           lathe_attr_ints("split", (int64_t[]){embd, embd, embd}, 3)};
  lathe_op_t *op = NULL;
  LATHE_RETURN_IF_ERROR_CTX(lathe_build_op(&h->at_end, LATHE_OP_SPLIT, 1, &qkv, 2, attrs, 3, &op),
                            "building %%%s.query", attn);
  static const char *const names[3] = {"query", "key", "value"};
  for (int i = 0; i < 3; ++i) {
    op->results[i].name = hf_name(h, "%s.%s", attn, names[i]);
    out_qkv[i] = &op->results[i];
  }
  return NULL;
}

/* GPT2Attention divides the scores by sqrt(head size) (scale_attn_weights)
 * and, for some checkpoints, by the 1-based layer number too. 0 keeps the
 * attention op's own default, 1/sqrt(head size). */
static double layer_scale(const gpt2_t *g, int64_t layer) {
  if (g->scale_weights && !g->scale_by_layer) return 0.0;
  double s = g->scale_weights ? 1.0 / sqrt((double)(g->embd / g->heads)) : 1.0;
  return g->scale_by_layer ? s / (double)(layer + 1) : s;
}

static lathe_status_t block(hf_builder_t *h, const gpt2_t *g, int64_t i, lathe_value_t **x) {
  const char *l = hf_name(h, "%sh.%" PRId64, h->prefix, i);
  const char *attn = hf_name(h, "%s.attn", l), *mlp = hf_name(h, "%s.mlp", l);
  int64_t e = g->embd;
  lathe_value_t *a = NULL, *qkv[3], *y = NULL;
  LATHE_RETURN_IF_ERROR(
      hf_norm(h, HF_LAYER_NORM, *x, hf_name(h, "%s.ln_1", l), e, g->eps, true, &a));
  LATHE_RETURN_IF_ERROR(
      hf_linear(h, a, hf_name(h, "%s.c_attn", attn), HF_CONV1D, e, 3 * e, true, &a));
  LATHE_RETURN_IF_ERROR(split_qkv(h, a, attn, e, qkv));
  hf_attention_t spec = {attn, g->heads, g->heads, e / g->heads, layer_scale(g, i), 0.0};
  LATHE_RETURN_IF_ERROR(hf_self_attention(h, &spec, qkv[0], qkv[1], qkv[2], &y));
  LATHE_RETURN_IF_ERROR(hf_linear(h, y, hf_name(h, "%s.c_proj", attn), HF_CONV1D, e, e, true, &y));
  LATHE_RETURN_IF_ERROR(hf_op(h, LATHE_OP_ADD, hf_name(h, "%s.attn_residual", l), 2,
                              (lathe_value_t *[]){*x, y}, 0, NULL, x));
  LATHE_RETURN_IF_ERROR(
      hf_norm(h, HF_LAYER_NORM, *x, hf_name(h, "%s.ln_2", l), e, g->eps, true, &a));
  LATHE_RETURN_IF_ERROR(
      hf_linear(h, a, hf_name(h, "%s.c_fc", mlp), HF_CONV1D, e, g->inner, true, &y));
  LATHE_RETURN_IF_ERROR(hf_activation(h, g->act, y, hf_name(h, "%s.act", mlp), &y));
  LATHE_RETURN_IF_ERROR(
      hf_linear(h, y, hf_name(h, "%s.c_proj", mlp), HF_CONV1D, g->inner, e, true, &y));
  return hf_op(h, LATHE_OP_ADD, l, 2, (lathe_value_t *[]){*x, y}, 0, NULL, x);
}

lathe_status_t hf_build_gpt2(hf_builder_t *h, const hf_config_t *c, lathe_value_t **out_logits) {
  gpt2_t g;
  LATHE_RETURN_IF_ERROR(read_config(c, &g));
  LATHE_RETURN_IF_ERROR(hf_choose_prefix(h, "transformer.", "wte.weight"));
  const char *p = h->prefix, *wte = hf_name(h, "%swte.weight", p);
  lathe_value_t *tokens = NULL, *positions = NULL, *x = NULL;
  LATHE_RETURN_IF_ERROR(
      hf_embedding(h, wte, g.vocab, g.embd, h->input_ids, hf_name(h, "%swte", p), &tokens));
  LATHE_RETURN_IF_ERROR(hf_positions(h, 0, &positions));
  LATHE_RETURN_IF_ERROR(hf_embedding(h, hf_name(h, "%swpe.weight", p), g.positions, g.embd,
                                     positions, hf_name(h, "%swpe", p), &x));
  LATHE_RETURN_IF_ERROR(hf_op(h, LATHE_OP_ADD, hf_name(h, "%sembed", p), 2,
                              (lathe_value_t *[]){tokens, x}, 0, NULL, &x));
  for (int64_t i = 0; i < g.layers; ++i) LATHE_RETURN_IF_ERROR(block(h, &g, i, &x));
  LATHE_RETURN_IF_ERROR(
      hf_norm(h, HF_LAYER_NORM, x, hf_name(h, "%sln_f", p), g.embd, g.eps, true, &x));
  return hf_lm_head(h, x, g.tied ? wte : "lm_head.weight", g.vocab, g.embd, out_logits);
}
