#!/usr/bin/env python3
"""The image operations torchvision applies with PIL, for test-images to compare with:

    check_pil.py decode IMAGE OUT.npy              PIL's decode, converted to RGB, H x W x 3
    check_pil.py resize IN.npy H W OUT.npy         Image.resize((W, H), BILINEAR) of an RGB array
    check_pil.py torchvision IN.npy RESIZE CROP OUT.npy   Resize(RESIZE) then CenterCrop(CROP)
Needs python3-pil (and torchvision for the last)."""
import sys

import numpy as np
from PIL import Image

mode = sys.argv[1]
if mode == "decode":
    np.save(sys.argv[3], np.asarray(Image.open(sys.argv[2]).convert("RGB")))
elif mode == "resize":
    img = Image.fromarray(np.load(sys.argv[2]))
    h, w = int(sys.argv[3]), int(sys.argv[4])
    np.save(sys.argv[5], np.asarray(img.resize((w, h), Image.BILINEAR)))
elif mode == "torchvision":
    from torchvision import transforms
    img = Image.fromarray(np.load(sys.argv[2]))
    t = transforms.Compose([transforms.Resize(int(sys.argv[3])), transforms.CenterCrop(int(sys.argv[4]))])
    np.save(sys.argv[5], np.asarray(t(img)))
