#!/usr/bin/env python3
"""Write a valid LoRA adapter_model.safetensors for a Llama-3.1 base, for the upload benchmark.

Every layer's seven projections (q/k/v/o, gate/up/down) at the given rank, BF16, data filled
with a repeated random block (real bytes on disk, not a sparse hole). Sizes for
llama-3.1-70b-instruct: 25.9 MB per unit of rank (rank 4 = 103.5 MB, rank 19 = 491.8 MB).

Usage: make_bench_adapter.py --base llama-3.1-70b-instruct --rank 4 OUT
Needs only the Python standard library.
"""

import argparse
import json
import os
import struct

# ops/models.json: hidden, intermediate, layers, kv heads * head dim
BASES = {
    "llama-3.1-8b-instruct": (4096, 14336, 32, 8 * 128),
    "llama-3.1-70b-instruct": (8192, 28672, 80, 8 * 128),
}
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def shapes(base, rank):
    hidden, inter, layers, kv = BASES[base]
    io = {"q_proj": (hidden, hidden), "k_proj": (hidden, kv), "v_proj": (hidden, kv),
          "o_proj": (hidden, hidden), "gate_proj": (hidden, inter), "up_proj": (hidden, inter),
          "down_proj": (inter, hidden)}
    for layer in range(layers):
        for m in MODULES:
            parent = "mlp" if m in ("gate_proj", "up_proj", "down_proj") else "self_attn"
            name = f"base_model.model.model.layers.{layer}.{parent}.{m}"
            fan_in, fan_out = io[m]
            yield name + ".lora_A.weight", [rank, fan_in]
            yield name + ".lora_B.weight", [fan_out, rank]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", default="llama-3.1-70b-instruct", choices=sorted(BASES))
    p.add_argument("--rank", type=int, required=True)
    p.add_argument("out")
    args = p.parse_args()
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in shapes(args.base, args.rank):
        size = shape[0] * shape[1] * 2
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    block = os.urandom(1 << 20)
    with open(args.out, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        left = offset
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
    print(8 + len(text) + offset)


if __name__ == "__main__":
    main()
