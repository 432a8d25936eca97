// 2x2 max-pooling forward and backward (ml/cpu/mt-op-maxpool.c).
#include "mt-cuda-common.cuh"

// 2x2 max-pooling, stride 2; odd trailing rows and columns dropped; ties to the first
// maximum in row-major order (PyTorch's and the CPU op's rule).
MT_KERNEL void mt_maxpool2_forward (const float *x, float *y, int *argmax,
                                                 int planes, int h, int w) {
  int oh = h / 2, ow = w / 2;
  GRID_STRIDE (i, (i64) planes * oh * ow) {
    i64 plane = i / (oh * ow);
    int o = (int) (i % (oh * ow)), oy = o / ow, ox = o % ow;
    const float *xp = x + plane * h * w;
    int best = (2 * oy) * w + 2 * ox;
    int cand[3] = { best + 1, best + w, best + w + 1 };
    for (int k = 0; k < 3; k++)
      if (xp[cand[k]] > xp[best]) best = cand[k];
    y[i] = xp[best];
    argmax[i] = best;
  }
}
// Windows do not overlap, so each input gets at most one gradient: no atomics. The
// caller zeroes dx first (cudaMemsetAsync).
MT_KERNEL void mt_maxpool2_backward (const int *argmax, const float *dy, float *dx,
                                                  int planes, int h, int w) {
  int oh = h / 2, ow = w / 2;
  GRID_STRIDE (i, (i64) planes * oh * ow) {
    i64 plane = i / (oh * ow);
    dx[plane * h * w + argmax[i]] = dy[i];
  }
}
