#!/usr/bin/env python3
"""Writes the small ONNX models Lathe's importer and end-to-end tests run.

Each case lands in DIR/NAME/ as model.onnx, its inputs (input_i.npy and the
ONNX backend-test form test_data_set_0/input_i.pb) and onnxruntime's outputs
(output_i.npy, test_data_set_0/output_i.pb). Models use opset 17 and IR
version 8 and pass the ONNX checker and strict shape inference before any
reference is recorded, so a failure in Lathe is Lathe's. The single-op edge
models live in onnx_edge.py.

usage: build/venv/bin/python tests/gen/onnx_models.py --out DIR [--only NAME]...
"""

import os

import numpy as np
from onnx import TensorProto, helper

import onnx_edge
from common import (GraphBuilder, arg_parser, check_model, emit, linear_weight, make_model,
                    normal, rng, run_registry, tensor_info, write_case)

F32 = np.float32


def mlp(case_dir):
    """[N,64] -> Gemm (nn.Linear layout, transB) -> Relu -> MatMul+Add -> [N,32]."""
    gen = rng()
    g = GraphBuilder()
    w1 = g.const("fc1.weight", linear_weight(gen, 64, 128).T.copy())
    b1 = g.const("fc1.bias", normal(gen, (128,), 0.1))
    w2 = g.const("fc2.weight", linear_weight(gen, 128, 32))
    b2 = g.const("fc2.bias", normal(gen, (32,), 0.1))
    h = g.op("Relu", g.op("Gemm", "x", w1, b1, transB=1))
    g.op("Add", g.op("MatMul", h, w2), b2, out="y")
    graph = g.graph("mlp", [tensor_info("x", F32, ["N", 64])], [tensor_info("y", F32, ["N", 32])])
    emit(make_model(graph), case_dir, {"x": normal(gen, (3, 64), 1.0)})


