/* The residual networks' joins: the elementwise add of a block's two paths, and the
 * CIFAR ResNets' parameter-free option-A shortcut (subsample, pad channels with zeros). */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-ref-ops.h"
#include "ml/cpu/mt-cpu.h"

#include <string.h>

void
mt_cpu_add (const float *a, const float *b, gsize len, float *y)
{
#pragma omp parallel for simd schedule(static) num_threads(mt_cpu_threads ())
  for (gsize i = 0; i < len; i++)
    y[i] = a[i] + b[i];
}

static inline int
sub_out (int in, int stride)
{
  return (in + stride - 1) / stride;  /* x[::stride] keeps ceil(in / stride) */
}

void
mt_cpu_shortcut_forward (const float *x, int n, int c, int h, int w, int out_c, int stride, float *y)
{
  int oh = sub_out (h, stride), ow = sub_out (w, stride), pad = (out_c - c) / 2;
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize plane = 0; plane < (gsize) n * out_c; plane++) {
    int i = (int) (plane / out_c), oc = (int) (plane % out_c), ic = oc - pad;
    float *yp = y + plane * oh * ow;
    if (ic < 0 || ic >= c) {
      memset (yp, 0, (gsize) oh * ow * sizeof (float));
      continue;
    }
    const float *xp = x + ((gsize) i * c + ic) * h * w;
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++)
        yp[oy * ow + ox] = xp[oy * stride * w + ox * stride];
  }
}

void
mt_cpu_shortcut_backward (const float *dy, int n, int c, int h, int w, int out_c, int stride, float *dx)
{
  int oh = sub_out (h, stride), ow = sub_out (w, stride), pad = (out_c - c) / 2;
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize plane = 0; plane < (gsize) n * c; plane++) {
    int i = (int) (plane / c), ic = (int) (plane % c);
    float *dxp = dx + plane * h * w;
    memset (dxp, 0, (gsize) h * w * sizeof (float));
    const float *dyp = dy + ((gsize) i * out_c + ic + pad) * oh * ow;
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++)
        dxp[oy * stride * w + ox * stride] = dyp[oy * ow + ox];
  }
}

/* ---- the double-precision references ----------------------------------------------- */

void
mt_ref_add (const double *a, const double *b, gsize len, double *y)
{
  for (gsize i = 0; i < len; i++)
    y[i] = a[i] + b[i];
}

void
mt_ref_shortcut_forward (const double *x, int n, int c, int h, int w, int out_c, int stride, double *y)
{
  int oh = sub_out (h, stride), ow = sub_out (w, stride), pad = (out_c - c) / 2;
  for (int i = 0; i < n; i++)
    for (int oc = 0; oc < out_c; oc++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
          X4 (y, i, oc, oy, ox, out_c, oh, ow) = oc - pad >= 0 && oc - pad < c
            ? X4 (x, i, oc - pad, oy * stride, ox * stride, c, h, w) : 0.0;
}

void
mt_ref_shortcut_backward (const double *dy, int n, int c, int h, int w, int out_c, int stride, double *dx)
{
  int oh = sub_out (h, stride), ow = sub_out (w, stride), pad = (out_c - c) / 2;
  memset (dx, 0, sizeof (double) * n * c * h * w);
  for (int i = 0; i < n; i++)
    for (int ic = 0; ic < c; ic++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
          X4 (dx, i, ic, oy * stride, ox * stride, c, h, w) = X4 (dy, i, ic + pad, oy, ox, out_c, oh, ow);
}
