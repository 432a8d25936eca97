#!/usr/bin/env python3
"""Reads .safetensors files with python/masktune_io.py (NumPy only), as the README tells
users to. Per file: "name dtype shape sum" per tensor, "metadata k=v" first; a file the
loader rejects prints "rejected: MESSAGE" instead (a ValueError, never another error)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import masktune_io  # noqa: E402

NAMES = {"float32": "F32", "float64": "F64", "uint8": "U8", "int64": "I64", "int32": "I32", "bool": "BOOL"}

for path in sys.argv[1:]:
    try:
        tensors, meta = masktune_io.load_safetensors(path)
    except ValueError as e:
        print(f"rejected: {e}")
        continue
    for k in sorted(meta):
        print(f"metadata {k}={meta[k]}")
    for name, a in tensors.items():
        assert a.flags.writeable
        print(f"{name} {NAMES[str(a.dtype)]} {list(a.shape)} {float(a.astype('float64').sum()):.6f}")
