"""Every one-op graph of the kernel lowering's numeric tests
(tests/lit/kernel/Inputs/check_ops.py: every lowered op family on edge
shapes and dtypes) compiled by the cuda target to PTX and assembled by ptxas:
the generated CUDA C must get through NVRTC and the PTX through ptxas for
every kernel the lowering makes.

usage: ptxas_ops.py OUTDIR LATHE PTXAS ARCH [ARCH...]
Prints one line per failure and "ptxas: K of N cases assemble".
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "kernel", "Inputs"))
from check_ops import CASES  # noqa: E402
from graphs import Graph  # noqa: E402


def main():
    outdir, lathe, ptxas, archs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    os.makedirs(outdir, exist_ok=True)
    ok = 0
    for k, (name, inputs, build) in enumerate(CASES):
        g = Graph("case%d" % k)
        vals = [g.input("in%d" % i, a) for i, a in enumerate(inputs)]
        out = build(g, vals)
        g.output(*(out if isinstance(out, list) else [out]))
        base = os.path.join(outdir, "case%d" % k)
        with open(base + ".lir", "w") as f:
            f.write(g.text())
        good = True
        for arch in archs:
            ptx = "%s.%s.ptx" % (base, arch)
            for cmd in ([lathe, "compile", base + ".lir", "--target", "cuda:" + arch, "--emit=ptx", "-o", ptx],
                        [ptxas, "-arch=" + arch, ptx, "-o", os.devnull]):
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode:
                    print("FAIL %s (%s, %s): %s" % (name, arch, os.path.basename(cmd[0]),
                                                    (r.stderr or r.stdout).strip().splitlines()[:1]))
                    good = False
                    break
            if not good:
                break
        ok += good
    print("ptxas: %d of %d cases assemble" % (ok, len(CASES)))
    return 0 if ok == len(CASES) else 1


if __name__ == "__main__":
    sys.exit(main())
