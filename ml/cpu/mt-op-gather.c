/* Batches gathered from a dataset held whole (gather_batch), and its double reference. */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-ref-ops.h"
#include "ml/mt-elementwise.h"

#include <string.h>

void
mt_cpu_gather_batch (const MtInputSpec *s, const guint8 *images, const gint64 *labels, const gint64 *idx, int n,
                     float *x, gint64 *y)
{
  gsize plane = (gsize) s->hw, per = (gsize) s->c * plane;
  for (int i = 0; i < n; i++) {
    const guint8 *src = images + (gsize) idx[i] * per;
    for (int c = 0; c < s->c; c++) {
      float mean = s->mean[MIN (c, 2)], inv = s->inv_std[MIN (c, 2)];
      float *dst = x + (gsize) i * per + (gsize) c * plane;
      for (gsize p = 0; p < plane; p++)
        dst[p] = mt_ew_input_pixel (src[(gsize) c * plane + p], s->plain, mean, inv);
    }
    y[i] = labels[idx[i]];
  }
}

void
mt_ref_gather_images (int c, gint64 hw, gboolean plain, const double mean[3], const double std[3],
                      const guint8 *images, const gint64 *idx, int n, double *x)
{
  gsize per = (gsize) c * hw;
  for (int i = 0; i < n; i++)
    for (gsize k = 0; k < per; k++) {
      int ch = (int) (k / hw);
      double v = images[(gsize) idx[i] * per + k] / 255.0;
      x[(gsize) i * per + k] = plain ? v : (v - mean[MIN (ch, 2)]) / std[MIN (ch, 2)];
    }
}
