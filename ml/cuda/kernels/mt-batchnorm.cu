// Batch normalisation over (N, H, W) per channel (hw = 1 for BatchNorm1d), with the ReLU
// after it fused when asked (ml/cpu/mt-op-batchnorm.c). Deterministic: the statistics are
// one block per channel, each thread summing a fixed stride of the channel in double,
// then the block's fixed reduction tree (the CPU sums a plane in float and the planes in
// double, so the two agree to float rounding, not to the bit). The element-wise parts
// use the CPU's float formulas.
#include "mt-cuda-common.cuh"
#include "ml/mt-elementwise.h"

// Element j of channel ch: image j / hw, pixel j % hw.
__device__ i64 bn_index (i64 j, int c, int hw, int ch) {
  return ((j / hw) * c + ch) * hw + j % hw;
}

// Training forward, one block per channel: the batch's mean and biased variance
// normalise; the running variance takes the unbiased one, as PyTorch.
MT_KERNEL void mt_bn_forward_train (const float *x, const float *gamma, const float *beta, float *y,
                                    float *save_mean, float *save_invstd, float *running_mean,
                                    float *running_var, int n, int c, int hw, double eps, double momentum,
                                    int relu) {
  int ch = blockIdx.x;
  i64 m = (i64) n * hw;
  double sum = 0;
  for (i64 j = threadIdx.x; j < m; j += blockDim.x) sum += x[bn_index (j, c, hw, ch)];
  double mean = block_sum (sum) / (double) m;
  float mean_f = (float) mean;
  double sq = 0;
  for (i64 j = threadIdx.x; j < m; j += blockDim.x) {
    float d = x[bn_index (j, c, hw, ch)] - mean_f;
    sq += d * d;
  }
  sq = block_sum (sq);
  double var = sq / (double) m, invstd = 1.0 / sqrt (var + eps);
  float g = gamma[ch] * (float) invstd, b = beta[ch] - (float) mean * g;
  for (i64 j = threadIdx.x; j < m; j += blockDim.x) {
    i64 k = bn_index (j, c, hw, ch);
    float v = x[k] * g + b;
    y[k] = relu && !(v > 0.0f) ? 0.0f : v;
  }
  if (threadIdx.x == 0) {
    double unbiased = m > 1 ? sq / (double) (m - 1) : var;
    save_mean[ch] = (float) mean;
    save_invstd[ch] = (float) invstd;
    running_mean[ch] = (float) ((1 - momentum) * running_mean[ch] + momentum * mean);
    running_var[ch] = (float) ((1 - momentum) * running_var[ch] + momentum * unbiased);
  }
}

// Evaluation forward with the running statistics, element-wise: the CPU's bits.
MT_KERNEL void mt_bn_forward_eval (const float *x, const float *gamma, const float *beta, float *y,
                                   const float *running_mean, const float *running_var, int n, int c, int hw,
                                   double eps, int relu) {
  GRID_STRIDE (i, (i64) n * c * hw) {
    int ch = (int) (i / hw % c);
    float g, b;
    mt_ew_bn_eval_affine (gamma[ch], beta[ch], running_mean[ch], running_var[ch], eps, &g, &b);
    float v = x[i] * g + b;
    y[i] = relu && !(v > 0.0f) ? 0.0f : v;
  }
}

// Evaluation's batch norm folded into the convolution before it (fold_batchnorm; the
// CPU's mt_cpu_fold_batchnorm): each of a channel's @per weights times its scale, its bias
// times the scale plus the shift, the scale and shift rounded as mt_bn_forward_eval
// rounds them, so the folded convolution gives the unfolded pair's values.
MT_KERNEL void mt_fold_batchnorm (const float *weight, const float *bias, const float *gamma, const float *beta,
                                  const float *running_mean, const float *running_var, float *fold_w,
                                  float *fold_b, int oc, i64 per, double eps) {
  GRID_STRIDE (i, (i64) oc * per) {
    int o = (int) (i / per);
    float g, b;
    mt_ew_bn_eval_affine (gamma[o], beta[o], running_mean[o], running_var[o], eps, &g, &b);
    fold_w[i] = weight[i] * g;
    if (i % per == 0) fold_b[o] = (bias ? bias[o] * g : 0.0f) + b;
  }
}

// Training backward, one block per channel. @y: the fused ReLU's output (its mask), or
// NULL without ReLU; @dx may be NULL (the parameter gradients alone).
MT_KERNEL void mt_bn_backward_train (const float *x, const float *y, const float *dy, const float *gamma,
                                     const float *save_mean, const float *save_invstd, float *dx, float *dgamma,
                                     float *dbeta, int n, int c, int hw) {
  int ch = blockIdx.x;
  i64 m = (i64) n * hw;
  float mean = save_mean[ch], invstd = save_invstd[ch];
  double a = 0, b = 0;
  for (i64 j = threadIdx.x; j < m; j += blockDim.x) {
    i64 k = bn_index (j, c, hw, ch);
    float g = y && !(y[k] > 0.0f) ? 0.0f : dy[k];
    a += g;
    b += g * (x[k] - mean);
  }
  double sum_dy = block_sum (a), sum_dy_xhat = block_sum (b) * invstd;
  if (threadIdx.x == 0) {
    dgamma[ch] = (float) sum_dy_xhat;
    dbeta[ch] = (float) sum_dy;
  }
  if (!dx) return;
  // dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
  float k = gamma[ch] * invstd;
  float mdy = (float) (sum_dy / (double) m), mdx = (float) (sum_dy_xhat / (double) m);
  for (i64 j = threadIdx.x; j < m; j += blockDim.x) {
    i64 e = bn_index (j, c, hw, ch);
    float g = y && !(y[e] > 0.0f) ? 0.0f : dy[e];
    dx[e] = k * (g - mdy - (x[e] - mean) * invstd * mdx);
  }
}

// Evaluation backward (the statistics are constants): dx = dy * gamma / sqrt(var + eps),
// masked by the fused ReLU's output @y unless NULL. The CPU's bits.
MT_KERNEL void mt_bn_backward_eval (const float *y, const float *dy, const float *gamma, const float *running_var,
                                    float *dx, int n, int c, int hw, double eps) {
  GRID_STRIDE (i, (i64) n * c * hw) {
    int ch = (int) (i / hw % c);
    float k = gamma[ch] * (float) (1.0 / sqrt ((double) running_var[ch] + eps));
    float g = y && !(y[i] > 0.0f) ? 0.0f : dy[i];
    dx[i] = g * k;
  }
}
