/* Batch normalisation on blocked activations (mt-layout.h: nChw8c or nChw16c), optionally
 * fused with the ReLU after it. Each image's plane is summed lane by lane in float (a
 * pixel is one or two vectors), the images in double in their order: the accumulation
 * of the plain op, so both round alike, and a result that does not depend on the thread
 * count, nor on the slices a batch is run in (MtBnShare). */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-layout.h"
#include "ml/cpu/mt-cpu.h"
#include "ml/cpu/mt-simd.h"
#include "ml/cpu/mt-ops-blocked.h"

#include "ml/mt-elementwise.h"

#include <math.h>

#define V MT_LAYOUT_VECTOR

/* part[i * c + ch] = sum over the plane of (x - centre[ch]) (or its square), per image. */
static void
plane_sums (const float *x, int n, int c, int hw, const float *centre, gboolean square, double *part)
{
  int b = mt_layout_block (), cb = c / b;
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize blk = 0; blk < (gsize) n * cb; blk++)
    for (int v = 0; v < b; v += V) {
      const float *xp = x + blk * b * hw + v;
      MtV8f cc = mt_v8f_load (centre + (blk % cb) * b + v), acc = mt_v8f_splat (0);
      if (square)
        for (int p = 0; p < hw; p++) {
          MtV8f d = mt_v8f_load (xp + (gsize) p * b) - cc;
          acc += d * d;
        }
      else
        for (int p = 0; p < hw; p++)
          acc += mt_v8f_load (xp + (gsize) p * b) - cc;
      for (int l = 0; l < V; l++)
        part[blk * b + v + l] = acc[l];
    }
}

/* y = x * g[ch] + b[ch], then max (y, 0) when @relu. */
static void
affine (const float *x, int n, int c, int hw, const float *g, const float *bias, gboolean relu, float *y)
{
  int b = mt_layout_block (), cb = c / b;
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize blk = 0; blk < (gsize) n * cb; blk++)
    for (int v = 0; v < b; v += V) {
      const float *xp = x + blk * b * hw + v;
      float *yp = y + blk * b * hw + v;
      gsize o = (blk % cb) * b + v;
      MtV8f gv = mt_v8f_load (g + o), bv = mt_v8f_load (bias + o), zero = mt_v8f_splat (0);
      for (int p = 0; p < hw; p++) {
        MtV8f r = mt_v8f_load (xp + (gsize) p * b) * gv + bv;
        if (relu)
          r = mt_v8f_select ((MtV8i) (r > zero), r, zero);
        mt_v8f_store (yp + (gsize) p * b, r);
      }
    }
}

/* dy, or with the fused ReLU's output @yp, dy where y > 0. */
static inline MtV8f
grad_at (const float *dyp, const float *yp, gsize at)
{
  MtV8f g = mt_v8f_load (dyp + at);
  if (!yp)
    return g;
  MtV8f zero = mt_v8f_splat (0);
  return mt_v8f_select ((MtV8i) (mt_v8f_load (yp + at) > zero), g, zero);
}

/* With @share, one slice of a batch (mt-backend.h: MtBnShare): the per-image sums go to
 * the shared table at the slice's rows, the statistics come from all rows. */
void
MT_ISA_NAME (mt_cpu_batchnorm_blocked_forward_train) (const MtBnSpec *s, MtBnShare *share, const float *x, int n,
                                                      int c, int hw, const float *gamma, const float *beta,
                                                      gboolean relu, float *y, float *save_mean, float *save_invstd,
                                                      float *running_mean, float *running_var)
{
  int total = share ? share->total : n, off = share ? share->offset : 0;
  gsize m = (gsize) total * hw;
  g_autofree double *own = share ? NULL : g_new (double, (gsize) n * c), *sum = g_new (double, c);
  g_autofree float *zero = g_new0 (float, c), *mean_f = g_new (float, c), *g = g_new (float, c), *b = g_new (float, c);
  double *part = mt_cpu_bn_table (share, own);
  plane_sums (x, n, c, hw, zero, FALSE, part + (gsize) off * c);
  mt_cpu_bn_wait (share);
  mt_cpu_bn_means (part, total, c, m, sum, mean_f);
  /* A table is read only until the next exchange's wait; without a share, the one table
   * is reused. */
  part = mt_cpu_bn_table (share, own);
  plane_sums (x, n, c, hw, mean_f, TRUE, part + (gsize) off * c);
  mt_cpu_bn_wait (share);
  mt_cpu_bn_statistics (s, sum, part, total, c, m, gamma, beta, save_mean, save_invstd, g, b, running_mean,
                        running_var);
  affine (x, n, c, hw, g, b, relu, y);
}

