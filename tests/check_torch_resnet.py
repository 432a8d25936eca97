#!/usr/bin/env python3
"""ResNets between masktune and PyTorch, both ways, through .safetensors state_dicts.

    check_torch_resnet.py to-torch ARCH MODEL.safetensors X.npy LOGITS.npy [R.npy DX.npy]
        loads masktune's weights into the PyTorch module with load_state_dict(strict=True)
        and prints the largest |difference| of its eval-mode logits on X from masktune's
        (and of d sum(logits * R) / d X, by autograd in float64, from masktune's DX)
    check_torch_resnet.py predict ARCH TORCHVISION.safetensors DATASET.safetensors LOGITS.npy
        PyTorch's logits on a masktune dataset, ImageNet-normalised, against masktune's
        predict output for the same weights
    check_torch_resnet.py from-torch ARCH OUT.safetensors X.npy OUT_LOGITS.npy
        saves a seeded PyTorch model (batch-norm statistics made non-trivial) and its
        eval-mode logits on X, for masktune to load and compare

ARCH: resnet18/34/50 (torchvision's definitions) or resnet20/32/56 (the CIFAR ResNets of
the MaskTune code, akamaster/pytorch_resnet_cifar10, defined here). Needs Debian's
python3-torch and python3-torchvision; reads with python/masktune_io.py."""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from masktune_io import load_safetensors, save_safetensors  # noqa: E402


class LambdaLayer(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:  # option A: subsample, pad channels
            self.shortcut = LambdaLayer(lambda x: F.pad(x[:, :, ::2, ::2],
                                                        (0, 0, 0, 0, planes // 4, planes // 4), "constant", 0))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, num_blocks, num_classes=10):
        super().__init__()
        self.in_planes = 16
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(16, num_blocks, 1)
        self.layer2 = self._make_layer(32, num_blocks, 2)
        self.layer3 = self._make_layer(64, num_blocks, 2)
        self.linear = nn.Linear(64, num_classes)

    def _make_layer(self, planes, n, stride):
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3])
        return self.linear(out.view(out.size(0), -1))


def build(arch, num_classes):
    if arch in ("resnet18", "resnet34", "resnet50"):
        import torchvision
        return getattr(torchvision.models, arch)(num_classes=num_classes)
    blocks = {"resnet20": 3, "resnet32": 5, "resnet56": 9}[arch]
    return CifarResNet(blocks, num_classes)


def main():
    mode, arch, model_path, x_path, logits_path = sys.argv[1:6]
    x = torch.from_numpy(np.load(x_path)) if x_path.endswith(".npy") else None
    if mode == "to-torch":
        tensors, meta = load_safetensors(model_path)
        model = build(arch, int(meta["num_classes"]))
        model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
        model.eval()
        with torch.no_grad():
            ours = model(x).numpy()
        theirs = np.load(logits_path)
        print(f"{arch}: max |logit difference| {np.abs(ours - theirs).max():.3g} "
              f"(logits up to {np.abs(theirs).max():.3g})")
        if len(sys.argv) > 7:  # R.npy DX.npy: d sum(logits * R) / d x, by autograd in float64
            r = torch.from_numpy(np.load(sys.argv[6])).double()
            xd = x.double().requires_grad_(True)
            (model.double()(xd) * r).sum().backward()
            want = xd.grad.numpy()
            got = np.load(sys.argv[7])
            # Per sample, |difference| / |gradient|: a ReLU or max-pool kink within float32
            # rounding of the input may route one sample's gradient elsewhere (it happens
            # with the sanitizer build's rounding); a wrong path would show in every sample.
            rel = sorted(float(np.linalg.norm(got[i] - want[i]) / np.linalg.norm(want[i])) for i in range(len(want)))
            print(f"{arch}: max |input gradient difference| {np.abs(got - want).max():.3g} "
                  f"(gradients up to {np.abs(want).max():.3g}); per-sample relative "
                  f"{' '.join(f'{r:.3g}' for r in rel)}")
    elif mode == "predict":  # X is a masktune dataset; LOGITS masktune's predict output
        tensors, _ = load_safetensors(model_path)
        model = build(arch, tensors["fc.weight"].shape[0])
        model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
        model.eval()
        data, _ = load_safetensors(x_path)
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        xin = (torch.from_numpy(data["images"]).float() / 255 - mean) / std
        with torch.no_grad():
            want = model(xin).numpy()
        got = np.load(logits_path)
        print(f"{arch}: max |logit difference| {np.abs(got - want).max():.3g} (logits up to {np.abs(want).max():.3g})")
    else:
        torch.manual_seed(0)
        model = build(arch, 7)
        model.train()
        with torch.no_grad():  # move the batch-norm statistics away from 0 and 1
            for _ in range(3):
                model(torch.randn(8, 3, x.shape[2], x.shape[3]) * 2 + 0.5)
        model.eval()
        with torch.no_grad():
            logits = model(x).numpy()
        save_safetensors(model_path, {k: v.numpy() for k, v in model.state_dict().items()})
        np.save(logits_path, logits)
        print(f"{arch}: saved {len(model.state_dict())} tensors")


if __name__ == "__main__":
    main()
