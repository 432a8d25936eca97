// The residual networks' ops (ml/cpu/mt-op-add.c, ml/cpu/mt-op-pool.c): the add of a
// block's two paths, global average pooling, and the CIFAR ResNets' option-A shortcut.
#include "mt-cuda-common.cuh"

MT_KERNEL void mt_add (const float *a, const float *b, float *y, i64 n) {
  GRID_STRIDE (i, n) y[i] = a[i] + b[i];
}
// One thread per plane, summing in double and rounding once, in the CPU's order.
MT_KERNEL void mt_avgpool_forward (const float *x, float *y, i64 planes, int hw) {
  GRID_STRIDE (p, planes) {
    const float *xp = x + p * hw;
    double acc = 0;
    for (int i = 0; i < hw; i++) acc += xp[i];
    y[p] = (float) (acc / hw);
  }
}
MT_KERNEL void mt_avgpool_backward (const float *dy, float *dx, i64 planes, int hw) {
  GRID_STRIDE (i, planes * hw) dx[i] = dy[i / hw] / (float) hw;
}
// y = x[:, :, ::stride, ::stride] with (out_c - c) / 2 zero channels on each side.
MT_KERNEL void mt_shortcut_forward (const float *x, float *y, int n, int c, int h, int w, int out_c, int stride) {
  int oh = (h + stride - 1) / stride, ow = (w + stride - 1) / stride, pad = (out_c - c) / 2;
  GRID_STRIDE (j, (i64) n * out_c * oh * ow) {
    i64 plane = j / ((i64) oh * ow);
    int o = (int) (j % ((i64) oh * ow)), oy = o / ow, ox = o % ow;
    int i = (int) (plane / out_c), ic = (int) (plane % out_c) - pad;
    y[j] = ic < 0 || ic >= c ? 0.0f : x[(((i64) i * c + ic) * h + (i64) oy * stride) * w + (i64) ox * stride];
  }
}
// dy back to the kept pixels, zero elsewhere; every dx is written.
MT_KERNEL void mt_shortcut_backward (const float *dy, float *dx, int n, int c, int h, int w, int out_c, int stride) {
  int oh = (h + stride - 1) / stride, ow = (w + stride - 1) / stride, pad = (out_c - c) / 2;
  GRID_STRIDE (j, (i64) n * c * h * w) {
    i64 plane = j / ((i64) h * w);
    int p = (int) (j % ((i64) h * w)), iy = p / w, ix = p % w;
    int i = (int) (plane / c), ic = (int) (plane % c);
    dx[j] = iy % stride || ix % stride
              ? 0.0f : dy[(((i64) i * out_c + ic + pad) * oh + iy / stride) * ow + ix / stride];
  }
}
