/* Llama (model_type "llama"): LlamaForCausalLM checkpoints.
 *
 * Pre-norm blocks with RMSNorm, rotary position embeddings in transformers'
 * rotate_half convention on the queries and keys, grouped-query attention
 * (num_key_value_heads key/value heads, each serving a run of consecutive
 * query heads), and a SwiGLU MLP: down(act(gate(x)) * up(x)). nn.Linear
 * layouts throughout; biases only when attention_bias / mlp_bias say so; the
 * lm_head is its own tensor unless tie_word_embeddings. Tensor names come as
 * "model.*" (LlamaForCausalLM) or bare (LlamaModel); "lm_head.weight" is never
 * prefixed. docs/hf.md has the key and tensor tables;
 * tests/gen/hf_reference.py's llama() is the math this mirrors.
 */
#include <inttypes.h>

#include "frontend/hf/hf_internal.h"

typedef struct {
  int64_t hidden, ffn, heads, kv_heads, head_dim, layers, vocab;
  double eps, theta;
  hf_act_t act;
  bool tied, attn_bias, mlp_bias;
} llama_t;

static lathe_status_t read_config(const hf_config_t *c, llama_t *m) {
  LATHE_RETURN_IF_ERROR(hf_config_size(c, "hidden_size", &m->hidden));
  LATHE_RETURN_IF_ERROR(hf_config_size(c, "intermediate_size", &m->ffn));
  LATHE_RETURN_IF_ERROR(hf_config_size(c, "num_attention_heads", &m->heads));
  LATHE_RETURN_IF_ERROR(hf_config_size(c, "num_hidden_layers", &m->layers));
  LATHE_RETURN_IF_ERROR(hf_config_size(c, "vocab_size", &m->vocab));
  LATHE_RETURN_IF_ERROR(hf_config_size_or(c, "num_key_value_heads", m->heads, &m->kv_heads));
  LATHE_RETURN_IF_ERROR(hf_config_check_divides(c, "num_key_value_heads", m->kv_heads,
                                                "num_attention_heads", m->heads));
  /* head_dim is written by recent transformers; older configs imply it. */
  if (!hf_config_has(c, "head_dim"))
    LATHE_RETURN_IF_ERROR(
        hf_config_check_divides(c, "num_attention_heads", m->heads, "hidden_size", m->hidden));
  LATHE_RETURN_IF_ERROR(hf_config_size_or(c, "head_dim", m->hidden / m->heads, &m->head_dim));
  if (m->head_dim % 2 != 0)
    return hf_config_error(c, LATHE_STATUS_INVALID_ARGUMENT, "head_dim",
                           "%" PRId64 " is odd; rotary embeddings rotate pairs of features",
                           m->head_dim);
  LATHE_RETURN_IF_ERROR(hf_config_number_or(c, "rms_norm_eps", 1e-6, &m->eps));
  LATHE_RETURN_IF_ERROR(hf_config_number_or(c, "rope_theta", 10000.0, &m->theta));
  if (!(m->theta > 0))
    return hf_config_error(c, LATHE_STATUS_INVALID_ARGUMENT, "rope_theta", "must be > 0");
  LATHE_RETURN_IF_ERROR(hf_config_require_null(c, "rope_scaling"));
  int64_t positions = 0; /* not needed to build the graph, but must be well formed */
  LATHE_RETURN_IF_ERROR(hf_config_size_or(c, "max_position_embeddings", 2048, &positions));
  LATHE_RETURN_IF_ERROR(hf_config_activation_or(c, "hidden_act", "silu", &m->act));
  LATHE_RETURN_IF_ERROR(hf_config_bool_or(c, "tie_word_embeddings", false, &m->tied));
  LATHE_RETURN_IF_ERROR(hf_config_bool_or(c, "attention_bias", false, &m->attn_bias));
  return hf_config_bool_or(c, "mlp_bias", false, &m->mlp_bias);
}

