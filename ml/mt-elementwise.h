/* The arithmetic of element-wise ops, one definition for the CPU ops and the CUDA
 * kernels (ml/cuda/kernels/, into whose NVRTC source ml/cuda/mt-embed-kernels.sh copies
 * this file): the two cannot drift apart. Plain C that CUDA C++ also compiles: no GLib,
 * no library calls beyond floor(), sqrt() and sqrtf(). */
#pragma once

#ifndef __CUDACC_RTC__
#include <math.h>
#endif

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define MT_EW __device__ static inline
#else
#define MT_EW static inline
#endif

/* A model's input value from a uint8 pixel: pixel / 255, then (v - @mean) * @inv_std
 * unless @plain (SmallCNN's input is pixel / 255 alone). */
MT_EW float
mt_ew_input_pixel (unsigned char pixel, int plain, float mean, float inv_std)
{
  float v = pixel * (1.0f / 255.0f);
  return plain ? v : (v - mean) * inv_std;
}

MT_EW float
mt_ew_relu (float x)
{
  return x > 0.0f ? x : 0.0f;
}

/* dx of the ReLU from its output @y; @dy is read unconditionally (a blend, not a branch). */
MT_EW float
mt_ew_relu_grad (float y, float dy)
{
  return y > 0.0f ? dy : 0.0f;
}

/* One parameter of PyTorch's SGD (dampening 0). g = grad + wd * p; without momentum
 * p -= lr * g and no buffer is kept; else buf = g (first step) or momentum * buf + g,
 * p -= lr * (nesterov ? g + momentum * buf : buf). */
MT_EW void
mt_ew_sgd (float *p, float grad, float *buf, float lr, float momentum, float wd, int first, int nesterov)
{
  float g = grad + wd * *p;
  if (momentum == 0.0f) {
    *p -= lr * g;
    return;
  }
  float b = first ? g : momentum * *buf + g;
  *buf = b;
  *p -= lr * (nesterov ? g + momentum * b : b);
}

/* One parameter of PyTorch's Adam (amsgrad off), with the host's bias-corrected step
 * size and sqrt (1 - beta2^t); w1 = 1 - beta1, w2 = 1 - beta2. */
MT_EW void
mt_ew_adam (float *p, float grad, float *m, float *v, float step_size, float bc2_sqrt, float w1, float b2, float w2,
            float wd, float eps, int decay)
{
  float g = decay ? grad + wd * *p : grad;
  float mi = *m + w1 * (g - *m);       /* exp_avg.lerp_(grad, 1 - beta1) */
  float vi = b2 * *v + w2 * g * g;     /* exp_avg_sq.mul_(beta2).addcmul_(g, g, 1 - beta2) */
  *m = mi;
  *v = vi;
  *p += -step_size * mi / (sqrtf (vi) / bc2_sqrt + eps);  /* param.addcdiv_(exp_avg, denom, -step_size) */
}

/* The evaluation batch norm of one channel as the affine map y = x * g + b, rounded as
 * every op that applies it or folds it into a convolution rounds it (1/std in double,
 * then float): folded weights then give the unfolded op's bits. */
MT_EW void
mt_ew_bn_eval_affine (float gamma, float beta, float mean, float var, double eps, float *g, float *b)
{
  float invstd = (float) (1.0 / sqrt ((double) var + eps));
  *g = gamma * invstd;
  *b = beta - mean * *g;
}

/* Bilinear resizing with half-pixel centres (OpenCV's INTER_LINEAR): output index @dst
 * of a side scaled by @scale (in / out) reads @i0 and @i1 of @in, weighting i1 by @frac. */
MT_EW void
mt_ew_bilinear_coord (int dst, double scale, int in, int *i0, int *i1, float *frac)
{
  double src = (dst + 0.5) * scale - 0.5;
  if (src < 0)
    src = 0;
  int i = (int) floor (src);
  if (i > in - 1)
    i = in - 1;
  *i0 = i;
  *i1 = i + 1 < in - 1 ? i + 1 : in - 1;
  *frac = (float) (src - i);
}
