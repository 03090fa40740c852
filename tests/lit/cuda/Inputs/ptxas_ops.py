"""Every one-op graph of the kernel lowering's numeric tests compiled by the
cuda target to PTX and assembled by ptxas: the generated CUDA C must get
through NVRTC and the PTX through ptxas for every kernel the lowering makes.
The graphs are the CASES of tests/lit/kernel/Inputs/check_ops.py (every
lowered op family on edge shapes and dtypes), or of the module --cases names
(check_ops_ref: the ops with the trickiest ONNX semantics), written by
op_cases.py, which tests/lit/cuda_emu/Inputs/emu_ops.py shares.

usage: ptxas_ops.py [--cases=MODULE] OUTDIR LATHE PTXAS ARCH [ARCH...]
Prints one line per failure and "ptxas: K of N cases assemble (U not
lowered)": a graph the lowering refuses ("unsupported op", an op without a
kernel lowering yet) is the lowering's business, counted apart.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from op_cases import NOT_LOWERED, cases_option, write_cases  # noqa: E402


def main():
    args = sys.argv[1:]
    cases = cases_option(args)
    outdir, lathe, ptxas, archs = args[0], args[1], args[2], args[3:]
    ok = skipped = 0
    for case in write_cases(cases, outdir):
        base = case.lir[:-len(".lir")]
        good, lowered = True, True
        for arch in archs:
            ptx = "%s.%s.ptx" % (base, arch)
            for cmd in ([lathe, "compile", case.lir, "--target", "cuda:" + arch, "--emit=ptx", "-o", ptx],
                        [ptxas, "-arch=" + arch, ptx, "-o", os.devnull]):
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode and NOT_LOWERED in r.stderr:
                    lowered = False
                    break
                if r.returncode:
                    print("FAIL %s (%s, %s): %s" % (case.name, arch, os.path.basename(cmd[0]),
                                                    (r.stderr or r.stdout).strip().splitlines()[:1]))
                    good = False
                    break
            if not good or not lowered:
                break
        ok += good and lowered
        skipped += not lowered
    print("ptxas: %d of %d cases assemble (%d not lowered)" % (ok, len(cases) - skipped, skipped))
    return 0 if ok + skipped == len(cases) else 1


if __name__ == "__main__":
    sys.exit(main())
