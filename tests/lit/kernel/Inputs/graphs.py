"""Builds text-IR graphs and their numpy references in one go, for the
numeric tests of the kernel-IR lowering and interpreter.

Each builder method appends one op to the graph text *and* computes that op's
value with numpy (in float64 for float tensors), so the reference can never
drift from the graph. A value's dims print as a symbol when they equal a
symbolic size the graph declares (choose sizes that no other dim takes).

    g = Graph("mlp", symbols={"N": 7})
    x = g.input("x", rng.standard_normal((7, 13)).astype(np.float32), ["N", 13])
    y = g.relu(g.add(g.matmul(x, g.const(w)), g.const(b)))
    g.output(y)
    g.text(); g.inputs(); g.refs()
"""
import math
import os

import numpy as np

DTYPES = {
    np.dtype(np.float32): "f32", np.dtype(np.float64): "f64", np.dtype(np.float16): "f16",
    np.dtype(np.int64): "i64", np.dtype(np.int32): "i32", np.dtype(np.int8): "i8",
    np.dtype(np.uint8): "u8", np.dtype(np.bool_): "bool",
}
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _lit(v, dtype):
    if dtype == np.bool_:
        return "true" if v else "false"
    if np.issubdtype(dtype, np.integer):
        return str(int(v))
    f = float(v)
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    return repr(f)


class Bare(str):
    """An attribute written without quotes (a dtype: {to = f16})."""


def _attr(v):
    if isinstance(v, Bare):
        return str(v)
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        s = repr(v)
        return s if any(c in s for c in ".ein") else s + ".0"
    if isinstance(v, str):
        return '"%s"' % v
    return "[" + ", ".join(_attr(x) for x in v) + "]"


class Value:
    def __init__(self, name, array):
        self.name, self.a = name, array


