#!/usr/bin/env python3
"""Writes tiny Hugging Face-style model folders for Lathe's HF importer tests.

Each folder DIR/NAME/ holds what `save_pretrained` would leave for a
GPT-2, OPT or Llama causal LM: config.json (the keys, values and formatting
transformers writes), model.safetensors with the family's tensor names and
layouts (or shards plus model.safetensors.index.json), and for the tests
input_ids.npy (int64 [2, 7]) and logits.npy (float32 [2, 7, vocab]) computed by
the numpy references in hf_reference.py. The sizes are tiny (hidden 32-64,
2 layers, vocab 100) so a whole forward pass runs in milliseconds.

--self-test checks the references against themselves (one-token-at-a-time
decoding equals the full-sequence pass, so the causal mask and the position
handling agree; GQA equals plain multi-head attention with repeated heads;
rotary embeddings rotate) and writes nothing.

usage: build/venv/bin/python tests/gen/hf_models.py --out DIR [--only NAME]...
       build/venv/bin/python tests/gen/hf_models.py --self-test
"""

import math
import os
import re
import sys

import numpy as np
from safetensors.numpy import save_file

import hf_reference
from common import SEED, arg_parser, normal, rng, run_registry, write_json

TRANSFORMERS_VERSION = "4.46.3"
VOCAB = 100
IDS_SHAPE = (2, 7)


# --- config.json, as transformers' save_pretrained writes it -------------------
# PretrainedConfig.to_diff_dict keeps every family-specific key, and shared keys
# only where they differ from PretrainedConfig's defaults. tie_word_embeddings
# is kept for GPT-2 although true is the default, because Lathe's loader is
# meant to read it; OPT's config shows the default case, where it is absent.

def common_keys(architecture, model_type):
    return {"architectures": [architecture], "model_type": model_type,
            "torch_dtype": "float32", "transformers_version": TRANSFORMERS_VERSION}


def gpt2_config():
    return {**common_keys("GPT2LMHeadModel", "gpt2"),
            "activation_function": "gelu_new", "attn_pdrop": 0.1, "bos_token_id": 98,
            "embd_pdrop": 0.1, "eos_token_id": 98, "initializer_range": 0.02,
            "layer_norm_epsilon": 1e-05, "n_embd": 32, "n_head": 4, "n_inner": None,
            "n_layer": 2, "n_positions": 32, "reorder_and_upcast_attn": False,
            "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False,
            "scale_attn_weights": True, "summary_activation": None,
            "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
            "summary_type": "cls_index", "summary_use_proj": True,
            "tie_word_embeddings": True, "use_cache": True, "vocab_size": VOCAB}


def opt_config():
    return {**common_keys("OPTForCausalLM", "opt"),
            "_remove_final_layer_norm": False, "activation_dropout": 0.0,
            "activation_function": "relu", "attention_dropout": 0.0, "bos_token_id": 2,
            "do_layer_norm_before": True, "dropout": 0.1, "enable_bias": True,
            "eos_token_id": 2, "ffn_dim": 64, "hidden_size": 32, "init_std": 0.02,
            "layer_norm_elementwise_affine": True, "layerdrop": 0.0,
            "max_position_embeddings": 32, "num_attention_heads": 4,
            "num_hidden_layers": 2, "pad_token_id": 1, "use_cache": True,
            "vocab_size": VOCAB, "word_embed_proj_dim": 32}


def llama_config():
    return {**common_keys("LlamaForCausalLM", "llama"),
            "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 1,
            "eos_token_id": 2, "head_dim": 16, "hidden_act": "silu", "hidden_size": 64,
            "initializer_range": 0.02, "intermediate_size": 128,
            "max_position_embeddings": 32, "mlp_bias": False, "num_attention_heads": 4,
            "num_hidden_layers": 2, "num_key_value_heads": 2, "pretraining_tp": 1,
            "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 10000.0,
            "tie_word_embeddings": False, "use_cache": True, "vocab_size": VOCAB}


# --- tensor names and shapes, in state_dict order --------------------------------

def gpt2_tensors(c):
    e, inner = c["n_embd"], c["n_inner"] or 4 * c["n_embd"]
    t = {"wte.weight": (c["vocab_size"], e), "wpe.weight": (c["n_positions"], e)}
    for i in range(c["n_layer"]):
        for name, shape in [("ln_1", (e,)), ("attn.c_attn", (e, 3 * e)), ("attn.c_proj", (e, e)),
                            ("ln_2", (e,)), ("mlp.c_fc", (e, inner)), ("mlp.c_proj", (inner, e))]:
            t[f"h.{i}.{name}.weight"] = shape                       # Conv1D: [in, out]
            t[f"h.{i}.{name}.bias"] = (shape[-1],)
    t |= {"ln_f.weight": (e,), "ln_f.bias": (e,)}
    return t


