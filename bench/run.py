#!/usr/bin/env python3
"""Times Lathe against onnxruntime on the benchmark models and prints ratios.

For each model written by make_models.py: Lathe's output is checked against
onnxruntime's (`lathe run --check`), then `lathe run --bench N` times N runs
after a warm-up and reports the median; onnxruntime runs the same model in
the same process layout (one InferenceSession, the same thread count, all
graph optimisations on, the CPU provider), with a warm-up and N timed runs,
and its median is taken the same way. Ratio = Lathe / onnxruntime (below 1:
Lathe is faster).

This is a benchmark, not a test: it never fails on a slow result, only when a
tool fails or Lathe's output is wrong.

usage: build/venv/bin/python bench/run.py --build build [--runs 50] [--threads N]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))


def lathe_median(lathe, case, runs, threads, target):
    model = os.path.join(case, "model.onnx")
    x = os.path.join(case, "x.npy")
    common = [lathe, "run", model, "-i", f"x={x}", "--threads", str(threads), "--target", target]
    check = subprocess.run(common + ["--check", f"y={os.path.join(case, 'ref.npy')}",
                                     "--rtol", "1e-3", "--atol", "1e-4"],
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError((check.stderr or check.stdout).strip())
    out = subprocess.run(common + ["--bench", str(runs)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    m = re.search(r"^median_ms=([0-9.]+)$", out.stdout, re.M)
    if not m:
        raise RuntimeError(f"no median_ms line in: {out.stdout!r}")
    return float(m.group(1))


def ort_median(case, runs, threads):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(os.path.join(case, "model.onnx"), opts,
                                providers=["CPUExecutionProvider"])
    feed = {"x": np.load(os.path.join(case, "x.npy"))}
    sess.run(None, feed)  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build")
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--target", default="cpu")
    p.add_argument("--only", action="append")
    args = p.parse_args()
    lathe = os.path.join(args.build, "bin", "lathe")
    models = os.path.join(args.build, "bench")
    subprocess.run([sys.executable, os.path.join(HERE, "make_models.py"), "--out", models]
                   + sum((["--only", m] for m in args.only or []), []), check=True,
                   stdout=subprocess.DEVNULL)
    names = args.only or ["mlp", "transformer_block"]
    print(f"threads={args.threads} runs={args.runs} target={args.target} "
          f"onnxruntime={ort.__version__}")
    print(f"{'model':<20} {'lathe_ms':>10} {'ort_ms':>10} {'ratio':>8}")
    failed = False
    for name in names:
        case = os.path.join(models, name)
        ort_ms = ort_median(case, args.runs, args.threads)
        try:
            lathe_ms = lathe_median(lathe, case, args.runs, args.threads, args.target)
            print(f"{name:<20} {lathe_ms:>10.3f} {ort_ms:>10.3f} {lathe_ms / ort_ms:>8.2f}")
        except RuntimeError as e:
            print(f"{name:<20} {'failed':>10} {ort_ms:>10.3f} {'-':>8}   ({e})")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
