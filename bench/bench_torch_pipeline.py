#!/usr/bin/env python3
"""The work of pipelines/masktune_fashion.pipe in PyTorch eager, stage by stage, for
comparison with `mtrun run --device cuda` on the same GPU (bench/gpu-run.sh runs both):
Fashion-MNIST (Debian's dataset-fashion-mnist) made two-class with a red 4x4 square on
99% of class 0 and 1% of class 1; SmallCNN trained for 3 epochs (batch 128, SGD with
momentum 0.9 and weight decay 1e-4, 10% held out and evaluated each epoch); XGradCAM maps
of all 60,000 training images (batch 256, the last conv block's ReLU, scaled to [0, 1],
bilinear to 28 x 28); the mean_std mask (k = 2) applied; one epoch of fine-tuning on the
masked images; both models evaluated on the raw and the biased test sets (batch 512,
accuracy and worst group).

    bench_torch_pipeline.py [--root DIR] [--device cuda] [--epochs N] [--limit N] [--test-limit N]

The data stays on the device as uint8 and batches are gathered there by a permutation,
as masktune's trainer does on a GPU: PyTorch's best case, no DataLoader. The figures are
times, not a replica of masktune's bytes (its biaser, split and initialisation differ)."""
import argparse
import copy
import gzip
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from check_torch_smallcnn import SmallCNN  # noqa: E402


