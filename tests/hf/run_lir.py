#!/usr/bin/env python3
"""Runs an imported Hugging Face graph in numpy and compares its logits.

Until Lathe has a backend, this is how the HF importer's graphs are checked
numerically: a small float64 interpreter for the ops `lathe import DIR`
emits (const, gather, iota, add, mul, matmul, transpose, reshape, split,
layer_norm, rms_norm, attention, rotary_embedding, gelu, relu, sigmoid,
cast), written from docs/ops.md, runs the .lir on DIR/input_ids.npy. The
logits are compared with

  DIR/logits.npy                          (default: the generator's oracle), or
  tests/gen/hf_reference.py run afresh    (--reference: on the checkpoint's own
                                           values, for f16/bf16 copies)

The interpreter and the reference are written independently (one from Lathe's
op definitions, one from the transformers math), so agreement checks the
importer's graph, not a copy of itself.

usage: run_lir.py OUT.lir MODEL_DIR [--reference] [--tol 1e-5]
Prints one line: `ok: max |diff| D (scale S)` or fails with exit status 1.
"""

import argparse
import json
import math
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "gen"))
import stio  # noqa: E402

# --- parsing the subset of the text IR the importer prints --------------------------

TYPE = re.compile(r"(\w+)\[([^\]]*)\]")
ATTR_TOKEN = re.compile(r'"[^"]*"|[\[\],=]|[^\s,=\[\]]+')


def parse_attr_value(tokens, i):
    if tokens[i] == "[":
        items, i = [], i + 1
        while tokens[i] != "]":
            if tokens[i] == ",":
                i += 1
                continue
            v, i = parse_attr_value(tokens, i)
            items.append(v)
        return items, i + 1
    t = tokens[i]
    if t.startswith('"'):
        return t[1:-1], i + 1
    if re.fullmatch(r"-?\d+", t):
        return int(t), i + 1
    try:
        return float(t), i + 1
    except ValueError:
        return t, i + 1  # a dtype name


def parse_attrs(text):
    tokens, attrs, i = ATTR_TOKEN.findall(text), {}, 0
    while i < len(tokens):
        if tokens[i] == ",":
            i += 1
            continue
        name = tokens[i]
        assert tokens[i + 1] == "=", text
        attrs[name], i = parse_attr_value(tokens, i + 2)
    return attrs


def parse(path):
    """([weight source paths], [(results, op, operands, attrs, payload)], returned name)."""
    weights, ops, ret = [], [], None
    for line in open(path):
        line = line.strip()
        if line.startswith("weights "):
            weights.append(os.path.join(os.path.dirname(path), json.loads(line[len("weights "):])))
        elif line.startswith("return "):
            ret = line[len("return "):]
        elif line.startswith("%"):
            lhs, rhs = line.split(" = ", 1)
            results = lhs.split(", ")
            body = rhs.rsplit(" : ", len(results))[0] if " : " in rhs else rhs
            op, _, rest = body.partition(" ")
            if op == "const":
                ops.append((results, op, [], {}, (rest, TYPE.search(rhs.rsplit(" : ", 1)[1]))))
                continue
            attrs = {}
            if " {" in rest:
                rest, attr_text = rest.split(" {", 1)
                attrs = parse_attrs(attr_text.rsplit("}", 1)[0])
            operands = [o for o in rest.split(", ") if o]
            ops.append((results, op, operands, attrs, None))
    return weights, ops, ret


# --- the ops, from docs/ops.md -----------------------------------------------------


def const(payload, tensors):
    text, type_match = payload
    dtype, dims = type_match.group(1), [int(d) for d in type_match.group(2).split(", ") if d]
    if text.startswith("@\""):
        return tensors[json.loads(text[1:])]
    np_type = np.int64 if dtype.startswith("i") else np.float64
    if text.startswith("dense["):
        values = [float(v) for v in text[6:-1].split(", ")]
        return np.array(values, np_type).reshape(dims)
    if text.startswith("splat("):
        return np.full(dims, float(text[6:-1]), np_type)
    raise ValueError("unsupported const " + text)


