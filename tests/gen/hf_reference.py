"""Reference forward passes for the GPT-2, OPT and Llama families, in numpy.

These are the oracles behind the logits.npy files hf_models.py writes: Lathe
imports a Hugging Face folder and must reproduce them. They follow the
transformers implementations' conventions (tensor names and layouts, the OPT
position offset, Llama's rotate_half rotary embedding, GQA head sharing) but are
written from the math, in float64, for clarity rather than speed.

Each family's forward(weights, config, input_ids, past=None) takes weights as a
dict name -> array and a config dict as stored in config.json, and returns
(logits [B, S, vocab], present). `past`/`present` hold each layer's keys and
values (before GQA repetition), so decoding one token at a time can be checked
against a full-sequence pass.
"""

import numpy as np


# --- building blocks --------------------------------------------------------

def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def rms_norm(x, weight, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * weight


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def gelu_new(x):
    """GPT-2's tanh approximation of GELU."""
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1 + np.exp(-x))


def relu(x):
    return np.maximum(x, 0)


def linear(x, w, name, bias=True):
    """nn.Linear: weight stored [out, in]."""
    y = x @ w[name + ".weight"].T
    return y + w[name + ".bias"] if bias else y


def conv1d(x, w, name):
    """GPT-2's Conv1D: weight stored [in, out]."""
    return x @ w[name + ".weight"] + w[name + ".bias"]


def split_heads(x, heads):
    """[B, S, heads*D] -> [B, heads, S, D]"""
    b, s, _ = x.shape
    return x.reshape(b, s, heads, -1).transpose(0, 2, 1, 3)


def merge_heads(x):
    """[B, heads, S, D] -> [B, S, heads*D]"""
    b, h, s, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, s, h * d)


def past_length(past):
    return 0 if past is None else past[0][0].shape[2]


def attention(q, k, v, layer_past):
    """Causal scaled dot-product attention for new queries after a cache.

    q: [B, Hq, Sq, D] for positions start..start+Sq-1, where start is the cached
    length; k, v: [B, Hkv, Sq, D] for the same positions. Hkv divides Hq; each
    key/value head serves Hq/Hkv consecutive query heads (transformers'
    repeat_kv). Returns the context [B, Hq, Sq, D] and the extended (k, v)."""
    if layer_past is not None:
        k = np.concatenate([layer_past[0], k], axis=2)
        v = np.concatenate([layer_past[1], v], axis=2)
    present = (k, v)
    repeat = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, repeat, axis=1), np.repeat(v, repeat, axis=1)
    start = k.shape[2] - q.shape[2]
    visible = np.arange(k.shape[2])[None, :] <= start + np.arange(q.shape[2])[:, None]
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])
    return softmax(np.where(visible, scores, -np.inf)) @ v, present


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def rope(x, positions, theta):
    """Rotary embedding as transformers applies it to Llama's q and k: the
    frequencies fill both halves of the head dimension (not interleaved pairs)."""
    d = x.shape[-1]
    inv_freq = 1.0 / theta ** (np.arange(0, d, 2) / d)
    angles = np.outer(positions, inv_freq)
    angles = np.concatenate([angles, angles], axis=-1)         # [S, D]
    return x * np.cos(angles) + rotate_half(x) * np.sin(angles)


# --- families -----------------------------------------------------------------

def gpt2(w, cfg, ids, past=None):
    eps, heads = cfg["layer_norm_epsilon"], cfg["n_head"]
    start = past_length(past)
    h = w["wte.weight"][ids] + w["wpe.weight"][start + np.arange(ids.shape[1])]
    present = []
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        a = layer_norm(h, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        q, k, v = (split_heads(t, heads) for t in np.split(conv1d(a, w, p + "attn.c_attn"), 3, -1))
        ctx, kv = attention(q, k, v, None if past is None else past[i])
        present.append(kv)
        h = h + conv1d(merge_heads(ctx), w, p + "attn.c_proj")
        m = layer_norm(h, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        h = h + conv1d(gelu_new(conv1d(m, w, p + "mlp.c_fc")), w, p + "mlp.c_proj")
    h = layer_norm(h, w["ln_f.weight"], w["ln_f.bias"], eps)
    return h @ w["wte.weight"].T, present                     # lm_head tied to wte


OPT_POSITION_OFFSET = 2     # OPT's learned positions start at row 2 of embed_positions
OPT_LN_EPS = 1e-5           # nn.LayerNorm's default; OPT's config has no epsilon key


def opt(w, cfg, ids, past=None):
    """Pre-LN OPT (do_layer_norm_before, word_embed_proj_dim == hidden_size, as
    every OPT but opt-350m), all-ones attention mask."""
    if not cfg["do_layer_norm_before"] or cfg["word_embed_proj_dim"] != cfg["hidden_size"]:
        raise ValueError("reference covers pre-LN OPT without project_in/out only")
    heads, d = cfg["num_attention_heads"], "model.decoder."

    def ln(x, name):
        return layer_norm(x, w[name + ".weight"], w[name + ".bias"], OPT_LN_EPS)

    positions = past_length(past) + np.arange(ids.shape[1]) + OPT_POSITION_OFFSET
    h = w[d + "embed_tokens.weight"][ids] + w[d + "embed_positions.weight"][positions]
    present = []
    for i in range(cfg["num_hidden_layers"]):
        p = f"{d}layers.{i}."
        a = ln(h, p + "self_attn_layer_norm")
        q, k, v = (split_heads(linear(a, w, f"{p}self_attn.{n}_proj"), heads) for n in "qkv")
        ctx, kv = attention(q, k, v, None if past is None else past[i])
        present.append(kv)
        h = h + linear(merge_heads(ctx), w, p + "self_attn.out_proj")
        m = ln(h, p + "final_layer_norm")
        h = h + linear(relu(linear(m, w, p + "fc1")), w, p + "fc2")
    h = ln(h, d + "final_layer_norm")
    return h @ w[d + "embed_tokens.weight"].T, present        # lm_head tied


def llama(w, cfg, ids, past=None):
    heads, kv_heads = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    eps, theta = cfg["rms_norm_eps"], cfg["rope_theta"]
    positions = past_length(past) + np.arange(ids.shape[1])
    h = w["model.embed_tokens.weight"][ids]
    present = []
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = rms_norm(h, w[p + "input_layernorm.weight"], eps)
        q = rope(split_heads(linear(a, w, p + "self_attn.q_proj", bias=False), heads), positions, theta)
        k = rope(split_heads(linear(a, w, p + "self_attn.k_proj", bias=False), kv_heads), positions, theta)
        v = split_heads(linear(a, w, p + "self_attn.v_proj", bias=False), kv_heads)
        ctx, kv = attention(q, k, v, None if past is None else past[i])
        present.append(kv)
        h = h + linear(merge_heads(ctx), w, p + "self_attn.o_proj", bias=False)
        m = rms_norm(h, w[p + "post_attention_layernorm.weight"], eps)
        gate = silu(linear(m, w, p + "mlp.gate_proj", bias=False))
        h = h + linear(gate * linear(m, w, p + "mlp.up_proj", bias=False), w, p + "mlp.down_proj", bias=False)
    h = rms_norm(h, w["model.norm.weight"], eps)
    return h @ w["lm_head.weight"].T, present


FORWARD = {"gpt2": gpt2, "opt": opt, "llama": llama}
