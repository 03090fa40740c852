#!/usr/bin/env python3
"""Mutation fuzzing of `lathe import`: corrupted models must fail cleanly.

Takes seed models (the ONNX node tests by default), applies random byte
flips, truncations, splices and varint-length bumps, and runs `lathe import`
on each mutant. Every run must end with exit 0, or exit 1 and exactly one
"lathe: error: " line; anything else (a signal, a sanitizer report, exit 2+,
a timeout) is a failure and the mutant is kept in --keep DIR. Build with
-DLATHE_SANITIZE=ON to catch memory errors that do not crash.

usage: fuzz_import.py BUILD_DIR [-n RUNS] [--seed S] [--keep DIR] [SEED_MODEL...]
"""
import argparse
import glob
import os
import random
import subprocess
import sys
import tempfile

import onnx


def mutate(data, rnd):
    data = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        kind = rnd.randrange(5)
        if not data:
            break
        pos = rnd.randrange(len(data))
        if kind == 0:  # flip one byte
            data[pos] = rnd.randrange(256)
        elif kind == 1:  # truncate
            del data[pos:]
        elif kind == 2:  # duplicate a slice somewhere else
            end = min(len(data), pos + rnd.randint(1, 64))
            at = rnd.randrange(len(data))
            data[at:at] = data[pos:end]
        elif kind == 3:  # set a byte to a varint continuation/terminator extreme
            data[pos] = rnd.choice([0x00, 0x7F, 0x80, 0xFF])
        else:  # overwrite a run with 0xFF (huge lengths, dims, counts)
            for i in range(pos, min(len(data), pos + rnd.randint(1, 10))):
                data[i] = 0xFF
    return bytes(data)


def check(lathe, path, out):
    try:
        r = subprocess.run([lathe, "import", path, "-o", out], capture_output=True, text=True,
                           timeout=60, errors="replace")
    except subprocess.TimeoutExpired:
        return "timeout"
    lines = r.stderr.splitlines()
    if r.returncode == 0 and not lines:
        return None
    if r.returncode == 1 and len(lines) == 1 and lines[0].startswith("lathe: error: "):
        return None
    return "exit %d: %s" % (r.returncode, " | ".join(lines[:5]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build_dir")
    ap.add_argument("models", nargs="*")
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", default=None, help="directory for failing mutants")
    args = ap.parse_intermixed_args()

    lathe = os.path.join(os.path.abspath(args.build_dir), "bin", "lathe")
    seeds = args.models or sorted(glob.glob(os.path.join(
        os.path.dirname(onnx.__file__), "backend", "test", "data", "node", "*", "model.onnx")))
    if not seeds:
        sys.exit("no seed models")
    rnd = random.Random(args.seed)
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        path, out = os.path.join(work, "mutant.onnx"), os.path.join(work, "out.lir")
        for i in range(args.n):
            seed = rnd.choice(seeds)
            with open(seed, "rb") as f:
                data = mutate(f.read(), rnd)
            with open(path, "wb") as f:
                f.write(data)
            why = check(lathe, path, out)
            if why:
                failures += 1
                print("FAIL %d (%s): %s" % (i, os.path.basename(os.path.dirname(seed)), why))
                if args.keep:
                    os.makedirs(args.keep, exist_ok=True)
                    with open(os.path.join(args.keep, "mutant_%d.onnx" % i), "wb") as f:
                        f.write(data)
    print("%d mutants, %d failures" % (args.n, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
