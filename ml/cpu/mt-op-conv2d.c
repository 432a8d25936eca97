/* 2-D convolution as im2col + GEMM per image, images spread over OpenMP threads. */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-ref-ops.h"

#include <math.h>
#include "ml/cpu/mt-cpu.h"

#include <string.h>

/* Unfolds one image into columns: row (c, kh, kw) of @cols, @ld floats apart, holds
 * the input pixels that kernel tap multiplies for each output position. */
static void
im2col (const MtConvSpec *s, const float *x, int h, int w, int oh, int ow, float *cols, gsize ld)
{
  int k = s->k;
  for (int c = 0; c < s->in_c; c++)
    for (int kh = 0; kh < k; kh++)
      for (int kw = 0; kw < k; kw++) {
        float *row = cols + ((gsize) (c * k + kh) * k + kw) * ld;
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
            const float *src = xr + kw;  /* the common case: a short copy, inlined */
#pragma omp simd
            for (int xo = 0; xo < ow; xo++)
              out[xo] = src[xo];
            continue;
          }
          for (int xo = 0; xo < ow; xo++) {
            int ix = xo * s->stride - s->pad + kw;
            out[xo] = ix >= 0 && ix < w ? xr[ix] : 0.0f;
          }
        }
      }
}

/* The adjoint of im2col: adds each column entry back onto the pixel it came from. */
static void
col2im (const MtConvSpec *s, const float *cols, gsize ld, int h, int w, int oh, int ow, float *dx)
{
  int k = s->k;
  memset (dx, 0, (gsize) s->in_c * h * w * sizeof (float));
  for (int c = 0; c < s->in_c; c++)
    for (int kh = 0; kh < k; kh++)
      for (int kw = 0; kw < k; kw++) {
        const float *row = cols + ((gsize) (c * k + kh) * k + kw) * ld;
        float *dc = dx + (gsize) c * h * w;
        for (int y = 0; y < oh; y++) {
          int iy = y * s->stride - s->pad + kh;
          if (iy < 0 || iy >= h)
            continue;
          const float *in = row + y * ow;
          float *dr = dc + iy * w;
          if (s->stride == 1 && s->pad == 0) {
            float *d = dr + kw;  /* contiguous, and never overlapping the columns */
#pragma omp simd
            for (int xo = 0; xo < ow; xo++)
              d[xo] += in[xo];
            continue;
          }
          for (int xo = 0; xo < ow; xo++) {
            int ix = xo * s->stride - s->pad + kw;
            if (ix >= 0 && ix < w)
              dr[ix] += in[xo];
          }
        }
      }
}

/* Images go through the GEMMs in chunks: one GEMM over several images' columns keeps
 * the matrices wide enough for the SGEMM to run near peak even for 16-channel layers. */
static int
chunk_of (const MtConvSpec *s, int h, int w, int n)
{
  int ohw = mt_conv_out (h, s->k, s->stride, s->pad) * mt_conv_out (w, s->k, s->stride, s->pad);
  int c = MAX (1, 1024 / MAX (ohw, 1));
  return MIN (c, MAX (n, 1));
}

/* Per thread: the columns and their gradient, the outputs (or their gradients) in
 * [OC, chunk * OHW] order, and partial weight and bias gradients. */
static gsize
per_thread (const MtConvSpec *s, int h, int w, int n)
{
  gsize ohw = (gsize) mt_conv_out (h, s->k, s->stride, s->pad) * mt_conv_out (w, s->k, s->stride, s->pad);
  gsize ckk = (gsize) s->in_c * s->k * s->k, chunk = (gsize) chunk_of (s, h, w, n);
  return 2 * ckk * ohw * chunk + (gsize) s->out_c * ohw * chunk + (gsize) s->out_c * ckk + s->out_c;
}

gsize
mt_cpu_conv2d_workspace (const MtConvSpec *s, int n, int h, int w)
{
  return per_thread (s, h, w, n) * (gsize) mt_cpu_threads ();
}

