/* Max-pooling (2x2 and general), global average pooling and the option-A shortcut on
 * blocked activations (mt-layout.h: nChw8c or nChw16c): the plain ops' semantics (ties to
 * the first maximum in row-major order, padding never wins), eight channels at once. The
 * argmax saves each winner's index in its input plane, in the output's layout. */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-layout.h"
#include "ml/cpu/mt-cpu.h"
#include "ml/cpu/mt-simd.h"
#include "ml/cpu/mt-ops-blocked.h"

#include <math.h>
#include <string.h>

#define V MT_LAYOUT_VECTOR

void
MT_ISA_NAME (mt_cpu_maxpool_blocked_forward) (const MtPoolSpec *s, const float *x, int n, int c, int h, int w,
                                              float *y, gint32 *argmax)
{
  int oh = mt_pool_out (h, s), ow = mt_pool_out (w, s), B = mt_layout_block ();
#pragma omp parallel for collapse(2) schedule(static) num_threads(mt_cpu_threads ())
  for (gsize blk = 0; blk < (gsize) n * (c / B); blk++)
    for (int lo = 0; lo < B; lo += V) {
      const float *xp = x + blk * B * h * w + lo;
      float *yp = y + blk * B * oh * ow + lo;
      gint32 *ap = argmax + blk * B * oh * ow + lo;
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
          /* The window's first pixel inside the image starts the race; later ones win only
           * when greater (ties to the first in row-major order). */
          MtV8f best = mt_v8f_splat (0);
          MtV8i at = mt_v8i_splat (-1);
          gboolean first = TRUE;
          for (int ky = 0; ky < s->k; ky++) {
            int iy = oy * s->stride - s->pad + ky;
            if (iy < 0 || iy >= h)
              continue;
            for (int kx = 0; kx < s->k; kx++) {
              int ix = ox * s->stride - s->pad + kx;
              if (ix < 0 || ix >= w)
                continue;
              MtV8f v = mt_v8f_load (xp + ((gsize) iy * w + ix) * B);
              MtV8i win = first ? mt_v8i_splat (-1) : (MtV8i) (v > best);
              best = mt_v8f_select (win, v, best);
              at = mt_v8i_select (win, mt_v8i_splat (iy * w + ix), at);
              first = FALSE;
            }
          }
          mt_v8f_store (yp + ((gsize) oy * ow + ox) * B, best);
          mt_v8i_store (ap + ((gsize) oy * ow + ox) * B, at);
        }
    }
}

void
MT_ISA_NAME (mt_cpu_maxpool_blocked_backward) (const MtPoolSpec *s, const gint32 *argmax, int n, int c, int h, int w,
                                               const float *dy, float *dx)
{
  int oh = mt_pool_out (h, s), ow = mt_pool_out (w, s), B = mt_layout_block ();
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize blk = 0; blk < (gsize) n * (c / B); blk++) {
    float *dxp = dx + blk * B * h * w;
    const float *dyp = dy + blk * B * oh * ow;
    const gint32 *ap = argmax + blk * B * oh * ow;
    memset (dxp, 0, (gsize) B * h * w * sizeof (float));
    for (gsize o = 0; o < (gsize) oh * ow; o++)
      for (int l = 0; l < B; l++)
        dxp[(gsize) ap[o * B + l] * B + l] += dyp[o * B + l];
  }
}

/* MaxPool2d(2): the general one's 2 x 2 window, stride 2, no padding. */
static const MtPoolSpec pool2 = { 2, 2, 0 };

