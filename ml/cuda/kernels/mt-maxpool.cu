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

// Max-pooling with any window, stride and padding (ml/cpu/mt-op-pool.c, the ResNets'
// 3x3/2/1 stem): padding never wins, ties go to the first maximum in row-major order, a
// NaN wins and ends the search (PyTorch's rules and the CPU op's).
MT_KERNEL void mt_maxpool_forward (const float *x, float *y, int *argmax, int planes, int h, int w,
                                   int k, int stride, int pad, int oh, int ow) {
  GRID_STRIDE (i, (i64) planes * oh * ow) {
    i64 plane = i / ((i64) oh * ow);
    int o = (int) (i % ((i64) oh * ow)), oy = o / ow, ox = o % ow;
    const float *xp = x + plane * h * w;
    int best = -1;
    float bv = -1.0f / 0.0f;
    for (int ky = 0; ky < k && !(best >= 0 && isnan (bv)); ky++) {
      int iy = oy * stride - pad + ky;
      if (iy < 0 || iy >= h) continue;
      for (int kx = 0; kx < k; kx++) {
        int ix = ox * stride - pad + kx;
        if (ix < 0 || ix >= w) continue;
        float v = xp[iy * w + ix];
        if (best < 0 || v > bv || isnan (v)) {
          best = iy * w + ix;
          bv = v;
          if (isnan (v)) break;
        }
      }
    }
    y[i] = bv;
    argmax[i] = best;
  }
}
// Windows overlap, so an input may win several: each input adds the gradients of the
// outputs it won in their row-major order, as the CPU op adds them (the same bits, and no
// atomics). Every dx is written.
MT_KERNEL void mt_maxpool_backward (const int *argmax, const float *dy, float *dx, int planes, int h, int w,
                                    int k, int stride, int pad, int oh, int ow) {
  GRID_STRIDE (i, (i64) planes * h * w) {
    i64 plane = i / ((i64) h * w);
    int p = (int) (i % ((i64) h * w)), iy = p / w, ix = p % w;
    // The outputs whose window holds (iy, ix): o * stride - pad <= i <= o * stride - pad + k - 1.
    int oy0 = iy + pad - k + 1 > 0 ? (iy + pad - k + stride) / stride : 0, oy1 = min ((iy + pad) / stride, oh - 1);
    int ox0 = ix + pad - k + 1 > 0 ? (ix + pad - k + stride) / stride : 0, ox1 = min ((ix + pad) / stride, ow - 1);
    const int *ap = argmax + plane * oh * ow;
    const float *dp = dy + plane * oh * ow;
    float g = 0.0f;
    for (int oy = oy0; oy <= oy1; oy++)
      for (int ox = ox0; ox <= ox1; ox++)
        if (ap[oy * ow + ox] == p) g += dp[oy * ow + ox];
    dx[i] = g;
  }
}