def opt_tensors(c):
    e, ffn, d = c["hidden_size"], c["ffn_dim"], "model.decoder."
    t = {d + "embed_tokens.weight": (c["vocab_size"], c["word_embed_proj_dim"]),
         d + "embed_positions.weight": (c["max_position_embeddings"] + hf_reference.OPT_POSITION_OFFSET, e)}
    for i in range(c["num_hidden_layers"]):
        p = f"{d}layers.{i}."
        for name, shape in [("self_attn.k_proj", (e, e)), ("self_attn.v_proj", (e, e)),
                            ("self_attn.q_proj", (e, e)), ("self_attn.out_proj", (e, e)),
                            ("self_attn_layer_norm", (e,)), ("fc1", (ffn, e)), ("fc2", (e, ffn)),
                            ("final_layer_norm", (e,))]:
            t[p + name + ".weight"] = shape                         # nn.Linear: [out, in]
            t[p + name + ".bias"] = shape[:1]
    t |= {d + "final_layer_norm.weight": (e,), d + "final_layer_norm.bias": (e,)}
    return t                       # lm_head.weight is tied: save_pretrained drops it


def llama_tensors(c):
    e, ffn, hd = c["hidden_size"], c["intermediate_size"], c["head_dim"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    t = {"model.embed_tokens.weight": (c["vocab_size"], e)}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        t |= {p + "self_attn.q_proj.weight": (q, e), p + "self_attn.k_proj.weight": (kv, e),
              p + "self_attn.v_proj.weight": (kv, e), p + "self_attn.o_proj.weight": (e, q),
              p + "mlp.gate_proj.weight": (ffn, e), p + "mlp.up_proj.weight": (ffn, e),
              p + "mlp.down_proj.weight": (e, ffn), p + "input_layernorm.weight": (e,),
              p + "post_attention_layernorm.weight": (e,)}
    t |= {"model.norm.weight": (e,), "lm_head.weight": (c["vocab_size"], e)}
    return t


# family -> (config, tensor table, which axis of a 2-D weight is its fan-in)
FAMILIES = {
    "gpt2": (gpt2_config, gpt2_tensors, 0),
    "opt": (opt_config, opt_tensors, 1),
    "llama": (llama_config, llama_tensors, 1),
}

NORM = re.compile(r"ln_|layer_?norm|\.norm\.")
EMBEDDING = re.compile(r"wte|wpe|embed_")


def init_tensor(gen, name, shape, fan_in_axis):
    """Norm scales near 1, small biases, embeddings of std 0.2, and matrices
    scaled by 1/sqrt(fan-in), so activations and logits stay O(1) and the
    attention patterns are far from uniform."""
    if NORM.search(name):
        return (1 if name.endswith(".weight") else 0) + normal(gen, shape, 0.1)
    if name.endswith(".bias"):
        return normal(gen, shape, 0.05)
    if EMBEDDING.search(name):
        return normal(gen, shape, 0.2)
    return normal(gen, shape, 1 / np.sqrt(shape[fan_in_axis]))


def build(family):
    """(config, weights as float32 arrays by tensor name) for one family."""
    make_config, tensors, fan_in_axis = FAMILIES[family]
    cfg = make_config()
    gen = rng()
    return cfg, {name: init_tensor(gen, name, shape, fan_in_axis)
                 for name, shape in tensors(cfg).items()}


def input_ids(cfg):
    return np.random.default_rng(SEED + 1).integers(0, cfg["vocab_size"], IDS_SHAPE, dtype=np.int64)


def forward(family, cfg, weights, ids, past=None):
    w64 = {name: a.astype(np.float64) for name, a in weights.items()}
    return hf_reference.FORWARD[family](w64, cfg, ids, past)


# --- writing ---------------------------------------------------------------------

def write_safetensors(case_dir, weights, shards):
    """model.safetensors, or `shards` files filled in state_dict order with about
    equal bytes each plus the index transformers writes beside them."""
    metadata = {"format": "pt"}
    if shards == 1:
        save_file(weights, os.path.join(case_dir, "model.safetensors"), metadata=metadata)
        return
    total = sum(a.nbytes for a in weights.values())
    groups, used = [[] for _ in range(shards)], 0
    for name, array in weights.items():
        groups[min(shards - 1, used * shards // total)].append(name)
        used += array.nbytes
    weight_map = {}
    for i, names in enumerate(groups):
        file = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        save_file({n: weights[n] for n in names}, os.path.join(case_dir, file), metadata=metadata)
        weight_map |= {n: file for n in names}
    write_json(os.path.join(case_dir, "model.safetensors.index.json"),
               {"metadata": {"total_size": total}, "weight_map": weight_map})


def write_folder(case_dir, family, shards=1):
    cfg, weights = build(family)
    ids = input_ids(cfg)
    write_json(os.path.join(case_dir, "config.json"), cfg)
    write_safetensors(case_dir, weights, shards)
    np.save(os.path.join(case_dir, "input_ids.npy"), ids)
    np.save(os.path.join(case_dir, "logits.npy"), forward(family, cfg, weights, ids)[0].astype(np.float32))


FOLDERS = {
    "gpt2": lambda d: write_folder(d, "gpt2"),
    "opt": lambda d: write_folder(d, "opt"),
    "llama": lambda d: write_folder(d, "llama"),
    "llama_sharded": lambda d: write_folder(d, "llama", shards=2),
}


# --- self-test -------------------------------------------------------------------

def expect_close(what, got, want, tol=1e-9):
    err = float(np.max(np.abs(got - want)))
    if not err <= tol:
        raise AssertionError(f"{what}: max abs difference {err:.3g} > {tol:g}")
    print(f"ok  {what} (max diff {err:.1e})")


def self_test():
    for family in FAMILIES:
        cfg, weights = build(family)
        ids = input_ids(cfg)
        full, _ = forward(family, cfg, weights, ids)
        past, steps = None, []
        for t in range(ids.shape[1]):
            logits, past = forward(family, cfg, weights, ids[:, t:t + 1], past)
            steps.append(logits)
        expect_close(f"{family}: token-by-token decoding == full sequence", np.concatenate(steps, 1), full)
        _, past = forward(family, cfg, weights, ids[:, :4])
        rest, _ = forward(family, cfg, weights, ids[:, 4:], past)
        expect_close(f"{family}: prefill 4 + continue 3 == full sequence", rest, full[:, 4:])
        changed = ids.copy()
        changed[:, -1] = (changed[:, -1] + 1) % cfg["vocab_size"]
        expect_close(f"{family}: a later token leaves earlier logits alone",
                     forward(family, cfg, weights, changed)[0][:, :-1], full[:, :-1])
        if not 0.5 < full.std() < 5:
            raise AssertionError(f"{family}: logits std {full.std():.3g} is not O(1)")

    # GQA: giving every query head its own copy of its key/value head changes nothing.
    cfg, weights = build("llama")
    repeat = cfg["num_attention_heads"] // cfg["num_key_value_heads"]
    mha_cfg, mha = dict(cfg, num_key_value_heads=cfg["num_attention_heads"]), dict(weights)
    for name in weights:
        if name.endswith(("k_proj.weight", "v_proj.weight")):
            heads = weights[name].reshape(cfg["num_key_value_heads"], cfg["head_dim"], -1)
            mha[name] = np.repeat(heads, repeat, axis=0).reshape(-1, cfg["hidden_size"])
    ids = input_ids(cfg)
    expect_close("llama: GQA == MHA with repeated k/v heads",
                 forward("llama", mha_cfg, mha, ids)[0], forward("llama", cfg, weights, ids)[0])

    # Rotary embeddings rotate: norms are kept and q.k depends on the offset only.
    x = np.random.default_rng(SEED).standard_normal((2, 16))
    q, k = (hf_reference.rope(np.repeat(v[None], 9, 0), np.arange(9), 10000.0) for v in x)
    expect_close("rope keeps norms", np.linalg.norm(q, axis=-1), np.linalg.norm(np.repeat(x[:1], 9, 0), axis=-1))
    expect_close("rope: q_m.k_n depends on m-n only", np.sum(q[3] * k[1]), np.sum(q[7] * k[5]))

    xs = np.linspace(-4, 4, 101)
    exact = 0.5 * xs * (1 + np.vectorize(math.erf)(xs / np.sqrt(2)))
    expect_close("gelu_new tracks erf-GELU", hf_reference.gelu_new(xs), exact, tol=1e-3)


def main():
    parser = arg_parser(__doc__.splitlines()[0], list(FOLDERS), out_required=False)
    parser.add_argument("--self-test", action="store_true", help="check the references, write nothing")
    args = parser.parse_args()
    if args.self_test:
        self_test()
        return
    if not args.out:
        parser.error("--out is required unless --self-test is given")
    for name in run_registry(FOLDERS, args.out, args.only):
        print(os.path.join(args.out, name))


if __name__ == "__main__":
    sys.exit(main())
