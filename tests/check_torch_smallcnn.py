#!/usr/bin/env python3
"""Loads a masktune SmallCNN (.safetensors) into the PyTorch module the MaskTune paper's
code defines, with load_state_dict(strict=True), and runs it in eval mode on a masktune
dataset (.safetensors). Prints the accuracy; with a third argument (a .npy of masktune's
own logits for the first N samples) also the largest difference from PyTorch's logits.

    check_torch_smallcnn.py MODEL.safetensors DATASET.safetensors [LOGITS.npy]

Needs Debian's python3-torch and python3-numpy. The safetensors Python package is not
used: the files are read with python/masktune_io.py, the NumPy-only loader the README
gives users."""
import os
import sys

import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten())
        self.linear = nn.Sequential(
            nn.Linear(512, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, num_classes))

    def forward(self, x):
        return self.linear(self.backbone(x))


def main():
    # Here, not at the top: the benchmarks import SmallCNN alone, on machines (a GPU one)
    # that have PyTorch but not NumPy or masktune's python/ folder.
    import numpy as np
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    from masktune_io import load_safetensors as load

    tensors, meta = load(sys.argv[1])
    model = SmallCNN(int(meta["num_classes"]))
    state = {k: torch.from_numpy(v) for k, v in tensors.items()}
    model.load_state_dict(state, strict=True)  # names and shapes must match exactly
    model.eval()
    data, _ = load(sys.argv[2])
    x = torch.from_numpy(data["images"].astype(np.float32) / 255.0)
    y = data["labels"]
    with torch.no_grad():
        logits = model(x).numpy()
    print(f"accuracy {float((logits.argmax(1) == y).mean()):.6f} on {len(y)}")
    if len(sys.argv) > 3:
        ours = np.load(sys.argv[3])
        diff = float(np.abs(ours - logits[:len(ours)]).max())
        print(f"max_abs_diff {diff:.3e} over {len(ours)} samples")


if __name__ == "__main__":
    main()