void
mt_cpu_conv2d_forward (const MtConvSpec *s, const float *x, int n, int h, int w,
                   const float *weight, const float *bias, float *y, float *work)
{
  int oh = mt_conv_out (h, s->k, s->stride, s->pad), ow = mt_conv_out (w, s->k, s->stride, s->pad);
  int ohw = oh * ow, ckk = s->in_c * s->k * s->k;
  int chunk = chunk_of (s, h, w, n), chunks = (n + chunk - 1) / chunk;
  gsize stride = per_thread (s, h, w, n), in_len = (gsize) s->in_c * h * w;
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (int ci = 0; ci < chunks; ci++) {
    float *cols = work + stride * (gsize) mt_cpu_thread_id ();
    float *out = cols + 2 * (gsize) ckk * ohw * chunk;
    int first = ci * chunk, cn = MIN (chunk, n - first), ncol = cn * ohw;
    /* Columns of image j sit at [j * ohw, (j+1) * ohw) of each row. */
    for (int j = 0; j < cn; j++)
      im2col (s, x + (gsize) (first + j) * in_len, h, w, oh, ow, cols + (gsize) j * ohw, ncol);
    if (cn == 1) {
      /* One image: its [OC, OHW] block of y is the GEMM's output, bias added by beta = 1. */
      float *yi = y + (gsize) first * s->out_c * ohw;
      for (int oc = 0; oc < s->out_c; oc++) {
        float b = bias ? bias[oc] : 0.0f;
#pragma omp simd
        for (int p = 0; p < ohw; p++)
          yi[(gsize) oc * ohw + p] = b;
      }
      mt_cpu_sgemm (FALSE, FALSE, s->out_c, ohw, ckk, 1.0f, weight, ckk, cols, ohw, 1.0f, yi, ohw);
      continue;
    }
    mt_cpu_sgemm (FALSE, FALSE, s->out_c, ncol, ckk, 1.0f, weight, ckk, cols, ncol, 0.0f, out, ncol);
    for (int j = 0; j < cn; j++)
      for (int oc = 0; oc < s->out_c; oc++) {
        float *dst = y + ((gsize) (first + j) * s->out_c + oc) * ohw;
        const float *src = out + (gsize) oc * ncol + (gsize) j * ohw;
        float b = bias ? bias[oc] : 0.0f;
#pragma omp simd
        for (int p = 0; p < ohw; p++)
          dst[p] = src[p] + b;
      }
  }
}

void
mt_cpu_conv2d_backward (const MtConvSpec *s, const float *x, int n, int h, int w,
                    const float *weight, const float *dy, float *dx,
                    float *dweight, float *dbias, float *work)
{
  int oh = mt_conv_out (h, s->k, s->stride, s->pad), ow = mt_conv_out (w, s->k, s->stride, s->pad);
  int ohw = oh * ow, ckk = s->in_c * s->k * s->k;
  int chunk = chunk_of (s, h, w, n), chunks = (n + chunk - 1) / chunk;
  gsize stride = per_thread (s, h, w, n), in_len = (gsize) s->in_c * h * w;
  gsize part_off = 2 * (gsize) ckk * ohw * chunk + (gsize) s->out_c * ohw * chunk;
  int threads = mt_cpu_threads ();
  for (int t = 0; t < threads; t++)
    memset (work + stride * t + part_off, 0, ((gsize) s->out_c * ckk + s->out_c) * sizeof (float));
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int ci = 0; ci < chunks; ci++) {
    float *cols = work + stride * (gsize) mt_cpu_thread_id ();
    float *dcols = cols + (gsize) ckk * ohw * chunk;
    float *dyc = dcols + (gsize) ckk * ohw * chunk;
    float *dw = cols + part_off, *db = dw + (gsize) s->out_c * ckk;
    int first = ci * chunk, cn = MIN (chunk, n - first), ncol = cn * ohw;
    /* One image's dY is already [OC, OHW]: use it in place. */
    const float *dyg = cn == 1 ? dy + (gsize) first * s->out_c * ohw : dyc;
    for (int j = 0; j < cn; j++) {
      im2col (s, x + (gsize) (first + j) * in_len, h, w, oh, ow, cols + (gsize) j * ohw, ncol);
      for (int oc = 0; oc < s->out_c; oc++) {
        const float *src = dy + ((gsize) (first + j) * s->out_c + oc) * ohw;
        if (cn > 1)
          memcpy (dyc + (gsize) oc * ncol + (gsize) j * ohw, src, ohw * sizeof (float));
        float acc = 0;
#pragma omp simd reduction(+:acc)
        for (int p = 0; p < ohw; p++)
          acc += src[p];
        db[oc] += acc;
      }
    }
    /* dW += dY (OC x ncol) * cols^T (ncol x CKK) */
    mt_cpu_sgemm (FALSE, TRUE, s->out_c, ckk, ncol, 1.0f, dyg, ncol, cols, ncol, 1.0f, dw, ckk);
    if (dx) {
      /* dcols = W^T (CKK x OC) * dY (OC x ncol), then scattered back to each image. */
      mt_cpu_sgemm (TRUE, FALSE, ckk, ncol, s->out_c, 1.0f, weight, ckk, dyg, ncol, 0.0f, dcols, ncol);
      for (int j = 0; j < cn; j++)
        col2im (s, dcols + (gsize) j * ohw, ncol, h, w, oh, ow, dx + (gsize) (first + j) * in_len);
    }
  }
  /* Sum the threads' partial gradients in a fixed order: results do not depend on timing. */
  gsize nw = (gsize) s->out_c * ckk;
  memset (dweight, 0, nw * sizeof (float));
  if (dbias)
    memset (dbias, 0, s->out_c * sizeof (float));
  for (int t = 0; t < threads; t++) {
    const float *dw = work + stride * t + part_off;
    for (gsize j = 0; j < nw; j++)
      dweight[j] += dw[j];
    for (int oc = 0; dbias && oc < s->out_c; oc++)
      dbias[oc] += dw[nw + oc];
  }
}

