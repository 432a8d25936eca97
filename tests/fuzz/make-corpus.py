#!/usr/bin/python3
"""Writes the fuzzers' seed corpora (tests/fuzz/corpus/TARGET/): small valid and
nearly-valid inputs that reach each reader's branches. Run from the source tree:
    /usr/bin/python3 tests/fuzz/make-corpus.py   (needs NumPy)
The .pipe seeds also include every pipeline in pipelines/ (copied by this script);
the manifest seeds are hand-written here in the cache's manifest format."""
import gzip, io, json, os, struct
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
corpus = os.path.join(here, "corpus")


def put(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- .pipe ---------------------------------------------------------------
for f in sorted(os.listdir(os.path.join(root, "pipelines"))):
    if f.endswith(".pipe"):
        with open(os.path.join(root, "pipelines", f), "rb") as src:
            put("pipe", f, src.read())
put("pipe", "errors.pipe", 'param x = 3\nparam x = [1, 2.5, "s", true]\na = mnist(split="tset", limit=-1)\n'
    'b = biaser(a, conflict_ratio=2, color=[1, 2])\nc = trainer(b.dataset, epochs=$y)\nc = nothing()\n'
    'd = evaluator(models=[c, b], tests=[])\ne = xgradcam([c, c], b)\n')
put("pipe", "strings.pipe", 'a = npy_file(path="x\\"y\\\\z\\n\\t\\u00e9", lr=1e-3, n=0x10)\n# comment\nb = a.out\n')
put("pipe", "cycle.pipe", "a = finetuner(b, c)\nb = finetuner(a, c)\nc = mnist()\n")

# ---- .npy ----------------------------------------------------------------
def npy(arr, **kw):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, **kw)
    return buf.getvalue()

put("npy", "f32_2d.npy", npy(np.arange(6, dtype=np.float32).reshape(2, 3)))
put("npy", "u8_3d.npy", npy(np.arange(24, dtype=np.uint8).reshape(2, 3, 4)))
put("npy", "i64_scalar.npy", npy(np.array(7, dtype=np.int64)))
put("npy", "f64_empty.npy", npy(np.zeros((0, 3), dtype=np.float64)))
put("npy", "fortran.npy", npy(np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3))))
put("npy", "big_endian.npy", npy(np.arange(4, dtype=">f4")))
put("npy", "v2.npy", npy(np.arange(3, dtype=np.int16), version=(2, 0)))
put("npy", "bool.npy", npy(np.array([True, False])))

# ---- .safetensors --------------------------------------------------------
def safetensors(tensors, metadata=None):
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        b = arr.tobytes()
        dt = {np.float32: "F32", np.int64: "I64", np.uint8: "U8", np.float64: "F64",
              np.int32: "I32"}[arr.dtype.type]
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)

images = np.arange(2 * 3 * 4 * 4, dtype=np.uint8).reshape(2, 3, 4, 4)
put("safetensors", "dataset.safetensors", safetensors({
    "images": images, "labels": np.array([0, 1], dtype=np.int64),
    "digits": np.array([3, 7], dtype=np.int64), "patched": np.array([1, 0], dtype=np.uint8),
    "groups": np.array([1, 2], dtype=np.int64)}, {"source": "fuzz"}))
put("safetensors", "model_like.safetensors", safetensors({
    "backbone.0.weight": np.zeros((16, 3, 3, 3), dtype=np.float32),
    "backbone.1.num_batches_tracked": np.array(5, dtype=np.int64)}, {"arch": "small_cnn", "num_classes": "2"}))
put("safetensors", "empty.safetensors", safetensors({}))
put("safetensors", "scalar_f64.safetensors", safetensors({"x": np.array(1.5)}))

# ---- IDX -----------------------------------------------------------------
def idx(arr, code):
    hdr = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return hdr + arr.astype(arr.dtype.newbyteorder(">")).tobytes()

labels = idx(np.array([5, 0, 4, 1], dtype=np.uint8), 0x08)
put("idx", "labels-idx1-ubyte", labels)
put("idx", "images-idx3-ubyte", idx(np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3), 0x08))
put("idx", "int-idx2", idx(np.arange(6, dtype=np.int32).reshape(2, 3), 0x0C))
put("idx", "float-idx1", idx(np.array([0.5, -1.0], dtype=np.float32), 0x0D))
put("idx", "double-idx1", idx(np.array([0.25], dtype=np.float64), 0x0E))
put("idx", "labels-idx1-ubyte.gz", gzip.compress(labels, mtime=0))
put("idx", "truncated-idx1", labels[:-2])