def cnn(case_dir):
    """Conv+BN+Relu, MaxPool, strided Conv, GlobalAveragePool, Flatten, Gemm -> 10 classes."""
    gen = rng()
    g = GraphBuilder()
    w1 = g.const("conv1.weight", normal(gen, (8, 3, 3, 3), 1 / np.sqrt(27)))
    b1 = g.const("conv1.bias", normal(gen, (8,), 0.1))
    bn = [g.const("bn1.weight", 1 + normal(gen, (8,), 0.1)),
          g.const("bn1.bias", normal(gen, (8,), 0.1)),
          g.const("bn1.running_mean", normal(gen, (8,), 0.1)),
          g.const("bn1.running_var", gen.uniform(0.5, 1.5, 8).astype(F32))]
    w2 = g.const("conv2.weight", normal(gen, (16, 8, 3, 3), 1 / np.sqrt(72)))
    b2 = g.const("conv2.bias", normal(gen, (16,), 0.1))
    wf = g.const("fc.weight", linear_weight(gen, 16, 10).T.copy())
    bf = g.const("fc.bias", normal(gen, (10,), 0.1))

    h = g.op("Conv", "x", w1, b1, kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    h = g.op("Relu", g.op("BatchNormalization", h, *bn, epsilon=1e-5))
    h = g.op("MaxPool", h, kernel_shape=[2, 2], strides=[2, 2])
    h = g.op("Conv", h, w2, b2, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
    h = g.op("Flatten", g.op("GlobalAveragePool", h), axis=1)
    g.op("Gemm", h, wf, bf, transB=1, out="logits")
    graph = g.graph("cnn", [tensor_info("x", F32, [1, 3, 16, 16])],
                    [tensor_info("logits", F32, [1, 10])])
    emit(make_model(graph), case_dir, {"x": normal(gen, (1, 3, 16, 16), 1.0)})


def transformer_block(case_dir):
    """A pre-LN decoder block: d=64, 4 heads of 16, FFN 256, on x: [B, S, 64].

    The first LayerNorm is spelled out in primitive ops, the second uses
    LayerNormalization, so the importer meets both. The causal mask is a
    constant [16, 16] bool (like GPT-2's registered `bias` buffer), which ties
    S to 16 at run time; B stays free. The reference runs B=2, S=16."""
    d, heads, ffn, max_seq, eps = 64, 4, 256, 16, 1e-5
    head_dim = d // heads
    gen = rng()
    g = GraphBuilder()

    def dense(name, fan_in, fan_out, h):
        w = g.const(f"{name}.weight", linear_weight(gen, fan_in, fan_out))
        b = g.const(f"{name}.bias", normal(gen, (fan_out,), 0.05))
        return g.op("Add", g.op("MatMul", h, w), b)

    def layer_norm_by_hand(h):
        mean = g.op("ReduceMean", h, axes=[-1], keepdims=1)
        centred = g.op("Sub", h, mean)
        var = g.op("ReduceMean", g.op("Pow", centred, g.const("two", np.array(2, F32))),
                   axes=[-1], keepdims=1)
        std = g.op("Sqrt", g.op("Add", var, g.const("ln1.eps", np.array(eps, F32))))
        scaled = g.op("Mul", g.op("Div", centred, std), g.const("ln1.weight", 1 + normal(gen, (d,), 0.1)))
        return g.op("Add", scaled, g.const("ln1.bias", normal(gen, (d,), 0.1)))

    def heads_of(h, perm):
        split = g.op("Reshape", h, g.const(f"heads_shape_{g.count}",
                                           np.array([0, 0, heads, head_dim], np.int64)))
        return g.op("Transpose", split, perm=perm)

    h = layer_norm_by_hand("x")
    q = heads_of(dense("attn.q_proj", d, d, h), [0, 2, 1, 3])        # [B, H, S, hd]
    k_t = heads_of(dense("attn.k_proj", d, d, h), [0, 2, 3, 1])      # [B, H, hd, S]
    v = heads_of(dense("attn.v_proj", d, d, h), [0, 2, 1, 3])        # [B, H, S, hd]
    scores = g.op("Mul", g.op("MatMul", q, k_t), g.const("attn.scale", np.array(head_dim ** -0.5, F32)))
    causal = g.const("attn.causal_mask", np.tril(np.ones((max_seq, max_seq), bool)))
    masked = g.op("Where", causal, scores, g.const("attn.masked_value", np.array(-1e9, F32)))
    ctx = g.op("MatMul", g.op("Softmax", masked, axis=-1), v)
    ctx = g.op("Reshape", g.op("Transpose", ctx, perm=[0, 2, 1, 3]),
               g.const("merge_shape", np.array([0, 0, d], np.int64)))
    h = g.op("Add", "x", dense("attn.out_proj", d, d, ctx))

    n = g.op("LayerNormalization", h, g.const("ln2.weight", 1 + normal(gen, (d,), 0.1)),
             g.const("ln2.bias", normal(gen, (d,), 0.1)), axis=-1, epsilon=eps)
    f = dense("mlp.fc1", d, ffn, n)
    erf = g.op("Erf", g.op("Div", f, g.const("sqrt2", np.array(np.sqrt(2), F32))))
    gelu = g.op("Mul", g.op("Mul", f, g.const("half", np.array(0.5, F32))),
                g.op("Add", erf, g.const("one", np.array(1, F32))))
    g.op("Add", h, dense("mlp.fc2", ffn, d, gelu), out="y")

    graph = g.graph("transformer_block", [tensor_info("x", F32, ["B", "S", d])],
                    [tensor_info("y", F32, ["B", "S", d])])
    emit(make_model(graph), case_dir, {"x": normal(gen, (2, max_seq, d), 1.0)})


def external_data(case_dir):
    """A two-layer MLP whose weights sit in weights.bin as ONNX external data.

    Tensors are written out of graph order at 64-byte aligned offsets with a
    leading gap, so an importer must honour each tensor's offset and length
    rather than read the file sequentially; fc2.bias stays inline to check the
    two storage kinds mix."""
    gen = rng()
    g = GraphBuilder()
    weights = {"fc1.weight": linear_weight(gen, 16, 32), "fc1.bias": normal(gen, (32,), 0.1),
               "fc2.weight": linear_weight(gen, 32, 8), "fc2.bias": normal(gen, (8,), 0.1)}
    for name, array in weights.items():
        g.const(name, array)
    h = g.op("Relu", g.op("Add", g.op("MatMul", "x", "fc1.weight"), "fc1.bias"))
    g.op("Add", g.op("MatMul", h, "fc2.weight"), "fc2.bias", out="y")
    graph = g.graph("external_data", [tensor_info("x", F32, ["N", 16])],
                    [tensor_info("y", F32, ["N", 8])])
    model = make_model(graph)

    blob = bytearray(b"LATHE-TEST-PAD\0\0")       # offset 0 holds no tensor
    by_name = {t.name: t for t in model.graph.initializer}
    for name in ["fc2.weight", "fc1.bias", "fc1.weight"]:
        tensor = by_name[name]
        offset = len(blob)
        blob += tensor.raw_data
        blob += b"\0" * (-len(blob) % 64)
        tensor.ClearField("raw_data")
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in [("location", "weights.bin"), ("offset", offset),
                           ("length", len(weights[name].tobytes()))]:
            tensor.external_data.add(key=key, value=str(value))
    with open(os.path.join(case_dir, "weights.bin"), "wb") as f:
        f.write(blob)

    path = os.path.join(case_dir, "model.onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    check_model(path)
    write_case(case_dir, path, {"x": normal(gen, (2, 16), 1.0)})


def typed_initializers(case_dir):
    """Initializers in the typed repeated fields (float_data, int64_data,
    int32_data, double_data) rather than raw_data, including the int32_data
    encodings of float16 (bit patterns) and int8; Constant nodes with a tensor
    value and with value_float/floats/int/ints; and attributes of each kind a
    standard non-control-flow op carries: INT, INTS, FLOAT, FLOATS (via
    Constant), STRING and TENSOR."""
    gen = rng()
    g = GraphBuilder()

    def typed(name, dtype, array):
        array = np.asarray(array)
        vals = array.astype(np.float32 if dtype == TensorProto.FLOAT16 else array.dtype).ravel()
        g.initializers.append(helper.make_tensor(name, dtype, array.shape, vals.tolist(), raw=False))
        return name

    def constant(**attr):
        return g.op("Constant", **attr)

    w = typed("w_float_data", TensorProto.FLOAT, normal(gen, (3, 4), 0.5))
    shape = typed("shape_int64_data", TensorProto.INT64, np.array([4, 2], np.int64))
    i32 = typed("i32_int32_data", TensorProto.INT32, gen.integers(-3, 4, (4, 2)).astype(np.int32))
    f64 = typed("f64_double_data", TensorProto.DOUBLE, gen.standard_normal(2) * 0.5)
    f16 = typed("f16_int32_data", TensorProto.FLOAT16, np.array([0.5, -1.25], np.float16))
    i8 = typed("i8_int32_data", TensorProto.INT8, np.array([-2, 3], np.int8))
    pads = typed("pads_int64_data", TensorProto.INT64, np.array([0, 1, 0, 1], np.int64))
    value = helper.make_tensor("value", TensorProto.FLOAT, (4, 2),
                               normal(gen, (4, 2), 0.5).ravel().tolist(), raw=False)

    def as_float(name):
        return g.op("Cast", name, to=TensorProto.FLOAT)

    h = g.op("Gemm", "x", w, alpha=0.5, transA=0, transB=0)         # FLOAT, INT
    h = g.op("Reshape", h, shape)                                       # [4, 2]
    h = g.op("Add", h, as_float(i32))
    h = g.op("Add", h, as_float(f64))
    h = g.op("Mul", h, as_float(f16))
    h = g.op("Add", h, as_float(i8))
    h = g.op("Add", h, constant(value=value))                          # TENSOR
    h = g.op("Mul", h, constant(value_float=2.0))                      # FLOAT
    h = g.op("Sub", h, constant(value_floats=[0.5, -0.5]))             # FLOATS
    h = g.op("Transpose", h, perm=[1, 0])                              # INTS, [2, 4]
    h = g.op("Pad", h, pads, mode="constant")                          # STRING, [2, 6]
    h = g.op("Reshape", h, constant(value_ints=[3, 4]))                # INTS
    h = g.op("Add", h, as_float(constant(value_int=1)))                # INT
    g.op("LeakyRelu", h, alpha=0.1, out="y")

    graph = g.graph("typed_initializers", [tensor_info("x", F32, [2, 3])],
                    [tensor_info("y", F32, [3, 4])])
    emit(make_model(graph), case_dir, {"x": normal(gen, (2, 3), 1.0)})


def attribute_kinds(case_dir):
    """The attribute kinds typed_initializers leaves out, each on the one kind of
    standard op that carries it: GRAPH (If's branches), STRINGS (RNN's
    activations) and SPARSE_TENSOR (Constant's sparse_value). Opset 17 has no
    op with TENSORS, GRAPHS or TYPE_PROTO attributes. An importer that rejects
    these ops should still decode them well enough to name them."""
    gen = rng()
    g = GraphBuilder()

    def branch(name, op_type, operand):
        b = GraphBuilder()
        b.op(op_type, "x", b.const(f"{name}_operand", np.array(operand, F32)), out=f"{name}_out")
        return b.graph(name, [], [tensor_info(f"{name}_out", F32, [2, 1, 3])])

    g.op("If", "cond", then_branch=branch("then", "Mul", 2.0),
         else_branch=branch("else", "Add", 1.0), out="y0")
    w = g.const("rnn.W", normal(gen, (1, 4, 3), 0.5))
    r = g.const("rnn.R", normal(gen, (1, 4, 4), 0.5))
    g.op("RNN", "x", w, r, hidden_size=4, activations=["Tanh"], out=["y1", "y1_h"])
    values = helper.make_tensor("values", TensorProto.FLOAT, [3], [1.5, -2.0, 0.25])
    indices = helper.make_tensor("indices", TensorProto.INT64, [3], [1, 5, 10])
    sparse = helper.make_sparse_tensor(values, indices, [3, 4])
    g.op("Add", "bias", g.op("Constant", sparse_value=sparse), out="y2")
    graph = g.graph("attribute_kinds",
                    [tensor_info("x", F32, [2, 1, 3]), tensor_info("cond", bool, []),
                     tensor_info("bias", F32, [3, 4])],
                    [tensor_info("y0", F32, [2, 1, 3]), tensor_info("y1", F32, [2, 1, 1, 4]),
                     tensor_info("y2", F32, [3, 4])])
    inputs = {"x": normal(gen, (2, 1, 3), 1.0), "cond": np.array(True),
              "bias": normal(gen, (3, 4), 1.0)}
    emit(make_model(graph), case_dir, inputs)


MODELS = {
    "mlp": mlp,
    "cnn": cnn,
    "transformer_block": transformer_block,
    "external_data": external_data,
    "typed_initializers": typed_initializers,
    "attribute_kinds": attribute_kinds,
    **onnx_edge.MODELS,
}


def main():
    args = arg_parser(__doc__.splitlines()[0], list(MODELS)).parse_args()
    for name in run_registry(MODELS, args.out, args.only):
        print(os.path.join(args.out, name))


if __name__ == "__main__":
    main()
