"""Read masktune's outputs with NumPy alone (no safetensors or torch package needed).

    import masktune_io
    tensors, metadata = masktune_io.load_safetensors("out/erm.model.safetensors")
    tensors["backbone.0.weight"].shape      # (16, 3, 3, 3), float32
    images = masktune_io.load_safetensors("out/biased.dataset.safetensors")[0]["images"]

A .safetensors file is an 8-byte little-endian header length, a JSON header naming each
tensor's dtype, shape and byte range, then the raw little-endian data. This reader checks
what the format requires (every range inside the data, sizes matching dtype x shape, no
overlap) and raises ValueError naming the file otherwise. With PyTorch:

    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})

.npy outputs (saliency maps, masks) open with numpy.load; reports are JSON.
"""
import json
import struct

import numpy as np

__all__ = ["load_safetensors", "save_safetensors"]

_DTYPES = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16,
    "F16": np.float16, "U32": np.uint32, "I32": np.int32, "F32": np.float32,
    "U64": np.uint64, "I64": np.int64, "F64": np.float64,
}

_MAX_HEADER = 100 * 1024 * 1024  # the reference implementation's limit


def load_safetensors(path):
    """Returns (tensors, metadata): a dict of name -> numpy array (a copy, writable, in
    the file's order) and the header's string metadata (a dict, possibly empty)."""
    with open(path, "rb") as f:
        data = f.read()

    def bad(why):
        return ValueError(f"{path}: not a valid .safetensors file: {why}")

    if len(data) < 8:
        raise bad("shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise bad(f"header length {n} runs past the end of the file ({len(data)} bytes)")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f"header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("__metadata__ must map names to strings")
    buf = memoryview(data)[8 + n:]
    spans = []
    tensors = {}
    for name, info in header.items():
        if not isinstance(info, dict):
            raise bad(f"tensor '{name}' is not described by an object")
        dtype = _DTYPES.get(info.get("dtype"))
        shape = info.get("shape")
        offsets = info.get("data_offsets")
        if dtype is None:
            raise bad(f"tensor '{name}' has unknown dtype {info.get('dtype')!r}")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise bad(f"tensor '{name}' has a bad shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise bad(f"tensor '{name}' has bad data_offsets {offsets!r}")
        begin, end = offsets
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        if not 0 <= begin <= end <= len(buf) or end - begin != nbytes:
            raise bad(f"tensor '{name}': bytes {begin}..{end} do not hold {shape} {info['dtype']} "
                      f"inside {len(buf)} bytes of data")
        spans.append((begin, end, name))
        tensors[name] = np.frombuffer(buf[begin:end], dtype=np.dtype(dtype).newbyteorder("<")) \
            .reshape(shape).astype(dtype, copy=True)
    spans.sort()
    for (b0, e0, n0), (b1, _, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise bad(f"tensors '{n0}' and '{n1}' overlap")
    return tensors, metadata


_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def save_safetensors(path, tensors, metadata=None):
    """Writes a dict of name -> numpy array (and optional string metadata) as .safetensors,
    in the order given: what model_file reads. For torchvision's pretrained weights:

        m = torchvision.models.resnet50(weights="IMAGENET1K_V1")
        save_safetensors("resnet50.safetensors", {k: v.numpy() for k, v in m.state_dict().items()})
    """
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, a in tensors.items():
        a = np.array(a, order="C")  # (np.ascontiguousarray would make a 0-d tensor 1-d)
        if a.dtype not in _NAMES:
            raise ValueError(f"{name}: dtype {a.dtype} has no safetensors name")
        data = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _NAMES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)  # the data 8-byte aligned, as the reference writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


if __name__ == "__main__":
    import sys
    for p in sys.argv[1:]:
        ts, meta = load_safetensors(p)
        for k, v in ts.items():
            print(f"{p}: {k} {v.dtype} {list(v.shape)}")
        for k, v in meta.items():
            print(f"{p}: metadata {k} = {v[:60]}{'…' if len(v) > 60 else ''}")
