#!/usr/bin/env python3
"""Copies a Hugging Face test folder with changes: the variants and broken
inputs the HF importer's lit tests need, derived from the generator's folders.

  rewrite.py SRC DST [--dtype F16|BF16] [--tensor-dtype NAME=DTYPE]...
                     [--rename OLD=NEW]... [--drop NAME]... [--copy FROM=TO]...
                     [--set KEY=JSON]... [--unset KEY]...

--rename replaces a tensor-name prefix (`--rename model.=` drops one), --copy
adds a tensor equal to another one, --set/--unset edit config.json. DST gets
config.json, one model.safetensors (also from a sharded SRC) and SRC's
input_ids.npy and logits.npy; the logits stay the oracle only when the change
keeps the math (prefixes, an explicit default), else check with
`run_lir.py --reference`.
"""

import argparse
import json
import os
import shutil

import stio


def pairs(items):
    return [item.split("=", 1) for item in items]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"])
    ap.add_argument("--tensor-dtype", action="append", default=[], metavar="NAME=DTYPE")
    ap.add_argument("--rename", action="append", default=[], metavar="OLD=NEW")
    ap.add_argument("--drop", action="append", default=[], metavar="NAME")
    ap.add_argument("--copy", action="append", default=[], metavar="FROM=TO")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    ap.add_argument("--unset", action="append", default=[], metavar="KEY")
    args = ap.parse_args()

    with open(os.path.join(args.src, "config.json")) as f:
        cfg = json.load(f)
    for key, value in pairs(args.set):
        cfg[key] = json.loads(value)
    for key in args.unset:
        cfg.pop(key, None)

    tensors = stio.read_folder(args.src)
    for name in args.drop:
        del tensors[name]
    for src, dst in pairs(args.copy):
        tensors[dst] = tensors[src]
    for old, new in pairs(args.rename):
        tensors = {(new + n[len(old):] if n.startswith(old) else n): a for n, a in tensors.items()}

    os.makedirs(args.dst, exist_ok=True)
    with open(os.path.join(args.dst, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    stio.write_file(os.path.join(args.dst, "model.safetensors"), tensors, args.dtype,
                    dict(pairs(args.tensor_dtype)))
    for extra in ("input_ids.npy", "logits.npy"):
        if os.path.exists(os.path.join(args.src, extra)):
            shutil.copy(os.path.join(args.src, extra), os.path.join(args.dst, extra))


if __name__ == "__main__":
    main()
