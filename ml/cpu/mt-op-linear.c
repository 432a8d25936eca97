/* Linear layer: y = x W^T + b with W [out, in], as torch.nn.Linear. */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-ref-ops.h"

#include <math.h>
#include "ml/cpu/mt-cpu.h"

/* Each product goes to oneDNN in blocks of rows (mt_cpu_sgemm_rows): a sample's outputs
 * and input gradient, and each row of the weight gradient, are rounded alike whatever the
 * batch size, its slicing and the thread count. */

void
mt_cpu_linear_forward (const float *x, int n, int in, int out, const float *weight,
                   const float *bias, float *y)
{
  for (int i = 0; i < n; i++)
    for (int o = 0; o < out; o++)
      y[(gsize) i * out + o] = bias ? bias[o] : 0.0f;
  mt_cpu_sgemm_rows (FALSE, TRUE, n, out, in, 1.0f, x, in, weight, in, 1.0f, y, out);
}

void
mt_cpu_linear_backward (const float *x, int n, int in, int out, const float *weight,
                    const float *dy, float *dx, float *dweight, float *dbias)
{
  /* dW = dY^T X, db = column sums of dY (in double, in sample order), dX = dY W. */
  if (dweight)
    mt_cpu_sgemm_rows (TRUE, FALSE, out, in, n, 1.0f, dy, out, x, in, 0.0f, dweight, in);
  for (int o = 0; dbias && o < out; o++) {
    double acc = 0;
    for (int i = 0; i < n; i++)
      acc += dy[(gsize) i * out + o];
    dbias[o] = (float) acc;
  }
  if (dx)
    mt_cpu_sgemm_rows (FALSE, FALSE, n, in, out, 1.0f, dy, out, weight, in, 0.0f, dx, in);
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