/* ---- the double-precision reference ---------------------------------------------- */


void
mt_ref_conv2d_forward (const MtConvSpec *s, const double *x, int n, int h, int w,
                       const double *weight, const double *bias, double *y)
{
  int oh = mt_conv_out (h, s->k, s->stride, s->pad), ow = mt_conv_out (w, s->k, s->stride, s->pad);
  for (int i = 0; i < n; i++)
    for (int oc = 0; oc < s->out_c; oc++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
          double acc = bias ? bias[oc] : 0;
          for (int c = 0; c < s->in_c; c++)
            for (int kh = 0; kh < s->k; kh++)
              for (int kw = 0; kw < s->k; kw++) {
                int iy = oy * s->stride - s->pad + kh, ix = ox * s->stride - s->pad + kw;
                if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                  acc += X4 (weight, oc, c, kh, kw, s->in_c, s->k, s->k) * X4 (x, i, c, iy, ix, s->in_c, h, w);
              }
          X4 (y, i, oc, oy, ox, s->out_c, oh, ow) = acc;
        }
}

void
mt_ref_conv2d_backward (const MtConvSpec *s, const double *x, int n, int h, int w,
                        const double *weight, const double *dy, double *dx,
                        double *dweight, double *dbias)
{
  int oh = mt_conv_out (h, s->k, s->stride, s->pad), ow = mt_conv_out (w, s->k, s->stride, s->pad);
  memset (dweight, 0, sizeof (double) * s->out_c * s->in_c * s->k * s->k);
  memset (dbias, 0, sizeof (double) * s->out_c);
  if (dx)
    memset (dx, 0, sizeof (double) * n * s->in_c * h * w);
  for (int i = 0; i < n; i++)
    for (int oc = 0; oc < s->out_c; oc++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
          double g = X4 (dy, i, oc, oy, ox, s->out_c, oh, ow);
          dbias[oc] += g;
          for (int c = 0; c < s->in_c; c++)
            for (int kh = 0; kh < s->k; kh++)
              for (int kw = 0; kw < s->k; kw++) {
                int iy = oy * s->stride - s->pad + kh, ix = ox * s->stride - s->pad + kw;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                  continue;
                X4 (dweight, oc, c, kh, kw, s->in_c, s->k, s->k) += g * X4 (x, i, c, iy, ix, s->in_c, h, w);
                if (dx)
                  X4 (dx, i, c, iy, ix, s->in_c, h, w) += g * X4 (weight, oc, c, kh, kw, s->in_c, s->k, s->k);
              }
        }
}
