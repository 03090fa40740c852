#!/usr/bin/env python3
"""Writes the benchmark models: ONNX (opset 17) files and one input each.

  mlp                x: f32[64, 1024] -> Gemm 1024x4096 + Relu -> Gemm 4096x1024
  transformer_block  x: f32[1, 128, 768], a pre-LN decoder block: 12 heads of
                     64, causal softmax attention, GELU FFN of 3072

Each lands in OUT/NAME/ as model.onnx, x.npy and ref.npy (onnxruntime's
output on x, for a correctness check before timing). The graph builder and
weight initialisation are the test generators' (tests/gen/common.py).

usage: build/venv/bin/python bench/make_models.py --out build/bench
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "gen"))
from common import GraphBuilder, linear_weight, make_model, normal, rng, tensor_info  # noqa: E402

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

F32 = np.float32


def mlp():
    gen = rng()
    g = GraphBuilder()
    w1 = g.const("fc1.weight", linear_weight(gen, 1024, 4096).T.copy())
    b1 = g.const("fc1.bias", normal(gen, (4096,), 0.1))
    w2 = g.const("fc2.weight", linear_weight(gen, 4096, 1024).T.copy())
    b2 = g.const("fc2.bias", normal(gen, (1024,), 0.1))
    h = g.op("Relu", g.op("Gemm", "x", w1, b1, transB=1))
    g.op("Gemm", h, w2, b2, transB=1, out="y")
    graph = g.graph("mlp", [tensor_info("x", F32, [64, 1024])], [tensor_info("y", F32, [64, 1024])])
    return make_model(graph), normal(gen, (64, 1024), 1.0)


def transformer_block():
    d, heads, ffn, seq, eps = 768, 12, 3072, 128, 1e-5
    head_dim = d // heads
    gen = rng()
    g = GraphBuilder()

    def dense(name, fan_in, fan_out, h):
        w = g.const(f"{name}.weight", linear_weight(gen, fan_in, fan_out))
        b = g.const(f"{name}.bias", normal(gen, (fan_out,), 0.05))
        return g.op("Add", g.op("MatMul", h, w), b)

    def norm(name, h):
        return g.op("LayerNormalization", h, g.const(f"{name}.weight", 1 + normal(gen, (d,), 0.1)),
                    g.const(f"{name}.bias", normal(gen, (d,), 0.1)), axis=-1, epsilon=eps)

    def heads_of(h, perm):
        split = g.op("Reshape", h, g.const(f"heads_shape_{g.count}",
                                           np.array([0, 0, heads, head_dim], np.int64)))
        return g.op("Transpose", split, perm=perm)

    h = norm("ln1", "x")
    q = heads_of(dense("attn.q_proj", d, d, h), [0, 2, 1, 3])
    k_t = heads_of(dense("attn.k_proj", d, d, h), [0, 2, 3, 1])
    v = heads_of(dense("attn.v_proj", d, d, h), [0, 2, 1, 3])
    scores = g.op("Mul", g.op("MatMul", q, k_t), g.const("attn.scale", np.array(head_dim ** -0.5, F32)))
    causal = g.const("attn.causal_mask", np.tril(np.ones((seq, seq), bool)))
    masked = g.op("Where", causal, scores, g.const("attn.masked_value", np.array(-1e9, F32)))
    ctx = g.op("MatMul", g.op("Softmax", masked, axis=-1), v)
    ctx = g.op("Reshape", g.op("Transpose", ctx, perm=[0, 2, 1, 3]),
               g.const("merge_shape", np.array([0, 0, d], np.int64)))
    h = g.op("Add", "x", dense("attn.out_proj", d, d, ctx))
    f = dense("mlp.fc1", d, ffn, norm("ln2", h))
    erf = g.op("Erf", g.op("Div", f, g.const("sqrt2", np.array(np.sqrt(2), F32))))
    gelu = g.op("Mul", g.op("Mul", f, g.const("half", np.array(0.5, F32))),
                g.op("Add", erf, g.const("one", np.array(1, F32))))
    g.op("Add", h, dense("mlp.fc2", ffn, d, gelu), out="y")
    graph = g.graph("transformer_block", [tensor_info("x", F32, [1, seq, d])],
                    [tensor_info("y", F32, [1, seq, d])])
    return make_model(graph), normal(gen, (1, seq, d), 1.0)


MODELS = {"mlp": mlp, "transformer_block": transformer_block}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--only", action="append", choices=sorted(MODELS))
    args = p.parse_args()
    for name in args.only or MODELS:
        case = os.path.join(args.out, name)
        os.makedirs(case, exist_ok=True)
        model, x = MODELS[name]()
        path = os.path.join(case, "model.onnx")
        onnx.save(model, path)
        onnx.checker.check_model(path, full_check=True)
        np.save(os.path.join(case, "x.npy"), x)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        np.save(os.path.join(case, "ref.npy"), sess.run(None, {"x": x})[0])
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
