"""Cross-checks fold-constants against numpy on random cases.

Each case is a small graph whose only op has constant operands: random op,
dtype and (broadcastable) shapes. All cases go through one
`lathe-opt --split-input-file --passes=fold-constants,dce` run; every folded
constant is compared with numpy's answer for the same op: exactly for data
movement, integer arithmetic, comparisons and the correctly rounded float ops
(+ - * /), within one unit in the last place for transcendental functions.

usage: fold_vs_numpy.py LATHE_OPT [--seed N] [--cases N]
"""
import argparse
import math
import subprocess
import sys

import numpy as np

DTYPES = {"f32": np.float32, "f64": np.float64, "f16": np.float16, "i32": np.int32, "i64": np.int64, "i8": np.int8}
FLOATS = ("f32", "f64", "f16")


def literal(v, dtype):
    if dtype == "bool":
        return "true" if v else "false"
    if dtype in FLOATS:
        f = float(v)
        return "nan" if math.isnan(f) else ("inf" if f == math.inf else "-inf" if f == -math.inf else repr(f))
    return str(int(v))


def type_text(dtype, shape):
    return "%s[%s]" % (dtype, ", ".join(str(d) for d in shape))


def const(name, arr, dtype):
    body = ", ".join(literal(v, dtype) for v in arr.reshape(-1))
    return "  %%%s = const dense[%s] : %s" % (name, body, type_text(dtype, arr.shape))


def random_array(rng, dtype, shape, nonzero=False):
    if dtype in FLOATS:
        a = rng.uniform(-4, 4, size=shape).astype(DTYPES[dtype])
    elif dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    else:
        info = np.iinfo(DTYPES[dtype])
        lo, hi = max(info.min, -1000), min(info.max, 1000)
        a = rng.integers(lo, hi, size=shape, endpoint=True).astype(DTYPES[dtype])
    if nonzero:
        a[a == 0] = 1
    return a


def broadcast_partner(rng, shape):
    """A shape that broadcasts against `shape` without growing it."""
    k = int(rng.integers(0, len(shape) + 1))
    return tuple(1 if rng.random() < 0.3 else d for d in shape[len(shape) - k:])


def trunc_div(a, b):
    q = np.abs(a.astype(np.int64)) // np.abs(b.astype(np.int64))
    return (q * np.sign(a.astype(np.int64)) * np.sign(b.astype(np.int64))).astype(a.dtype)


def onnx_slice_indices(dim, start, end, step):
    """ONNX Slice clamps differently from Python for negative steps: a start
    before the first element means the first element, not an empty slice."""
    start, end = start + dim if start < 0 else start, end + dim if end < 0 else end
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
    else:
        start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return np.array(list(range(start, end, step)), dtype=np.int64)


BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b if a.dtype.kind == "f" else trunc_div(a, b),
    "max": np.maximum, "min": np.minimum,
}
COMPARE = {"less": np.less, "greater_equal": np.greater_equal, "equal": np.equal}
UNARY = {"neg": np.negative, "abs": np.abs, "exp": np.exp, "tanh": np.tanh, "floor": np.floor,
         "sqrt": lambda a: np.sqrt(np.abs(a)), "sigmoid": lambda a: 1 / (1 + np.exp(-a))}
APPROX = {"exp", "tanh", "sigmoid"}


