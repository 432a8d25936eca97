/* NCHW <-> nChw{8,16}c: each image's block of planes is transposed to pixels of one block. */
#include "ml/cpu/mt-layout.h"
#include "ml/cpu/mt-cpu.h"

#include <dnnl.h>
#include <stdlib.h>
#include <string.h>

static gint block;  /* 0 until chosen */

int
mt_layout_block (void)
{
  gint b = g_atomic_int_get (&block);
  if (G_LIKELY (b))
    return b;
  const char *env = g_getenv ("MT_LAYOUT_BLOCK");
  if (env && (atoi (env) == 8 || atoi (env) == 16))
    b = atoi (env);
  else
    b = dnnl_get_effective_cpu_isa () >= dnnl_cpu_isa_avx512_core ? 16 : 8;
  g_atomic_int_set (&block, b);
  return b;
}

void
mt_layout_set_block (int b)
{
  g_return_if_fail (b == 8 || b == 16);
  g_atomic_int_set (&block, b);
}

void
mt_layout_from_nchw (const float *x, int n, int c, int hw, float *y)
{
  if (!mt_layout_blocked (c) || hw == 1) {
    memcpy (y, x, (gsize) n * c * hw * sizeof (float));
    return;
  }
  int b = mt_layout_block (), cb = c / b;
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize blk = 0; blk < (gsize) n * cb; blk++) {
    const float *src = x + blk * b * hw;   /* planes of block blk % cb of image blk / cb */
    float *dst = y + blk * b * hw;
    for (int p = 0; p < hw; p++)
      for (int l = 0; l < b; l++)
        dst[(gsize) p * b + l] = src[(gsize) l * hw + p];
  }
}

void
mt_layout_to_nchw (const float *x, int n, int c, int hw, float *y)
{
  if (!mt_layout_blocked (c) || hw == 1) {
    memcpy (y, x, (gsize) n * c * hw * sizeof (float));
    return;
  }
  int b = mt_layout_block (), cb = c / b;
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize blk = 0; blk < (gsize) n * cb; blk++) {
    const float *src = x + blk * b * hw;
    float *dst = y + blk * b * hw;
    for (int l = 0; l < b; l++)
      for (int p = 0; p < hw; p++)
        dst[(gsize) l * hw + p] = src[(gsize) p * b + l];
  }
}
