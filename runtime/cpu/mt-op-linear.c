/* Linear layer: y = x W^T + b with W [out, in], as torch.nn.Linear. */
#include "mt-ops.h"
#include "mt-cpu.h"

void
mt_linear_forward (const float *x, int n, int in, int out, const float *weight,
                   const float *bias, float *y)
{
  for (int i = 0; i < n; i++)
    for (int o = 0; o < out; o++)
      y[(gsize) i * out + o] = bias ? bias[o] : 0.0f;
  mt_cpu_sgemm (FALSE, TRUE, n, out, in, 1.0f, x, in, weight, in, 1.0f, y, out);
}

void
mt_linear_backward (const float *x, int n, int in, int out, const float *weight,
                    const float *dy, float *dx, float *dweight, float *dbias)
{
  /* dW = dY^T X, db = column sums of dY, dX = dY W */
  mt_cpu_sgemm (TRUE, FALSE, out, in, n, 1.0f, dy, out, x, in, 0.0f, dweight, in);
  for (int o = 0; o < out; o++) {
    double acc = 0;
    for (int i = 0; i < n; i++)
      acc += dy[(gsize) i * out + o];
    dbias[o] = (float) acc;
  }
  if (dx)
    mt_cpu_sgemm (FALSE, FALSE, n, in, out, 1.0f, dy, out, weight, in, 0.0f, dx, in);
}
