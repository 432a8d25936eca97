#!/usr/bin/env python3
"""Runs torch.optim.SGD or torch.optim.Adam on the parameter and gradient sequence a
masktune test wrote, and compares the final parameter and optimizer state with
masktune's. Prints the largest differences; exits 1 above the tolerance.

    check_torch_optim.py RUN.safetensors

RUN holds p0 [n], grads [K, n], and masktune's p, buf (SGD's momentum_buffer or Adam's
exp_avg) and, for Adam, exp_avg_sq; its metadata the optimizer and its settings."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from masktune_io import load_safetensors as load  # noqa: E402


def main():
    t, meta = load(sys.argv[1])
    p = torch.nn.Parameter(torch.from_numpy(t["p0"].copy()))
    lr, wd = float(meta["lr"]), float(meta["weight_decay"])
    if meta["optimizer"] == "adam":
        opt = torch.optim.Adam([p], lr=lr, betas=(float(meta["beta1"]), float(meta["beta2"])),
                               eps=float(meta["eps"]), weight_decay=wd)
    else:
        opt = torch.optim.SGD([p], lr=lr, momentum=float(meta["momentum"]), weight_decay=wd,
                              nesterov=meta["nesterov"] == "true")
    for g in t["grads"]:
        p.grad = torch.from_numpy(g.copy())
        opt.step()
    state = opt.state[p]
    pairs = [("p", p.detach().numpy())]
    if meta["optimizer"] == "adam":
        pairs += [("buf", state["exp_avg"].numpy()), ("exp_avg_sq", state["exp_avg_sq"].numpy())]
    elif state.get("momentum_buffer") is not None:
        pairs += [("buf", state["momentum_buffer"].numpy())]
    elif np.any(t["buf"] != 0):
        print("buf: PyTorch keeps no buffer without momentum, but masktune's moved")
        sys.exit(1)
    worst = 0.0
    for name, ref in pairs:
        d = float(np.max(np.abs(ref - t[name]) / (1 + np.abs(ref))))
        print("%s max_rel_diff %.3g" % (name, d))
        worst = max(worst, d)
    sys.exit(0 if worst < 1e-5 else 1)


if __name__ == "__main__":
    main()
