/* 2x2 max-pooling with stride 2; odd trailing rows and columns are dropped, as in
 * PyTorch. Ties go to the first maximum in row-major order, as in PyTorch. */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-ref-ops.h"

#include <math.h>
#include "ml/cpu/mt-cpu.h"

#include <string.h>

void
mt_cpu_maxpool2_forward (const float *x, int n, int c, int h, int w, float *y, gint32 *argmax)
{
  int oh = h / 2, ow = w / 2;
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize plane = 0; plane < (gsize) n * c; plane++) {
    const float *xp = x + plane * h * w;
    float *yp = y + plane * oh * ow;
    gint32 *ap = argmax + plane * oh * ow;
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++) {
        int best = (2 * oy) * w + 2 * ox;
        const int cand[3] = { best + 1, best + w, best + w + 1 };
        for (int k = 0; k < 3; k++)
          if (xp[cand[k]] > xp[best])
            best = cand[k];
        yp[oy * ow + ox] = xp[best];
        ap[oy * ow + ox] = best;
      }
  }
}

void
mt_cpu_maxpool2_backward (const gint32 *argmax, int n, int c, int h, int w, const float *dy, float *dx)
{
  int oh = h / 2, ow = w / 2;
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize plane = 0; plane < (gsize) n * c; plane++) {
    memset (dx + plane * h * w, 0, (gsize) h * w * sizeof (float));
    const float *dyp = dy + plane * oh * ow;
    const gint32 *ap = argmax + plane * oh * ow;
    float *dxp = dx + plane * h * w;
    for (int o = 0; o < oh * ow; o++)
      dxp[ap[o]] += dyp[o];
  }
}

/* ---- the double-precision reference ---------------------------------------------- */

static int
ref_argmax (const double *x, int c, int h, int w, int i, int ch, int oy, int ox)
{
  int by = 2 * oy, bx = 2 * ox;
  for (int dy = 0; dy < 2; dy++)
    for (int dx = 0; dx < 2; dx++)
      if (X4 (x, i, ch, 2 * oy + dy, 2 * ox + dx, c, h, w) > X4 (x, i, ch, by, bx, c, h, w)) {
        by = 2 * oy + dy;
        bx = 2 * ox + dx;
      }
  return by * w + bx;
}

void
mt_ref_maxpool2_forward (const double *x, int n, int c, int h, int w, double *y)
{
  int oh = h / 2, ow = w / 2;
  for (int i = 0; i < n; i++)
    for (int ch = 0; ch < c; ch++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
          int a = ref_argmax (x, c, h, w, i, ch, oy, ox);
          X4 (y, i, ch, oy, ox, c, oh, ow) = X4 (x, i, ch, a / w, a % w, c, h, w);
        }
}

void
mt_ref_maxpool2_backward (const double *x, int n, int c, int h, int w, const double *dy, double *dx)
{
  int oh = h / 2, ow = w / 2;
  memset (dx, 0, sizeof (double) * n * c * h * w);
  for (int i = 0; i < n; i++)
    for (int ch = 0; ch < c; ch++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
          int a = ref_argmax (x, c, h, w, i, ch, oy, ox);
          X4 (dx, i, ch, a / w, a % w, c, h, w) += X4 (dy, i, ch, oy, ox, c, oh, ow);
        }
}
