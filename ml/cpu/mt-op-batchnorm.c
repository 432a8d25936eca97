/* Batch normalisation, 2-D (per channel over N, H, W) and 1-D (h = w = 1). Each row of
 * a plane is summed in float (vectorised), the rows in double, so that large batches
 * keep float32 accuracy at vector speed. */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-ref-ops.h"
#include "ml/cpu/mt-cpu.h"
#include "ml/mt-elementwise.h"

#include <math.h>

/* The plane of image @i, channel @ch. */
#define PLANE(t, i, ch) ((t) + ((gsize) (i) * c + (ch)) * hw)

void
mt_cpu_bn_means (const double *sums, int total, int c, gsize m, double *sum, float *mean_f)
{
  for (int ch = 0; ch < c; ch++) {
    double acc = 0;
    for (int i = 0; i < total; i++)
      acc += sums[(gsize) i * c + ch];
    sum[ch] = acc;
    mean_f[ch] = (float) (acc / (double) m);
  }
}

void
mt_cpu_bn_statistics (const MtBnSpec *s, const double *sum, const double *sqs, int total, int c, gsize m,
                      const float *gamma, const float *beta, float *save_mean, float *save_invstd, float *g, float *b,
                      float *running_mean, float *running_var)
{
  for (int ch = 0; ch < c; ch++) {
    double sq = 0;
    for (int i = 0; i < total; i++)
      sq += sqs[(gsize) i * c + ch];
    double mean = sum[ch] / (double) m;
    double var = sq / (double) m;  /* biased: what normalises */
    double invstd = 1.0 / sqrt (var + s->eps);
    save_mean[ch] = (float) mean;
    save_invstd[ch] = (float) invstd;
    g[ch] = gamma[ch] * (float) invstd;
    b[ch] = beta[ch] - (float) mean * g[ch];
    /* Running variance is the unbiased estimate, as PyTorch keeps it. */
    double unbiased = m > 1 ? sq / (double) (m - 1) : var;
    if (running_mean) {  /* NULL: a replica's slice (mt-model.h) */
      running_mean[ch] = (float) ((1 - s->momentum) * running_mean[ch] + s->momentum * mean);
      running_var[ch] = (float) ((1 - s->momentum) * running_var[ch] + s->momentum * unbiased);
    }
  }
}

void
mt_cpu_bn_gradients (const double *dy_sums, const double *dy_xhat_sums, int total, int c, gsize m,
                     const float *gamma, const float *save_invstd, float *dgamma, float *dbeta, float *k, float *mdy,
                     float *mdx)
{
  for (int ch = 0; ch < c; ch++) {
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int i = 0; i < total; i++) {
      sum_dy += dy_sums[(gsize) i * c + ch];
      sum_dy_xhat += dy_xhat_sums[(gsize) i * c + ch];
    }
    dgamma[ch] = (float) sum_dy_xhat;
    dbeta[ch] = (float) sum_dy;
    k[ch] = gamma[ch] * save_invstd[ch];
    mdy[ch] = (float) (sum_dy / (double) m);
    mdx[ch] = (float) (sum_dy_xhat / (double) m);
  }
}

/* With @share, this call is one slice of a batch (mt-backend.h: MtBnShare): the per-image
 * sums go to the shared table at the slice's rows, and the statistics come from all rows.
 * Without, the tables are this call's own and the batch is whole. */
void
mt_cpu_batchnorm_forward_train (const MtBnSpec *s, MtBnShare *share, const float *x, int n, int c, int hw,
                                const float *gamma, const float *beta, float *y,
                                float *save_mean, float *save_invstd,
                                float *running_mean, float *running_var)
{
  int total = share ? share->total : n, off = share ? share->offset : 0;
  gsize m = (gsize) total * hw;
  g_autofree double *own = share ? NULL : g_new (double, (gsize) n * c), *sum = g_new (double, c);
  g_autofree float *mean_f = g_new (float, c), *g = g_new (float, c), *b = g_new (float, c);
  double *sums = mt_cpu_bn_table (share, own);
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (int ch = 0; ch < c; ch++)
    for (int i = 0; i < n; i++) {
      const float *xp = PLANE (x, i, ch);
      float part = 0;
#pragma omp simd reduction(+:part)
      for (int p = 0; p < hw; p++)
        part += xp[p];
      sums[(gsize) (off + i) * c + ch] = part;
    }
  mt_cpu_bn_wait (share);
  mt_cpu_bn_means (sums, total, c, m, sum, mean_f);
  /* A table is read only until the next exchange's wait (mt-backend.h); without a share,
   * the one table is reused. */
  double *sqs = mt_cpu_bn_table (share, own);
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (int ch = 0; ch < c; ch++)
    for (int i = 0; i < n; i++) {
      const float *xp = PLANE (x, i, ch);
      float part = 0;
#pragma omp simd reduction(+:part)
      for (int p = 0; p < hw; p++) {
        float d = xp[p] - mean_f[ch];
        part += d * d;
      }
      sqs[(gsize) (off + i) * c + ch] = part;
    }
  mt_cpu_bn_wait (share);
  mt_cpu_bn_statistics (s, sum, sqs, total, c, m, gamma, beta, save_mean, save_invstd, g, b, running_mean,
                        running_var);
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (int ch = 0; ch < c; ch++)
    for (int i = 0; i < n; i++) {
      const float *xp = PLANE (x, i, ch);
      float *yp = PLANE (y, i, ch);
#pragma omp simd
      for (int p = 0; p < hw; p++)
        yp[p] = xp[p] * g[ch] + b[ch];
    }
}

