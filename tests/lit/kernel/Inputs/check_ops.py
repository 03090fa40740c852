"""One-op graphs through lowering + the reference interpreter vs numpy, on
shapes that hit the edges: 1, primes, non-multiples of the vector width (16),
empty dims, broadcasting in both directions, negative integers.

usage: check_ops.py OUTDIR [lathe-interp options...]
Prints one line per mismatch and "ops: K of N cases match".
"""
import math
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from graphs import Bare, write_case  # noqa: E402

rng = np.random.default_rng(7)
F = np.float64


def f32(*shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, shape).astype(np.float32)


def ints(*shape, lo=-9, hi=9, dtype=np.int32):
    return rng.integers(lo, hi, shape).astype(dtype)


CASES = []


def case(name, inputs, build):
    """build(g, vals) -> output Value(s); inputs: list of arrays."""
    CASES.append((name, inputs, build))


def unary(op, fn, x, **attrs):
    case("%s%s" % (op, list(x.shape)), [x], lambda g, v: g.op(op, v, lambda a: fn(a.astype(F)), attrs or None))


def binary(op, fn, x, y, dtype=None):
    case("%s%s%s" % (op, list(x.shape), list(y.shape)), [x, y],
         lambda g, v: g.op(op, v, lambda a, b: fn(a.astype(F) if a.dtype.kind == "f" else a,
                                                  b.astype(F) if b.dtype.kind == "f" else b), dtype=dtype))


erf = np.vectorize(math.erf, otypes=[np.float64])
for shape in [(0,), (1,), (17,), (3, 16), (2, 0, 5), (2, 3, 19)]:
    x = f32(*shape)
    unary("neg", np.negative, x)
    unary("exp", np.exp, x)
    unary("tanh", np.tanh, x)
    unary("sigmoid", lambda a: 1 / (1 + np.exp(-a)), x)
    unary("erf", erf, x)
for name, fn, kw in [
    ("abs", np.abs, {}), ("log", lambda a: np.log(np.abs(a) + 0.1), None), ("sqrt", None, None),
    ("sin", np.sin, {}), ("cos", np.cos, {}), ("floor", np.floor, {}), ("ceil", np.ceil, {}),
    ("round", np.round, {}), ("sign", np.sign, {}), ("relu", lambda a: np.maximum(a, 0), {}),
    ("reciprocal", lambda a: 1 / a, {}), ("softsign", lambda a: a / (1 + np.abs(a)), {}),
    ("softplus", lambda a: np.log1p(np.exp(a)), {}), ("atan", np.arctan, {}), ("sinh", np.sinh, {}),
]:
    if fn is None or kw is None:
        continue
    unary(name, fn, f32(5, 7))
unary("log", np.log, f32(5, 7, lo=0.1, hi=3))
unary("sqrt", np.sqrt, f32(5, 7, lo=0, hi=3))
unary("round", np.round, np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49], np.float32))
unary("elu", lambda a: np.where(a > 0, a, 0.7 * (np.exp(a) - 1)), f32(9), alpha=0.7)
unary("leaky_relu", lambda a: np.where(a < 0, 0.1 * a, a), f32(9), alpha=0.1)
unary("hard_sigmoid", lambda a: np.clip(0.2 * a + 0.5, 0, 1), f32(9, lo=-4, hi=4))
unary("hard_swish", lambda a: a * np.clip(a / 6 + 0.5, 0, 1), f32(9, lo=-4, hi=4))
unary("mish", lambda a: a * np.tanh(np.log1p(np.exp(a))), f32(9))
unary("thresholded_relu", lambda a: np.where(a > 1.0, a, 0), f32(9))
unary("gelu", lambda a: 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3))), f32(9),
      approximate="tanh")
unary("celu", lambda a: np.maximum(a, 0) + np.minimum(0, 1.5 * (np.exp(a / 1.5) - 1)), f32(9), alpha=1.5)

