"""safetensors reading and writing for the HF importer tests, bf16 included.

numpy has no bfloat16, so safetensors.numpy can neither load nor save BF16
tensors. These helpers read any f32/f16/bf16 tensor into a float64 array (bf16
bits widened into a float32's upper half) and write f32/f16/bf16 files, so the
tests can make bf16 checkpoints and run the references on their exact values.
Sharded checkpoints are read through their model.safetensors.index.json.
"""

import json
import os
import struct

import numpy as np

_NUMPY = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64,
          "I32": np.int32, "I8": np.int8, "U8": np.uint8}


def read_file(path):
    """{name: float64 or integer array} of one .safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base, out = 8 + n, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[base + begin:base + end]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(raw, "<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        else:
            array = np.frombuffer(raw, np.dtype(_NUMPY[info["dtype"]]).newbyteorder("<"))
        array = array.reshape(info["shape"])
        out[name] = array.astype(np.float64) if array.dtype.kind == "f" else array
    return out


def read_source(path):
    """Every tensor of a .safetensors file or of the shards an index lists."""
    if not path.endswith(".json"):
        return read_file(path)
    with open(path) as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    out = {}
    for shard in shards:
        out |= read_file(os.path.join(os.path.dirname(path), shard))
    return out


def read_folder(folder):
    """Every tensor of a model folder, single file or sharded."""
    index = os.path.join(folder, "model.safetensors.index.json")
    return read_source(index if os.path.exists(index) else os.path.join(folder, "model.safetensors"))


def to_bf16_bits(array):
    """float -> bfloat16 bit patterns, rounding to nearest even (NaN kept)."""
    bits = np.asarray(array, np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


_WRITE = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4", "I8": "i1",
          "U8": "u1"}


def write_file(path, tensors, dtype="F32", dtypes=None):
    """Writes {name: array} in the given order, each as dtypes[name] if given,
    else `dtype` (F32, F16, BF16, F64 or an integer type)."""
    header, chunks, offset = {}, [], 0
    for name, array in tensors.items():
        kind = (dtypes or {}).get(name, dtype)
        if kind == "BF16":
            raw = to_bf16_bits(array).astype("<u2").tobytes()
        else:
            raw = np.asarray(array).astype(_WRITE[kind]).tobytes()
        header[name] = {"dtype": kind, "shape": list(np.shape(array)),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
