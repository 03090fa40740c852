"""The kernel-IR numeric suites (tests/lit/kernel/Inputs: one-op cases and
whole models, with their numpy references) run through the LLVM backend:
`lathe run --target cpu` JIT-compiles each graph and runs it on a thread
pool, and every output is compared with numpy.

usage: check_cpu.py ops OUTDIR [lathe run options...]
       check_cpu.py MODEL OUTDIR [lathe run options...]   (mlp, cnn, transformer, llama)
Prints one line per mismatch and "cpu ops: K of N cases match" or
"cpu MODEL: K of K outputs match". Tolerances are the interpreter suites'
(the backend computes f32 in f32, the reference in f64): one-op cases
|out - ref| <= tol + 10 tol |ref| with tol 1e-5 (1e-3 for f16); models
1e-5 + 1e-4 |ref|; integers and bools exactly.
"""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "kernel", "Inputs"))
from graphs import Graph  # noqa: E402

F = np.float64


def run_graph(g, base, extra):
    """Writes the graph and its inputs, runs it; returns (outputs, error)."""
    with open(base + ".lir", "w") as f:
        f.write(g.text())
    cmd = ["lathe", "run", base + ".lir", "-o", base + "_out", "--target", "cpu"] + extra
    for i, a in enumerate(g.inputs()):
        np.save("%s_in%d.npy" % (base, i), a)
        cmd += ["-i", "%s_in%d.npy" % (base, i)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        return None, r.stderr.strip() or "exit status %d" % r.returncode
    return [np.load(os.path.join(base + "_out", v.name[1:] + ".npy")) for v in g.outs], None


def mismatch(got, ref, rtol, atol):
    """None when got matches ref, else a description."""
    if got.shape != ref.shape or got.dtype != ref.dtype:
        return "is %s%s, expected %s%s" % (got.dtype, got.shape, ref.dtype, ref.shape)
    if got.dtype.kind == "f":
        g, r = got.astype(F), ref.astype(F)
        bad = ~((np.abs(g - r) <= atol + rtol * np.abs(r)) | (np.isnan(g) & np.isnan(r)) | (g == r))
    else:
        bad = got != ref
    if not bad.any():
        return None
    at = np.argwhere(bad)[0]
    return "differs at %d of %d elements (first %s: %s vs %s)" % (
        bad.sum(), bad.size, at, got[tuple(at)], ref[tuple(at)])


def check_ops(outdir, extra):
    import check_ops  # the interpreter suite's cases (module level builds them)

    def one(k):
        name, inputs, build = check_ops.CASES[k]
        g = Graph("case%d" % k)
        vals = [g.input("in%d" % i, a) for i, a in enumerate(inputs)]
        out = build(g, vals)
        g.output(*(out if isinstance(out, list) else [out]))
        outs, err = run_graph(g, os.path.join(outdir, "case%d" % k), extra)
        if err:
            return "FAIL %s: %s" % (name, err)
        msgs = []
        for i, (got, ref) in enumerate(zip(outs, g.refs())):
            tol = 1e-3 if ref.dtype == np.float16 else 1e-5
            m = mismatch(got, ref, 10 * tol, tol)
            if m:
                msgs.append("FAIL %s: output %d %s" % (name, i, m))
        return "\n".join(msgs) or None

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, range(len(check_ops.CASES))))
    for r in results:
        if r:
            print(r)
    ok = sum(r is None for r in results)
    print("cpu ops: %d of %d cases match" % (ok, len(results)))
    return 0 if ok == len(results) else 1


def check_model(name, outdir, extra):
    import check_models

    g = check_models.MODELS[name]()
    outs, err = run_graph(g, os.path.join(outdir, name), extra)
    if err:
        print("cpu %s: lathe run failed: %s" % (name, err))
        return 1
    ok = 0
    for i, (got, ref) in enumerate(zip(outs, g.refs())):
        m = mismatch(got, ref, 1e-4, 1e-5)
        if m:
            print("cpu %s: output %d %s" % (name, i, m))
        else:
            ok += 1
    print("cpu %s: %d of %d outputs match" % (name, ok, len(outs)))
    return 0 if ok == len(outs) else 1


def main():
    what, outdir, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(outdir, exist_ok=True)
    return check_ops(outdir, extra) if what == "ops" else check_model(what, outdir, extra)


if __name__ == "__main__":
    sys.exit(main())