class Graph:
    def __init__(self, name, symbols=None):
        self.name, self.symbols = name, dict(symbols or {})
        self.lines, self.ins, self.outs, self.n = [], [], [], 0

    # ---- plumbing ----
    def _dims(self, shape):
        inv = {v: k for k, v in self.symbols.items()}
        return ", ".join(inv.get(d, str(d)) for d in shape)

    def _type(self, a):
        return "%s[%s]" % (DTYPES[a.dtype], self._dims(a.shape))

    def _emit(self, op, operands, attrs, results):
        names = []
        for r in results:
            names.append("%%v%d" % self.n)
            self.n += 1
        ops = ", ".join(o.name if o is not None else "_" for o in operands)
        at = ""
        if attrs:
            at = " {" + ", ".join("%s = %s" % (k, _attr(v)) for k, v in attrs.items()) + "}"
        types = ", ".join(self._type(r) for r in results)
        self.lines.append("  %s = %s %s%s : %s" % (", ".join(names), op, ops, at, types))
        vals = [Value(nm, r) for nm, r in zip(names, results)]
        return vals[0] if len(vals) == 1 else vals

    def op(self, op, operands, ref, attrs=None, dtype=None):
        """A generic op: `ref` maps the operands' arrays to the result."""
        r = ref(*[o.a if o is not None else None for o in operands])
        dt = dtype or operands[0].a.dtype
        return self._emit(op, operands, attrs, [np.asarray(r).astype(dt)])

    def input(self, name, array, dims=None):
        v = Value("%" + name, array)
        self.ins.append((v, dims if dims is not None else list(array.shape)))
        return v

    def const(self, array):
        array = np.asarray(array)
        body = ", ".join(_lit(x, array.dtype) for x in array.reshape(-1))
        name = "%%c%d" % self.n
        self.n += 1
        self.lines.append("  %s = const dense[%s] : %s" % (name, body, "%s[%s]" % (
            DTYPES[array.dtype], ", ".join(str(d) for d in array.shape))))
        return Value(name, array)

    def output(self, *vals):
        self.outs.extend(vals)

    def text(self):
        params = ", ".join("%s: %s[%s]" % (v.name, DTYPES[v.a.dtype], ", ".join(str(d) for d in dims))
                           for v, dims in self.ins)
        rets = ", ".join(self._type(v.a) for v in self.outs)
        body = "\n".join(self.lines)
        return "graph @%s(%s) -> (%s) {\n%s\n  return %s\n}\n" % (
            self.name, params, rets, body, ", ".join(v.name for v in self.outs))

    def inputs(self):
        return [v.a for v, _ in self.ins]

    def refs(self):
        return [v.a for v in self.outs]

    # ---- elementwise ----
    def unary(self, op, fn, x, **attrs):
        return self.op(op, [x], lambda a: fn(a.astype(np.float64)), attrs or None)

    def binary(self, op, fn, x, y):
        return self.op(op, [x, y], lambda a, b: fn(a.astype(np.float64), b.astype(np.float64)))

    def add(self, x, y): return self.binary("add", np.add, x, y)
    def sub(self, x, y): return self.binary("sub", np.subtract, x, y)
    def mul(self, x, y): return self.binary("mul", np.multiply, x, y)
    def div(self, x, y): return self.binary("div", np.divide, x, y)
    def relu(self, x): return self.unary("relu", lambda a: np.maximum(a, 0), x)
    def tanh(self, x): return self.unary("tanh", np.tanh, x)
    def sigmoid(self, x): return self.unary("sigmoid", lambda a: 1 / (1 + np.exp(-a)), x)
    def erf(self, x): return self.unary("erf", _erf, x)

    def gelu(self, x):
        return self.unary("gelu", lambda a: 0.5 * a * (1 + _erf(a / math.sqrt(2))), x)

    def where(self, c, x, y):
        return self.op("where", [c, x, y], lambda c, a, b: np.where(c, a, b), dtype=x.a.dtype)

    def cast(self, x, dtype):
        return self.op("cast", [x], lambda a: a.astype(dtype), {"to": Bare(DTYPES[np.dtype(dtype)])}, dtype)

    # ---- linear algebra ----
    def matmul(self, x, y):
        return self.op("matmul", [x, y], lambda a, b: a.astype(np.float64) @ b.astype(np.float64))

    def gemm(self, a, b, c=None, alpha=1.0, beta=1.0, trans_a=0, trans_b=0):
        def ref(a, b, c):
            a = a.astype(np.float64).T if trans_a else a.astype(np.float64)
            b = b.astype(np.float64).T if trans_b else b.astype(np.float64)
            r = alpha * (a @ b)
            return r + beta * c if c is not None else r
        return self.op("gemm", [a, b, c], ref,
                       {"alpha": alpha, "beta": beta, "trans_a": trans_a, "trans_b": trans_b})

    # ---- normalization, softmax ----
    def softmax(self, x, axis=-1):
        def ref(a):
            e = np.exp(a - a.max(axis=axis, keepdims=True))
            return e / e.sum(axis=axis, keepdims=True)
        return self.op("softmax", [x], lambda a: ref(a.astype(np.float64)), {"axis": axis})

    def layer_norm(self, x, scale, bias, eps=1e-5):
        def ref(a, s, b):
            a = a.astype(np.float64)
            m = a.mean(-1, keepdims=True)
            v = ((a - m) ** 2).mean(-1, keepdims=True)
            return (a - m) / np.sqrt(v + eps) * s + b
        return self.op("layer_norm", [x, scale, bias], ref, {"axis": -1, "epsilon": eps})

    def rms_norm(self, x, scale, eps=1e-5):
        def ref(a, s):
            a = a.astype(np.float64)
            return a / np.sqrt((a * a).mean(-1, keepdims=True) + eps) * s
        return self.op("rms_norm", [x, scale], ref, {"axis": -1, "epsilon": eps})

    def batch_norm(self, x, scale, b, mean, var, eps=1e-5):
        def ref(x, s, b, m, v):
            sh = (1, -1) + (1,) * (x.ndim - 2)
            return (x - m.reshape(sh)) / np.sqrt(v.reshape(sh) + eps) * s.reshape(sh) + b.reshape(sh)
        return self.op("batch_norm", [x, scale, b, mean, var], ref, {"epsilon": eps})

    # ---- shapes ----
    def reshape(self, x, shape):
        def ref(a):
            s = [a.shape[i] if d == 0 else d for i, d in enumerate(shape)]
            return a.reshape(s)
        return self.op("reshape", [x], ref, {"shape": list(shape)})

    def transpose(self, x, perm):
        return self.op("transpose", [x], lambda a: a.transpose(perm), {"perm": list(perm)})

    def flatten(self, x, axis=1):
        return self.op("flatten", [x], lambda a: a.reshape(
            int(np.prod(a.shape[:axis])), int(np.prod(a.shape[axis:]))), {"axis": axis})

    def gather(self, data, idx, axis=0):
        return self.op("gather", [data, idx], lambda d, i: np.take(d, i, axis=axis), {"axis": axis},
                       dtype=data.a.dtype)

    # ---- convolution and pooling (2-D, NCHW) ----
    def conv(self, x, w, b=None, pads=(0, 0, 0, 0), strides=(1, 1), group=1):
        def ref(x, w, b):
            x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
            n, c, h, ww = x.shape
            m, cg, kh, kw = w.shape
            oh, ow = (h - kh) // strides[0] + 1, (ww - kw) // strides[1] + 1
            out = np.zeros((n, m, oh, ow))
            mg = m // group
            for o in range(m):
                g = o // mg
                xs = x[:, g * cg:(g + 1) * cg]
                for i in range(oh):
                    for j in range(ow):
                        patch = xs[:, :, i * strides[0]:i * strides[0] + kh, j * strides[1]:j * strides[1] + kw]
                        out[:, o, i, j] = (patch * w[o]).sum(axis=(1, 2, 3))
                if b is not None:
                    out[:, o] += b[o]
            return out
        attrs = {"group": group, "pads": list(pads), "strides": list(strides)}
        return self.op("conv", [x, w, b], ref, attrs)

    def pool(self, op, x, k, strides, pads=(0, 0, 0, 0)):
        def ref(x):
            fill = -np.inf if op == "max_pool" else np.nan
            x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])),
                       constant_values=fill)
            n, c, h, w = x.shape
            oh, ow = (h - k[0]) // strides[0] + 1, (w - k[1]) // strides[1] + 1
            out = np.zeros((n, c, oh, ow))
            for i in range(oh):
                for j in range(ow):
                    p = x[:, :, i * strides[0]:i * strides[0] + k[0], j * strides[1]:j * strides[1] + k[1]]
                    out[:, :, i, j] = p.max(axis=(2, 3)) if op == "max_pool" else np.nanmean(p, axis=(2, 3))
            return out
        return self.op(op, [x], ref, {"kernel_shape": list(k), "pads": list(pads), "strides": list(strides)})

    def global_average_pool(self, x):
        return self.op("global_average_pool", [x], lambda a: a.astype(np.float64).mean(
            axis=tuple(range(2, a.ndim)), keepdims=True))

    # ---- transformer blocks ----
    def attention(self, q, k, v, mask=None, causal=0):
        def ref(q, k, v, mask):
            q, k, v = (t.astype(np.float64) for t in (q, k, v))
            B, H, S, D = q.shape
            rep = H // k.shape[1]
            k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
            s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(D)
            T = k.shape[2]
            if mask is not None:
                s = np.where(mask, s, -np.inf) if mask.dtype == np.bool_ else s + mask
            if causal:
                hide = np.arange(T)[None, :] > np.arange(S)[:, None] + (T - S)
                s = np.where(hide, -np.inf, s)
            e = np.exp(s - s.max(-1, keepdims=True))
            return (e / e.sum(-1, keepdims=True)) @ v
        return self.op("attention", [q, k, v, mask], ref, {"causal": causal})

    def rotary(self, x, theta=10000.0):
        def ref(x):
            x = x.astype(np.float64)
            B, H, S, D = x.shape
            half = D // 2
            inv = theta ** (-2.0 * np.arange(half) / D)
            ang = np.arange(S)[:, None] * inv[None, :]
            c, s = np.cos(ang), np.sin(ang)
            a, b = x[..., :half], x[..., half:]
            return np.concatenate([a * c - b * s, b * c + a * s], axis=-1)
        return self.op("rotary_embedding", [x], ref, {"theta": theta})


def write_case(k, inputs, build, outdir, arrays=True):
    """Builds one numeric-test case, (inputs, build) of a CASES table, as the
    graph "case<k>" (inputs %in0, %in1... holding `inputs`, outputs what
    `build(g, inputs)` returns) and writes it to OUTDIR/case<k>.lir, with the
    input arrays as case<k>_in<i>.npy when `arrays`. The one writer of the
    case files every sweep reads. Returns (graph, base path without
    extension, output values, input files)."""
    g = Graph("case%d" % k)
    vals = [g.input("in%d" % i, a) for i, a in enumerate(inputs)]
    out = build(g, vals)
    outs = out if isinstance(out, list) else [out]
    g.output(*outs)
    base = os.path.join(outdir, "case%d" % k)
    with open(base + ".lir", "w") as f:
        f.write(g.text())
    files = []
    for i, a in enumerate(inputs if arrays else []):
        files.append("%s_in%d.npy" % (base, i))
        np.save(files[-1], a)
    return g, base, outs, files
