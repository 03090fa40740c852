"""Single-op ONNX models that sit on the edges of shape handling.

Imported by onnx_models.py, which writes them like its other cases (model,
inputs, onnxruntime outputs). Each model isolates one rule that is easy to get
wrong in an importer or in shape inference: numpy broadcasting with rank-1 and
rank-0 operands, dims that are prime (no tile or vector width divides them),
Reshape's 0 (copy) and -1 (infer), and Slice with negative steps and clamped
out-of-range bounds.
"""

import numpy as np

from common import GraphBuilder, emit, make_model, normal, rng, tensor_info

F32 = np.float32
I64 = np.int64


def edge_broadcast(case_dir):
    """[2,3,4] with a rank-1 [4] and a scalar input; [3,1]+[4] broadcasting both
    ways; a scalar-by-scalar product whose output is rank 0."""
    gen = rng()
    g = GraphBuilder()
    half = g.const("half", np.array(0.5, F32))                # rank-0 initializer
    g.op("Sub", g.op("Mul", g.op("Add", "a", "b"), "s"), half, out="y0")
    g.op("Add", "col", "b", out="y1")
    g.op("Mul", "s", half, out="y2")
    graph = g.graph("edge_broadcast",
                    [tensor_info("a", F32, [2, 3, 4]), tensor_info("b", F32, [4]),
                     tensor_info("s", F32, []), tensor_info("col", F32, [3, 1])],
                    [tensor_info("y0", F32, [2, 3, 4]), tensor_info("y1", F32, [3, 4]),
                     tensor_info("y2", F32, [])])
    inputs = {"a": normal(gen, (2, 3, 4), 1.0), "b": normal(gen, (4,), 1.0),
              "s": normal(gen, (), 1.0), "col": normal(gen, (3, 1), 1.0)}
    emit(make_model(graph), case_dir, inputs)


def edge_prime_dims(case_dir):
    """MatMul+Add+Softmax on [3,7,13] x [13,7], and a Transpose of the same input."""
    gen = rng()
    g = GraphBuilder()
    w = g.const("w", normal(gen, (13, 7), 1 / np.sqrt(13)))
    b = g.const("b", normal(gen, (7,), 0.1))
    g.op("Softmax", g.op("Add", g.op("MatMul", "x", w), b), axis=-1, out="y0")
    g.op("Transpose", "x", perm=[2, 0, 1], out="y1")
    graph = g.graph("edge_prime_dims", [tensor_info("x", F32, [3, 7, 13])],
                    [tensor_info("y0", F32, [3, 7, 7]), tensor_info("y1", F32, [13, 3, 7])])
    emit(make_model(graph), case_dir, {"x": normal(gen, (3, 7, 13), 1.0)})


def edge_reshape(case_dir):
    """Reshape of x: [N,3,4] by [0,-1] (-> [N,12]), [-1,0,2] (-> [2N,3,2]) and
    [0,0,-1,2] (-> [N,3,2,2]); the reference runs N=2."""
    gen = rng()
    g = GraphBuilder()
    for i, shape in enumerate([[0, -1], [-1, 0, 2], [0, 0, -1, 2]]):
        g.op("Reshape", "x", g.const(f"shape{i}", np.array(shape, I64)), out=f"y{i}")
    graph = g.graph("edge_reshape", [tensor_info("x", F32, ["N", 3, 4])],
                    [tensor_info("y0", F32, ["N", 12]), tensor_info("y1", F32, ["M", 3, 2]),
                     tensor_info("y2", F32, ["N", 3, 2, 2])])
    emit(make_model(graph), case_dir, {"x": normal(gen, (2, 3, 4), 1.0)})


def edge_slice(case_dir):
    """Slices of x: [5,7] with negative steps: both axes reversed with ends past
    the front (clamped); axis -1 from 5 down to 1 by -2; rows from -2 to INT64_MIN
    (the bound exporters write for `x[-2::-1]`)."""
    gen = rng()
    g = GraphBuilder()
    cases = [  # starts, ends, axes, steps -> output shape
        ([-1, -1], [-6, -8], [0, 1], [-1, -2], [5, 4]),
        ([5], [1], [-1], [-2], [5, 2]),
        ([-2], [np.iinfo(I64).min], [0], [-1], [4, 7]),
    ]
    outputs = []
    for i, (starts, ends, axes, steps, shape) in enumerate(cases):
        params = [g.const(f"{key}{i}", np.array(v, I64))
                  for key, v in [("starts", starts), ("ends", ends), ("axes", axes), ("steps", steps)]]
        g.op("Slice", "x", *params, out=f"y{i}")
        outputs.append(tensor_info(f"y{i}", F32, shape))
    graph = g.graph("edge_slice", [tensor_info("x", F32, [5, 7])], outputs)
    emit(make_model(graph), case_dir, {"x": normal(gen, (5, 7), 1.0)})


MODELS = {
    "edge_broadcast": edge_broadcast,
    "edge_prime_dims": edge_prime_dims,
    "edge_reshape": edge_reshape,
    "edge_slice": edge_slice,
}
