#!/usr/bin/env python3
"""Writes malformed model files for the importers' error-path tests.

One file (or, for Hugging Face folders, one folder) per class of defect, named
after the class: onnx_*.onnx, st_*.safetensors, hf_*/. Each is a small valid
artifact with exactly one thing broken, so a test can demand that Lathe fails
with one clear line naming that thing, and never crashes. Writes
DIR/manifest.json and prints the same JSON: for each case its name, format,
path relative to DIR and the defect.

usage: build/venv/bin/python tests/gen/malformed.py --out DIR
"""

import json
import os
import struct

import numpy as np
from onnx import TensorProto, helper
from safetensors.numpy import save_file

import hf_models
from common import GraphBuilder, arg_parser, make_model, tensor_info, write_json

F32 = np.float32
CASES = []


def case(fmt, defect, tools_accept=False):
    """Registers a writer fn(path) for DIR/<its name>[.ext]. `tools_accept` marks
    the cases that onnx's checker and onnxruntime let through (verify.py uses it)."""
    ext = {"onnx": ".onnx", "safetensors": ".safetensors", "hf": ""}[fmt]

    def register(fn):
        CASES.append({"name": fn.__name__, "format": fmt, "path": fn.__name__ + ext,
                      "defect": defect, "reference_tools_accept": tools_accept, "write": fn})
        return fn
    return register


# --- ONNX -------------------------------------------------------------------

def write_onnx(path, nodes, inputs, outputs, initializers=(), value_info=(), opsets=()):
    """Serialises without checking: these models are invalid on purpose."""
    graph = helper.make_graph(nodes, "malformed", inputs, outputs, list(initializers),
                              value_info=list(value_info))
    with open(path, "wb") as f:
        f.write(make_model(graph, opsets).SerializeToString())


def valid_onnx_bytes():
    g = GraphBuilder()
    g.op("Relu", g.op("MatMul", "x", g.const("w", np.ones((4, 4), F32))), out="y")
    graph = g.graph("valid", [tensor_info("x", F32, [2, 4])], [tensor_info("y", F32, [2, 4])])
    return make_model(graph).SerializeToString()


def relu_onnx(path, x_shape, **extra):
    write_onnx(path, [helper.make_node("Relu", ["x"], ["y"])],
               [tensor_info("x", F32, x_shape)], [tensor_info("y", F32, x_shape)], **extra)


@case("onnx", "protobuf cut off halfway through")
def onnx_truncated(path):
    data = valid_onnx_bytes()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])


@case("onnx", "not a protobuf at all: text followed by random bytes")
def onnx_garbage(path):
    with open(path, "wb") as f:
        f.write(b"this is not an ONNX model\n" + np.random.default_rng(0).bytes(64))


@case("onnx", "Add reads 'ghost', which no input, initializer or node defines")
def onnx_undefined_value(path):
    write_onnx(path, [helper.make_node("Add", ["x", "ghost"], ["y"])],
               [tensor_info("x", F32, [2, 4])], [tensor_info("y", F32, [2, 4])])


@case("onnx", "MatMul reads 'fc.weight', declared in value_info as f32[4, 4] but with no initializer")
def onnx_missing_initializer(path):
    write_onnx(path, [helper.make_node("MatMul", ["x", "fc.weight"], ["y"])],
               [tensor_info("x", F32, [2, 4])], [tensor_info("y", F32, [2, 4])],
               value_info=[tensor_info("fc.weight", F32, [4, 4])])


@case("onnx", "initializer 'fc.weight' has dims [4, 4] but no data in any field")
def onnx_initializer_without_data(path):
    empty = helper.make_tensor("fc.weight", TensorProto.FLOAT, [4, 4], [])
    write_onnx(path, [helper.make_node("MatMul", ["x", "fc.weight"], ["y"])],
               [tensor_info("x", F32, [2, 4])], [tensor_info("y", F32, [2, 4])],
               initializers=[empty])


@case("onnx", "input 'x' has dim -3", tools_accept=True)
def onnx_negative_dim(path):
    relu_onnx(path, [2, -3])


