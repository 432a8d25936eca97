#!/usr/bin/env python3
"""Loads .npy files with NumPy's own parser and prints dtype, shape and sum of each,
one line per file, so the C tests can compare them with what they wrote."""
import sys

import numpy as np

for path in sys.argv[1:]:
    a = np.load(path, allow_pickle=False)
    total = a.astype(np.float64).sum() if a.size else 0.0
    print(f"{a.dtype.name} {list(a.shape)} {total:.6f} {int(a.flags['C_CONTIGUOUS'])}")