for xs, ys in [((3, 1, 5), (4, 5)), ((1,), (7,)), ((0, 3), (1, 3)), ((2, 17), (2, 17)), ((), (3, 2))]:
    x, y = f32(*xs), f32(*ys)
    binary("add", np.add, x, y)
    binary("mul", np.multiply, x, y)
    binary("sub", np.subtract, x, y)
    binary("max", np.fmax, x, y)
    binary("less", np.less, x, y, dtype=np.bool_)
binary("div", np.divide, f32(4, 6), f32(6, lo=0.5, hi=2))
binary("pow", np.power, f32(4, 6, lo=0.1, hi=2), f32(6))
binary("min", np.fmin, f32(4, 6), f32(4, 1))
binary("equal", np.equal, ints(4, 6, lo=0, hi=3), ints(6, lo=0, hi=3), dtype=np.bool_)
binary("add", lambda a, b: (a.astype(np.int64) + b).astype(np.int32), ints(5, 3), ints(3))
binary("div", lambda a, b: np.trunc(a / b).astype(np.int32), ints(40), np.array([3, -3, 7, -7] * 10, np.int32))
binary("mod", np.mod, ints(40, dtype=np.int64), np.array([3, -3, 7, -7] * 10, np.int64))
binary("bitwise_xor", np.bitwise_xor, ints(6, 5, lo=0, hi=255, dtype=np.uint8), ints(5, lo=0, hi=255, dtype=np.uint8))
case("mod-fmod", [f32(12, lo=-5, hi=5), f32(12, lo=0.5, hi=2)],
     lambda g, v: g.op("mod", v, lambda a, b: np.fmod(a.astype(F), b), {"fmod": 1}))
case("where", [rng.random((3, 1)) < 0.5, f32(3, 4), f32(4)],
     lambda g, v: g.op("where", v, lambda c, a, b: np.where(c, a, b), dtype=np.float32))
case("clip", [f32(3, 5), np.array(-0.5, np.float32), np.array(0.75, np.float32)],
     lambda g, v: g.op("clip", v, lambda a, lo, hi: np.clip(a, lo, hi)))
case("clip-max-only", [f32(3, 5), np.array(0.25, np.float32)],
     lambda g, v: g.op("clip", [v[0], None, v[1]], lambda a, lo, hi: np.minimum(a, hi)))
case("sum3", [f32(2, 3), f32(3), f32(1, 1)],
     lambda g, v: g.op("sum", v, lambda a, b, c: a.astype(F) + b + c))
case("mean2", [f32(2, 3), f32(2, 1)], lambda g, v: g.op("mean", v, lambda a, b: (a.astype(F) + b) / 2))
for to, dt in [("i32", np.int32), ("f16", np.float16), ("bool", np.bool_), ("u8", np.uint8)]:
    src = f32(11, lo=-300 if to != "u8" else 0, hi=300 if to != "u8" else 255)
    case("cast-f32-%s" % to, [src], lambda g, v, to=to, dt=dt: g.op("cast", v, lambda a: a.astype(dt), {"to": Bare(to)}, dt))
case("cast-i64-f32", [ints(9, lo=-10**6, hi=10**6, dtype=np.int64)],
     lambda g, v: g.op("cast", v, lambda a: a.astype(np.float32), {"to": Bare("f32")}, np.float32))

# ---- reductions ----
def reduce(op, fn, x, axes, keep):
    def ref(a):
        r = fn(a.astype(F), axis=tuple(axes) if axes else None, keepdims=bool(keep))
        return r
    case("%s%s%s-k%d" % (op, list(x.shape), axes, keep), [x],
         lambda g, v: g.op(op, v, ref, {"axes": axes, "keepdims": keep}))


X = f32(3, 17, 5)
for axes in [[1], [0, 2], [-1], []]:
    for keep in [0, 1]:
        reduce("reduce_sum", np.sum, X, axes, keep)
