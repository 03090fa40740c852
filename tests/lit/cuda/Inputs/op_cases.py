"""The one-op graphs of the kernel lowering's numeric tests as files, for the
cuda target's sweeps over every lowered op family: ptxas_ops.py (NVRTC and
ptxas must take each program) and tests/lit/cuda_emu/Inputs/emu_ops.py (each
program, emulated on the host, must match the interpreter).

The graphs are the CASES of tests/lit/kernel/Inputs/check_ops.py (every op
family on edge shapes and dtypes) or of another module there (check_ops_ref:
the ops with the trickiest ONNX semantics), built by the same Graph builder
those tests use, so a case here is byte for byte the graph they check.
"""
import importlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "kernel", "Inputs"))
from graphs import write_case  # noqa: E402

# What the lowering says of an op it has no kernel for: the lowering's
# business, so the sweeps count such cases apart instead of failing them.
NOT_LOWERED = "unsupported op"


def cases_option(args):
    """Pops a leading --cases=MODULE from args; returns that module's CASES
    (check_ops when there is none)."""
    module = "check_ops"
    if args and args[0].startswith("--cases="):
        module = args.pop(0)[len("--cases="):]
    return importlib.import_module(module).CASES


class Written:
    """One case on disk: its name, graph file, input arrays (.npy, when
    asked for) and the graph's op names and output dtypes."""

    def __init__(self, name, lir, inputs, ops, out_dtypes):
        self.name, self.lir, self.inputs, self.ops, self.out_dtypes = name, lir, inputs, ops, out_dtypes


def write_cases(cases, outdir, arrays=False, stride=1):
    """Writes every case's graph (with a stride, only cases 0, stride,
    2 * stride...) to OUTDIR/case<k>.lir (and with `arrays` its inputs to
    OUTDIR/case<k>_in<i>.npy), yielding each as a Written as soon as it is on
    disk (building a graph computes its reference, which takes seconds for
    some ops: a sweep can start on the first cases meanwhile)."""
    os.makedirs(outdir, exist_ok=True)
    for k, (name, inputs, build) in enumerate(cases):
        if k % stride:
            continue
        g, base, outs, files = write_case(k, inputs, build, outdir, arrays)
        ops = [line.split("=", 1)[1].split()[0] for line in g.lines if "=" in line]
        yield Written(name, base + ".lir", files, ops, [np.dtype(v.a.dtype) for v in outs])