# ---- manifests -----------------------------------------------------------
digest = "ab" * 32
manifest = {
    "format": "masktune-manifest-1", "key": "cd" * 32, "key_encoding": "masktune-key-v1",
    "node": "erm", "type": "trainer", "class_version": "1", "pipeline": "/p/masktune_mnist.pipe",
    "properties": {"epochs": 5, "lr": 0.01, "arch": "small_cnn"},
    "key_properties": {"epochs": "i:5", "lr": "f:0x1.47ae147ae147bp-7", "arch": "e:small_cnn"},
    "fingerprint": "sha256:" + "ef" * 32,
    "inputs": {"dataset": {"digest": digest, "from": "biased.dataset"},
               "models[0]": {"digest": digest, "from": "erm.model"}},
    "outputs": [{"port": "model", "kind": "model", "file": "objects/ab/" + digest + ".safetensors",
                 "digest": digest, "size": 1234, "tensors": {"linear.3.bias": {"dtype": "float32", "shape": [2]}}},
                {"port": "log", "kind": "report", "file": "objects/ab/" + digest + ".json",
                 "digest": digest, "size": 10}],
    "backend": "cpu", "started": "2026-11-22T23:50:00Z", "seconds": 12.5,
    "masktune_version": "0.1.0"}
put("manifest", "trainer.json", json.dumps(manifest, indent=2))
m2 = dict(manifest, outputs=[], inputs={})
put("manifest", "minimal.json", json.dumps(m2))
put("manifest", "broken.json", json.dumps(manifest)[:200])

# ---- cache directories (fuzz-cachedir) ------------------------------------------------
# Records "K PATH\ncontent" separated by NUL: F file, D directory, L link (OUT = outside).
import hashlib

def cachedir(name, records):
    put("cachedir", name, b"\0".join((k + " " + p + "\n").encode() + (c if isinstance(c, bytes) else c.encode())
                                    for k, p, c in records))

obj = b"\x93NUMPY" + b"x" * 40
dg = hashlib.sha256(obj).hexdigest()
key = hashlib.sha256(b"key").hexdigest()
def manifest(outputs, node="n0", typ="npy_file"):
    return json.dumps({"format": "masktune-manifest-1", "key": key, "key_encoding": "masktune-key-v1",
                       "node": node, "type": typ, "class_version": "1", "pipeline": "/p.pipe",
                       "properties": {}, "key_properties": {}, "inputs": {}, "outputs": outputs,
                       "started": "2026-01-01T00:00:00", "duration": 0.5})
good_out = [{"port": "tensor", "kind": "tensor", "format": "npy", "file": "objects/%s/%s.npy" % (dg[:2], dg),
             "digest": dg, "size": len(obj)}]
pid = hashlib.sha256(b"/p.pipe").hexdigest()[:16]
base = [("F", "entries/%s.json" % key, manifest(good_out)), ("F", "objects/%s/%s.npy" % (dg[:2], dg), obj),
        ("F", "refs/%s/n0" % pid, key + "\n"), ("F", "refs/%s/.pipeline" % pid, "/p.pipe")]
cachedir("good", base)
cachedir("no-outputs", [("F", "entries/%s.json" % key, manifest([]))] + base[1:])
cachedir("other-port", [("F", "entries/%s.json" % key, manifest([dict(good_out[0], port="other")]))] + base[1:])
cachedir("deep-json", [("F", "entries/%s.json" % key, "[" * 5000)] + base[1:])
cachedir("traversal", [("F", "entries/%s.json" % key, manifest(good_out, node="../../evil"))] + base[1:])
cachedir("object-dir-link", base + [("L", "objects/af", "OUT"), ("L", "objects/%s/extra" % dg[:2], "OUT/sentinel")])
cachedir("tmp-link", base + [("L", "tmp", "OUT")])
cachedir("entry-link", base + [("L", "entries/%s.json" % hashlib.sha256(b"2").hexdigest(), "OUT/sentinel")])
cachedir("resume-and-locks", base + [("F", "resume/%s/checkpoint.safetensors" % key, "x" * 100),
                                     ("F", "locks/%s.lock" % key, ""), ("D", "tmp/run-1", "")])
cachedir("ref-named-pipeline", base + [("F", "refs/%s/PIPELINE" % pid, key + "\n")])
