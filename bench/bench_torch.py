#!/usr/bin/env python3
"""The same work as bench-cpu in PyTorch (Debian's python3-torch), for comparison:
SmallCNN, batch 128, 3x28x28; training steps (forward, cross-entropy, backward, SGD with
momentum 0.9 and weight decay 1e-4) and saliency passes (eval forward, backward of the
predicted logits to the output of the last conv block's ReLU), at 1 and 2 threads."""
import sys
import time

import torch
from torch import nn

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/tests")
from check_torch_smallcnn import SmallCNN  # noqa: E402

BATCH = 128


def best_of(fn, iters):
    fn()
    fn()
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        best = max(best, iters * BATCH / (time.perf_counter() - t0))
    return best


def main():
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    torch.manual_seed(0)
    x = torch.rand(BATCH, 3, 28, 28)
    y = torch.arange(BATCH) % 2
    for threads in (1, 2):
        torch.set_num_threads(threads)
        model = SmallCNN(2)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
        loss_fn = nn.CrossEntropyLoss()

        def train_step():
            model.train()
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()

        acts = {}
        model.backbone[12].register_forward_hook(lambda m, i, o: acts.__setitem__("a", o))

        def saliency_step():
            model.eval()
            logits = model(x)
            score = logits.gather(1, logits.argmax(1, keepdim=True)).sum()
            torch.autograd.grad(score, acts["a"])

        train = best_of(train_step, iters)
        sal = best_of(saliency_step, iters)
        print(f"torch {torch.__version__} threads {threads}: training {train:7.0f} img/s"
              f" ({train * 16.8e6 / 1e9:5.1f} GFLOP/s)   saliency {sal:7.0f} img/s")


if __name__ == "__main__":
    main()
