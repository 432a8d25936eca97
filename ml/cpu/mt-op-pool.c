/* Max-pooling with any window, stride and padding (the ResNets' 3x3/2/1 stem pool), and
 * global average pooling (their head). Padding never wins a max, as in PyTorch; ties go to
 * the first maximum in row-major order within the window, as in PyTorch. */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-ref-ops.h"
#include "ml/cpu/mt-cpu.h"

#include <math.h>
#include <string.h>

void
mt_cpu_maxpool_forward (const MtPoolSpec *s, const float *x, int n, int c, int h, int w, float *y, gint32 *argmax)
{
  int oh = mt_pool_out (h, s), ow = mt_pool_out (w, s);
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize plane = 0; plane < (gsize) n * c; plane++) {
    const float *xp = x + plane * h * w;
    float *yp = y + plane * oh * ow;
    gint32 *ap = argmax + plane * oh * ow;
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++) {
        int best = -1;
        float bv = -INFINITY;
        for (int ky = 0; ky < s->k; ky++) {
          int iy = oy * s->stride - s->pad + ky;
          if (iy < 0 || iy >= h)
            continue;
          for (int kx = 0; kx < s->k; kx++) {
            int ix = ox * s->stride - s->pad + kx;
            if (ix < 0 || ix >= w)
              continue;
            float v = xp[iy * w + ix];
            if (best < 0 || v > bv || isnan (v)) {  /* NaN propagates, as in PyTorch */
              best = iy * w + ix;
              bv = v;
              if (isnan (v))
                goto done;
            }
          }
        }
      done:
        yp[oy * ow + ox] = bv;
        ap[oy * ow + ox] = best;
      }
  }
}

void
mt_cpu_maxpool_backward (const MtPoolSpec *s, const gint32 *argmax, int n, int c, int h, int w,
                         const float *dy, float *dx)
{
  int oh = mt_pool_out (h, s), ow = mt_pool_out (w, s);
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize plane = 0; plane < (gsize) n * c; plane++) {
    float *dxp = dx + plane * h * w;
    memset (dxp, 0, (gsize) h * w * sizeof (float));
    const float *dyp = dy + plane * oh * ow;
    const gint32 *ap = argmax + plane * oh * ow;
    for (int o = 0; o < oh * ow; o++)
      dxp[ap[o]] += dyp[o];  /* windows overlap: a pixel can win twice */
  }
}

void
mt_cpu_avgpool_forward (const float *x, int n, int c, int hw, float *y)
{
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize plane = 0; plane < (gsize) n * c; plane++) {
    const float *xp = x + plane * hw;
    double acc = 0;  /* a 7x7 or 8x8 plane: summed in double, rounded once */
    for (int i = 0; i < hw; i++)
      acc += xp[i];
    y[plane] = (float) (acc / hw);
  }
}

void
mt_cpu_avgpool_backward (const float *dy, int n, int c, int hw, float *dx)
{
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize plane = 0; plane < (gsize) n * c; plane++) {
    float g = dy[plane] / (float) hw;
    float *dxp = dx + plane * hw;
    for (int i = 0; i < hw; i++)
      dxp[i] = g;
  }
}

/* ---- the double-precision references ----------------------------------------------- */

static int
ref_winner (const MtPoolSpec *s, const double *xp, int h, int w, int oy, int ox)
{
  int best = -1;
  for (int ky = 0; ky < s->k; ky++)
    for (int kx = 0; kx < s->k; kx++) {
      int iy = oy * s->stride - s->pad + ky, ix = ox * s->stride - s->pad + kx;
      if (iy >= 0 && iy < h && ix >= 0 && ix < w && (best < 0 || xp[iy * w + ix] > xp[best]))
        best = iy * w + ix;
    }
  return best;
}

void
mt_ref_maxpool_forward (const MtPoolSpec *s, const double *x, int n, int c, int h, int w, double *y)
{
  int oh = mt_pool_out (h, s), ow = mt_pool_out (w, s);
  for (gsize plane = 0; plane < (gsize) n * c; plane++)
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++)
        y[plane * oh * ow + oy * ow + ox] = x[plane * h * w + ref_winner (s, x + plane * h * w, h, w, oy, ox)];
}

void
mt_ref_maxpool_backward (const MtPoolSpec *s, const double *x, int n, int c, int h, int w,
                         const double *dy, double *dx)
{
  int oh = mt_pool_out (h, s), ow = mt_pool_out (w, s);
  memset (dx, 0, sizeof (double) * n * c * h * w);
  for (gsize plane = 0; plane < (gsize) n * c; plane++)
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++)
        dx[plane * h * w + ref_winner (s, x + plane * h * w, h, w, oy, ox)] += dy[plane * oh * ow + oy * ow + ox];
}

void
mt_ref_avgpool_forward (const double *x, int n, int c, int hw, double *y)
{
  for (gsize plane = 0; plane < (gsize) n * c; plane++) {
    double acc = 0;
    for (int i = 0; i < hw; i++)
      acc += x[plane * hw + i];
    y[plane] = acc / hw;
  }
}

void
mt_ref_avgpool_backward (const double *dy, int n, int c, int hw, double *dx)
{
  for (gsize plane = 0; plane < (gsize) n * c; plane++)
    for (int i = 0; i < hw; i++)
      dx[plane * hw + i] = dy[plane] / hw;
}
