#!/usr/bin/env python3
"""bench-resnet's work in PyTorch (Debian's python3-torch and python3-torchvision), for
comparison: torchvision's ResNet-18, 10 classes, batch 64, training steps (forward,
cross-entropy, backward, SGD momentum 0.9, weight decay 1e-4) on 32x32 and 64x64 inputs,
at 1 and 2 threads; best of three timed runs."""
import sys
import time

import torch
import torchvision
from torch import nn

BATCH = 64


def main():
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    torch.manual_seed(0)
    for size in (32, 64):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            model = torchvision.models.resnet18(num_classes=10)
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
            loss_fn = nn.CrossEntropyLoss()
            x = torch.rand(BATCH, 3, size, size)
            y = torch.arange(BATCH) % 10
            model.train()

            def step():
                opt.zero_grad()
                loss_fn(model(x), y).backward()
                opt.step()

            step()
            best = 0.0
            for _ in range(3):
                t0 = time.perf_counter()
                for _ in range(iters):
                    step()
                best = max(best, iters * BATCH / (time.perf_counter() - t0))
            print(f"torch {torch.__version__} {size}x{size} threads {threads}: training {best:6.1f} img/s")


if __name__ == "__main__":
    main()
