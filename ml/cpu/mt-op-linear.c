/* Linear layer: y = x W^T + b with W [out, in], as torch.nn.Linear. */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-ref-ops.h"

#include <math.h>
#include "ml/cpu/mt-cpu.h"

/* Rows [*lo, *hi) of @n that thread @t of @threads takes. */
static void
share (int n, int t, int threads, int *lo, int *hi)
{
  *lo = (int) ((gint64) n * t / threads);
  *hi = (int) ((gint64) n * (t + 1) / threads);
}

void
mt_cpu_linear_forward (const float *x, int n, int in, int out, const float *weight,
                   const float *bias, float *y)
{
  int threads = mt_cpu_threads ();
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; t++) {
    int lo, hi;
    share (n, t, threads, &lo, &hi);
    if (hi <= lo)
      continue;
    for (int i = lo; i < hi; i++)
      for (int o = 0; o < out; o++)
        y[(gsize) i * out + o] = bias ? bias[o] : 0.0f;
    mt_cpu_sgemm (FALSE, TRUE, hi - lo, out, in, 1.0f, x + (gsize) lo * in, in, weight, in, 1.0f,
                  y + (gsize) lo * out, out);
  }
}

void
mt_cpu_linear_backward (const float *x, int n, int in, int out, const float *weight,
                    const float *dy, float *dx, float *dweight, float *dbias)
{
  /* dW = dY^T X (rows of dW split over threads), db = column sums of dY,
   * dX = dY W (rows of dX split). */
  int threads = mt_cpu_threads ();
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; t++) {
    int lo, hi;
    share (out, t, threads, &lo, &hi);
    if (dweight && hi > lo)
      mt_cpu_sgemm (TRUE, FALSE, hi - lo, in, n, 1.0f, dy + lo, out, x, in, 0.0f, dweight + (gsize) lo * in, in);
    for (int o = lo; dbias && o < hi; o++) {
      double acc = 0;
      for (int i = 0; i < n; i++)
        acc += dy[(gsize) i * out + o];
      dbias[o] = (float) acc;
    }
    share (n, t, threads, &lo, &hi);
    if (dx && hi > lo)
      mt_cpu_sgemm (FALSE, FALSE, hi - lo, in, out, 1.0f, dy + (gsize) lo * out, out, weight, in, 0.0f,
                    dx + (gsize) lo * in, in);
  }
}

/* ---- the double-precision reference ---------------------------------------------- */

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
