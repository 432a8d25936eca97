// The SGD update (ml/cpu/mt-sgd.c).
#include "mt-cuda-common.cuh"

// PyTorch's SGD: g = grad + wd * p; buf = g (first step) or momentum * buf + g; p -= lr * buf.
extern "C" __global__ void mt_sgd_step (float *p, const float *grad, float *buf, i64 n, float lr,
                                         float momentum, float wd, int first) {
  GRID_STRIDE (i, n) {
    float g = grad[i] + wd * p[i];
    float b = first ? g : momentum * buf[i] + g;
    buf[i] = b;
    p[i] -= lr * b;
  }
}