@case("onnx", "input 'x' has dims [2^32, 2^32, 4]: the element count overflows int64",
      tools_accept=True)
def onnx_dim_overflow(path):
    relu_onnx(path, [2 ** 32, 2 ** 32, 4])


@case("onnx", "node 'FancyOp' from domain 'com.example.unknown' (imported at version 1)")
def onnx_unknown_domain(path):
    write_onnx(path, [helper.make_node("FancyOp", ["x"], ["y"], domain="com.example.unknown")],
               [tensor_info("x", F32, [2, 4])], [tensor_info("y", F32, [2, 4])],
               opsets=[helper.make_opsetid("com.example.unknown", 1)])


@case("onnx", "a valid model using Det (twice), Unique, DFT and NonMaxSuppression beside "
              "Relu and Transpose; the pre-flight report should list all four", tools_accept=True)
def onnx_unsupported_ops(path):
    g = GraphBuilder()
    relu = g.op("Relu", "x")
    g.op("Det", relu, out="det")
    g.op("Det", g.op("Transpose", relu, perm=[0, 2, 1]), out="det_t")
    g.op("Unique", relu, out=["unique", "unique_idx", "unique_inv", "unique_count"], sorted=1)
    g.op("DFT", "signal", out="dft")
    g.op("NonMaxSuppression", "boxes", "scores", out="nms")
    graph = g.graph("unsupported_ops",
                    [tensor_info("x", F32, [3, 3, 3]), tensor_info("signal", F32, [1, 8, 1]),
                     tensor_info("boxes", F32, [1, 4, 4]), tensor_info("scores", F32, [1, 1, 4])],
                    [tensor_info("det", F32, [3]), tensor_info("det_t", F32, [3]),
                     tensor_info("unique", F32, [None]),
                     tensor_info("unique_idx", np.int64, [None]), tensor_info("unique_inv", np.int64, [None]),
                     tensor_info("unique_count", np.int64, [None]), tensor_info("dft", F32, [1, 8, 2]),
                     tensor_info("nms", np.int64, [None, 3])])
    with open(path, "wb") as f:
        f.write(make_model(graph).SerializeToString())


def external_onnx(path, location, offset, length):
    weight = helper.make_tensor("fc.weight", TensorProto.FLOAT, [4, 4], [])
    weight.data_location = TensorProto.EXTERNAL
    for key, value in [("location", location), ("offset", offset), ("length", length)]:
        weight.external_data.add(key=key, value=str(value))
    write_onnx(path, [helper.make_node("MatMul", ["x", "fc.weight"], ["y"])],
               [tensor_info("x", F32, [2, 4])], [tensor_info("y", F32, [2, 4])],
               initializers=[weight])


@case("onnx", "external initializer at offset 4096 (+64 bytes) of a 64-byte data file "
              "(onnx_external_offset_past_eof.bin)")
def onnx_external_offset_past_eof(path):
    data = os.path.splitext(path)[0] + ".bin"
    with open(data, "wb") as f:
        f.write(np.ones(16, F32).tobytes())
    external_onnx(path, os.path.basename(data), 4096, 64)


@case("onnx", "external data location '../../etc/passwd' leaves the model's directory")
def onnx_external_path_escape(path):
    external_onnx(path, "../../etc/passwd", 0, 64)


# --- safetensors ----------------------------------------------------------------
# Layout: u64 little-endian header length, JSON header, then the data bytes.

def write_st(path, header, data=b""):
    text = header if isinstance(header, str) else json.dumps(header)
    raw = text.encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + data)


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


SIXTEEN_BYTES = np.arange(4, dtype=F32).tobytes()


@case("safetensors", "5 bytes: shorter than the 8-byte header length")
def st_too_short(path):
    with open(path, "wb") as f:
        f.write(b"\x10\x00\x00\x00\x00")