void
mt_cpu_batchnorm_forward_eval (const MtBnSpec *s, const float *x, int n, int c, int hw,
                           const float *gamma, const float *beta, float *y,
                           const float *running_mean, const float *running_var)
{
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (int ch = 0; ch < c; ch++) {
    float g, b;
    mt_ew_bn_eval_affine (gamma[ch], beta[ch], running_mean[ch], running_var[ch], s->eps, &g, &b);
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
mt_cpu_fold_batchnorm (const MtBnSpec *s, int oc, gsize per, const float *weight, const float *bias,
                       const float *gamma, const float *beta, const float *running_mean, const float *running_var,
                       float *fold_w, float *fold_b)
{
  for (int o = 0; o < oc; o++) {
    float g, b;  /* the scale and shift as batchnorm_forward_eval computes them */
    mt_ew_bn_eval_affine (gamma[o], beta[o], running_mean[o], running_var[o], s->eps, &g, &b);
    for (gsize k = 0; k < per; k++)
      fold_w[o * per + k] = weight[o * per + k] * g;
    fold_b[o] = (bias ? bias[o] * g : 0.0f) + b;
  }
}

void
mt_ref_fold_batchnorm (double eps, int oc, gsize per, const double *weight, const double *bias, const double *gamma,
                       const double *beta, const double *running_mean, const double *running_var, double *fold_w,
                       double *fold_b)
{
  for (int o = 0; o < oc; o++) {
    double g = gamma[o] / sqrt (running_var[o] + eps);
    for (gsize k = 0; k < per; k++)
      fold_w[o * per + k] = weight[o * per + k] * g;
    fold_b[o] = ((bias ? bias[o] : 0.0) - running_mean[o]) * g + beta[o];
  }
}

void
mt_cpu_batchnorm_backward_train (MtBnShare *share, const float *x, int n, int c, int hw, const float *gamma,
                                 const float *save_mean, const float *save_invstd, const float *dy,
                                 float *dx, float *dgamma, float *dbeta)
{
  int total = share ? share->total : n, off = share ? share->offset : 0;
  gsize m = (gsize) total * hw;
  g_autofree double *own = share ? NULL : g_new (double, (gsize) 2 * n * c);
  double *pa = mt_cpu_bn_table (share, own), *pb = pa + (gsize) total * c;
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (int ch = 0; ch < c; ch++) {
    float mean = save_mean[ch];
    for (int i = 0; i < n; i++) {
      const float *xp = PLANE (x, i, ch), *dyp = PLANE (dy, i, ch);
      float a = 0, b = 0;
#pragma omp simd reduction(+:a, b)
      for (int p = 0; p < hw; p++) {
        a += dyp[p];
        b += dyp[p] * (xp[p] - mean);
      }
      pa[(gsize) (off + i) * c + ch] = a;
      pb[(gsize) (off + i) * c + ch] = (double) b * save_invstd[ch];
    }
  }
  mt_cpu_bn_wait (share);
  g_autofree float *k = g_new (float, c), *mdy = g_new (float, c), *mdx = g_new (float, c);
  mt_cpu_bn_gradients (pa, pb, total, c, m, gamma, save_invstd, dgamma, dbeta, k, mdy, mdx);
  if (!dx)
    return;
  /* dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)) */
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (int ch = 0; ch < c; ch++) {
    float mean = save_mean[ch], invstd = save_invstd[ch];
    for (int i = 0; i < n; i++) {
      const float *xp = PLANE (x, i, ch), *dyp = PLANE (dy, i, ch);
      float *dxp = PLANE (dx, i, ch);
#pragma omp simd
      for (int p = 0; p < hw; p++)
        dxp[p] = k[ch] * (dyp[p] - mdy[ch] - (xp[p] - mean) * invstd * mdx[ch]);
    }
  }
}

void
mt_cpu_batchnorm_backward_eval (const MtBnSpec *s, int n, int c, int hw, const float *gamma,
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

/* ---- the double-precision reference ---------------------------------------------- */

static void
ref_moments (const double *x, int n, int c, int hw, int ch, double *mean, double *var)
{
  double m = 0, v = 0;
  for (int i = 0; i < n; i++)
    for (int p = 0; p < hw; p++)
      m += x[((gsize) i * c + ch) * hw + p];
  m /= (double) n * hw;
  for (int i = 0; i < n; i++)
    for (int p = 0; p < hw; p++) {
      double d = x[((gsize) i * c + ch) * hw + p] - m;
      v += d * d;
    }
  *mean = m;
  *var = v / ((double) n * hw);
}

void
mt_ref_batchnorm_forward (double eps, const double *x, int n, int c, int hw,
                          const double *gamma, const double *beta, double *y)
{
  for (int ch = 0; ch < c; ch++) {
    double mean, var;
    ref_moments (x, n, c, hw, ch, &mean, &var);
    for (int i = 0; i < n; i++)
      for (int p = 0; p < hw; p++) {
        gsize j = ((gsize) i * c + ch) * hw + p;
        y[j] = gamma[ch] * (x[j] - mean) / sqrt (var + eps) + beta[ch];
      }
  }
}

/* The textbook derivative of y = gamma * (x - mean) / sqrt(var + eps) + beta, with
 * mean and var depending on every x of the channel. */
void
mt_ref_batchnorm_backward (double eps, const double *x, int n, int c, int hw,
                           const double *gamma, const double *dy, double *dx,
                           double *dgamma, double *dbeta)
{
  double m = (double) n * hw;
  for (int ch = 0; ch < c; ch++) {
    double mean, var;
    ref_moments (x, n, c, hw, ch, &mean, &var);
    double sd = sqrt (var + eps);
    double dvar = 0, dmean = 0, dg = 0, db = 0;
    for (int i = 0; i < n; i++)
      for (int p = 0; p < hw; p++) {
        gsize j = ((gsize) i * c + ch) * hw + p;
        double xhat = (x[j] - mean) / sd;
        dg += dy[j] * xhat;
        db += dy[j];
        double dxhat = dy[j] * gamma[ch];
        dvar += dxhat * (x[j] - mean) * -0.5 * pow (var + eps, -1.5);
        dmean += -dxhat / sd;
      }
    for (int i = 0; i < n; i++)
      for (int p = 0; p < hw; p++) {
        gsize j = ((gsize) i * c + ch) * hw + p;
        double dxhat = dy[j] * gamma[ch];
        dx[j] = dxhat / sd + dvar * 2 * (x[j] - mean) / m + dmean / m;
      }
    dgamma[ch] = dg;
    dbeta[ch] = db;
  }
}

/* What training mode does to the running statistics: an exponential average with
 * @momentum of the batch mean and the unbiased batch variance. */
void
mt_ref_batchnorm_update_running (double momentum, const double *x, int n, int c, int hw,
                                 double *running_mean, double *running_var)
{
  double count = (double) n * hw;
  for (int ch = 0; ch < c; ch++) {
    double mean, var;
    ref_moments (x, n, c, hw, ch, &mean, &var);
    running_mean[ch] = (1 - momentum) * running_mean[ch] + momentum * mean;
    running_var[ch] = (1 - momentum) * running_var[ch] + momentum * var * count / (count - 1);
  }
}

void
mt_ref_batchnorm_forward_eval (double eps, const double *x, int n, int c, int hw, const double *gamma,
                               const double *beta, const double *running_mean, const double *running_var,
                               double *y)
{
  for (int i = 0; i < n; i++)
    for (int ch = 0; ch < c; ch++)
      for (int p = 0; p < hw; p++) {
        gsize at = ((gsize) i * c + ch) * hw + p;
        y[at] = gamma[ch] * (x[at] - running_mean[ch]) / sqrt (running_var[ch] + eps) + beta[ch];
      }
}

void
mt_ref_batchnorm_backward_eval (double eps, int n, int c, int hw, const double *gamma,
                                const double *running_var, const double *dy, double *dx)
{
  for (int i = 0; i < n; i++)
    for (int ch = 0; ch < c; ch++)
      for (int p = 0; p < hw; p++) {
        gsize at = ((gsize) i * c + ch) * hw + p;
        dx[at] = dy[at] * gamma[ch] / sqrt (running_var[ch] + eps);
      }
}

/* What the training forward saves for backward: each channel's mean and 1 / sqrt(biased
 * variance + eps). */
void
mt_ref_batchnorm_saved (double eps, const double *x, int n, int c, int hw, double *mean, double *invstd)
{
  for (int ch = 0; ch < c; ch++) {
    double var;
    ref_moments (x, n, c, hw, ch, &mean[ch], &var);
    invstd[ch] = 1 / sqrt (var + eps);
  }
}
