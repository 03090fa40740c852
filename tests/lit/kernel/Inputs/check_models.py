"""End-to-end numeric check of lowering + the reference interpreter: builds a
model graph with random weights (graphs.py computes its numpy reference),
runs it through `lathe-interp` and compares every output.

usage: check_models.py MODEL OUTDIR [lathe-interp options...]
Prints "MODEL: K of K outputs match" (FileCheck looks for it), or the worst
mismatch per output. Tolerance for float outputs: |out - ref| <= atol + rtol
* |ref| with rtol 1e-4, atol 1e-5 (the reference runs in float64, the program
rounds to f32 on every store).
"""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from graphs import Graph  # noqa: E402

rng = np.random.default_rng(1234)


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def mlp():
    """matmul + bias + relu twice, a gemm head and a softmax; N symbolic."""
    g = Graph("mlp", {"N": 7})
    x = g.input("x", f32(7, 13), ["N", 13])
    h = g.relu(g.add(g.matmul(x, g.const(f32(13, 32, scale=0.3))), g.const(f32(32))))
    h = g.relu(g.add(g.matmul(h, g.const(f32(32, 17, scale=0.3))), g.const(f32(17))))
    logits = g.gemm(h, g.const(f32(10, 17, scale=0.3)), g.const(f32(10)), alpha=0.5, beta=2.0, trans_b=1)
    g.output(g.softmax(logits), logits)
    return g


def cnn():
    """conv + batch_norm + relu, max_pool, grouped conv, average pool,
    global average pool, flatten, gemm."""
    g = Graph("cnn")
    x = g.input("x", f32(2, 3, 11, 11))
    h = g.conv(x, g.const(f32(8, 3, 3, 3, scale=0.3)), g.const(f32(8)), pads=(1, 1, 1, 1))
    h = g.batch_norm(h, g.const(f32(8)), g.const(f32(8)),
                     g.const(f32(8)), g.const(np.abs(f32(8)) + 0.5))
    h = g.relu(h)
    h = g.pool("max_pool", h, (2, 2), (2, 2))
    h = g.relu(g.conv(h, g.const(f32(12, 4, 3, 3, scale=0.3)), None, pads=(1, 0, 1, 0), group=2))
    h = g.pool("average_pool", h, (3, 3), (1, 1), pads=(1, 1, 1, 1))
    h = g.flatten(g.global_average_pool(h))
    g.output(g.gemm(h, g.const(f32(12, 5, scale=0.5)), g.const(f32(5))))
    return g


def transformer():
    """A pre-norm GPT-style block from primitive ops: layer_norm, q/k/v
    projections, head reshapes and transposes, scaled scores with a causal
    mask (where), softmax, attention output, residuals, GELU MLP."""
    N, S, D, H = 3, 5, 16, 2
    Dh = D // H
    g = Graph("block", {"N": N})
    x = g.input("x", f32(N, S, D), ["N", S, D])
    causal = np.tril(np.ones((S, S), dtype=bool))
    h = g.layer_norm(x, g.const(f32(D)), g.const(f32(D)))

    def heads(t):
        return g.transpose(g.reshape(t, [0, 0, H, Dh]), [0, 2, 1, 3])

    q = heads(g.add(g.matmul(h, g.const(f32(D, D, scale=0.3))), g.const(f32(D))))
    k = heads(g.add(g.matmul(h, g.const(f32(D, D, scale=0.3))), g.const(f32(D))))
    v = heads(g.add(g.matmul(h, g.const(f32(D, D, scale=0.3))), g.const(f32(D))))
    s = g.mul(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), g.const(np.float32(1 / np.sqrt(Dh)).reshape(())))
    s = g.where(g.const(causal), s, g.const(np.array(-1e9, np.float32)))
    a = g.matmul(g.softmax(s), v)
    a = g.reshape(g.transpose(a, [0, 2, 1, 3]), [0, 0, D])
    x1 = g.add(g.add(g.matmul(a, g.const(f32(D, D, scale=0.3))), g.const(f32(D))), x)
    h2 = g.layer_norm(x1, g.const(f32(D)), g.const(f32(D)))
    m = g.gelu(g.add(g.matmul(h2, g.const(f32(D, 2 * D, scale=0.3))), g.const(f32(2 * D))))
    out = g.add(g.add(g.matmul(m, g.const(f32(2 * D, D, scale=0.3))), g.const(f32(D))), x1)
    g.output(out)
    return g


def llama():
    """A Llama-style block on the fused ops: token embedding (gather),
    rms_norm, rotary embeddings, grouped-query causal attention, SiLU-gated MLP."""
    N, S, D, H, Hkv, V = 3, 6, 16, 4, 2, 11
    Dh = D // H
    g = Graph("llama", {"N": N})
    tok = g.input("tokens", rng.integers(-V, V, (N, S)).astype(np.int64), ["N", S])
    x = g.gather(g.const(f32(V, D)), tok)
    h = g.rms_norm(x, g.const(f32(D)))

    def proj(t, heads):
        p = g.matmul(t, g.const(f32(D, heads * Dh, scale=0.3)))
        return g.transpose(g.reshape(p, [0, 0, heads, Dh]), [0, 2, 1, 3])

    q, k, v = g.rotary(proj(h, H)), g.rotary(proj(h, Hkv)), proj(h, Hkv)
    a = g.attention(q, k, v, causal=1)
    a = g.reshape(g.transpose(a, [0, 2, 1, 3]), [0, 0, D])
    x1 = g.add(g.matmul(a, g.const(f32(D, D, scale=0.3))), x)
    h2 = g.rms_norm(x1, g.const(f32(D)))
    gate = g.matmul(h2, g.const(f32(D, 24, scale=0.3)))
    up = g.matmul(h2, g.const(f32(D, 24, scale=0.3)))
    m = g.mul(g.mul(gate, g.sigmoid(gate)), up)
    g.output(g.add(g.matmul(m, g.const(f32(24, D, scale=0.3))), x1))
    return g


MODELS = {"mlp": mlp, "cnn": cnn, "transformer": transformer, "llama": llama}


def main():
    name, outdir, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(outdir, exist_ok=True)
    g = MODELS[name]()
    lir = os.path.join(outdir, name + ".lir")
    with open(lir, "w") as f:
        f.write(g.text())
    ins = []
    for i, a in enumerate(g.inputs()):
        ins.append(os.path.join(outdir, "%s_in%d.npy" % (name, i)))
        np.save(ins[-1], a)
    outs = [os.path.join(outdir, "%s_out%d.npy" % (name, i)) for i in range(len(g.refs()))]
    cmd = ["lathe-interp"] + extra + [lir] + ins
    for o in outs:
        cmd += ["-o", o]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        print("%s: lathe-interp failed: %s" % (name, r.stderr.strip()))
        return 1
    ok = 0
    for i, (o, ref) in enumerate(zip(outs, g.refs())):
        got = np.load(o)
        if got.shape != ref.shape or got.dtype != ref.dtype:
            print("%s: output %d is %s %s, expected %s %s" % (name, i, got.dtype, got.shape, ref.dtype, ref.shape))
            continue
        err = np.abs(got.astype(np.float64) - ref.astype(np.float64))
        bound = 1e-5 + 1e-4 * np.abs(ref.astype(np.float64))
        if np.all(err <= bound):
            ok += 1
        else:
            print("%s: output %d differs by up to %g (at %s)" % (name, i, err.max(), np.unravel_index(err.argmax(), err.shape)))
    print("%s: %d of %d outputs match" % (name, ok, len(outs)))
    return 0 if ok == len(outs) else 1


if __name__ == "__main__":
    sys.exit(main())
