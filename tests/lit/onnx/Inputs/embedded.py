"""Builds the ONNX models a lit test describes in its own `// PY:` lines.

usage: %python %S/Inputs/embedded.py %s %t

Collects every line of the test file that starts with `// PY: `, strips that
prefix and runs the result as Python, with the helpers below in scope, so each
test keeps its models next to its RUN and CHECK lines. `out("m.onnx")` is a
path inside the output directory (argv[2], created fresh).

Models are serialized without onnx.checker: error tests build broken ones.
"""
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32, F16, I64, I32, I8, U8, BOOL = (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT64,
                                     TensorProto.INT32, TensorProto.INT8, TensorProto.UINT8,
                                     TensorProto.BOOL)


def out(name):
    return os.path.join(OUT, name)


def inp(name, dtype, shape):
    """A graph input/output; shape entries are ints, strings (symbolic) or None."""
    return helper.make_tensor_value_info(name, dtype, shape)


def node(op, inputs, outputs, name=None, domain=None, **attrs):
    return helper.make_node(op, inputs, outputs, name=name or outputs[0], domain=domain, **attrs)


def init(name, array):
    """An initializer stored as raw_data."""
    return numpy_helper.from_array(np.asarray(array), name)


def model(nodes, inputs, outputs, inits=(), opset=17, name="g", opsets=None, ir_version=8):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    imports = opsets if opsets is not None else [helper.make_opsetid("", opset)]
    m = helper.make_model(graph, opset_imports=imports)
    m.ir_version = ir_version
    return m


def save(m, name):
    with open(out(name), "wb") as f:
        f.write(m.SerializeToString())


def write(name, data):
    with open(out(name), "wb") as f:
        f.write(data)


def main():
    global OUT
    test, OUT = sys.argv[1], sys.argv[2]
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    with open(test) as f:
        code = "\n".join(line[len("// PY: "):].rstrip("\n") if line.startswith("// PY: ") else ""
                         for line in f if line.startswith("// PY:"))
    exec(compile(code, test, "exec"), globals())


if __name__ == "__main__":
    main()
