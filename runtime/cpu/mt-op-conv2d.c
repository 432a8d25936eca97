/* 2-D convolution as im2col + GEMM per image, images spread over OpenMP threads. */
#include "mt-ops.h"
#include "mt-cpu.h"

#include <string.h>

static void
im2col (const MtConvSpec *s, const float *x, int h, int w, int oh, int ow, float *cols)
{
  int k = s->k;
  for (int c = 0; c < s->in_c; c++)
    for (int kh = 0; kh < k; kh++)
      for (int kw = 0; kw < k; kw++) {
        float *row = cols + ((gsize) (c * k + kh) * k + kw) * oh * ow;
        const float *xc = x + (gsize) c * h * w;
        for (int y = 0; y < oh; y++) {
          int iy = y * s->stride - s->pad + kh;
          float *out = row + y * ow;
          if (iy < 0 || iy >= h) {
            memset (out, 0, ow * sizeof (float));
            continue;
          }
          const float *xr = xc + iy * w;
          if (s->stride == 1 && s->pad == 0) {
            memcpy (out, xr + kw, ow * sizeof (float));  /* the common case: one copy */
            continue;
          }
          for (int xo = 0; xo < ow; xo++) {
            int ix = xo * s->stride - s->pad + kw;
            out[xo] = ix >= 0 && ix < w ? xr[ix] : 0.0f;
          }
        }
      }
}

static void
col2im_add (const MtConvSpec *s, const float *cols, int h, int w, int oh, int ow, float *dx)
{
  int k = s->k;
  memset (dx, 0, (gsize) s->in_c * h * w * sizeof (float));
  for (int c = 0; c < s->in_c; c++)
    for (int kh = 0; kh < k; kh++)
      for (int kw = 0; kw < k; kw++) {
        const float *row = cols + ((gsize) (c * k + kh) * k + kw) * oh * ow;
        float *dc = dx + (gsize) c * h * w;
        for (int y = 0; y < oh; y++) {
          int iy = y * s->stride - s->pad + kh;
          if (iy < 0 || iy >= h)
            continue;
          const float *in = row + y * ow;
          float *dr = dc + iy * w;
          for (int xo = 0; xo < ow; xo++) {
            int ix = xo * s->stride - s->pad + kw;
            if (ix >= 0 && ix < w)
              dr[ix] += in[xo];
          }
        }
      }
}

/* Per thread: the columns, their gradient, and partial weight and bias gradients. */
static gsize
per_thread (const MtConvSpec *s, int h, int w)
{
  gsize ohw = (gsize) mt_conv_out (h, s->k, s->stride, s->pad) * mt_conv_out (w, s->k, s->stride, s->pad);
  gsize ckk = (gsize) s->in_c * s->k * s->k;
  return 2 * ckk * ohw + (gsize) s->out_c * ckk + s->out_c;
}

gsize
mt_conv2d_workspace (const MtConvSpec *s, int n, int h, int w)
{
  return per_thread (s, h, w) * (gsize) mt_cpu_threads ();
}

void
mt_conv2d_forward (const MtConvSpec *s, const float *x, int n, int h, int w,
                   const float *weight, const float *bias, float *y, float *work)
{
  int oh = mt_conv_out (h, s->k, s->stride, s->pad), ow = mt_conv_out (w, s->k, s->stride, s->pad);
  int ohw = oh * ow, ckk = s->in_c * s->k * s->k;
  gsize stride = per_thread (s, h, w);
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (int i = 0; i < n; i++) {
    float *cols = work + stride * (gsize) mt_cpu_thread_id ();
    const float *xi = x + (gsize) i * s->in_c * h * w;
    float *yi = y + (gsize) i * s->out_c * ohw;
    im2col (s, xi, h, w, oh, ow, cols);
    for (int oc = 0; oc < s->out_c; oc++)
      for (int p = 0; p < ohw; p++)
        yi[oc * ohw + p] = bias ? bias[oc] : 0.0f;
    mt_cpu_sgemm (FALSE, FALSE, s->out_c, ohw, ckk, 1.0f, weight, ckk, cols, ohw, 1.0f, yi, ohw);
  }
}

void
mt_conv2d_backward (const MtConvSpec *s, const float *x, int n, int h, int w,
                    const float *weight, const float *dy, float *dx,
                    float *dweight, float *dbias, float *work)
{
  int oh = mt_conv_out (h, s->k, s->stride, s->pad), ow = mt_conv_out (w, s->k, s->stride, s->pad);
  int ohw = oh * ow, ckk = s->in_c * s->k * s->k;
  gsize stride = per_thread (s, h, w);
  int threads = mt_cpu_threads ();
  for (int t = 0; t < threads; t++) {
    float *part = work + stride * t + 2 * (gsize) ckk * ohw;
    memset (part, 0, ((gsize) s->out_c * ckk + s->out_c) * sizeof (float));
  }
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int i = 0; i < n; i++) {
    float *base = work + stride * (gsize) mt_cpu_thread_id ();
    float *cols = base, *dcols = base + (gsize) ckk * ohw;
    float *dw = dcols + (gsize) ckk * ohw, *db = dw + (gsize) s->out_c * ckk;
    const float *dyi = dy + (gsize) i * s->out_c * ohw;
    im2col (s, x + (gsize) i * s->in_c * h * w, h, w, oh, ow, cols);
    /* dW += dY (OC x OHW) * cols^T (OHW x CKK) */
    mt_cpu_sgemm (FALSE, TRUE, s->out_c, ckk, ohw, 1.0f, dyi, ohw, cols, ohw, 1.0f, dw, ckk);
    for (int oc = 0; oc < s->out_c; oc++) {
      float acc = 0;
      for (int p = 0; p < ohw; p++)
        acc += dyi[oc * ohw + p];
      db[oc] += acc;
    }
    if (dx) {
      /* dcols = W^T (CKK x OC) * dY (OC x OHW), then scattered back to the image. */
      mt_cpu_sgemm (TRUE, FALSE, ckk, ohw, s->out_c, 1.0f, weight, ckk, dyi, ohw, 0.0f, dcols, ohw);
      col2im_add (s, dcols, h, w, oh, ow, dx + (gsize) i * s->in_c * h * w);
    }
  }
  /* Sum the threads' partial gradients in a fixed order: results do not depend on timing. */
  gsize nw = (gsize) s->out_c * ckk;
  memset (dweight, 0, nw * sizeof (float));
  memset (dbias, 0, s->out_c * sizeof (float));
  for (int t = 0; t < threads; t++) {
    const float *dw = work + stride * t + 2 * (gsize) ckk * ohw;
    for (gsize j = 0; j < nw; j++)
      dweight[j] += dw[j];
    for (int oc = 0; oc < s->out_c; oc++)
      dbias[oc] += dw[nw + oc];
  }
}
