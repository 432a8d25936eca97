#include "mt-ref-ops.h"

#include <math.h>
#include <string.h>

#define X4(a, n, c, h, w, C, H, W) (a)[(((gsize) (n) * (C) + (c)) * (H) + (h)) * (W) + (w)]

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

static void
moments (const double *x, int n, int c, int hw, int ch, double *mean, double *var)
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
    moments (x, n, c, hw, ch, &mean, &var);
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
    moments (x, n, c, hw, ch, &mean, &var);
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

void
mt_ref_relu_forward (const double *x, gsize len, double *y)
{
  for (gsize i = 0; i < len; i++)
    y[i] = x[i] > 0 ? x[i] : 0;
}

void
mt_ref_relu_backward (const double *x, const double *dy, gsize len, double *dx)
{
  for (gsize i = 0; i < len; i++)
    dx[i] = x[i] > 0 ? dy[i] : 0;
}

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

void
mt_ref_linear_forward (const double *x, int n, int in, int out, const double *weight,
                       const double *bias, double *y)
{
  for (int i = 0; i < n; i++)
    for (int o = 0; o < out; o++) {
      double acc = bias ? bias[o] : 0;
      for (int k = 0; k < in; k++)
        acc += x[(gsize) i * in + k] * weight[(gsize) o * in + k];
      y[(gsize) i * out + o] = acc;
    }
}

void
mt_ref_linear_backward (const double *x, int n, int in, int out, const double *weight,
                        const double *dy, double *dx, double *dweight, double *dbias)
{
  memset (dweight, 0, sizeof (double) * out * in);
  memset (dbias, 0, sizeof (double) * out);
  if (dx)
    memset (dx, 0, sizeof (double) * n * in);
  for (int i = 0; i < n; i++)
    for (int o = 0; o < out; o++) {
      double g = dy[(gsize) i * out + o];
      dbias[o] += g;
      for (int k = 0; k < in; k++) {
        dweight[(gsize) o * in + k] += g * x[(gsize) i * in + k];
        if (dx)
          dx[(gsize) i * in + k] += g * weight[(gsize) o * in + k];
      }
    }
}

double
mt_ref_cross_entropy (const double *logits, const gint64 *labels, int n, int classes, double *dlogits)
{
  double total = 0;
  for (int i = 0; i < n; i++) {
    const double *z = logits + (gsize) i * classes;
    double sum = 0;
    for (int k = 0; k < classes; k++)
      sum += exp (z[k]);
    total += log (sum) - z[labels[i]];
    if (dlogits)
      for (int k = 0; k < classes; k++)
        dlogits[(gsize) i * classes + k] = (exp (z[k]) / sum - (k == labels[i])) / n;
  }
  return total / n;
}
