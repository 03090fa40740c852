/* OPT (model_type "opt"): OPTForCausalLM checkpoints.
 *
 * Pre-LN blocks (do_layer_norm_before; post-LN opt-350m is refused), separate
 * nn.Linear query/key/value/out projections, learned positions whose row for
 * position p is p + 2 (OPT reserves the first two rows), a configurable
 * activation (relu in every released model), and an lm_head tied to the token
 * embedding. Tensor names come as "model.decoder.*" (OPTForCausalLM) or
 * "decoder.*" (OPTModel, which is how facebook/opt-* checkpoints are saved).
 * docs/hf.md has the key and tensor tables; tests/gen/hf_reference.py's opt()
 * is the math this mirrors.
 */
#include <inttypes.h>

#include "frontend/hf/hf_internal.h"

/* OPTLearnedPositionalEmbedding's offset, and nn.LayerNorm's default epsilon
 * (OPT's config has no epsilon key). */
#define OPT_POSITION_OFFSET 2
#define OPT_LAYER_NORM_EPS 1e-5

typedef struct {
  int64_t hidden, heads, layers, ffn, positions, vocab;
  hf_act_t act;
  bool bias, affine, tied, final_norm;
} opt_t;

static lathe_status_t read_config(const hf_config_t *c, opt_t *o) {
  LATHE_RETURN_IF_ERROR(hf_config_size(c, "hidden_size", &o->hidden));
  LATHE_RETURN_IF_ERROR(hf_config_size(c, "num_attention_heads", &o->heads));
  LATHE_RETURN_IF_ERROR(hf_config_size(c, "num_hidden_layers", &o->layers));
  LATHE_RETURN_IF_ERROR(hf_config_size(c, "ffn_dim", &o->ffn));
  LATHE_RETURN_IF_ERROR(hf_config_size(c, "max_position_embeddings", &o->positions));
  LATHE_RETURN_IF_ERROR(hf_config_size(c, "vocab_size", &o->vocab));
  LATHE_RETURN_IF_ERROR(hf_config_require_bool(
      c, "do_layer_norm_before", true, "post-LN OPT, as opt-350m; only pre-LN is supported"));
  int64_t proj = 0;
  LATHE_RETURN_IF_ERROR(hf_config_size_or(c, "word_embed_proj_dim", o->hidden, &proj));
  if (proj != o->hidden)
    return hf_config_error(c, LATHE_STATUS_UNSUPPORTED, "word_embed_proj_dim",
                           "%" PRId64 " differs from hidden_size %" PRId64
                           " (project_in/project_out are not supported)",
                           proj, o->hidden);
  LATHE_RETURN_IF_ERROR(hf_config_activation_or(c, "activation_function", "relu", &o->act));
  LATHE_RETURN_IF_ERROR(hf_config_bool_or(c, "enable_bias", true, &o->bias));
  LATHE_RETURN_IF_ERROR(hf_config_bool_or(c, "layer_norm_elementwise_affine", true, &o->affine));
  LATHE_RETURN_IF_ERROR(hf_config_bool_or(c, "tie_word_embeddings", true, &o->tied));
  bool removed = false;
  LATHE_RETURN_IF_ERROR(hf_config_bool_or(c, "_remove_final_layer_norm", false, &removed));
  o->final_norm = !removed;
  return hf_config_check_divides(c, "num_attention_heads", o->heads, "hidden_size", o->hidden);
}

