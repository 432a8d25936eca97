/* Masks from heat maps as a backend op (mask_maps): the host's rules (ml/mt-mask.c) over
 * the maps in parallel, and a double reference written from the rules' definitions. */
#include "ml/cpu/mt-cpu.h"
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-ref-ops.h"

#include <math.h>
#include <string.h>

void
mt_cpu_mask_maps (const MtMaskRule *rule, const float *heat, int n, int len, guint8 *keep)
{
  int threads = MAX (1, MIN (mt_cpu_threads (), n));
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int i = 0; i < n; i++)
    mt_mask_compute (rule, heat + (gsize) i * len, len, keep + (gsize) i * len);
}

void
mt_ref_mask_maps (const MtMaskRule *rule, const float *heat, int n, int len, guint8 *keep, double *cuts)
{
  for (int i = 0; i < n; i++) {
    const float *m = heat + (gsize) i * len;
    guint8 *k = keep + (gsize) i * len;
    double cut = INFINITY;
    if (rule->method == MT_MASK_TOP_K) {
      /* A pixel is masked when fewer than the count rank before it: hotter ones, and
       * equally hot ones at lower positions. */
      gint64 count = (gint64) floor (rule->fraction * len + 0.5);
      for (int p = 0; p < len; p++) {
        gint64 rank = 0;
        for (int q = 0; q < len; q++)
          rank += (double) m[q] > (double) m[p] || ((double) m[q] == (double) m[p] && q < p);
        k[p] = rank >= count;
      }
    } else {
      if (rule->method == MT_MASK_THRESHOLD) {
        cut = (float) rule->tau;
      } else if (rule->method == MT_MASK_MEAN_SCALE) {
        double s = 0;
        for (int p = 0; p < len; p++)
          s += m[p];
        cut = rule->factor * (s / len);
      } else {
        /* mean and population variance of the positive heat, as E[x^2] - E[x]^2 */
        double s = 0, s2 = 0;
        int pos = 0;
        for (int p = 0; p < len; p++)
          if (m[p] > 0) {
            s += m[p];
            s2 += (double) m[p] * m[p];
            pos++;
          }
        if (pos > 0) {
          double mean = s / pos;
          cut = mean + rule->k * sqrt (fmax (s2 / pos - mean * mean, 0));
        }
      }
      for (int p = 0; p < len; p++)
        k[p] = !(m[p] > cut);
    }
    if (cuts)
      cuts[i] = cut;
  }
}