reduce("reduce_mean", np.mean, X, [1], 1)
reduce("reduce_max", np.max, X, [2], 0)
reduce("reduce_min", np.min, X, [0], 1)
reduce("reduce_prod", np.prod, f32(4, 3, lo=0.5, hi=1.5), [1], 0)
reduce("reduce_l1", lambda a, axis, keepdims: np.abs(a).sum(axis=axis, keepdims=keepdims), X, [1], 0)
reduce("reduce_l2", lambda a, axis, keepdims: np.sqrt((a * a).sum(axis=axis, keepdims=keepdims)), X, [2], 1)
reduce("reduce_sum_square", lambda a, axis, keepdims: (a * a).sum(axis=axis, keepdims=keepdims), X, [0], 0)
reduce("reduce_log_sum_exp", lambda a, axis, keepdims: np.log(np.exp(a).sum(axis=axis, keepdims=keepdims)),
       f32(4, 33, lo=-30, hi=30), [1], 1)
reduce("reduce_sum", np.sum, f32(4, 0), [1], 0)
# Bools (ONNX opset 20): reduce_max is any, reduce_min all; rows of all
# true and all false so that both answers show up.
B = rng.random((3, 17, 5)) < 0.9
B[0], B[1, :, 0] = True, False
for axes, keep in [([1], 0), ([0, 2], 1), ([], 0)]:
    reduce("reduce_max", np.max, B, axes, keep)
    reduce("reduce_min", np.min, B, axes, keep)
ties = np.array([[1, 3, 3, 0], [2, 2, 1, 2], [0, 0, 0, 0]], np.float32)
for op, fn in [("argmax", np.argmax), ("argmin", np.argmin)]:
    for last in [0, 1]:
        def ref(a, fn=fn, last=last):
            if last:
                return (a.shape[1] - 1 - fn(a[:, ::-1], axis=1)).reshape(-1, 1)
            return fn(a, axis=1).reshape(-1, 1)
        case("%s-last%d" % (op, last), [ties],
             lambda g, v, op=op, ref=ref, last=last: g.op(op, v, ref, {"axis": 1, "select_last_index": last}, np.int64))
case("argmax-axis0", [f32(5, 3)], lambda g, v: g.op("argmax", v, lambda a: np.argmax(a, 0), {"axis": 0, "keepdims": 0}, np.int64))
for excl in [0, 1]:
    for rev in [0, 1]:
        def cref(a, excl=excl, rev=rev):
            a = a.astype(F)
            if rev:
                a = a[:, ::-1]
            r = np.cumsum(a, axis=1)
            if excl:
                r = np.concatenate([np.zeros((a.shape[0], 1)), r[:, :-1]], axis=1)
            return r[:, ::-1] if rev else r
        case("cum_sum-e%d-r%d" % (excl, rev), [f32(3, 7)],
             lambda g, v, cref=cref, excl=excl, rev=rev: g.op("cum_sum", v, cref, {"axis": 1, "exclusive": excl, "reverse": rev}))

# ---- softmax family and norms ----
def softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


case("softmax-axis0", [f32(5, 3)], lambda g, v: g.op("softmax", v, lambda a: softmax(a.astype(F), 0), {"axis": 0}))
case("softmax-axis1-of3", [f32(2, 7, 3)], lambda g, v: g.op("softmax", v, lambda a: softmax(a.astype(F), 1), {"axis": 1}))
case("log_softmax", [f32(4, 17)], lambda g, v: g.op("log_softmax", v, lambda a: np.log(softmax(a.astype(F), -1))))
case("hardmax", [ties], lambda g, v: g.op("hardmax", v, lambda a: np.eye(4)[np.argmax(a, 1)]))
case("layer_norm-axis1", [f32(2, 3, 5), f32(3, 5), f32(5)],
     lambda g, v: g.op("layer_norm", v, lambda a, s, b: (a - a.mean((1, 2), keepdims=True)) /
                       np.sqrt(a.astype(F).var((1, 2), keepdims=True) + 1e-5) * s + b, {"axis": 1}))


