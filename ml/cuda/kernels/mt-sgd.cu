// The optimizers' updates (ml/cpu/mt-sgd.c, ml/cpu/mt-adam.c), element by element in the
// CPU's order.
#include "mt-cuda-common.cuh"

// PyTorch's SGD: g = grad + wd * p; buf = g (first step) or momentum * buf + g;
// p -= lr * (nesterov ? g + momentum * buf : buf). Without momentum no buffer is kept.
MT_KERNEL void mt_sgd_step (float *p, const float *grad, float *buf, i64 n, float lr,
                                         float momentum, float wd, int first, int nesterov) {
  GRID_STRIDE (i, n) {
    float g = grad[i] + wd * p[i];
    if (momentum == 0.0f) {
      p[i] -= lr * g;
      continue;
    }
    float b = first ? g : momentum * buf[i] + g;
    buf[i] = b;
    p[i] -= lr * (nesterov ? g + momentum * b : b);
  }
}

// PyTorch's Adam; the bias-corrected step size and sqrt (1 - beta2^t) come from the host.
MT_KERNEL void mt_adam_step (float *p, const float *grad, float *m, float *v, i64 n, float step_size,
                                          float bc2_sqrt, float w1, float b2, float w2, float wd, float eps,
                                          int decay) {
  GRID_STRIDE (i, n) {
    float g = decay ? grad[i] + wd * p[i] : grad[i];
    float mi = m[i] + w1 * (g - m[i]);
    float vi = b2 * v[i] + w2 * g * g;
    m[i] = mi;
    v[i] = vi;
    p[i] += -step_size * mi / (sqrtf (vi) / bc2_sqrt + eps);
  }
}
