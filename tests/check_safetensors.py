#!/usr/bin/env python3
"""Checks .safetensors files against the format's rules as the reference parser enforces
them (header length, JSON header, known dtypes, offsets that tile the data buffer with
no gap or overlap, sizes that match dtype x shape), then reads each tensor with NumPy.
Prints "name dtype shape sum" per tensor and "metadata k=v" lines; exits 1 on any
violation. (The safetensors Python package is not installable here: no PyPI access.)"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "U8": np.uint8, "I32": np.int32,
          "I64": np.int64, "BOOL": np.bool_}


def check(path):
    data = open(path, "rb").read()
    if len(data) < 8:
        raise ValueError("too short")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError("header runs past the end")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("header is not an object")
    buf = data[8 + n:]
    meta = header.pop("__metadata__", {})
    for k, v in meta.items():
        if not isinstance(v, str):
            raise ValueError("metadata values must be strings")
        print(f"metadata {k}={v}")
    spans = []
    for name, info in header.items():
        dt = DTYPES[info["dtype"]]
        shape = info["shape"]
        begin, end = info["data_offsets"]
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dt).itemsize
        if end - begin != nbytes:
            raise ValueError(f"{name}: size mismatch")
        spans.append((begin, end, name))
        a = np.frombuffer(buf[begin:end], dtype=dt).reshape(shape)
        total = a.astype(np.float64).sum() if a.size else 0.0
        print(f"{name} {info['dtype']} {list(shape)} {total:.6f}")
    pos = 0
    for begin, end, name in sorted(spans):
        if begin != pos:
            raise ValueError(f"{name}: gap or overlap")
        pos = end
    if pos != len(buf):
        raise ValueError("trailing bytes")


for p in sys.argv[1:]:
    check(p)
