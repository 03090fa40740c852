"""Every one-op graph of the kernel lowering's numeric tests through the cuda
target's CUDA C, emulated on the host, against the kernel-IR interpreter:
each graph lowered (no graph passes: the op's own kernels), its CUDA C
generated and run by lathe-emu-check on the case's own input arrays (the
edge values its test chose: ties for round, negative indices, divisors of
both signs...), every output compared with the interpreter's.

The graphs are the CASES of tests/lit/kernel/Inputs/check_ops.py (every
lowered op family on edge shapes and dtypes), or of the module --cases names
(check_ops_ref: the ops with the trickiest ONNX semantics), written by
tests/lit/cuda/Inputs/op_cases.py, which the ptxas sweep shares.

usage: emu_ops.py [--cases=MODULE] [--stride=S] OUTDIR LATHE_EMU_CHECK
With a stride only cases 0, S, 2S... run (the sanitizer build's budget).
Prints one line per failure and "emu: K of N cases match (U not lowered)":
a graph the lowering refuses ("unsupported op") is the lowering's business,
counted apart. Cases go to lathe-emu-check --batch in chunks, one host
compile per chunk.

Tolerances (lathe-emu-check: |got - want| <= atol + rtol * |want|):
  integer and bool outputs   exact, always (the harness never rounds them)
  EXACT_OPS, any dtype       exact: they copy, select, compare or convert
                             values, or do one IEEE operation that both sides
                             round once, the same way
  other float math           f64 rtol 1e-12, atol 1e-12; f32 rtol 1e-5,
                             atol 1e-6 (libm ulps, reassociated sums);
                             f16 rtol 1e-3, atol 1e-3 (one f16 ulp: a result
                             rounded from nearby f32 values); bf16 8x looser
                             than f16 (its 8-bit mantissa)
"""
import concurrent.futures
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "cuda", "Inputs"))
from op_cases import NOT_LOWERED, cases_option, write_cases  # noqa: E402

EXACT_OPS = {
    # data movement and selection
    "transpose", "slice", "concat", "split", "pad", "expand", "tile", "squeeze", "unsqueeze", "reshape",
    "flatten", "identity", "gather", "gather_elements", "gather_nd", "scatter_elements", "scatter_nd",
    "one_hot", "trilu", "depth_to_space", "space_to_depth", "where", "shape", "size", "iota", "eye_like",
    "top_k", "argmax", "argmin", "hardmax", "reduce_max", "reduce_min", "max_pool", "range",
    # comparisons, conversions, and one correctly rounded operation
    "less", "equal", "greater", "cast", "neg", "abs", "relu", "floor", "ceil", "round", "sign",
    "max", "min", "clip", "add", "sub", "mul", "div", "sqrt", "mod", "bitwise_xor",
}
TOLERANCES = {  # dtype: (rtol, atol) for float math
    np.dtype(np.float64): (1e-12, 1e-12),
    np.dtype(np.float32): (1e-5, 1e-6),
    np.dtype(np.float16): (1e-3, 1e-3),
}
BF16 = (8e-3, 8e-3)
CHUNK = 64  # cases per host compile


def tolerance(case):
    if all(op in EXACT_OPS for op in case.ops):
        return 0.0, 0.0
    floats = [t for t in case.out_dtypes if t.kind == "f"]
    if not floats:
        return 0.0, 0.0
    # The loosest output dtype decides (a graph's outputs share one dtype
    # in every case so far); bf16 has no numpy dtype, so graphs name it.
    return max((TOLERANCES.get(t, BF16) for t in floats), key=lambda t: t[0])


def run_chunk(tool, listfile):
    # The graphs are small: an unoptimized image compiles in half the time,
    # more than its runs lose (flags the caller sets still come after).
    env = dict(os.environ, LATHE_EMU_CXXFLAGS="-O0 " + os.environ.get("LATHE_EMU_CXXFLAGS", ""))
    r = subprocess.run([tool, "--batch=" + listfile], capture_output=True, text=True, env=env)
    results = {}
    for line in r.stdout.splitlines():
        status, _, rest = line.partition(" ")
        path, _, message = rest.partition(": ")
        results[path] = (status, message)
    if r.returncode and not results:
        results[None] = ("FAIL", (r.stderr or r.stdout).strip())
    return results


def write_list(listfile, chunk):
    with open(listfile, "w") as f:
        for case in chunk:
            rtol, atol = tolerance(case)
            f.write(" ".join([case.lir] + case.inputs + ["--rtol=%g" % rtol, "--atol=%g" % atol]) + "\n")
    return listfile


def main():
    args = sys.argv[1:]
    cases = cases_option(args)
    stride = 1
    if args and args[0].startswith("--stride="):
        stride = int(args.pop(0)[len("--stride="):])
    outdir, tool = args[0], args[1]
    total = len(range(0, len(cases), stride))
    # Each chunk is checked while the next ones are still being written.
    written, chunk, futures = [], [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for case in write_cases(cases, outdir, arrays=True, stride=stride):
            written.append(case)
            chunk.append(case)
            if len(chunk) == CHUNK or len(written) == total:
                listfile = write_list(os.path.join(outdir, "batch%d.txt" % len(futures)), chunk)
                futures.append(pool.submit(run_chunk, tool, listfile))
                chunk = []
    results = {}
    for f in futures:
        results.update(f.result())
    if None in results:
        print("FAIL lathe-emu-check: %s" % results[None][1])
    ok = skipped = 0
    for case in written:
        status, message = results.get(case.lir, ("FAIL", "no result"))
        if status == "ok":
            ok += 1
        elif NOT_LOWERED in message:
            skipped += 1
        else:
            print("FAIL %s: %s" % (case.name, message))
    print("emu: %d of %d cases match (%d not lowered)" % (ok, len(written) - skipped, skipped))
    return 0 if ok + skipped == len(written) else 1


if __name__ == "__main__":
    sys.exit(main())