void
MT_ISA_NAME (mt_cpu_maxpool2_blocked_forward) (const float *x, int n, int c, int h, int w, float *y, gint32 *argmax)
{
  int oh = h / 2, ow = w / 2, B = mt_layout_block ();
#pragma omp parallel for collapse(2) schedule(static) num_threads(mt_cpu_threads ())
  for (gsize blk = 0; blk < (gsize) n * (c / B); blk++)
    for (int lo = 0; lo < B; lo += V) {
      const float *xp = x + blk * B * h * w + lo;
      float *yp = y + blk * B * oh * ow + lo;
      gint32 *ap = argmax + blk * B * oh * ow + lo;
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
          int c0 = 2 * oy * w + 2 * ox;
          const int cand[4] = { c0, c0 + 1, c0 + w, c0 + w + 1 };
          MtV8f best = mt_v8f_load (xp + (gsize) c0 * B);
          MtV8i at = mt_v8i_splat (c0);
          for (int k = 1; k < 4; k++) {  /* ties to the first in row-major order */
            MtV8f v = mt_v8f_load (xp + (gsize) cand[k] * B);
            MtV8i win = (MtV8i) (v > best);
            best = mt_v8f_select (win, v, best);
            at = mt_v8i_select (win, mt_v8i_splat (cand[k]), at);
          }
          mt_v8f_store (yp + ((gsize) oy * ow + ox) * B, best);
          mt_v8i_store (ap + ((gsize) oy * ow + ox) * B, at);
        }
    }
}

void
MT_ISA_NAME (mt_cpu_maxpool2_blocked_backward) (const gint32 *argmax, int n, int c, int h, int w, const float *dy,
                                                float *dx)
{
  MT_ISA_NAME (mt_cpu_maxpool_blocked_backward) (&pool2, argmax, n, c, h, w, dy, dx);
}

void
MT_ISA_NAME (mt_cpu_avgpool_blocked_forward) (const float *x, int n, int c, int hw, float *y)
{
  int B = mt_layout_block ();
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize blk = 0; blk < (gsize) n * (c / B); blk++) {
    const float *xp = x + blk * B * hw;
    double acc[MT_LAYOUT_MAX_BLOCK] = { 0 };  /* as the plain op: in double, rounded once */
    for (int p = 0; p < hw; p++)
      for (int l = 0; l < B; l++)
        acc[l] += xp[(gsize) p * B + l];
    for (int l = 0; l < B; l++)
      y[blk * B + l] = (float) (acc[l] / hw);  /* [n, c, 1, 1]: the same in both layouts */
  }
}

void
MT_ISA_NAME (mt_cpu_avgpool_blocked_backward) (const float *dy, int n, int c, int hw, float *dx)
{
  int B = mt_layout_block ();
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize blk = 0; blk < (gsize) n * (c / B); blk++) {
    float g[MT_LAYOUT_MAX_BLOCK];
    for (int l = 0; l < B; l++)
      g[l] = dy[blk * B + l] / (float) hw;
    float *dxp = dx + blk * B * hw;
    for (int p = 0; p < hw; p++)
      for (int l = 0; l < B; l++)
        dxp[(gsize) p * B + l] = g[l];
  }
}

/* The shortcut between any two layouts (its input and output channel counts may pick
 * different ones): element by element, through mt_layout_index. */
void
MT_ISA_NAME (mt_cpu_shortcut_layout_forward) (const float *x, int n, int c, int h, int w, int out_c, int stride,
                                              float *y)
{
  int oh = mt_shortcut_out (h, stride), ow = mt_shortcut_out (w, stride), lo = (out_c - c) / 2;
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize plane = 0; plane < (gsize) n * out_c; plane++) {
    int i = (int) (plane / out_c), oc = (int) (plane % out_c), ic = oc - lo;
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++)
        y[mt_layout_index (out_c, oh * ow, i, oc, oy * ow + ox)] =
          ic >= 0 && ic < c ? x[mt_layout_index (c, h * w, i, ic, oy * stride * w + ox * stride)] : 0;
  }
}

void
MT_ISA_NAME (mt_cpu_shortcut_layout_backward) (const float *dy, int n, int c, int h, int w, int out_c, int stride,
                                               float *dx)
{
  int oh = mt_shortcut_out (h, stride), ow = mt_shortcut_out (w, stride), lo = (out_c - c) / 2;
  memset (dx, 0, (gsize) n * c * h * w * sizeof (float));
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize plane = 0; plane < (gsize) n * c; plane++) {
    int i = (int) (plane / c), ic = (int) (plane % c);
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++)
        dx[mt_layout_index (c, h * w, i, ic, oy * stride * w + ox * stride)] =
          dy[mt_layout_index (out_c, oh * ow, i, ic + lo, oy * ow + ox)];
  }
}
