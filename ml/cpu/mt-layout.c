/* NCHW <-> nChw8c: each image's block of 8 planes is transposed to pixels of 8 lanes. */
#include "ml/cpu/mt-layout.h"
#include "ml/cpu/mt-cpu.h"

#include <string.h>

#define B MT_LAYOUT_BLOCK

void
mt_layout_from_nchw (const float *x, int n, int c, int hw, float *y)
{
  if (!mt_layout_blocked (c) || hw == 1) {
    memcpy (y, x, (gsize) n * c * hw * sizeof (float));
    return;
  }
  int cb = c / B;
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize blk = 0; blk < (gsize) n * cb; blk++) {
    const float *src = x + blk * B * hw;   /* planes blk*8 .. blk*8+7 of image blk / cb */
    float *dst = y + blk * B * hw;
    for (int p = 0; p < hw; p++)
      for (int l = 0; l < B; l++)
        dst[p * B + l] = src[(gsize) l * hw + p];
  }
}

void
mt_layout_to_nchw (const float *x, int n, int c, int hw, float *y)
{
  if (!mt_layout_blocked (c) || hw == 1) {
    memcpy (y, x, (gsize) n * c * hw * sizeof (float));
    return;
  }
  int cb = c / B;
#pragma omp parallel for schedule(static) num_threads(mt_cpu_threads ())
  for (gsize blk = 0; blk < (gsize) n * cb; blk++) {
    const float *src = x + blk * B * hw;
    float *dst = y + blk * B * hw;
    for (int l = 0; l < B; l++)
      for (int p = 0; p < hw; p++)
        dst[(gsize) l * hw + p] = src[p * B + l];
  }
}
