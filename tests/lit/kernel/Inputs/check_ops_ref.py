"""One-op graphs of the ops with the trickiest ONNX semantics (einsum, resize,
conv_transpose, top_k, the integer and qlinear matmul/conv, scatter,
dynamic_quantize_linear, the losses, shrink, lp_normalization, eye_like,
rotary embeddings) through lowering and a target, vs a reference: numpy
where the semantics are plain, else ONNX's own reference implementation
(onnx.reference), which is what produced ONNX's conformance data.

usage: check_ops_ref.py OUTDIR [MODE...]
Modes: interp (lathe-interp, the default), tile=T (lathe-interp with every
loop tiled by T), cpu (`lathe run --target cpu`: the LLVM backend compiles
every kernel). The references are computed once for all modes. Prints one
line per mismatch and "ops [MODE]: K of N cases match" per mode. Integer
results must match exactly; float results within 1e-5 (1e-3 for f16)
relative.
"""
import concurrent.futures
import os
import subprocess
import sys
import warnings

import numpy as np
import onnx
from onnx import helper
from onnx.reference import ReferenceEvaluator

sys.path.insert(0, os.path.dirname(__file__))
from graphs import Bare, write_case  # noqa: E402

warnings.simplefilter("ignore")  # the reference's own numpy warnings on empty results
rng = np.random.default_rng(11)
F = np.float64
ONNX_TYPES = {np.dtype(t): helper.np_dtype_to_tensor_dtype(np.dtype(t))
              for t in (np.float32, np.float64, np.float16, np.int64, np.int32, np.int8, np.uint8, np.bool_)}


def f32(*shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, shape).astype(np.float32)


def ints(*shape, lo=-9, hi=9, dtype=np.int32):
    return rng.integers(lo, hi, shape).astype(dtype)