@case("safetensors", "header length says 1 MiB; the file holds 40 bytes of header")
def st_header_past_eof(path):
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", 1 << 20) + b'{"w": {"dtype": "F32", "shape": [1], ' + b" " * 3)


@case("safetensors", "the JSON header lacks its closing brace")
def st_json_syntax(path):
    write_st(path, '{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}', SIXTEEN_BYTES)


@case("safetensors", "tensor 'w' has dtype 'F24'")
def st_unknown_dtype(path):
    write_st(path, {"w": entry("F24", [4], 0, 16)}, SIXTEEN_BYTES)


@case("safetensors", "tensor 'w' spans data bytes [0, 4096) of 16")
def st_offsets_past_eof(path):
    write_st(path, {"w": entry("F32", [1024], 0, 4096)}, SIXTEEN_BYTES)


@case("safetensors", "tensor 'w' has data_offsets [16, 0] (end before begin)")
def st_offsets_reversed(path):
    write_st(path, {"w": entry("F32", [4], 16, 0)}, SIXTEEN_BYTES * 2)


@case("safetensors", "tensors 'a' [0, 16) and 'b' [8, 24) overlap")
def st_overlapping(path):
    write_st(path, {"a": entry("F32", [4], 0, 16), "b": entry("F32", [4], 8, 24)},
             SIXTEEN_BYTES + SIXTEEN_BYTES[:8])


@case("safetensors", "tensor 'w' is F32 [4, 4] (64 bytes) but spans 32 bytes")
def st_size_mismatch(path):
    write_st(path, {"w": entry("F32", [4, 4], 0, 32)}, SIXTEEN_BYTES * 2)


@case("safetensors", "the header names tensor 'w' twice")
def st_duplicate_names(path):
    one = json.dumps(entry("F32", [4], 0, 16))
    two = json.dumps(entry("F32", [4], 16, 32))
    write_st(path, f'{{"w": {one}, "w": {two}}}', SIXTEEN_BYTES * 2)


# --- Hugging Face folders ---------------------------------------------------------
# Each starts from the valid tiny Llama of hf_models.py and breaks one thing.

def hf_folder(path, edit_config=None, edit_weights=None, config_text=None):
    cfg, weights = hf_models.build("llama")
    os.makedirs(path, exist_ok=True)
    if edit_config:
        edit_config(cfg)
    if edit_weights:
        edit_weights(weights)
    save_file(weights, os.path.join(path, "model.safetensors"), metadata={"format": "pt"})
    if config_text is None:
        write_json(os.path.join(path, "config.json"), cfg)
    else:
        with open(os.path.join(path, "config.json"), "w") as f:
            f.write(config_text(cfg))


@case("hf", "Llama config.json without num_attention_heads")
def hf_config_missing_key(path):
    hf_folder(path, edit_config=lambda cfg: cfg.pop("num_attention_heads"))


@case("hf", "config.json cut off after its first 10 lines")
def hf_config_syntax(path):
    hf_folder(path, config_text=lambda cfg: "".join(json.dumps(cfg, indent=2, sort_keys=True)
                                                    .splitlines(True)[:10]))


@case("hf", "model.safetensors lacks model.layers.1.mlp.down_proj.weight")
def hf_tensor_missing(path):
    hf_folder(path, edit_weights=lambda w: w.pop("model.layers.1.mlp.down_proj.weight"))


@case("hf", "model.layers.0.self_attn.k_proj.weight is [64, 64]; 2 kv heads of 16 make it [32, 64]")
def hf_tensor_wrong_shape(path):
    def widen(w):
        w["model.layers.0.self_attn.k_proj.weight"] = np.zeros((64, 64), F32)
    hf_folder(path, edit_weights=widen)


def main():
    args = arg_parser(__doc__.splitlines()[0], [], only=False).parse_args()
    os.makedirs(args.out, exist_ok=True)
    manifest = []
    for c in CASES:
        c["write"](os.path.join(args.out, c["path"]))
        manifest.append({k: v for k, v in c.items() if k != "write"})
    write_json(os.path.join(args.out, "manifest.json"), manifest)
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