def group_norm(a, s, b, groups):
    n, c = a.shape[:2]
    r = a.astype(F).reshape(n, groups, -1)
    r = (r - r.mean(-1, keepdims=True)) / np.sqrt(r.var(-1, keepdims=True) + 1e-5)
    sh = (1, c) + (1,) * (a.ndim - 2)
    return r.reshape(a.shape) * s.reshape(sh) + b.reshape(sh)


case("instance_norm", [f32(2, 3, 4, 5), f32(3), f32(3)],
     lambda g, v: g.op("instance_norm", v, lambda a, s, b: group_norm(a, s, b, 3)))
case("group_norm", [f32(2, 6, 7), f32(6), f32(6)],
     lambda g, v: g.op("group_norm", v, lambda a, s, b: group_norm(a, s, b, 2), {"num_groups": 2}))

# ---- data movement ----
case("transpose", [f32(2, 3, 17)], lambda g, v: g.op("transpose", v, lambda a: a.transpose(2, 0, 1), {"perm": [2, 0, 1]}))
case("transpose-default", [f32(2, 3, 5)], lambda g, v: g.op("transpose", v, lambda a: a.transpose()))
case("slice", [f32(7, 20)], lambda g, v: g.op("slice", v, lambda a: a[1:6:2, -5:],
                                               {"starts": [1, -5], "ends": [6, 100], "steps": [2, 1]}))
case("slice-neg-step", [f32(9)], lambda g, v: g.op("slice", v, lambda a: a[7:1:-3], {"starts": [7], "ends": [1], "steps": [-3]}))
case("concat", [f32(2, 3), f32(2, 0), f32(2, 5)], lambda g, v: g.op("concat", v, lambda *a: np.concatenate(a, 1), {"axis": 1}))
case("split", [f32(7, 4)], lambda g, v: g._emit("split", v, {"axis": 0, "split": [2, 5]}, np.split(v[0].a, [2])))
case("split-equal", [f32(3, 10)], lambda g, v: g._emit("split", v, {"axis": 1}, np.array_split(v[0].a, 3, axis=1)[::1]
                                                        if False else [v[0].a[:, :4], v[0].a[:, 4:8], v[0].a[:, 8:]]))
for mode in ["constant", "reflect", "edge", "wrap"]:
    case("pad-" + mode, [f32(3, 5)],
         lambda g, v, mode=mode: g.op("pad", v, lambda a: np.pad(a, ((1, 2), (2, 0)), mode=mode if mode != "wrap" else "wrap"),
                                      {"pads": [1, 2, 2, 0], "mode": mode}))
case("pad-value", [f32(3, 2), np.array(9.5, np.float32)],
     lambda g, v: g.op("pad", v, lambda a, c: np.pad(a, ((0, 1), (3, 0)), constant_values=c), {"pads": [0, 3, 1, 0]}))
case("expand", [f32(3, 1)], lambda g, v: g.op("expand", v, lambda a: np.broadcast_to(a, (2, 3, 4)), {"shape": [2, 1, 4]}))
case("tile", [f32(2, 3)], lambda g, v: g.op("tile", v, lambda a: np.tile(a, (2, 3)), {"repeats": [2, 3]}))
case("squeeze", [f32(1, 3, 1, 2)], lambda g, v: g.op("squeeze", v, lambda a: a.reshape(3, 2), {"axes": [0, 2]}))
case("unsqueeze", [f32(3, 2)], lambda g, v: g.op("unsqueeze", v, lambda a: a.reshape(1, 3, 2, 1), {"axes": [0, 3]}))
case("reshape-infer", [f32(4, 6)], lambda g, v: g.op("reshape", v, lambda a: a.reshape(3, -1, 2), {"shape": [3, -1, 2]}))
case("transpose-of-reshape", [f32(4, 6)],
     lambda g, v: g.op("transpose", [g.op("reshape", v, lambda a: a.reshape(2, 12), {"shape": [2, 12]})],
                       lambda a: a.T, {"perm": [1, 0]}))
