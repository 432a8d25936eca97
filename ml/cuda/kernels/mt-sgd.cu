// The optimizers' updates (ml/cpu/mt-sgd.c, ml/cpu/mt-adam.c), element by element in the
// CPU's order.
#include "mt-cuda-common.cuh"
#include "ml/mt-elementwise.h"

// PyTorch's SGD: g = grad + wd * p; buf = g (first step) or momentum * buf + g;
// p -= lr * (nesterov ? g + momentum * buf : buf). Without momentum no buffer is kept.
MT_KERNEL void mt_sgd_step (float *p, const float *grad, float *buf, i64 n, float lr,
                                         float momentum, float wd, int first, int nesterov) {
  float unused = 0;
  GRID_STRIDE (i, n) mt_ew_sgd (&p[i], grad[i], momentum == 0.0f ? &unused : &buf[i], lr, momentum, wd, first,
                                nesterov);
}

// PyTorch's Adam; the bias-corrected step size and sqrt (1 - beta2^t) come from the host.
MT_KERNEL void mt_adam_step (float *p, const float *grad, float *m, float *v, i64 n, float step_size,
                                          float bc2_sqrt, float w1, float b2, float w2, float wd, float eps,
                                          int decay) {
  GRID_STRIDE (i, n) mt_ew_adam (&p[i], grad[i], &m[i], &v[i], step_size, bc2_sqrt, w1, b2, w2, wd, eps, decay);
}
