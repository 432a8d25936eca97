#!/usr/bin/env python3
"""The same work as bench-cpu in PyTorch (Debian's python3-torch), for comparison:
SmallCNN, batch 128, 3x28x28; training steps (forward, cross-entropy, backward, SGD with
momentum 0.9 and weight decay 1e-4) and saliency passes (eval forward, backward of the
predicted logits to the output of the last conv block's ReLU), at 1 and 2 threads.

    bench_torch.py [ITERATIONS] [--threads T] [--quiet] [--device cuda]

--quiet prints one line per thread count, for bench/bench-vs-torch.sh. --device cuda runs
the same steps on the GPU (eager mode, cuDNN's default algorithm choice), for
bench/bench-cuda's figures; the thread count then only sets the host's."""
import os
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from check_torch_smallcnn import SmallCNN  # noqa: E402

BATCH = 128


def best_of(fn, iters, sync):
    fn()
    fn()
    best = 0.0
    for _ in range(3):
        sync()
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        sync()
        best = max(best, iters * BATCH / (time.perf_counter() - t0))
    return best


def main():
    args = sys.argv[1:]
    quiet = "--quiet" in args
    only = int(args[args.index("--threads") + 1]) if "--threads" in args else 0
    if "--iters" in args:
        iters = int(args[args.index("--iters") + 1])
    else:
        iters = int(args[0]) if args and args[0].isdigit() else 20
    device = args[args.index("--device") + 1] if "--device" in args else "cpu"
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    torch.manual_seed(0)
    x = torch.rand(BATCH, 3, 28, 28, device=device)
    y = (torch.arange(BATCH) % 2).to(device)
    for threads in (1, 2):
        if only and threads != only:
            continue
        torch.set_num_threads(threads)
        model = SmallCNN(2).to(device)
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

        train = best_of(train_step, iters, sync)
        sal = best_of(saliency_step, iters, sync)
        if quiet:
            print(f"torch threads {threads}: training {train:.0f} saliency {sal:.0f}")
        elif device == "cuda":
            print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}: training {train:7.0f} img/s"
                  f" (an epoch of 60,000: {60000 / train:.3f} s)   saliency {sal:7.0f} img/s")
            break
        else:
            print(f"torch {torch.__version__} threads {threads}: training {train:7.0f} img/s"
                  f" ({train * 16.2e6 / 1e9:5.1f} GFLOP/s, an epoch of 60,000: {60000 / train:.3f} s)"
                  f"   saliency {sal:7.0f} img/s")


if __name__ == "__main__":
    main()