case("gather-axis1", [f32(3, 5), np.array([[4, -1], [0, 2]], np.int64)],
     lambda g, v: g.op("gather", v, lambda d, i: np.take(d, i, axis=1), {"axis": 1}, np.float32))
case("gather_elements", [f32(3, 4), ints(3, 2, lo=-4, hi=4, dtype=np.int64)],
     lambda g, v: g.op("gather_elements", v, lambda d, i: np.take_along_axis(d, np.where(i < 0, i + 4, i), 1),
                       {"axis": 1}, np.float32))
case("one_hot", [np.array([0, 3, -1, 2], np.int64), np.array([0.0, 5.0], np.float32)],
     lambda g, v: g.op("one_hot", v, lambda i, vals: np.where(np.eye(4)[i % 4] > 0, 5.0, 0.0), {"depth": 4}, np.float32))
case("trilu-lower", [f32(2, 4, 5)], lambda g, v: g.op("trilu", v, lambda a: np.tril(a, 1), {"upper": 0, "k": 1}))
case("trilu-upper", [f32(4, 5)], lambda g, v: g.op("trilu", v, lambda a: np.triu(a, -1), {"k": -1}))
case("shape", [f32(2, 3, 5)], lambda g, v: g.op("shape", v, lambda a: np.array(a.shape[1:], np.int64), {"start": 1}, np.int64))
case("size", [f32(2, 3, 5)], lambda g, v: g.op("size", v, lambda a: np.array(a.size, np.int64), None, np.int64))
case("iota", [f32(2, 7)], lambda g, v: g.op("iota", v, lambda a: np.arange(7), {"axis": 1}, np.int64))

# ---- quantization ----
case("quantize-per-axis", [f32(3, 4, lo=-10, hi=10), np.array([0.1, 0.2, 0.05], np.float32), np.array([3, -2, 0], np.int8)],
     lambda g, v: g.op("quantize_linear", v, lambda x, s, z: np.clip(np.round(x / s[:, None]) + z[:, None], -128, 127),
                       {"axis": 0}, np.int8))
case("dequantize", [ints(3, 4, lo=0, hi=255, dtype=np.uint8), np.array(0.5, np.float32), np.array(128, np.uint8)],
     lambda g, v: g.op("dequantize_linear", v, lambda x, s, z: (x.astype(F) - z) * s, None, np.float32))

# ---- linear algebra with edge shapes ----
for a_shape, b_shape in [((1, 1), (1, 1)), ((5, 17), (17, 3)), ((2, 3, 7), (7, 16)), ((3, 16), (2, 16, 5)),
                         ((2, 4, 3), (2, 3, 6)), ((7,), (7, 2)), ((4, 7), (7,)), ((2, 1, 3, 4), (1, 5, 4, 2)), ((0, 4), (4, 3))]:
    binary("matmul", np.matmul, f32(*a_shape), f32(*b_shape))

# ---- more index arithmetic and normalization ----
case("gather_nd", [f32(3, 4, 5), np.array([[2, 1], [-1, 3]], np.int64)],
     lambda g, v: g.op("gather_nd", v, lambda d, i: d[i[:, 0] % 3, i[:, 1] % 4], None, np.float32))
case("gather_nd-batch", [f32(2, 3, 4), np.array([[2], [0]], np.int64)],
     lambda g, v: g.op("gather_nd", v, lambda d, i: d[np.arange(2), i[:, 0]], {"batch_dims": 1}, np.float32))