void
MT_ISA_NAME (mt_cpu_batchnorm_blocked_forward_eval) (const MtBnSpec *s, const float *x, int n, int c, int hw,
                                                     const float *gamma, const float *beta, gboolean relu, float *y,
                                                     const float *running_mean, const float *running_var)
{
  g_autofree float *g = g_new (float, c), *b = g_new (float, c);
  for (int ch = 0; ch < c; ch++)
    mt_ew_bn_eval_affine (gamma[ch], beta[ch], running_mean[ch], running_var[ch], s->eps, &g[ch], &b[ch]);
  affine (x, n, c, hw, g, b, relu, y);
}

/* With @y (the fused ReLU's output), dy counts only where y > 0. */
void
MT_ISA_NAME (mt_cpu_batchnorm_blocked_backward_train) (MtBnShare *share, const float *x, int n, int c, int hw,
                                                       const float *gamma, const float *save_mean,
                                                       const float *save_invstd, const float *y, const float *dy,
                                                       float *dx, float *dgamma, float *dbeta)
{
  int b = mt_layout_block (), cb = c / b;
  int total = share ? share->total : n, off = share ? share->offset : 0;
  gsize m = (gsize) total * hw;
  g_autofree double *own = share ? NULL : g_new (double, (gsize) 2 * n * c);
  double *ta = mt_cpu_bn_table (share, own), *tb = ta + (gsize) total * c;
  double *pa = ta + (gsize) off * c, *pb = tb + (gsize) off * c;  /* this slice's rows */
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize blk = 0; blk < (gsize) n * cb; blk++)
    for (int v = 0; v < b; v += V) {
      gsize o = (blk % cb) * b + v, base = blk * b * hw + v;
      const float *xp = x + base, *dyp = dy + base, *yp = y ? y + base : NULL;
      MtV8f mu = mt_v8f_load (save_mean + o), a = mt_v8f_splat (0), bb = mt_v8f_splat (0);
      for (int p = 0; p < hw; p++) {
        MtV8f g = grad_at (dyp, yp, (gsize) p * b);
        a += g;
        bb += g * (mt_v8f_load (xp + (gsize) p * b) - mu);
      }
      for (int l = 0; l < V; l++) {
        pa[blk * b + v + l] = a[l];
        pb[blk * b + v + l] = (double) bb[l] * save_invstd[o + l];
      }
    }
  mt_cpu_bn_wait (share);
  g_autofree float *k = g_new (float, c), *mdy = g_new (float, c), *mdx = g_new (float, c);
  mt_cpu_bn_gradients (ta, tb, total, c, m, gamma, save_invstd, dgamma, dbeta, k, mdy, mdx);
  if (!dx)
    return;
  /* dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)) */
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize blk = 0; blk < (gsize) n * cb; blk++)
    for (int v = 0; v < b; v += V) {
      gsize o = (blk % cb) * b + v, base = blk * b * hw + v;
      const float *xp = x + base, *dyp = dy + base, *yp = y ? y + base : NULL;
      float *dxp = dx + base;
      MtV8f kv = mt_v8f_load (k + o), mdyv = mt_v8f_load (mdy + o), mdxv = mt_v8f_load (mdx + o);
      MtV8f mu = mt_v8f_load (save_mean + o), is = mt_v8f_load (save_invstd + o);
      for (int p = 0; p < hw; p++) {
        MtV8f g = grad_at (dyp, yp, (gsize) p * b);
        mt_v8f_store (dxp + (gsize) p * b, kv * (g - mdyv - (mt_v8f_load (xp + (gsize) p * b) - mu) * is * mdxv));
      }
    }
}

void
MT_ISA_NAME (mt_cpu_batchnorm_blocked_backward_eval) (const MtBnSpec *s, int n, int c, int hw, const float *gamma,
                                                      const float *running_var, const float *y, const float *dy,
                                                      float *dx)
{
  int b = mt_layout_block (), cb = c / b;
  g_autofree float *k = g_new (float, c);
  for (int ch = 0; ch < c; ch++)
    k[ch] = gamma[ch] * (float) (1.0 / sqrt ((double) running_var[ch] + s->eps));
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize blk = 0; blk < (gsize) n * cb; blk++)
    for (int v = 0; v < b; v += V) {
      gsize base = blk * b * hw + v;
      MtV8f kv = mt_v8f_load (k + (blk % cb) * b + v);
      const float *dyp = dy + base, *yp = y ? y + base : NULL;
      float *dxp = dx + base;
      for (int p = 0; p < hw; p++)
        mt_v8f_store (dxp + (gsize) p * b, grad_at (dyp, yp, (gsize) p * b) * kv);
    }
}
