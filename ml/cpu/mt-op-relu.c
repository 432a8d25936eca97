/* ReLU. */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-ref-ops.h"
#include "ml/mt-elementwise.h"

#include <math.h>
#include "ml/cpu/mt-cpu.h"

void
mt_cpu_relu_forward (const float *x, gsize len, float *y)
{
#pragma omp parallel for simd schedule(static) num_threads(mt_cpu_threads ()) if (len > 65536)
  for (gsize i = 0; i < len; i++)
    y[i] = mt_ew_relu (x[i]);
}

void
mt_cpu_relu_backward (const float *y, const float *dy, gsize len, float *dx)
{
#pragma omp parallel for simd schedule(static) num_threads(mt_cpu_threads ()) if (len > 65536)
  for (gsize i = 0; i < len; i++)
    dx[i] = mt_ew_relu_grad (y[i], dy[i]);  /* dy read unconditionally: a vector blend */
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