def make_case(rng, i):
    """Returns (graph text, expected array, result dtype, tolerance in ulps)."""
    shape = tuple(int(d) for d in rng.integers(1, 4, size=int(rng.integers(0, 4))))
    dtype = str(rng.choice(list(DTYPES)))
    kind = str(rng.choice(["binary", "compare", "unary", "where", "transpose", "concat", "slice",
                           "gather", "cast", "mod"]))
    lines, ulps = [], 0
    x = random_array(rng, dtype, shape)
    if kind == "binary":
        op = str(rng.choice(list(BINARY)))
        y = random_array(rng, dtype, broadcast_partner(rng, shape), nonzero=op == "div")
        with np.errstate(all="ignore"):
            want, rdt = BINARY[op](x, y).astype(x.dtype), dtype
        lines += [const("a", x, dtype), const("b", y, dtype), "  %%r = %s %%a, %%b" % op]
    elif kind == "mod":
        # onnx.reference's Mod: np.fmod when fmod = 1 (floats need it), else np.mod.
        fmod = 1 if dtype in FLOATS else int(rng.integers(0, 2))
        y = random_array(rng, dtype, broadcast_partner(rng, shape), nonzero=True)
        want, rdt = (np.fmod if fmod else np.mod)(x, y).astype(x.dtype), dtype
        lines += [const("a", x, dtype), const("b", y, dtype),
                  "  %%r = mod %%a, %%b {fmod = %d}" % fmod]
    elif kind == "compare":
        op = str(rng.choice(list(COMPARE)))
        y = random_array(rng, dtype, broadcast_partner(rng, shape))
        want, rdt = COMPARE[op](x, y), "bool"
        lines += [const("a", x, dtype), const("b", y, dtype), "  %%r = %s %%a, %%b" % op]
    elif kind == "unary":
        ops = list(UNARY) if dtype in FLOATS else ["neg", "abs"]
        op = str(rng.choice(ops))
        arg = np.abs(x) if op == "sqrt" else x
        with np.errstate(all="ignore"):
            want = UNARY[op](arg.astype(np.float64) if dtype in FLOATS else arg).astype(x.dtype)
        rdt, ulps = dtype, 1 if op in APPROX else 0
        lines += [const("a", arg, dtype), "  %%r = %s %%a" % op]
    elif kind == "where":
        c = random_array(rng, "bool", broadcast_partner(rng, shape))
        y = random_array(rng, dtype, broadcast_partner(rng, shape))
        want, rdt = np.where(c, x, y), dtype
        lines += [const("c", c, "bool"), const("a", x, dtype), const("b", y, dtype),
                  "  %r = where %c, %a, %b"]
    elif kind == "transpose":
        perm = [int(p) for p in rng.permutation(len(shape))]
        want, rdt = np.transpose(x, perm), dtype
        lines += [const("a", x, dtype), "  %%r = transpose %%a {perm = [%s]}" % ", ".join(map(str, perm))]
    elif kind == "concat" and shape:
        axis = int(rng.integers(0, len(shape)))
        other = list(shape)
        other[axis] = int(rng.integers(1, 4))
        y = random_array(rng, dtype, tuple(other))
        want, rdt = np.concatenate([x, y], axis=axis), dtype
        lines += [const("a", x, dtype), const("b", y, dtype), "  %%r = concat %%a, %%b {axis = %d}" % axis]
    elif kind == "slice" and shape:
        axis = int(rng.integers(0, len(shape)))
        start, end, step = (int(v) for v in rng.integers(-4, 5, size=3))
        step = step or 1
        want, rdt = np.take(x, onnx_slice_indices(shape[axis], start, end, step), axis=axis), dtype
        lines += [const("a", x, dtype), "  %%r = slice %%a {starts = [%d], ends = [%d], axes = [%d], steps = [%d]}"
                  % (start, end, axis, step)]
    elif kind == "gather" and shape:
        axis = int(rng.integers(0, len(shape)))
        idx = rng.integers(-shape[axis], shape[axis], size=int(rng.integers(1, 4)))
        want, rdt = np.take(x, idx, axis=axis), dtype
        lines += [const("a", x, dtype), const("i", idx.astype(np.int64), "i64"),
                  "  %%r = gather %%a, %%i {axis = %d}" % axis]
    else:
        to = str(rng.choice(list(DTYPES) + ["bool"]))
        if dtype in FLOATS and to not in FLOATS and to != "bool":
            x = np.trunc(x) if to != "i8" else np.clip(np.trunc(x), -100, 100)
        src = x
        if to == "bool":
            want = src != 0
        elif to in FLOATS or dtype in FLOATS:
            want = src.astype(DTYPES[to])
        else:
            want = src.astype(np.int64).astype(DTYPES[to])  # integers wrap
        rdt = to
        lines += [const("a", src, dtype), "  %%r = cast %%a {to = %s}" % to]
    want = np.asarray(want)
    lines[-1] += " : " + type_text(rdt, want.shape)
    head = "graph @case%d() -> (%s) {" % (i, type_text(rdt, want.shape))
    return "\n".join([head] + lines + ["  return %r", "}"]), want, rdt, ulps


def parse_folded(chunk):
    """The dense/splat literal and type of the constant returned by the graph."""
    line = next(l for l in chunk.splitlines() if l.strip().startswith("%r = "))
    if " const " not in line:
        raise ValueError("not folded: " + line.strip())
    body, ty = line.split(" const ", 1)[1].rsplit(" : ", 1)
    dtype, dims = ty[:-1].split("[", 1)
    shape = tuple(int(d) for d in dims.split(", ") if d)
    words = body[body.index("(" if body.startswith("splat") else "[") + 1:-1].split(", ")
    conv = {"true": 1, "false": 0}
    values = [float(conv.get(w, w)) for w in words if w]
    arr = np.array(values) if body.startswith("dense") else np.full(shape, values[0])
    return arr.reshape(shape), dtype


def matches(got, want, dtype, ulps):
    if dtype in FLOATS:  # printed as the shortest decimal of the dtype: read it back as one
        got = got.astype(DTYPES[dtype]).astype(np.float64)
    want = want.astype(np.float64)
    if got.shape != want.shape:
        return False
    if ulps == 0 or dtype not in FLOATS:
        return bool(np.all((got == want) | (np.isnan(got) & np.isnan(want))))
    spacing = np.abs(np.spacing(want.astype(DTYPES[dtype]))).astype(np.float64)
    return bool(np.all(np.abs(got - want) <= ulps * spacing))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("lathe_opt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cases", type=int, default=200)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    cases = [make_case(rng, i) for i in range(args.cases)]
    text = "\n// -----\n".join(c[0] for c in cases) + "\n"
    run = subprocess.run([args.lathe_opt, "--split-input-file", "--passes=fold-constants,dce", "-"],
                         input=text, capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stderr, file=sys.stderr)
        return 1
    failures = 0
    for (src, want, dtype, ulps), chunk in zip(cases, run.stdout.split("// -----\n")):
        try:
            got, _ = parse_folded(chunk)
            ok = matches(got, want, dtype, ulps)
        except ValueError as e:
            ok, got = False, str(e)
        if not ok:
            failures += 1
            print("MISMATCH\n%s\nwant %s\ngot  %s" % (src, want.tolist(), got), file=sys.stderr)
    print("fold-constants vs numpy: %d of %d cases agree" % (len(cases) - failures, len(cases)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
