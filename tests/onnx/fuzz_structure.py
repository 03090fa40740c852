#!/usr/bin/env python3
"""Structural fuzzing of `lathe import`: valid protobuf, hostile content.

fuzz_import.py corrupts bytes, which mostly exercises the wire-format scan.
This one edits models through the onnx API instead, so every mutant parses
and the importer's later stages see the damage:
  - attribute values set to extremes (INT64_MIN, nan, empty strings)
  - attribute types switched
  - input dims, dim_params and dtypes changed
  - inputs and outputs dropped, added or blanked
  - the opset changed
  - op types swapped
  - initializer dims broken
Each run must end in success (and then the output must round-trip through
lathe-opt) or in exactly one "lathe: error: " line. Failing mutants are kept
in --keep DIR.

usage: fuzz_structure.py BUILD_DIR [-n RUNS] [--seed S] [--keep DIR] [SEED_MODEL...]
"""
import argparse
import glob
import os
import random
import subprocess
import sys
import tempfile

import onnx
from onnx import AttributeProto as A

WEIRD_INTS = [0, -1, 1, 2, -2, 3, 17, 2**31, -2**31, 2**63 - 1, -2**63, 1000000]
OPS = ["Reshape", "Slice", "Split", "TopK", "Conv", "Gather", "Pad", "Resize", "Expand", "Tile",
       "Squeeze", "Unsqueeze", "Concat", "Einsum", "Softmax", "Clip", "GroupNormalization",
       "ConstantOfShape", "Constant", "Cast"]


def mutate(m, rnd):
    g = m.graph
    for _ in range(rnd.randint(1, 3)):
        k = rnd.randrange(8)
        if k == 0 and g.node and any(n.attribute for n in g.node):
            a = rnd.choice([a for n in g.node for a in n.attribute])
            if a.type == A.INT:
                a.i = rnd.choice(WEIRD_INTS)
            elif a.type == A.INTS and a.ints:
                a.ints[rnd.randrange(len(a.ints))] = rnd.choice(WEIRD_INTS)
            elif a.type == A.FLOAT:
                a.f = rnd.choice([float("nan"), float("inf"), -1e30, 0.0])
            elif a.type == A.STRING:
                a.s = rnd.choice([b"", b"bogus", b"\xff\x00"])
            else:
                a.type = rnd.choice([A.FLOAT, A.INT, A.STRING, A.FLOATS, A.INTS])
        elif k == 1 and g.input:
            t = rnd.choice(g.input).type
            if t.HasField("tensor_type") and t.tensor_type.shape.dim:
                d = rnd.choice(t.tensor_type.shape.dim)
                r = rnd.randrange(3)
                if r == 0:
                    d.dim_value = rnd.choice([0, 1, 7, 2**40])
                elif r == 1:
                    d.dim_param = rnd.choice(["N", "", "9x", "a b"])
                else:
                    d.Clear()
        elif k == 2 and g.input:
            t = rnd.choice(g.input).type
            if t.HasField("tensor_type"):
                t.tensor_type.elem_type = rnd.randrange(0, 26)
        elif k == 3 and g.node:
            n = rnd.choice(g.node)
            if n.input and rnd.random() < 0.5:
                del n.input[rnd.randrange(len(n.input))]
            else:
                n.input.append(rnd.choice(["", "x"] + [i.name for i in g.input]))
        elif k == 4 and g.node:
            n = rnd.choice(g.node)
            if rnd.random() < 0.5:
                n.output.append(rnd.choice(["", "extra"]))
            elif n.output:
                n.output[rnd.randrange(len(n.output))] = ""
        elif k == 5:
            for o in m.opset_import:
                if o.domain in ("", "ai.onnx"):
                    o.version = rnd.choice([7, 9, 11, 13, 18, 24])
        elif k == 6 and g.node:
            n = rnd.choice(g.node)
            n.op_type = rnd.choice(g.node).op_type if rnd.random() < 0.5 else rnd.choice(OPS)
        elif k == 7 and g.initializer:
            t = rnd.choice(g.initializer)
            if t.dims:
                t.dims[rnd.randrange(len(t.dims))] = rnd.choice([0, 1, 5, -1, 2**62])


def check(lathe, lathe_opt, path, out):
    try:
        r = subprocess.run([lathe, "import", path, "-o", out], capture_output=True, text=True,
                           timeout=60, errors="replace")
    except subprocess.TimeoutExpired:
        return "timeout"
    lines = r.stderr.splitlines()
    if r.returncode == 1 and len(lines) == 1 and lines[0].startswith("lathe: error: "):
        return None
    if r.returncode != 0 or lines:
        return "exit %d: %s" % (r.returncode, " | ".join(lines[:5]))
    rt = subprocess.run([lathe_opt, out], capture_output=True, text=True, errors="replace")
    with open(out) as f:
        if rt.returncode != 0 or rt.stdout != f.read():
            return "round trip: " + " | ".join(rt.stderr.splitlines()[:3])
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build_dir")
    ap.add_argument("models", nargs="*")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", default=None, help="directory for failing mutants")
    args = ap.parse_intermixed_args()

    bin_dir = os.path.join(os.path.abspath(args.build_dir), "bin")
    lathe, lathe_opt = os.path.join(bin_dir, "lathe"), os.path.join(bin_dir, "lathe-opt")
    seeds = args.models or sorted(glob.glob(os.path.join(
        os.path.dirname(onnx.__file__), "backend", "test", "data", "node", "*", "model.onnx")))
    rnd = random.Random(args.seed)
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        path, out = os.path.join(work, "mutant.onnx"), os.path.join(work, "out.lir")
        for i in range(args.n):
            m = onnx.load(rnd.choice(seeds), load_external_data=False)
            mutate(m, rnd)
            data = m.SerializeToString()
            with open(path, "wb") as f:
                f.write(data)
            why = check(lathe, lathe_opt, path, out)
            if why:
                failures += 1
                print("FAIL %d: %s" % (i, why))
                if args.keep:
                    os.makedirs(args.keep, exist_ok=True)
                    with open(os.path.join(args.keep, "mutant_%d.onnx" % i), "wb") as f:
                        f.write(data)
    print("%d mutants, %d failures" % (args.n, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
