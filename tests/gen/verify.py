#!/usr/bin/env python3
"""Loads the generated test data back with the reference tools and checks it.

This is the generators' own test: every ONNX case must load (external data
included), pass the checker, and reproduce its recorded outputs from its .pb
inputs under onnxruntime; every HF folder must hold exactly the tensors its
family's table names, with the right shapes, whose numpy forward pass gives
logits.npy; every malformed case must be rejected by the reference tool for
its format (except onnx_unsupported_ops, which is valid ONNX on purpose).
Prints one line per case and exits 1 on the first mismatch.

usage: build/venv/bin/python tests/gen/verify.py [--onnx DIR] [--hf DIR] [--malformed DIR]
"""

import argparse
import glob
import json
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper
from safetensors.numpy import load_file

import hf_models
from common import run_onnxruntime


def fail(message):
    print(f"FAIL {message}")
    sys.exit(1)


def read_pb(path):
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return tensor.name, numpy_helper.to_array(tensor)


def verify_onnx_case(case_dir):
    path = os.path.join(case_dir, "model.onnx")
    model = onnx.load(path)                       # pulls in external data
    onnx.checker.check_model(path, full_check=True)
    data = os.path.join(case_dir, "test_data_set_0")
    inputs = [read_pb(p) for p in sorted(glob.glob(os.path.join(data, "input_*.pb")))]
    graph_inputs = [i.name for i in model.graph.input]
    if [name for name, _ in inputs] != graph_inputs:
        fail(f"{case_dir}: .pb inputs {[n for n, _ in inputs]} != graph inputs {graph_inputs}")
    for i, (_, array) in enumerate(inputs):
        if not np.array_equal(array, np.load(os.path.join(case_dir, f"input_{i}.npy"))):
            fail(f"{case_dir}: input_{i}.npy differs from input_{i}.pb")
    outputs = run_onnxruntime(path, dict(inputs))
    for i, (name, got) in enumerate(outputs):
        pb_name, pb = read_pb(os.path.join(data, f"output_{i}.pb"))
        npy = np.load(os.path.join(case_dir, f"output_{i}.npy"))
        if pb_name != name or not np.array_equal(pb, npy):
            fail(f"{case_dir}: output_{i}.pb and output_{i}.npy disagree")
        if npy.shape != got.shape or not np.allclose(npy, got, rtol=1e-6, atol=1e-6):
            fail(f"{case_dir}: output {name} no longer matches onnxruntime")
    return f"{len(model.graph.node)} nodes, outputs {[o.shape for _, o in outputs]}"


def load_hf_weights(case_dir):
    index = os.path.join(case_dir, "model.safetensors.index.json")
    if not os.path.exists(index):
        return load_file(os.path.join(case_dir, "model.safetensors"))
    with open(index) as f:
        meta = json.load(f)
    weights = {}
    for file in sorted(set(meta["weight_map"].values())):
        shard = load_file(os.path.join(case_dir, file))
        if any(meta["weight_map"][name] != file for name in shard):
            fail(f"{case_dir}: {file} holds tensors the index places elsewhere")
        weights |= shard
    if sum(a.nbytes for a in weights.values()) != meta["metadata"]["total_size"]:
        fail(f"{case_dir}: index total_size is wrong")
    return weights


def verify_hf_case(case_dir):
    with open(os.path.join(case_dir, "config.json")) as f:
        cfg = json.load(f)
    family = cfg["model_type"]
    _, tensors, _ = hf_models.FAMILIES[family]
    weights = load_hf_weights(case_dir)
    want = tensors(cfg)
    if {n: a.shape for n, a in weights.items()} != want:
        fail(f"{case_dir}: tensor names/shapes differ from the {family} table")
    ids = np.load(os.path.join(case_dir, "input_ids.npy"))
    logits = hf_models.forward(family, cfg, weights, ids)[0]
    recorded = np.load(os.path.join(case_dir, "logits.npy"))
    if recorded.dtype != np.float32 or not np.allclose(recorded, logits, rtol=1e-6, atol=1e-6):
        fail(f"{case_dir}: logits.npy does not match the reference")
    return f"{family}, {len(weights)} tensors, logits {recorded.shape}"


def rejected(load):
    try:
        load()
    except Exception as e:                        # any refusal is what we want
        return f"rejected: {type(e).__name__}: {str(e).splitlines()[0][:90]}"
    return None


def hf_defect(case_dir):
    with open(os.path.join(case_dir, "config.json")) as f:
        cfg = json.load(f)
    weights = load_file(os.path.join(case_dir, "model.safetensors"))
    want = hf_models.FAMILIES[cfg["model_type"]][1](cfg)
    if {n: a.shape for n, a in weights.items()} != want:
        raise ValueError("tensors differ from the family table")


def onnx_defect(path):
    onnx.checker.check_model(onnx.load(path), full_check=True)
    import onnxruntime as ort
    ort.set_default_logger_severity(4)
    ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def verify_malformed(root):
    with open(os.path.join(root, "manifest.json")) as f:
        manifest = json.load(f)
    for case in manifest:
        path = os.path.join(root, case["path"])
        load = {"onnx": lambda: onnx_defect(path), "safetensors": lambda: load_file(path),
                "hf": lambda: hf_defect(path)}[case["format"]]
        verdict = rejected(load)
        if case["reference_tools_accept"]:
            if verdict is not None:
                fail(f"{case['name']}: meant to pass the reference tools, but {verdict}")
            verdict = "passes onnx's checker and onnxruntime, as intended"
        elif verdict is None:
            fail(f"{case['name']}: the reference tool accepted it")
        print(f"ok   {case['name']}: {verdict}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for kind in ["onnx", "hf", "malformed"]:
        parser.add_argument(f"--{kind}", help=f"output directory of the {kind} generator")
    args = parser.parse_args()
    for root, check in [(args.onnx, verify_onnx_case), (args.hf, verify_hf_case)]:
        for case_dir in sorted(glob.glob(os.path.join(root, "*", ""))) if root else []:
            print(f"ok   {os.path.basename(case_dir.rstrip('/'))}: {check(case_dir.rstrip('/'))}")
    if args.malformed:
        verify_malformed(args.malformed)


if __name__ == "__main__":
    main()
