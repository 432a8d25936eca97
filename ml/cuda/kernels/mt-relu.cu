// ReLU forward and backward (ml/cpu/mt-op-relu.c).
#include "mt-cuda-common.cuh"
#include "ml/mt-elementwise.h"

MT_KERNEL void mt_relu_forward (const float *x, float *y, i64 n) {
  GRID_STRIDE (i, n) y[i] = mt_ew_relu (x[i]);
}
// dx = dy where the forward's output is positive.
MT_KERNEL void mt_relu_backward (const float *y, const float *dy, float *dx, i64 n) {
  GRID_STRIDE (i, n) dx[i] = mt_ew_relu_grad (y[i], dy[i]);
}
