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

/* Class-activation maps (ml/mt-saliency.h, whose MtCamMethod these are). */
#define MT_EW_CAM_XGRADCAM   0
#define MT_EW_CAM_GRADCAM    1
#define MT_EW_CAM_GRADCAM_PP 2
#define MT_EW_CAM_LAYERCAM   3

/* The weight of one channel from its activation @a and gradient @g over @hw pixels, as
 * pytorch-grad-cam computes it, summed in double in pixel order (LayerCAM has none). */
MT_EW float
mt_ew_cam_weight (int method, const float *a, const float *g, int hw)
{
  double w = 0;
  if (method == MT_EW_CAM_XGRADCAM) {
    double ga = 0, sa = 0;
    for (int p = 0; p < hw; p++) {
      ga += (double) g[p] * a[p];
      sa += a[p];
    }
    w = ga / (sa + 1e-7);
  } else if (method == MT_EW_CAM_GRADCAM) {
    for (int p = 0; p < hw; p++)
      w += g[p];
    w /= hw;
  } else if (method == MT_EW_CAM_GRADCAM_PP) {
    double sa = 0;
    for (int p = 0; p < hw; p++)
      sa += a[p];
    for (int p = 0; p < hw; p++) {
      double g1 = g[p], g2 = g1 * g1, g3 = g2 * g1;
      double alpha = g1 != 0 ? g2 / (2 * g2 + sa * g3 + 1e-7) : 0;
      w += (g1 > 0 ? g1 : 0) * alpha;
    }
  }
  return (float) w;
}

/* The map at pixel @p of one sample's @c channels of @hw pixels: ReLU of the sum over
 * channels, in float in channel order, of w_c A_c (LayerCAM: ReLU(G_c) A_c). */
MT_EW float
mt_ew_cam_pixel (int method, const float *a, const float *g, const float *w, int c, long long hw, long long p)
{
  float acc = 0.0f;
  for (int ch = 0; ch < c; ch++) {
    long long i = ch * hw + p;
    acc += (method == MT_EW_CAM_LAYERCAM ? mt_ew_relu (g[i]) : w[ch]) * a[i];
  }
  return mt_ew_relu (acc);
}

/* The class a saliency map explains: @label clamped to [0, @classes) where @has_label,
 * else the first of the largest @logits. */
MT_EW int
mt_ew_cam_target (const float *logits, int classes, int has_label, long long label)
{
  if (has_label)
    return label < 0 ? 0 : label >= classes ? classes - 1 : (int) label;
  int t = 0;
  for (int k = 1; k < classes; k++)
    if (logits[k] > logits[t])
      t = k;
  return t;
}

/* MaskTune's masking rules (MtMaskMethod in ml/mt-mask.h). */
#define MT_EW_MASK_MEAN_STD   0
#define MT_EW_MASK_THRESHOLD  1
#define MT_EW_MASK_TOP_K      2
#define MT_EW_MASK_MEAN_SCALE 3

/* The cut of a cut rule on one map of @len pixels: heat > *@cut is masked. @param is k
 * (mean_std: the mean of the positive heat plus k times their population std, numpy's),
 * tau (threshold: compared as the float32 maps store it) or the factor (mean_scale: of
 * the mean heat). Sums in double, in pixel order. Returns 0 where nothing is masked
 * (a mean_std map without positive heat). */
MT_EW int
mt_ew_mask_cut (int method, const float *heat, int len, double param, double *cut)
{
  if (method == MT_EW_MASK_THRESHOLD) {
    *cut = (double) (float) param;
    return 1;
  }
  double sum = 0;
  if (method == MT_EW_MASK_MEAN_SCALE) {
    for (int i = 0; i < len; i++)
      sum += heat[i];
    *cut = param * sum / len;
    return 1;
  }
  int pos = 0;
  for (int i = 0; i < len; i++)
    if (heat[i] > 0) {
      sum += heat[i];
      pos++;
    }
  if (pos == 0)
    return 0;
  double mean = sum / pos, sq = 0;
  for (int i = 0; i < len; i++)
    if (heat[i] > 0)
      sq += (heat[i] - mean) * (heat[i] - mean);
  *cut = mean + param * sqrt (sq / pos);
  return 1;
}

/* top_k: how many of @len pixels it masks, floor(fraction * len + 0.5) within [0, len]. */
MT_EW int
mt_ew_mask_top_count (double fraction, int len)
{
  int m = (int) floor (fraction * len + 0.5);
  return m < 0 ? 0 : m > len ? len : m;
}

/* One round of top_k's radix select: given the counts @hist[256] of a digit among the
 * keys still in the running, the digit of the @*want-th largest; *@want becomes its rank
 * among the keys of that digit. */
MT_EW unsigned
mt_ew_mask_radix_digit (const unsigned *hist, unsigned *want)
{
  unsigned above = 0, d = 255;
  for (; d > 0 && above + hist[d] < *want; d--)
    above += hist[d];
  *want -= above;
  return d;
}

/* top_k's order as an unsigned key: a larger heat has a larger key, and -0 is +0 (they
 * are equal heat, ranked by position). */
MT_EW unsigned
mt_ew_mask_heat_key (float heat)
{
  union { float f; unsigned u; } v;
  v.f = heat == 0.0f ? 0.0f : heat;
  return (v.u & 0x80000000u) ? ~v.u : (v.u | 0x80000000u);
}
