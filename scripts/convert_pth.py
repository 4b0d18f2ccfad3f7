#!/usr/bin/env python3
"""Convert a PyTorch Swin checkpoint (.pth/.pt/.bin) to .safetensors for `sparsevit`.

Unwraps the usual containers ('model', 'state_dict', 'module.' prefixes), keeps tensors only,
and writes them unchanged (any layout the engine reads: timm, Microsoft original, torchvision,
mmdet/SparseViT). Needs torch and safetensors (scripts/python_env.sh makes such a venv).

    python scripts/convert_pth.py swin_tiny_patch4_window7_224.pth swin_tiny.safetensors
"""
import argparse
import sys

import torch
from safetensors.torch import save_file


def unwrap(obj):
    for key in ("model", "state_dict", "model_state", "module"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            return unwrap(obj[key])
    return obj


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="PyTorch checkpoint (.pth, .pt, .bin)")
    parser.add_argument("target", help="output .safetensors")
    parser.add_argument("--dtype", choices=["keep", "float32", "float16", "bfloat16"], default="keep",
                        help="convert floating-point tensors (default: keep their dtype)")
    args = parser.parse_args()

    state = unwrap(torch.load(args.source, map_location="cpu", weights_only=True))
    if not isinstance(state, dict):
        sys.exit(f"error: {args.source} does not hold a state dict (found {type(state).__name__})")
    tensors = {}
    skipped = []
    for name, value in state.items():
        if not torch.is_tensor(value):
            skipped.append(name)
            continue
        name = name[len("module."):] if name.startswith("module.") else name
        if value.is_floating_point() and args.dtype != "keep":
            value = value.to(getattr(torch, args.dtype))
        tensors[name] = value.contiguous()
    if not tensors:
        sys.exit(f"error: no tensors found in {args.source}")
    save_file(tensors, args.target, metadata={"converted_from": args.source})
    print(f"wrote {len(tensors)} tensors to {args.target}" + (f" (skipped non-tensors: {', '.join(skipped)})" if skipped else ""))


if __name__ == "__main__":
    main()
