#!/usr/bin/env python3
"""Writes the demo's weights, mlp.safetensors, into a folder.

The values are seeded random numbers shaped like a trained block's (small
normal weights, norm scale near one), so the demo's model is reproducible
without shipping a binary file. Run with the test venv's interpreter, which
has the pinned numpy and safetensors:

    build/venv/bin/python examples/demo/make_weights.py OUT_DIR
"""
import os
import sys

import numpy as np
from safetensors.numpy import save_file

HIDDEN, FFN = 64, 256


def main(out_dir):
    rng = np.random.default_rng(0)

    def normal(*shape, scale=0.02):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    tensors = {
        "mlp.norm.weight": 1.0 + normal(HIDDEN, scale=0.1),
        "mlp.norm.bias": normal(HIDDEN),
        "mlp.up.weight": normal(HIDDEN, FFN),
        "mlp.up.bias": normal(FFN),
        "mlp.gate.weight": normal(HIDDEN, FFN),
        "mlp.down.weight": normal(FFN, HIDDEN),
        "mlp.down.bias": normal(HIDDEN),
    }
    os.makedirs(out_dir, exist_ok=True)
    save_file(tensors, os.path.join(out_dir, "mlp.safetensors"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
