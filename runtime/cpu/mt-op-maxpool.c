/* 2x2 max-pooling with stride 2; odd trailing rows and columns are dropped, as in
 * PyTorch. Ties go to the first maximum in row-major order, as in PyTorch. */
#include "mt-ops.h"
#include "mt-cpu.h"

#include <string.h>

void
mt_maxpool2_forward (const float *x, int n, int c, int h, int w, float *y, gint32 *argmax)
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
mt_maxpool2_backward (const gint32 *argmax, int n, int c, int h, int w, const float *dy, float *dx)
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
