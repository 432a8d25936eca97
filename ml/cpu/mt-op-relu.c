/* ReLU. */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-ref-ops.h"

#include <math.h>
#include "ml/cpu/mt-cpu.h"

void
mt_cpu_relu_forward (const float *x, gsize len, float *y)
{
#pragma omp parallel for simd schedule(static) num_threads(mt_cpu_threads ()) if (len > 65536)
  for (gsize i = 0; i < len; i++)
    y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void
mt_cpu_relu_backward (const float *y, const float *dy, gsize len, float *dx)
{
#pragma omp parallel for simd schedule(static) num_threads(mt_cpu_threads ()) if (len > 65536)
  for (gsize i = 0; i < len; i++) {
    /* dy read unconditionally: the select becomes a vector blend, not a branch. */
    float g = dy[i];
    dx[i] = y[i] > 0.0f ? g : 0.0f;
  }
}

/* ---- the double-precision reference ---------------------------------------------- */

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