def attention(q, k, v, causal=0, scale=0.0):
    b, h, s, d = q.shape
    hkv, t = k.shape[1], k.shape[2]
    g = np.arange(h) // (h // hkv)             # key/value head serving each query head
    k, v = k[:, g], v[:, g]
    scores = (q @ k.swapaxes(-1, -2)) * (scale if scale > 0 else 1 / math.sqrt(d))
    if causal:
        hidden = np.arange(t)[None, :] > np.arange(s)[:, None] + (t - s)
        scores = np.where(hidden, -np.inf, scores)
    scores = scores - scores.max(-1, keepdims=True)
    p = np.exp(scores)
    return (p / p.sum(-1, keepdims=True)) @ v


def rotary_embedding(x, theta=10000.0, interleaved=0):
    s, d = x.shape[2], x.shape[3]
    i = np.arange(d // 2)
    a = np.arange(s)[:, None] * theta ** (-2.0 * i / d)  # [S, D/2]
    c, sn = np.cos(a), np.sin(a)
    y = np.empty_like(x)
    if interleaved:
        x0, x1 = x[..., 0::2], x[..., 1::2]
        y[..., 0::2], y[..., 1::2] = x0 * c - x1 * sn, x1 * c + x0 * sn
    else:
        x0, x1 = x[..., :d // 2], x[..., d // 2:]
        y[..., :d // 2], y[..., d // 2:] = x0 * c - x1 * sn, x1 * c + x0 * sn
    return y


def layer_norm(x, scale, bias=None, epsilon=1e-5, axis=-1):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + epsilon) * scale
    return y + bias if bias is not None else y


def rms_norm(x, scale, epsilon=1e-5, axis=-1):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + epsilon) * scale


def reshape(x, shape):
    shape = [x.shape[i] if n == 0 else n for i, n in enumerate(shape)]
    return x.reshape(shape)


def gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


OPS = {
    "gather": lambda data, idx, axis=0: np.take(data, idx, axis=axis),
    "iota": lambda x, axis=0: np.arange(x.shape[axis], dtype=np.int64),
    "add": np.add,
    "mul": np.multiply,
    "matmul": np.matmul,
    "transpose": lambda x, perm: x.transpose(perm),
    "reshape": reshape,
    "layer_norm": layer_norm,
    "rms_norm": rms_norm,
    "attention": attention,
    "rotary_embedding": rotary_embedding,
    "gelu": gelu,
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "cast": lambda x, to: x,  # float64 throughout; the consts hold the stored values
}


def run(path, ids):
    weights, ops, ret = parse(path)
    tensors = {}
    for source in reversed(weights):  # the first source that has a name wins
        tensors |= stio.read_source(source)
    env = {"%input_ids": ids}
    for results, op, operands, attrs, payload in ops:
        if op == "const":
            env[results[0]] = const(payload, tensors)
        elif op == "split":
            pieces = np.split(env[operands[0]], np.cumsum(attrs["split"])[:-1], axis=attrs["axis"])
            env.update(zip(results, pieces))
        else:
            args = [env[o] if o != "_" else None for o in operands]
            env[results[0]] = OPS[op](*args, **attrs)
    return env[ret]


# --- the comparison ----------------------------------------------------------------


def reference_logits(folder, ids):
    import hf_reference
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    weights = {n.removeprefix("transformer."): a for n, a in stio.read_folder(folder).items()}
    if cfg["model_type"] == "llama" and cfg.get("tie_word_embeddings"):
        weights["lm_head.weight"] = weights["model.embed_tokens.weight"]
    return hf_reference.FORWARD[cfg["model_type"]](weights, cfg, ids)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lir")
    ap.add_argument("folder")
    ap.add_argument("--reference", action="store_true",
                    help="recompute the reference on the checkpoint's values instead of logits.npy")
    ap.add_argument("--tol", type=float, default=1e-5,
                    help="max |diff| allowed, relative to max |reference| (default 1e-5)")
    args = ap.parse_args()
    ids = np.load(os.path.join(args.folder, "input_ids.npy"))
    got = run(args.lir, ids)
    want = (reference_logits(args.folder, ids) if args.reference
            else np.load(os.path.join(args.folder, "logits.npy")).astype(np.float64))
    if got.shape != want.shape:
        sys.exit(f"FAIL: logits shape {got.shape}, expected {want.shape}")
    diff, scale = float(np.max(np.abs(got - want))), float(np.max(np.abs(want)))
    if not diff <= args.tol * scale:
        sys.exit(f"FAIL: max |diff| {diff:.3g} > {args.tol:g} * {scale:.3g}")
    print(f"ok: max |diff| {diff:.2g} (scale {scale:.2g})")


if __name__ == "__main__":
    main()
