"""Helpers shared by the test-data generators in tests/gen/.

Every generator builds its models in memory, writes them under --out DIR, and
records reference outputs next to them, so Lathe's tests compare against numbers
that were produced by an independent implementation (onnxruntime, or the numpy
references in hf_reference.py). This module holds what the generators share:
the command line, the seeded random source, and the ONNX save/check/run steps.

Run the generators with the test venv's interpreter (build/venv/bin/python);
they rely on its pinned numpy, onnx, onnxruntime and safetensors.
"""

import argparse
import json
import os
import shutil

import numpy as np
import onnx
from onnx import helper, numpy_helper

OPSET = 17
IR_VERSION = 8
SEED = 0


def rng():
    """A fresh generator per model, so `--only NAME` writes the same bytes as a full run."""
    return np.random.default_rng(SEED)


def normal(gen, shape, scale):
    return np.asarray(gen.standard_normal(shape) * scale, dtype=np.float32)


def linear_weight(gen, fan_in, fan_out):
    """[fan_in, fan_out] weights scaled by 1/sqrt(fan_in) so activations stay O(1)."""
    return normal(gen, (fan_in, fan_out), 1.0 / np.sqrt(fan_in))


# --- command line -----------------------------------------------------------

def arg_parser(description, names, only=True, out_required=True):
    """--out DIR and, when `only`, --only NAME restricted to `names`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", required=out_required, help="output directory (created)")
    if only:
        parser.add_argument("--only", choices=names, action="append",
                            help="write only this case (repeatable)")
    return parser


def run_registry(registry, out, only):
    """Calls each selected generator as fn(case_dir); returns the names written."""
    os.makedirs(out, exist_ok=True)
    written = []
    for name, fn in registry.items():
        if only and name not in only:
            continue
        case_dir = os.path.join(out, name)
        shutil.rmtree(case_dir, ignore_errors=True)    # no stale files from older runs
        os.makedirs(case_dir)
        fn(case_dir)
        written.append(name)
    return written


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


# --- ONNX -------------------------------------------------------------------

def make_model(graph, extra_opsets=()):
    """Wraps a graph at the opset and IR version every generated model uses."""
    opsets = [helper.make_opsetid("", OPSET)] + list(extra_opsets)
    model = helper.make_model(graph, opset_imports=opsets, producer_name="lathe-tests-gen")
    model.ir_version = IR_VERSION
    return model


def tensor_info(name, dtype, shape):
    """A graph input/output; str entries in `shape` become symbolic dims (dim_param)."""
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), shape)


def initializer(name, array):
    """A raw_data initializer (numpy_helper's default encoding)."""
    return numpy_helper.from_array(np.asarray(array), name)


def check_model(path):
    """The checker (full check) and strict, type-checked shape inference on a saved model.

    Working from the path lets both follow external data files."""
    onnx.checker.check_model(path, full_check=True)
    onnx.shape_inference.infer_shapes_path(path, path + ".inferred", check_type=True,
                                           strict_mode=True, data_prop=True)
    os.remove(path + ".inferred")


def save_and_check(model, case_dir):
    path = os.path.join(case_dir, "model.onnx")
    onnx.save_model(model, path)
    check_model(path)
    return path


def run_onnxruntime(path, inputs):
    """Reference outputs from onnxruntime's CPU provider, graph optimisations off so
    the numbers come from the ops as written rather than from fused kernels."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return list(zip(names, session.run(names, inputs)))


def write_tensors(case_dir, kind, named_arrays):
    """kind_i.npy plus the ONNX backend-test form test_data_set_0/kind_i.pb."""
    data_dir = os.path.join(case_dir, "test_data_set_0")
    os.makedirs(data_dir, exist_ok=True)
    for i, (name, array) in enumerate(named_arrays):
        np.save(os.path.join(case_dir, f"{kind}_{i}.npy"), array)
        proto = numpy_helper.from_array(np.asarray(array), name)
        with open(os.path.join(data_dir, f"{kind}_{i}.pb"), "wb") as f:
            f.write(proto.SerializeToString())


def write_case(case_dir, model_path, inputs):
    """Runs the saved model on `inputs` (dict name -> array, in graph-input order)
    and writes inputs and reference outputs next to it."""
    write_tensors(case_dir, "input", list(inputs.items()))
    write_tensors(case_dir, "output", run_onnxruntime(model_path, inputs))


def emit(model, case_dir, inputs):
    """The common path: save, check, run, write."""
    write_case(case_dir, save_and_check(model, case_dir), inputs)


class GraphBuilder:
    """Accumulates nodes and initializers so a model reads as a list of ops.

    op() names each node and its output after the op type and a counter
    ("MatMul_3"), which keeps error messages from Lathe's importer readable."""

    def __init__(self):
        self.nodes = []
        self.initializers = []
        self.count = 0

    def const(self, name, array):
        self.initializers.append(initializer(name, array))
        return name

    def op(self, op_type, *inputs, out=None, outputs=1, domain="", **attrs):
        name = f"{op_type}_{self.count}"
        self.count += 1
        if out is not None:
            outs = [out] if isinstance(out, str) else list(out)
        else:
            outs = [name] if outputs == 1 else [f"{name}_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=name,
                                           domain=domain, **attrs))
        return outs[0] if len(outs) == 1 else outs

    def graph(self, name, inputs, outputs):
        return helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