def onnx_ref(op_type, arrays, attrs=None, consts=None, num_outputs=1, opset=21):
    """Runs one ONNX node on `arrays` (None = an absent optional input) with
    ONNX's reference implementation. consts: {input position: array} for the
    inputs Lathe takes as attributes (they are appended in position order)."""
    consts = consts or {}
    total = len(arrays) + len(consts)
    feeds, names, inputs, it = {}, [], [], iter(arrays)
    for pos in range(total):
        a = consts[pos] if pos in consts else next(it)
        if a is None:
            names.append("")
            continue
        name = "i%d" % pos
        names.append(name)
        feeds[name] = np.asarray(a)
        inputs.append(helper.make_tensor_value_info(name, ONNX_TYPES[np.asarray(a).dtype], None))
    outs = ["o%d" % i for i in range(num_outputs)]
    node = helper.make_node(op_type, names, outs, **(attrs or {}))
    graph = helper.make_graph([node], "g", inputs, [helper.make_value_info(o, onnx.TypeProto()) for o in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    res = ReferenceEvaluator(model).run(None, feeds)
    return res if num_outputs > 1 else res[0]


CASES = []


def case(name, inputs, build):
    """build(g, vals) -> output Value(s); inputs: list of arrays."""
    CASES.append((name, inputs, build))


# ---- einsum (numpy's einsum is the reference) ----
def einsum(eq, *arrays):
    def ref(*a):
        return np.einsum(eq, *[x.astype(F) if x.dtype.kind == "f" else x.astype(np.int64) for x in a])
    case("einsum %s %s" % (eq, [list(a.shape) for a in arrays]), list(arrays),
         lambda g, v: g.op("einsum", v, ref, {"equation": eq}))


einsum("ij,jk->ik", f32(5, 17), f32(17, 3))
einsum("ij,jk", f32(1, 1), f32(1, 7))
einsum("ij,kj->ik", f32(4, 9), f32(6, 9))
einsum("ji,jk->ik", f32(9, 4), f32(9, 6))
einsum("ij,jk->ki", f32(5, 7), f32(7, 3))
einsum("bij,bjk->bik", f32(3, 5, 7), f32(3, 7, 2))
einsum("bhqd,bhkd->bhqk", f32(2, 3, 5, 8), f32(2, 3, 7, 8))
einsum("bhqk,bhkd->bhqd", f32(2, 3, 5, 7), f32(2, 3, 7, 8))
einsum("ij,jk->ik", f32(0, 4), f32(4, 3))
einsum("ij,jk->ik", f32(3, 0), f32(0, 5))
einsum("...ij,...jk->...ik", f32(2, 1, 3, 4), f32(5, 4, 2))
einsum("i,i", f32(17), f32(17))
einsum("i,i->", f32(0), f32(0))
einsum("i,j->ij", f32(3), f32(5))
einsum("ij->ji", f32(3, 5))
einsum("ii->i", f32(4, 4))
einsum("ii", f32(5, 5))
einsum("bii->bi", f32(2, 3, 3))
einsum("ij->", f32(3, 7))
einsum("ijk->kj", f32(2, 3, 4))
einsum("...j->...", f32(2, 3, 4))
einsum("ij,ij,j->i", f32(3, 4), f32(3, 4), f32(4))
einsum("abc,cd,de->abe", f32(2, 3, 4), f32(4, 5), f32(5, 2))
einsum("ij,jk->ik", ints(4, 5), ints(5, 3))
einsum("i,i->i", ints(6, dtype=np.int64), ints(6, dtype=np.int64))
einsum("ij,jk->ik", f32(3, 4).astype(np.float16), f32(4, 5).astype(np.float16))



# ---- resize (onnx.reference is the reference) ----
def resize(x, scales=None, sizes=None, axes=None, roi=None, **attrs):
    consts = {1: None if roi is None else np.array(roi, np.float32),
              2: None if scales is None else np.array(scales, np.float32),
              3: None if sizes is None else np.array(sizes, np.int64)}
    oattrs = dict(attrs)
    if axes is not None:
        oattrs["axes"] = axes
    ir = dict(attrs)
    if scales is not None:
        ir["scales"] = [float(np.float32(v)) for v in scales]
    if sizes is not None:
        ir["sizes"] = list(sizes)
    if axes is not None:
        ir["axes"] = axes
    if roi is not None:
        ir["roi"] = [float(np.float32(v)) for v in roi]
    name = "resize %s %s" % (list(x.shape), " ".join("%s=%s" % kv for kv in sorted(oattrs.items())))
    name += " scales=%s sizes=%s" % (scales, sizes)
    case(name, [x], lambda g, v: g.op("resize", v, lambda a: onnx_ref("Resize", [a], oattrs, consts), ir))


img = np.arange(1, 17, dtype=np.float32).reshape(1, 1, 4, 4)
img24 = np.arange(1, 9, dtype=np.float32).reshape(1, 1, 2, 4)
img22 = np.arange(1, 5, dtype=np.float32).reshape(1, 1, 2, 2)
X = f32(2, 3, 5, 7)
resize(img22, scales=[1, 1, 2, 3])
resize(img24, scales=[1, 1, 0.6, 0.6])
resize(img, sizes=[1, 1, 7, 8], nearest_mode="ceil", coordinate_transformation_mode="half_pixel")
resize(img, sizes=[1, 1, 8, 8], nearest_mode="floor", coordinate_transformation_mode="align_corners")
resize(img, sizes=[1, 1, 8, 8], nearest_mode="round_prefer_ceil", coordinate_transformation_mode="asymmetric")
resize(img, sizes=[7, 8], axes=[2, 3])
resize(img, sizes=[8, 7], axes=[3, 2])
resize(img22, scales=[2, 3], axes=[2, 3])
resize(img, sizes=[1, 3], axes=[2, 3], keep_aspect_ratio_policy="not_larger")
resize(img, sizes=[1, 3], axes=[2, 3], keep_aspect_ratio_policy="not_smaller")
resize(img22, sizes=[7, 8], axes=[2, 3], keep_aspect_ratio_policy="not_larger")
resize(img22, sizes=[7, 8], axes=[2, 3], keep_aspect_ratio_policy="not_smaller")
for ctm in ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric"]:
    resize(img22, scales=[1, 1, 2, 2], mode="linear", coordinate_transformation_mode=ctm)
    resize(img24, scales=[1, 1, 0.6, 0.6], mode="linear", coordinate_transformation_mode=ctm)
    resize(X, scales=[1, 1, 1.7, 0.45], mode="cubic", coordinate_transformation_mode=ctm)
    resize(X, scales=[1, 1, 0.8, 2.3], mode="nearest", coordinate_transformation_mode=ctm)
    resize(X, sizes=[2, 3, 3, 11], mode="linear", coordinate_transformation_mode=ctm)
resize(img, sizes=[1, 1, 3, 1], mode="linear", coordinate_transformation_mode="pytorch_half_pixel")
resize(img, scales=[1, 1, 2, 2], mode="cubic")
resize(img, scales=[1, 1, 0.8, 0.8], mode="cubic")
resize(img, scales=[1, 1, 2, 2], mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1)
resize(img, scales=[1, 1, 0.8, 0.8], mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1)
resize(img, scales=[1, 1, 2, 2], mode="cubic", coordinate_transformation_mode="align_corners")
resize(img, scales=[1, 1, 2, 2], mode="cubic", coordinate_transformation_mode="asymmetric")
resize(img, scales=[1, 1, 0.6, 0.6], mode="cubic", antialias=1)
resize(img, scales=[1, 1, 0.6, 0.6], mode="linear", antialias=1)
resize(img, sizes=[1, 1, 3, 3], mode="cubic", antialias=1)
resize(img, sizes=[1, 1, 3, 3], mode="linear", antialias=1)
resize(X, scales=[1, 1, 0.3, 1.5], mode="cubic", antialias=1, exclude_outside=1)
resize(X, scales=[1, 1, 0.45, 0.7], mode="linear", antialias=1)
resize(img, sizes=[1, 1, 3, 3], roi=[0, 0, 0.4, 0.6, 1, 1, 0.6, 0.8], mode="linear",
       coordinate_transformation_mode="tf_crop_and_resize")
resize(img, sizes=[1, 1, 3, 3], roi=[0, 0, 0.4, 0.6, 1, 1, 1.2, 1.7], mode="linear",
       coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=10.0)
resize(img, sizes=[3, 3], axes=[2, 3], roi=[0.4, 0.6, 0.6, 0.8], mode="cubic",
       coordinate_transformation_mode="tf_crop_and_resize")
resize(img, sizes=[3, 1], axes=[2, 3], roi=[0.4, 0.6, 0.6, 0.8], mode="nearest",
       coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-3.0)
resize(f32(3, 10), scales=[1, 0.55], mode="linear")
resize(f32(6), scales=[2.5], mode="cubic", coordinate_transformation_mode="half_pixel_symmetric")
resize(f32(2, 3, 4, 5, 3), scales=[1, 1, 1.5, 0.5, 2], mode="linear")
resize(f32(1, 2, 5), sizes=[0], axes=[2], mode="linear")
resize(ints(1, 2, 5, 6, lo=0, hi=255, dtype=np.uint8), scales=[1, 1, 1.6, 0.7], mode="linear")
resize(ints(1, 2, 5, 6, lo=-100, hi=100, dtype=np.int8), scales=[1, 1, 2.2, 0.5], mode="cubic")
resize(ints(1, 2, 5, 6, dtype=np.int32), scales=[1, 1, 2.2, 0.5], mode="nearest")


# ---- conv_transpose (numpy for the arithmetic, onnx.reference for the pad rules) ----
def convt_np(x, w, b, strides, dil, begin, out_shape, group):
    n, cin = x.shape[:2]
    mg, ks = w.shape[1], w.shape[2:]
    y = np.zeros((n, mg * group) + tuple(out_shape))
    cg = cin // group
    for ch in range(cin):
        g = ch // cg
        for i in np.ndindex(*x.shape[2:]):
            for k in np.ndindex(*ks):
                o = [i[d] * strides[d] + k[d] * dil[d] - begin[d] for d in range(len(ks))]
                if all(0 <= o[d] < out_shape[d] for d in range(len(ks))):
                    y[(slice(None), slice(g * mg, (g + 1) * mg)) + tuple(o)] += (
                        x[(slice(None), ch) + i].astype(F)[:, None] * w[(ch, slice(None)) + k])
    if b is not None:
        y += b.reshape((1, -1) + (1,) * len(ks))
    return y


def convt(x, w, b=None, group=1, strides=None, dil=None, pads=None, output_padding=None):
    s = len(x.shape) - 2
    st, dl = strides or [1] * s, dil or [1] * s
    pd, op = pads or [0] * (2 * s), output_padding or [0] * s
    out = [st[d] * (x.shape[2 + d] - 1) + op[d] + (w.shape[2 + d] - 1) * dl[d] + 1 - pd[d] - pd[s + d]
           for d in range(s)]
    attrs = {"group": group}
    for k, v in [("strides", strides), ("dilations", dil), ("pads", pads), ("output_padding", output_padding)]:
        if v is not None:
            attrs[k] = v
    ins = [x, w] + ([b] if b is not None else [])
    case("conv_transpose %s %s %s" % ([list(a.shape) for a in ins], group, attrs), ins,
         lambda g, v: g.op("conv_transpose", v, lambda x, w, b=None: convt_np(x, w, b, st, dl, pd[:s], out, group), attrs))


def convt_onnx(x, w, **attrs):
    case("conv_transpose %s %s %s (onnx)" % (list(x.shape), list(w.shape), attrs), [x, w],
         lambda g, v: g.op("conv_transpose", v, lambda a, b: onnx_ref("ConvTranspose", [a, b], attrs), attrs))


convt(f32(1, 1, 3, 3), f32(1, 2, 3, 3))
convt(f32(2, 3, 5), f32(3, 4, 3), f32(4), strides=[2])
convt(f32(1, 4, 3, 4), f32(4, 3, 2, 3), f32(6), group=2, strides=[3, 2], pads=[1, 0, 0, 1])
convt(f32(2, 6, 4, 3), f32(6, 1, 3, 3), group=6, strides=[2, 2], dil=[2, 1], pads=[1, 2, 2, 1])
convt(f32(1, 2, 3, 3), f32(2, 2, 3, 3), strides=[3, 2], output_padding=[1, 1])
convt(f32(1, 2, 2, 3, 2), f32(2, 3, 2, 2, 3), strides=[2, 1, 2], pads=[0, 1, 0, 1, 0, 1])
convt(f32(1, 3, 1, 1), f32(3, 5, 4, 4), f32(5), strides=[4, 4])
convt_onnx(f32(1, 1, 3, 3), f32(1, 2, 3, 3), strides=[3, 2], output_shape=[10, 8])
convt_onnx(f32(1, 1, 3, 3), f32(1, 2, 3, 3), strides=[3, 2], output_shape=[10, 8], kernel_shape=[3, 3],
           output_padding=[1, 1])
convt_onnx(f32(1, 1, 3, 3), f32(1, 2, 3, 3), strides=[2, 2], auto_pad="SAME_UPPER")
convt_onnx(f32(1, 1, 3, 4), f32(1, 2, 3, 2), strides=[2, 3], auto_pad="SAME_LOWER")
convt_onnx(f32(1, 1, 3, 3), f32(1, 2, 3, 3), strides=[3, 2], pads=[1, 2, 1, 2])
convt_onnx(f32(1, 1, 3, 3), f32(1, 1, 2, 2), dilations=[2, 2])


# ---- integer and quantized products ----
def u8(*shape):
    return ints(*shape, lo=0, hi=256, dtype=np.uint8)


def i8(*shape):
    return ints(*shape, lo=-128, hi=128, dtype=np.int8)


def matmul_integer(a, b, za=None, zb=None, const_zp=False):
    """Zero points per tensor, per row of a ([M]) or per column of b ([N] or
    [1, N]); inputs of the graph, or constants with const_zp."""
    def ref(a, b, za, zb):
        a64, b64 = a.astype(np.int64), b.astype(np.int64)
        if za is not None:
            a64 = a64 - (za.reshape(-1, 1) if za.ndim == 1 and za.size > 1 else za)
        if zb is not None:
            b64 = b64 - zb
        return (a64 @ b64).astype(np.int32)

    zps = [za, zb]
    ins = [a, b] + ([] if const_zp else [z for z in zps if z is not None])

    def build(g, v):
        it = iter(v[2:])
        ops = v[:2] + [None if z is None else g.const(z) if const_zp else next(it) for z in zps]
        while ops[-1] is None:
            ops.pop()
        return g.op("matmul_integer", ops, lambda a, b, *z: ref(a, b, *(list(z) + [None, None])[:2]), None, np.int32)
    case("matmul_integer %s %s za=%s zb=%s const=%s" % (
        list(a.shape), list(b.shape), None if za is None else list(za.shape), None if zb is None else list(zb.shape),
        const_zp), ins, build)


matmul_integer(u8(4, 3), u8(3, 5), np.array(12, np.uint8), np.array(200, np.uint8))
matmul_integer(i8(5, 17), i8(17, 3))
matmul_integer(u8(4, 7), i8(7, 6), np.array([1, 2, 250, 0], np.uint8), np.array([3, -2, 0, 127, -128, 5], np.int8))
matmul_integer(i8(2, 3, 4, 5), i8(5, 2), np.array(-3, np.int8), np.array(0, np.int8), const_zp=True)
matmul_integer(i8(3, 4, 5), i8(3, 5, 2), np.array(0, np.int8), np.array(0, np.int8), const_zp=True)
matmul_integer(u8(0, 4), u8(4, 3))
matmul_integer(u8(7), u8(7, 2), np.array(9, np.uint8))
matmul_integer(u8(2, 6, 9), u8(9, 4), np.array(11, np.uint8), np.array([[1, 2, 3, 4]], np.uint8))


def qlinear_matmul(a, sa, za, b, sb, zb, sy, zy, consts=()):
    """consts: names among sa za sb zb sy zy given as constants (else inputs)."""
    names = ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"]
    arrays = [a, sa, za, b, sb, zb, sy, zy]
    ins = [arr for nm, arr in zip(names, arrays) if nm not in consts]

    def build(g, v):
        it = iter(v)
        ops = [g.const(arr) if nm in consts else next(it) for nm, arr in zip(names, arrays)]
        return g.op("qlinear_matmul", ops, lambda *x: onnx_ref("QLinearMatMul", list(x)), None, zy.dtype)
    case("qlinear_matmul %s %s %s %s consts=%s" % (list(a.shape), list(b.shape), a.dtype, sa.dtype, consts), ins, build)


for st in [np.float32, np.float16]:
    for dt, mk in [(np.uint8, u8), (np.int8, i8)]:
        zero = np.array(0 if dt == np.int8 else 128, dt)
        qlinear_matmul(mk(2, 4), np.array(0.0066, st), np.array(113, dt) if dt == np.uint8 else np.array(-7, dt),
                       mk(4, 3), np.array(0.00705, st), np.array(114, dt) if dt == np.uint8 else np.array(3, dt),
                       np.array(0.9, st), np.array(118, dt) if dt == np.uint8 else np.array(1, dt))
qlinear_matmul(u8(2, 3, 5), np.array(0.05, np.float32), np.array(100, np.uint8), u8(5, 4),
               np.array([0.01, 0.02, 0.03, 0.04], np.float32), np.array([120, 130, 90, 128], np.uint8),
               np.array(2.5, np.float32), np.array(120, np.uint8))
qlinear_matmul(i8(3, 17), np.array(0.02, np.float32), np.array(0, np.int8), i8(17, 5),
               np.array(0.03, np.float32), np.array(0, np.int8), np.array(0.4, np.float32),
               np.array(-5, np.int8), consts=("sa", "za", "sb", "zb", "sy", "zy"))
qlinear_matmul(u8(4, 6), np.array(0.1, np.float32), np.array(0, np.uint8), u8(6, 2),
               np.array(0.1, np.float32), np.array(0, np.uint8), np.array(400.0, np.float32),
               np.array(3, np.uint8), consts=("za", "zb"))


def conv_integer(x, w, xz=None, wz=None, **attrs):
    """The reference: a float64 Conv of the centered operands (exact here);
    ONNX's ConvInteger reference cannot take per-channel zero points."""
    def ref(x, w, xz=None, wz=None):
        xc = x.astype(F) - (0 if xz is None else xz)
        wc = w.astype(F) - (0 if wz is None else wz.reshape((-1,) + (1,) * (w.ndim - 1)) if wz.ndim else wz)
        return onnx_ref("Conv", [xc, wc], attrs).astype(np.int32)
    ins = [a for a in [x, w, xz, wz] if a is not None]
    case("conv_integer %s %s %s %s" % (list(x.shape), list(w.shape), wz is not None and list(wz.shape), attrs), ins,
         lambda g, v: g.op("conv_integer", v, ref, attrs, np.int32))


conv_integer(u8(1, 1, 3, 3), u8(1, 1, 2, 2), np.array(1, np.uint8))
conv_integer(u8(1, 1, 3, 3), u8(1, 1, 2, 2), np.array(1, np.uint8), pads=[1, 1, 1, 1])
conv_integer(i8(2, 4, 5, 6), i8(6, 2, 3, 2), np.array(-3, np.int8), np.array([1, 0, -2, 5, 7, -128], np.int8),
             group=2, strides=[2, 1], pads=[1, 0, 2, 1], dilations=[1, 2])
conv_integer(u8(1, 3, 7), i8(2, 3, 3))


def qlinear_conv(x, xs, xz, w, ws, wz, ys, yz, b=None, **attrs):
    ins = [x, xs, xz, w, ws, wz, ys, yz] + ([b] if b is not None else [])
    case("qlinear_conv %s %s %s %s" % (list(x.shape), list(w.shape), list(ws.shape), attrs), ins,
         lambda g, v: g.op("qlinear_conv", v, lambda *a: onnx_ref("QLinearConv", list(a), attrs), attrs, yz.dtype))


qlinear_conv(u8(1, 1, 7, 7), np.array(0.00369204697, np.float32), np.array(132, np.uint8), u8(1, 1, 1, 1),
             np.array([0.00172794575], np.float32), np.array([255], np.uint8), np.array(0.00162681262, np.float32),
             np.array(123, np.uint8))
qlinear_conv(i8(2, 4, 6, 5), np.array(0.05, np.float32), np.array(3, np.int8), i8(6, 2, 3, 3),
             np.array([0.01, 0.02, 0.015, 0.03, 0.01, 0.02], np.float32), np.array([0, 0, 0, 0, 0, 0], np.int8),
             np.array(0.7, np.float32), np.array(-4, np.int8), ints(6, lo=-500, hi=500, dtype=np.int32),
             group=2, pads=[1, 1, 0, 1], strides=[1, 2])
qlinear_conv(u8(1, 3, 5, 5), np.array(0.02, np.float32), np.array(128, np.uint8), u8(2, 3, 2, 2),
             np.array(0.01, np.float32), np.array(127, np.uint8), np.array(0.05, np.float32),
             np.array(100, np.uint8), auto_pad="SAME_UPPER")


# ---- top_k (onnx.reference: ties to the lower index, NaN above every number) ----
def top_k(x, k, axis=-1, largest=1):
    attrs = {"axis": axis, "largest": largest}
    case("top_k %s %s k=%d" % (list(x.shape), attrs, k), [x],
         lambda g, v: g._emit("top_k", v, dict(attrs, k=k),
                              onnx_ref("TopK", [v[0].a], attrs, {1: np.array([k], np.int64)}, 2)))


ties = np.array([[0, 1, 2, 3], [3, 2, 1, 0], [2, 2, 2, 2], [1, 3, 3, 1], [0, -0.0, 0, -0.0]], np.float32)
nans = np.array([[1, np.nan, 3, np.nan, -np.inf, 3], [np.nan, np.nan, np.nan, 0, np.inf, -1]], np.float32)
for largest in [1, 0]:
    top_k(ties, 3, largest=largest)
    top_k(ties, 4, largest=largest)
    top_k(ties, 2, axis=0, largest=largest)
    top_k(nans, 6, largest=largest)
    top_k(nans, 2, largest=largest)
    top_k(f32(3, 17, 5), 5, axis=1, largest=largest)
    top_k(ints(2, 3, 9, lo=-3, hi=3, dtype=np.int64), 4, largest=largest)
    top_k(f32(2, 45), 40, largest=largest)
    top_k(f32(2, 45), 16, largest=largest)
    top_k(f32(2, 45), 17, largest=largest)
    top_k(np.round(f32(3, 40) * 2) / 2, 20, largest=largest)
    top_k(np.concatenate([nans, nans, nans], axis=1), 18, largest=largest)
top_k(f32(4, 1), 1)
top_k(f32(3, 5), 0)
top_k(f32(0, 5), 2)
top_k(ints(7, lo=0, hi=3, dtype=np.int32), 7, axis=0)
top_k(f32(2, 3, 4).astype(np.float16), 2, axis=-2)
top_k(ints(5, 6, lo=0, hi=4, dtype=np.uint8), 3, axis=0, largest=0)


# ---- scatter (numpy, applying updates in ONNX's order; mul multiplies as the spec says) ----
APPLY = {"none": lambda x, y: y, "add": lambda x, y: x + y, "mul": lambda x, y: x * y,
         "max": np.maximum, "min": np.minimum}


def scatter_elements_np(data, idx, upd, axis, reduction):
    out = data.copy()
    for q in np.ndindex(*idx.shape):
        p = list(q)
        p[axis] = int(idx[q]) % data.shape[axis]
        out[tuple(p)] = APPLY[reduction](out[tuple(p)], upd[q])
    return out


def scatter_nd_np(data, idx, upd, reduction):
    out = data.copy()
    for q in np.ndindex(*idx.shape[:-1]):
        p = tuple(int(v) % data.shape[j] for j, v in enumerate(idx[q]))
        out[p] = APPLY[reduction](out[p], upd[q])
    return out


def scatter_elements(data, idx, upd, axis=0, reduction="none"):
    attrs = {"axis": axis, "reduction": reduction}
    case("scatter_elements %s %s %s" % (list(data.shape), list(idx.shape), attrs), [data, idx, upd],
         lambda g, v: g.op("scatter_elements", v, lambda d, i, u: scatter_elements_np(d, i, u, axis, reduction), attrs))


def scatter_nd(data, idx, upd, reduction="none"):
    attrs = {"reduction": reduction}
    case("scatter_nd %s %s %s" % (list(data.shape), list(idx.shape), attrs), [data, idx, upd],
         lambda g, v: g.op("scatter_nd", v, lambda d, i, u: scatter_nd_np(d, i, u, reduction), attrs))


for red in ["none", "add", "mul", "max", "min"]:
    scatter_elements(f32(3, 3), np.array([[1, 0, 2], [0, 2, 1]], np.int64), f32(2, 3), 0, red)
    scatter_elements(f32(1, 5), np.array([[1, 1, -2, 1]], np.int64), f32(1, 4), 1, red)
    scatter_elements(f32(4, 5, 6), ints(2, 3, 7, lo=-6, hi=6, dtype=np.int64), f32(2, 3, 7), -1, red)
    scatter_elements(ints(6, lo=-5, hi=5), np.array([5, 0, 5, -1], np.int32), ints(4, lo=-5, hi=5), 0, red)
    scatter_nd(f32(4, 4, 4), np.array([[0], [2], [0]], np.int64), f32(3, 4, 4), red)
    scatter_nd(f32(5, 3), np.array([[[0, 1], [4, 2]], [[0, 1], [-1, -1]]], np.int64), f32(2, 2), red)
    scatter_nd(ints(8, dtype=np.int64), np.array([[4], [3], [1], [7], [4]], np.int64),
               ints(5, dtype=np.int64), red)
scatter_elements(f32(3, 4), np.zeros((0, 4), np.int64), f32(0, 4), 0, "add")
scatter_elements(f32(2, 0), np.zeros((2, 0), np.int64), f32(2, 0), 1)
scatter_nd(f32(2, 3), np.array([1, 2], np.int64), np.array(7.5, np.float32))
scatter_nd(f32(2, 3), np.array([1], np.int64), f32(3), "mul")
scatter_nd(f32(6, 2).astype(np.float16), np.array([[5], [1], [5]], np.int64), f32(3, 2).astype(np.float16), "add")


# ---- dynamic_quantize_linear (onnx.reference) ----
def dynamic_quantize(x):
    case("dynamic_quantize_linear %s" % list(x.shape), [x],
         lambda g, v: g._emit("dynamic_quantize_linear", v, None, onnx_ref("DynamicQuantizeLinear", [v[0].a], num_outputs=3)))


dynamic_quantize(np.array([0, 2, -3, -2.5, 1.34, 0.5], np.float32))
dynamic_quantize(np.array([-1.0, -2.1, -1.3, -2.5, -3.34, -4.0], np.float32))
dynamic_quantize(np.array([1, 2.1, 1.3, 2.5, 3.34, 4.0, 1.5, 2.6, 3.9, 4.0, 3.0, 2.345], np.float32).reshape(3, 4))
dynamic_quantize(f32(2, 3, 17, lo=-7, hi=3))
dynamic_quantize(np.zeros((4,), np.float32))
dynamic_quantize(np.array(2.75, np.float32))


# ---- range of constants (what fold-constants leaves to an unoptimized pipeline) ----
def const_range(start, limit, delta, dtype):
    def build(g, v):
        ops = [g.const(np.array(x, dtype)) for x in (start, limit, delta)]
        n = max(int(np.ceil((limit - start) / delta)), 0)
        ref = (np.array(start, dtype) + np.arange(n).astype(dtype) * np.array(delta, dtype)).astype(dtype)
        return g._emit("range", ops, None, [ref])
    case("range %s %s %s %s" % (start, limit, delta, np.dtype(dtype)), [], build)


const_range(1.5, 7.0, 0.75, np.float32)
const_range(10, -3, -4, np.int32)
const_range(0, 0, 1, np.int64)
const_range(-2.0, 3.1, 0.3, np.float64)

# ---- losses (onnx.reference): a gather on the class dim, weights, ignore_index ----
def loss(op_type, x, target, weight=None, num_outputs=1, **attrs):
    name = "negative_log_likelihood_loss" if op_type == "NegativeLogLikelihoodLoss" else "softmax_cross_entropy_loss"
    arrays = [x, target] + ([weight] if weight is not None else [])
    ref = onnx_ref(op_type, arrays, attrs, num_outputs=num_outputs)
    case("%s %s %s" % (name, [list(a.shape) for a in arrays], attrs), arrays,
         lambda g, v: g._emit(name, v, attrs, ref if num_outputs > 1 else [ref]))


def classes(*shape, c, ignore=None):
    t = rng.integers(0, c, shape).astype(np.int64)
    if ignore is not None:
        t.reshape(-1)[::3] = ignore
    return t


for op_type in ["NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"]:
    for red in ["none", "sum", "mean"]:
        loss(op_type, f32(3, 5), classes(3, c=5), reduction=red)
        loss(op_type, f32(2, 4, 3, 2), classes(2, 3, 2, c=4, ignore=2).astype(np.int32),
             f32(4, lo=0.2, hi=2), reduction=red, ignore_index=2)
    # A negative ignore_index; not -1: onnx.reference's unweighted NLL mean
    # takes -1 for "no ignore_index" and counts the ignored targets, where
    # the spec (and its own SoftmaxCrossEntropyLoss) divides by the others.
    loss(op_type, f32(4, 3, 5), classes(4, 5, c=3, ignore=-2), reduction="mean", ignore_index=-2)
    loss(op_type, f32(3, 6, 1).astype(np.float64), classes(3, 1, c=6),
         f32(6, lo=0.5, hi=1).astype(np.float64), reduction="mean")
loss("SoftmaxCrossEntropyLoss", f32(3, 5, 2, lo=-30, hi=30), classes(3, 2, c=5), num_outputs=2, reduction="sum")
loss("SoftmaxCrossEntropyLoss", f32(2, 4, 3), classes(2, 3, c=4, ignore=0), f32(4, lo=0.2, hi=2),
     num_outputs=2, reduction="none", ignore_index=0)


# ---- shrink, swish, lp_normalization (onnx.reference) ----
def ref_op(op_type, name, x, **attrs):
    ref = onnx_ref(op_type, [x], attrs)
    case("%s %s %s" % (name, list(x.shape), attrs), [x], lambda g, v: g._emit(name, v, attrs, [ref]))


ref_op("Shrink", "shrink", f32(4, 9, lo=-3, hi=3), lambd=1.5, bias=1.5)
ref_op("Shrink", "shrink", f32(17, lo=-1, hi=1))
ref_op("Shrink", "shrink", ints(3, 7, lo=-6, hi=6), lambd=2.0, bias=0.5)
ref_op("Swish", "swish", f32(5, 7, lo=-6, hi=6), alpha=0.7)
ref_op("Swish", "swish", f32(0, 3))
# Nonnegative for p 1: onnx.reference sums x^p where the spec's norm is |x|^p.
ref_op("LpNormalization", "lp_normalization", f32(3, 4, 5, lo=0.1, hi=2), axis=1, p=1)
ref_op("LpNormalization", "lp_normalization", f32(3, 4, 5), axis=-1, p=2)
ref_op("LpNormalization", "lp_normalization", f32(6, 2).astype(np.float16), axis=0, p=2)
ref_op("EyeLike", "eye_like", ints(4, 5), k=1)
ref_op("EyeLike", "eye_like", f32(3, 7), k=-2)
case("eye_like dtype", [f32(5, 3)], lambda g, v: g._emit("eye_like", v, {"dtype": Bare("i64"), "k": 0},
                                                          [np.eye(5, 3, dtype=np.int64)]))


# ---- rotary_embedding_cached (onnx.reference's RotaryEmbedding, opset 23) ----
def rotary(x, cos, sin, pos=None, **attrs):
    arrays = [x, cos, sin] + ([pos] if pos is not None else [])
    ref = onnx_ref("RotaryEmbedding", arrays, attrs, opset=23)
    case("rotary_embedding_cached %s %s" % ([list(a.shape) for a in arrays], attrs), arrays,
         lambda g, v: g._emit("rotary_embedding_cached", v, attrs or None, [ref]))


for inter in [0, 1]:
    rotary(f32(2, 3, 5, 8), f32(7, 4), f32(7, 4), ints(2, 5, lo=0, hi=7, dtype=np.int64), interleaved=inter)
    rotary(f32(2, 5, 3 * 8), f32(2, 5, 4), f32(2, 5, 4), interleaved=inter, num_heads=3)
    rotary(f32(1, 2, 4, 10), f32(1, 4, 3), f32(1, 4, 3), interleaved=inter, rotary_embedding_dim=6)
    rotary(f32(2, 3, 2 * 6), f32(9, 2), f32(9, 2), ints(2, 3, lo=0, hi=9, dtype=np.int64),
           interleaved=inter, rotary_embedding_dim=4, num_heads=2)


def prepare(k, name, inputs, build, outdir):
    """Writes case k's graph and inputs; returns the case for run()."""
    g, base, outs, files = write_case(k, inputs, build, outdir)
    return name, base, files, [v.name[1:] for v in outs], g.refs()


def command(case_, mode):
    """The tool run of a case in a mode ("interp", "tile=T" or "cpu"), and
    where its outputs land."""
    name, base, files, out_names, refs = case_
    if mode == "cpu":
        cmd = ["lathe", "run", base + ".lir", "--target", "cpu", "-o", base + "_cpu"]
        for f in files:
            cmd += ["-i", f]
        return cmd, [os.path.join(base + "_cpu", n + ".npy") for n in out_names]
    results = ["%s_%s_out%d.npy" % (base, mode.replace("=", ""), i) for i in range(len(out_names))]
    cmd = ["lathe-interp"] + (["--" + mode] if mode != "interp" else []) + [base + ".lir"] + files
    for r in results:
        cmd += ["-o", r]
    return cmd, results


def check(job):
    """Runs one case in one mode and compares; prints its mismatches."""
    case_, mode = job
    name, refs = "%s [%s]" % (case_[0], mode), case_[4]
    cmd, results = command(case_, mode)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        print("FAIL %s: %s" % (name, r.stderr.strip()), flush=True)
        return False
    good = True
    for i, ref in enumerate(refs):
        got = np.load(results[i])
        if got.shape != ref.shape or got.dtype != ref.dtype:
            print("FAIL %s: output %d is %s%s, expected %s%s" % (name, i, got.dtype, got.shape, ref.dtype, ref.shape),
                  flush=True)
            good = False
            continue
        if got.dtype.kind == "f":
            tol = 1e-3 if got.dtype == np.float16 else 1e-5
            with np.errstate(invalid="ignore"):
                bad = ~((got == ref) | (np.isnan(got) & np.isnan(ref)) |
                        (np.abs(got.astype(F) - ref.astype(F)) <= tol + tol * 10 * np.abs(ref.astype(F))))
        else:
            bad = got != ref
        if bad.any():
            print("FAIL %s: output %d differs at %d of %d elements (first %s: %s vs %s)" % (
                name, i, bad.sum(), bad.size, np.argwhere(bad)[0], got[bad][0], ref[bad][0]), flush=True)
            good = False
    return good


def main():
    outdir, modes = sys.argv[1], sys.argv[2:] or ["interp"]
    os.makedirs(outdir, exist_ok=True)
    # Graphs and references are built once, in order; the tool runs (mostly
    # waiting on process start-up and compilation) go in parallel.
    cases = [prepare(k, name, inputs, build, outdir) for k, (name, inputs, build) in enumerate(CASES)]
    failed = False
    with concurrent.futures.ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 2)) as pool:
        for mode in modes:
            ok = sum(pool.map(check, [(c, mode) for c in cases]))
            print("ops [%s]: %d of %d cases match" % (mode, ok, len(cases)), flush=True)
            failed |= ok != len(cases)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
