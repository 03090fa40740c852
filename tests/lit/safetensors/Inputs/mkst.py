"""Writes a (possibly malformed) safetensors file and a .lir that uses it.

The safetensors lit tests need byte-exact bad files, which no writer library
will produce, next to a text-IR file whose `weights` line names them:

  mkst.py BASE [--header JSON [--data N] | --bytes HEX] [--weights FILE]
          [--const NAME:TYPE ...]

writes BASE.safetensors (8-byte little-endian header length, the header
verbatim, then N data bytes counting up from 0) or the raw HEX bytes, and
BASE.lir:

  weights "FILE"              (default: BASE.safetensors; an absolute FILE is
                              written relative to the .lir's directory)

  graph @g() -> (TYPE, ...) {
    %c0 = const @"NAME" : TYPE
    ...
    return %c0, ...
  }

TYPE is written compactly on the command line ("f32[2,3]") and printed
canonically ("f32[2, 3]").
"""
import argparse
import os
import struct


def canonical_type(t):
    dtype, _, dims = t.partition("[")
    dims = [d.strip() for d in dims.rstrip("]").split(",") if d.strip()]
    return "%s[%s]" % (dtype, ", ".join(dims))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("base")
    p.add_argument("--header")
    p.add_argument("--data", type=int, default=0)
    p.add_argument("--bytes")
    p.add_argument("--weights")
    p.add_argument("--const", action="append", default=[])
    a = p.parse_args()

    if a.bytes is not None:
        blob = bytes.fromhex(a.bytes)
    elif a.header is not None:
        h = a.header.encode("utf-8")
        blob = struct.pack("<Q", len(h)) + h + bytes(i % 256 for i in range(a.data))
    else:
        blob = None
    if blob is not None:
        with open(a.base + ".safetensors", "wb") as f:
            f.write(blob)

    consts = [c.rsplit(":", 1) for c in a.const]
    types = [canonical_type(t) for _, t in consts]
    weights = a.weights or os.path.basename(a.base) + ".safetensors"
    if os.path.isabs(weights):
        weights = os.path.relpath(weights, os.path.dirname(os.path.abspath(a.base)))
    lines = ['weights "%s"' % weights, "", "graph @g() -> (%s) {" % ", ".join(types)]
    for i, ((name, _), t) in enumerate(zip(consts, types)):
        lines.append('  %%c%d = const @"%s" : %s' % (i, name, t))
    lines.append(" ".join(["  return"] + [", ".join("%%c%d" % i for i in range(len(consts)))]).rstrip())
    lines.append("}")
    with open(a.base + ".lir", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
