// ReLU forward and backward (ml/cpu/mt-op-relu.c).
#include "mt-cuda-common.cuh"

MT_KERNEL void mt_relu_forward (const float *x, float *y, i64 n) {
  GRID_STRIDE (i, n) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
// dx = dy where the forward's output is positive.
MT_KERNEL void mt_relu_backward (const float *y, const float *dy, float *dx, i64 n) {
  GRID_STRIDE (i, n) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}
