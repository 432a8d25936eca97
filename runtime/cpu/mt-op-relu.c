/* ReLU. */
#include "mt-ops.h"

void
mt_relu_forward (const float *x, gsize len, float *y)
{
  for (gsize i = 0; i < len; i++)
    y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void
mt_relu_backward (const float *y, const float *dy, gsize len, float *dx)
{
  for (gsize i = 0; i < len; i++)
    dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}