static lathe_status_t block(hf_builder_t *h, const opt_t *o, const char *decoder, int64_t i,
                            lathe_value_t **x) {
  const char *l = hf_name(h, "%slayers.%" PRId64, decoder, i);
  const char *attn = hf_name(h, "%s.self_attn", l);
  int64_t e = o->hidden;
  lathe_value_t *a = NULL, *q = NULL, *k = NULL, *v = NULL, *y = NULL;
  LATHE_RETURN_IF_ERROR(hf_norm(h, HF_LAYER_NORM, *x, hf_name(h, "%s.self_attn_layer_norm", l), e,
                                OPT_LAYER_NORM_EPS, o->affine, &a));
  LATHE_RETURN_IF_ERROR(
      hf_linear(h, a, hf_name(h, "%s.q_proj", attn), HF_LINEAR, e, e, o->bias, &q));
  LATHE_RETURN_IF_ERROR(
      hf_linear(h, a, hf_name(h, "%s.k_proj", attn), HF_LINEAR, e, e, o->bias, &k));
  LATHE_RETURN_IF_ERROR(
      hf_linear(h, a, hf_name(h, "%s.v_proj", attn), HF_LINEAR, e, e, o->bias, &v));
  hf_attention_t spec = {attn, o->heads, o->heads, e / o->heads, 0.0, 0.0};
  LATHE_RETURN_IF_ERROR(hf_self_attention(h, &spec, q, k, v, &y));
  LATHE_RETURN_IF_ERROR(
      hf_linear(h, y, hf_name(h, "%s.out_proj", attn), HF_LINEAR, e, e, o->bias, &y));
  LATHE_RETURN_IF_ERROR(hf_op(h, LATHE_OP_ADD, hf_name(h, "%s.attn_residual", l), 2,
                              (lathe_value_t *[]){*x, y}, 0, NULL, x));
  LATHE_RETURN_IF_ERROR(hf_norm(h, HF_LAYER_NORM, *x, hf_name(h, "%s.final_layer_norm", l), e,
                                OPT_LAYER_NORM_EPS, o->affine, &a));
  LATHE_RETURN_IF_ERROR(
      hf_linear(h, a, hf_name(h, "%s.fc1", l), HF_LINEAR, e, o->ffn, o->bias, &y));
  LATHE_RETURN_IF_ERROR(hf_activation(h, o->act, y, hf_name(h, "%s.activation", l), &y));
  LATHE_RETURN_IF_ERROR(
      hf_linear(h, y, hf_name(h, "%s.fc2", l), HF_LINEAR, o->ffn, e, o->bias, &y));
  return hf_op(h, LATHE_OP_ADD, l, 2, (lathe_value_t *[]){*x, y}, 0, NULL, x);
}

lathe_status_t hf_build_opt(hf_builder_t *h, const hf_config_t *c, lathe_value_t **out_logits) {
  opt_t o;
  LATHE_RETURN_IF_ERROR(read_config(c, &o));
  LATHE_RETURN_IF_ERROR(hf_choose_prefix(h, "model.", "decoder.embed_tokens.weight"));
  const char *d = hf_name(h, "%sdecoder.", h->prefix);
  const char *tokens_weight = hf_name(h, "%sembed_tokens.weight", d);
  lathe_value_t *tokens = NULL, *positions = NULL, *x = NULL;
  LATHE_RETURN_IF_ERROR(hf_embedding(h, tokens_weight, o.vocab, o.hidden, h->input_ids,
                                     hf_name(h, "%sembed_tokens", d), &tokens));
  LATHE_RETURN_IF_ERROR(hf_positions(h, OPT_POSITION_OFFSET, &positions));
  LATHE_RETURN_IF_ERROR(hf_embedding(h, hf_name(h, "%sembed_positions.weight", d),
                                     o.positions + OPT_POSITION_OFFSET, o.hidden, positions,
                                     hf_name(h, "%sembed_positions", d), &x));
  LATHE_RETURN_IF_ERROR(hf_op(h, LATHE_OP_ADD, hf_name(h, "%sembed", d), 2,
                              (lathe_value_t *[]){tokens, x}, 0, NULL, &x));
  for (int64_t i = 0; i < o.layers; ++i) LATHE_RETURN_IF_ERROR(block(h, &o, d, i, &x));
  if (o.final_norm)
    LATHE_RETURN_IF_ERROR(hf_norm(h, HF_LAYER_NORM, x, hf_name(h, "%sfinal_layer_norm", d),
                                  o.hidden, OPT_LAYER_NORM_EPS, o.affine, &x));
  return hf_lm_head(h, x, o.tied ? tokens_weight : "lm_head.weight", o.vocab, o.hidden, out_logits);
}