static lathe_status_t block(hf_builder_t *h, const llama_t *m, int64_t i, lathe_value_t **x) {
  const char *l = hf_name(h, "%slayers.%" PRId64, h->prefix, i);
  const char *attn = hf_name(h, "%s.self_attn", l), *mlp = hf_name(h, "%s.mlp", l);
  int64_t e = m->hidden, q_dim = m->heads * m->head_dim, kv_dim = m->kv_heads * m->head_dim;
  bool ab = m->attn_bias, mb = m->mlp_bias;
  lathe_value_t *a = NULL, *q = NULL, *k = NULL, *v = NULL, *y = NULL, *up = NULL;
  LATHE_RETURN_IF_ERROR(
      hf_norm(h, HF_RMS_NORM, *x, hf_name(h, "%s.input_layernorm", l), e, m->eps, true, &a));
  LATHE_RETURN_IF_ERROR(
      hf_linear(h, a, hf_name(h, "%s.q_proj", attn), HF_LINEAR, e, q_dim, ab, &q));
  LATHE_RETURN_IF_ERROR(
      hf_linear(h, a, hf_name(h, "%s.k_proj", attn), HF_LINEAR, e, kv_dim, ab, &k));
  LATHE_RETURN_IF_ERROR(
      hf_linear(h, a, hf_name(h, "%s.v_proj", attn), HF_LINEAR, e, kv_dim, ab, &v));
  hf_attention_t spec = {attn, m->heads, m->kv_heads, m->head_dim, 0.0, m->theta};
  LATHE_RETURN_IF_ERROR(hf_self_attention(h, &spec, q, k, v, &y));
  LATHE_RETURN_IF_ERROR(
      hf_linear(h, y, hf_name(h, "%s.o_proj", attn), HF_LINEAR, q_dim, e, ab, &y));
  LATHE_RETURN_IF_ERROR(hf_op(h, LATHE_OP_ADD, hf_name(h, "%s.attn_residual", l), 2,
                              (lathe_value_t *[]){*x, y}, 0, NULL, x));
  LATHE_RETURN_IF_ERROR(hf_norm(h, HF_RMS_NORM, *x, hf_name(h, "%s.post_attention_layernorm", l), e,
                                m->eps, true, &a));
  LATHE_RETURN_IF_ERROR(
      hf_linear(h, a, hf_name(h, "%s.gate_proj", mlp), HF_LINEAR, e, m->ffn, mb, &y));
  LATHE_RETURN_IF_ERROR(hf_activation(h, m->act, y, hf_name(h, "%s.act", mlp), &y));
  LATHE_RETURN_IF_ERROR(
      hf_linear(h, a, hf_name(h, "%s.up_proj", mlp), HF_LINEAR, e, m->ffn, mb, &up));
  LATHE_RETURN_IF_ERROR(hf_op(h, LATHE_OP_MUL, hf_name(h, "%s.gated", mlp), 2,
                              (lathe_value_t *[]){y, up}, 0, NULL, &y));
  LATHE_RETURN_IF_ERROR(
      hf_linear(h, y, hf_name(h, "%s.down_proj", mlp), HF_LINEAR, m->ffn, e, mb, &y));
  return hf_op(h, LATHE_OP_ADD, l, 2, (lathe_value_t *[]){*x, y}, 0, NULL, x);
}

lathe_status_t hf_build_llama(hf_builder_t *h, const hf_config_t *c, lathe_value_t **out_logits) {
  llama_t m;
  LATHE_RETURN_IF_ERROR(read_config(c, &m));
  LATHE_RETURN_IF_ERROR(hf_choose_prefix(h, "model.", "embed_tokens.weight"));
  const char *p = h->prefix, *tokens = hf_name(h, "%sembed_tokens.weight", p);
  lathe_value_t *x = NULL;
  LATHE_RETURN_IF_ERROR(hf_embedding(h, tokens, m.vocab, m.hidden, h->input_ids,
                                     hf_name(h, "%sembed_tokens", p), &x));
  for (int64_t i = 0; i < m.layers; ++i) LATHE_RETURN_IF_ERROR(block(h, &m, i, &x));
  LATHE_RETURN_IF_ERROR(
      hf_norm(h, HF_RMS_NORM, x, hf_name(h, "%snorm", p), m.hidden, m.eps, true, &x));
  return hf_lm_head(h, x, m.tied ? tokens : "lm_head.weight", m.vocab, m.hidden, out_logits);
}