def d2s(x, b, mode):
    n, c, h, w = x.shape
    if mode == "DCR":
        t = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        t = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return t.reshape(n, c // (b * b), h * b, w * b)


for mode in ["DCR", "CRD"]:
    case("depth_to_space-" + mode, [f32(2, 8, 3, 5)],
         lambda g, v, mode=mode: g.op("depth_to_space", v, lambda a: d2s(a, 2, mode), {"blocksize": 2, "mode": mode}))
case("space_to_depth", [f32(2, 3, 4, 6)],
     lambda g, v: g.op("space_to_depth", v, lambda a: a.reshape(2, 3, 2, 2, 3, 2).transpose(0, 3, 5, 1, 2, 4).reshape(2, 12, 2, 3),
                       {"blocksize": 2}))
case("mvn", [f32(2, 3, 4, 5)],
     lambda g, v: g.op("mean_variance_normalization", v, lambda a: (a - a.astype(F).mean((0, 2, 3), keepdims=True)) /
                       (a.astype(F).std((0, 2, 3), keepdims=True) + 1e-9)))


def lrn(x, size, alpha, beta, bias):
    x = x.astype(F)
    sq = np.zeros_like(x)
    C = x.shape[1]
    for ch in range(C):
        lo, hi = max(0, ch - (size - 1) // 2), min(C - 1, ch + int(math.ceil((size - 1) / 2)))
        sq[:, ch] = (x[:, lo:hi + 1] ** 2).sum(axis=1)
    return x / (bias + alpha / size * sq) ** beta


case("lrn", [f32(2, 7, 3, 3)], lambda g, v: g.op("lrn", v, lambda a: lrn(a, 4, 1e-2, 0.75, 1.5),
                                                  {"alpha": 1e-2, "beta": 0.75, "bias": 1.5, "size": 4}))


def max_pool_idx(x, order):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    oh, ow = (h + 2 - 3) // 2 + 1, (w + 2 - 3) // 2 + 1
    vals = np.zeros((n, c, oh, ow), np.float32)
    idx = np.zeros((n, c, oh, ow), np.int64)
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3].reshape(n, c, 9)
            k = win.argmax(-1)
            vals[:, :, i, j] = win.max(-1)
            hh, ww = 2 * i + k // 3 - 1, 2 * j + k % 3 - 1
            sp = hh * w + ww if order == 0 else hh + ww * h
            idx[:, :, i, j] = (np.arange(n)[:, None] * c + np.arange(c)[None, :]) * h * w + sp
    return [vals, idx]


for order in [0, 1]:
    case("max_pool-indices-%d" % order, [f32(2, 3, 5, 6)],
         lambda g, v, order=order: g._emit("max_pool", v, {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1],
                                                           "storage_order": order, "strides": [2, 2]},
                                          max_pool_idx(v[0].a, order)))


def main():
    outdir, extra = sys.argv[1], sys.argv[2:]
    os.makedirs(outdir, exist_ok=True)
    ok = 0
    for k, (name, inputs, build) in enumerate(CASES):
        g, base, outs, files = write_case(k, inputs, build, outdir)
        cmd = ["lathe-interp"] + extra + [base + ".lir"] + files
        for i in range(len(outs)):
            cmd += ["-o", "%s_out%d.npy" % (base, i)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            print("FAIL %s: %s" % (name, r.stderr.strip()))
            continue
        good = True
        for i, ref in enumerate(g.refs()):
            got = np.load("%s_out%d.npy" % (base, i))
            if got.shape != ref.shape or got.dtype != ref.dtype:
                print("FAIL %s: output %d is %s%s, expected %s%s" % (name, i, got.dtype, got.shape, ref.dtype, ref.shape))
                good = False
                continue
            if got.dtype.kind == "f":
                tol = 1e-3 if got.dtype == np.float16 else 1e-5
                bad = ~((np.abs(got.astype(F) - ref.astype(F)) <= tol + tol * 10 * np.abs(ref.astype(F))) |
                        (np.isnan(got) & np.isnan(ref)))
            else:
                bad = got != ref
            if bad.any():
                print("FAIL %s: output %d differs at %d of %d elements (first %s: %s vs %s)" % (
                    name, i, bad.sum(), bad.size, np.argwhere(bad)[0], got[bad][0], ref[bad][0]))
                good = False
        ok += good
    print("ops: %d of %d cases match" % (ok, len(CASES)))
    return 0 if ok == len(CASES) else 1


if __name__ == "__main__":
    sys.exit(main())
