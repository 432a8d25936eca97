/* Batch normalisation, 2-D (per channel over N, H, W) and 1-D (h = w = 1). Each row of
 * a plane is summed in float (vectorised), the rows in double, so that large batches
 * keep float32 accuracy at vector speed. */
#include "mt-ops.h"
#include "mt-cpu.h"

#include <math.h>

void
mt_batchnorm_forward_train (const MtBnSpec *s, const float *x, int n, int c, int hw,
                            const float *gamma, const float *beta, float *y,
                            float *save_mean, float *save_invstd,
                            float *running_mean, float *running_var)
{
  gsize m = (gsize) n * hw;
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (int ch = 0; ch < c; ch++) {
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) {
      const float *xp = x + ((gsize) i * c + ch) * hw;
      float part = 0;
#pragma omp simd reduction(+:part)
      for (int p = 0; p < hw; p++)
        part += xp[p];
      sum += part;
    }
    double mean = sum / (double) m;
    float mean_f = (float) mean;
    for (int i = 0; i < n; i++) {
      const float *xp = x + ((gsize) i * c + ch) * hw;
      float part = 0;
#pragma omp simd reduction(+:part)
      for (int p = 0; p < hw; p++) {
        float d = xp[p] - mean_f;
        part += d * d;
      }
      sq += part;
    }
    double var = sq / (double) m;  /* biased: what normalises */
    double invstd = 1.0 / sqrt (var + s->eps);
    save_mean[ch] = (float) mean;
    save_invstd[ch] = (float) invstd;
    float g = gamma[ch] * (float) invstd, b = beta[ch] - (float) mean * g;
    for (int i = 0; i < n; i++) {
      const float *xp = x + ((gsize) i * c + ch) * hw;
      float *yp = y + ((gsize) i * c + ch) * hw;
#pragma omp simd
      for (int p = 0; p < hw; p++)
        yp[p] = xp[p] * g + b;
    }
    /* Running variance is the unbiased estimate, as PyTorch keeps it. */
    double unbiased = m > 1 ? sq / (double) (m - 1) : var;
    running_mean[ch] = (float) ((1 - s->momentum) * running_mean[ch] + s->momentum * mean);
    running_var[ch] = (float) ((1 - s->momentum) * running_var[ch] + s->momentum * unbiased);
  }
}

void
mt_batchnorm_forward_eval (const MtBnSpec *s, const float *x, int n, int c, int hw,
                           const float *gamma, const float *beta, float *y,
                           const float *running_mean, const float *running_var)
{
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (int ch = 0; ch < c; ch++) {
    float invstd = (float) (1.0 / sqrt ((double) running_var[ch] + s->eps));
    float g = gamma[ch] * invstd, b = beta[ch] - running_mean[ch] * g;
    for (int i = 0; i < n; i++) {
      const float *xp = x + ((gsize) i * c + ch) * hw;
      float *yp = y + ((gsize) i * c + ch) * hw;
#pragma omp simd
      for (int p = 0; p < hw; p++)
        yp[p] = xp[p] * g + b;
    }
  }
}

void
mt_batchnorm_backward_train (const float *x, int n, int c, int hw, const float *gamma,
                             const float *save_mean, const float *save_invstd, const float *dy,
                             float *dx, float *dgamma, float *dbeta)
{
  gsize m = (gsize) n * hw;
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (int ch = 0; ch < c; ch++) {
    double sum_dy = 0, sum_dy_xhat = 0;
    float mean = save_mean[ch], invstd = save_invstd[ch];
    for (int i = 0; i < n; i++) {
      const float *xp = x + ((gsize) i * c + ch) * hw;
      const float *dyp = dy + ((gsize) i * c + ch) * hw;
      float a = 0, b = 0;
#pragma omp simd reduction(+:a, b)
      for (int p = 0; p < hw; p++) {
        a += dyp[p];
        b += dyp[p] * (xp[p] - mean);
      }
      sum_dy += a;
      sum_dy_xhat += (double) b * invstd;
    }
    dgamma[ch] = (float) sum_dy_xhat;
    dbeta[ch] = (float) sum_dy;
    if (!dx)
      continue;
    /* dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)) */
    float k = gamma[ch] * invstd;
    float mdy = (float) (sum_dy / (double) m), mdx = (float) (sum_dy_xhat / (double) m);
    for (int i = 0; i < n; i++) {
      const float *xp = x + ((gsize) i * c + ch) * hw;
      const float *dyp = dy + ((gsize) i * c + ch) * hw;
      float *dxp = dx + ((gsize) i * c + ch) * hw;
#pragma omp simd
      for (int p = 0; p < hw; p++)
        dxp[p] = k * (dyp[p] - mdy - (xp[p] - mean) * invstd * mdx);
    }
  }
}

void
mt_batchnorm_backward_eval (const MtBnSpec *s, int n, int c, int hw, const float *gamma,
                            const float *running_var, const float *dy, float *dx)
{
  for (int ch = 0; ch < c; ch++) {
    float k = gamma[ch] * (float) (1.0 / sqrt ((double) running_var[ch] + s->eps));
    for (int i = 0; i < n; i++) {
      const float *dyp = dy + ((gsize) i * c + ch) * hw;
      float *dxp = dx + ((gsize) i * c + ch) * hw;
      for (int p = 0; p < hw; p++)
        dxp[p] = dyp[p] * k;
    }
  }
}