def read_idx(path):
    with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return torch.frombuffer(bytearray(raw[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def find(root, prefix, kind):
    for name in (f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte.gz",
                 f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"):
        if os.path.exists(os.path.join(root, name)):
            return os.path.join(root, name)
    sys.exit(f"bench_torch_pipeline: no {prefix} {kind} file in {root}")


def biased(images, labels, ratio, gen):
    """Two classes (0-4, 5-9), RGB, the square on 1 - ratio of class 0 and ratio of class 1."""
    y = (labels >= 5).long()
    x = images[:, None].repeat(1, 3, 1, 1)
    r = torch.rand(len(y), generator=gen)
    patch = torch.where(y == 0, r >= ratio, r < ratio)
    x[patch, :, :4, :4] = torch.tensor([255, 0, 0], dtype=torch.uint8)[:, None, None]
    return x, y, patch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0, help="only the first N training images")
    ap.add_argument("--test-limit", type=int, default=0, help="only the first N test images")
    a = ap.parse_args()
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    times = {}

    def stage(name, fn):
        sync()
        t0 = time.perf_counter()
        r = fn()
        sync()
        times[name] = time.perf_counter() - t0
        return r

    def load():
        tr_x, tr_y = read_idx(find(a.root, "train", "images")), read_idx(find(a.root, "train", "labels"))
        te_x, te_y = read_idx(find(a.root, "t10k", "images")), read_idx(find(a.root, "t10k", "labels"))
        if a.limit:
            tr_x, tr_y = tr_x[:a.limit], tr_y[:a.limit]
        if a.test_limit:
            te_x, te_y = te_x[:a.test_limit], te_y[:a.test_limit]
        x, y, _ = biased(tr_x, tr_y, 0.01, gen)
        bt = biased(te_x, te_y, 1.0, gen)  # ratio 1: the square on every class-1 image, none on class 0
        raw_x, raw_y = te_x[:, None].repeat(1, 3, 1, 1), (te_y >= 5).long()
        return tuple(t.to(dev) for t in (x, y, raw_x, raw_y, torch.zeros(len(raw_y), dtype=torch.bool), *bt))

    x, y, raw_x, raw_y, raw_p, bt_x, bt_y, bt_p = stage("load", load)
    n = len(y)
    perm = torch.randperm(n, device=dev)
    val_idx, tr_idx = perm[:n // 10], perm[n // 10:]

    def floats(u8):
        return u8.float().div_(255.0)

    def evaluate(model, xs, ys, batch=512):
        model.eval()
        correct = torch.zeros((), dtype=torch.int64, device=dev)
        preds = []
        with torch.no_grad():
            for i in range(0, len(ys), batch):
                p = model(floats(xs[i:i + batch])).argmax(1)
                preds.append(p)
                correct += (p == ys[i:i + batch]).sum()
        return torch.cat(preds), correct

    def train(model, opt, xs, ys, idx, epochs, val=None):
        loss_fn = nn.CrossEntropyLoss()
        for _ in range(epochs):
            model.train()
            order = idx[torch.randperm(len(idx), device=dev)]
            for i in range(0, len(order), 128):
                b = order[i:i + 128]
                opt.zero_grad(set_to_none=True)
                loss_fn(model(floats(xs[b])), ys[b]).backward()
                opt.step()
            if val is not None:
                evaluate(model, xs[val], ys[val])

    erm = SmallCNN(2).to(dev)
    opt = torch.optim.SGD(erm.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    stage("trainer (erm)", lambda: train(erm, opt, x, y, tr_idx, a.epochs, val_idx))

    def xgradcam():
        erm.eval()
        acts = {}
        hook = erm.backbone[12].register_forward_hook(lambda m, i, o: acts.__setitem__("a", o))
        maps = []
        for i in range(0, n, 256):
            logits = erm(floats(x[i:i + 256]))
            score = logits.gather(1, logits.argmax(1, keepdim=True)).sum()
            (g,) = torch.autograd.grad(score, acts["a"])
            act = acts["a"].detach()
            w = (g * act).sum((2, 3)) / (act.sum((2, 3)) + 1e-7)
            cam = F.relu((w[:, :, None, None] * act).sum(1))
            lo = cam.amin((1, 2), keepdim=True)
            hi = cam.amax((1, 2), keepdim=True)
            cam = (cam - lo) / (hi - lo + 1e-7)
            maps.append(F.interpolate(cam[:, None], size=(28, 28), mode="bilinear", align_corners=False)[:, 0])
        hook.remove()
        return torch.cat(maps)

    heat = stage("xgradcam", xgradcam)

    def masker():
        flat = heat.flatten(1)
        cut = flat.mean(1, keepdim=True) + 2.0 * flat.std(1, unbiased=False, keepdim=True)
        keep = (flat <= cut).view(-1, 1, 28, 28)
        return x * keep.to(torch.uint8)

    masked = stage("masker", masker)
    # The finetuner starts from the ERM model and its optimizer state (state=erm.state).
    tuned = copy.deepcopy(erm)
    tuned_opt = torch.optim.SGD(tuned.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    tuned_opt.load_state_dict(opt.state_dict())
    stage("finetuner (masktune)", lambda: train(tuned, tuned_opt, masked, y, torch.arange(n, device=dev), 1))

    def report():
        rows = []
        for name, model in (("erm", erm), ("masktune", tuned)):
            for tname, xs, ys, ps in (("raw_test", raw_x, raw_y, raw_p), ("biased_test", bt_x, bt_y, bt_p)):
                pred, correct = evaluate(model, xs, ys)
                groups = []
                for c in (0, 1):
                    for p in (False, True):
                        sel = (ys == c) & (ps == p)
                        if int(sel.sum()):
                            groups.append(float((pred[sel] == c).float().mean()))
                rows.append((name, tname, int(correct) / len(ys), min(groups)))
        return rows

    rows = stage("evaluator", report)
    total = sum(v for k, v in times.items() if k != "load")
    name = torch.cuda.get_device_name() if dev.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__} eager on {name}, {n} training images, {a.epochs} epochs:")
    for k, v in times.items():
        print(f"  {k:<22} {v:8.3f} s")
    for r in rows:
        print(f"  {r[0]} on {r[1]}: accuracy {100 * r[2]:.1f}%, worst group {100 * r[3]:.1f}%")
    print(f"torch pipeline: {total:.3f} s (without loading the files)")


if __name__ == "__main__":
    main()
