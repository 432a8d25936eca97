/* ReLU. */
#include "mt-ops.h"
#include "mt-cpu.h"

void
mt_relu_forward (const float *x, gsize len, float *y)
{
#pragma omp parallel for simd schedule(static) num_threads(mt_cpu_threads ()) if (len > 65536)
  for (gsize i = 0; i < len; i++)
    y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void
mt_relu_backward (const float *y, const float *dy, gsize len, float *dx)
{
#pragma omp parallel for simd schedule(static) num_threads(mt_cpu_threads ()) if (len > 65536)
  for (gsize i = 0; i < len; i++)
    dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}
