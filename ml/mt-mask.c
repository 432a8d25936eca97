#include "ml/mt-mask.h"
#include "ml/mt-saliency.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  float heat;
  int index;
} Ranked;

static int
by_heat_then_index (const void *a, const void *b)
{
  const Ranked *x = a, *y = b;
  if (x->heat != y->heat)
    return x->heat > y->heat ? -1 : 1;
  return x->index - y->index;
}

int
mt_mask_compute (const MtMaskRule *rule, const float *heat, int len, guint8 *keep)
{
  memset (keep, 1, len);
  int masked = 0;
  switch (rule->method) {
  case MT_MASK_MEAN_STD: {
    double sum = 0, sq = 0;
    int pos = 0;
    for (int i = 0; i < len; i++)
      if (heat[i] > 0) {
        sum += heat[i];
        pos++;
      }
    if (pos == 0)
      return 0;
    double mean = sum / pos;
    for (int i = 0; i < len; i++)
      if (heat[i] > 0)
        sq += (heat[i] - mean) * (heat[i] - mean);
    double cut = mean + rule->k * sqrt (sq / pos);  /* population std, as numpy's */
    for (int i = 0; i < len; i++)
      if (heat[i] > cut) {
        keep[i] = 0;
        masked++;
      }
    return masked;
  }
  case MT_MASK_THRESHOLD: {
    float tau = (float) rule->tau;  /* compared as the float32 maps store it */
    for (int i = 0; i < len; i++)
      if (heat[i] > tau) {
        keep[i] = 0;
        masked++;
      }
    return masked;
  }
  case MT_MASK_MEAN_SCALE: {
    double sum = 0;
    for (int i = 0; i < len; i++)
      sum += heat[i];
    double cut = rule->factor * sum / len;
    for (int i = 0; i < len; i++)
      if (heat[i] > cut) {
        keep[i] = 0;
        masked++;
      }
    return masked;
  }
  case MT_MASK_TOP_K: {
    int m = (int) floor (rule->fraction * len + 0.5);
    m = CLAMP (m, 0, len);
    Ranked *r = g_new (Ranked, len);
    for (int i = 0; i < len; i++)
      r[i] = (Ranked) { heat[i], i };
    qsort (r, len, sizeof (Ranked), by_heat_then_index);
    for (int i = 0; i < m; i++)
      keep[r[i].index] = 0;
    g_free (r);
    return m;
  }
  }
  return 0;
}

void
mt_mask_upsample (const guint8 *in, int ih, int iw, guint8 *out, int oh, int ow, gboolean bilinear)
{
  if (!bilinear) {
    for (int y = 0; y < oh; y++) {
      int sy = MIN ((int) floor ((y + 0.5) * ih / oh), ih - 1);
      for (int x = 0; x < ow; x++) {
        int sx = MIN ((int) floor ((x + 0.5) * iw / ow), iw - 1);
        out[y * ow + x] = in[sy * iw + sx];
      }
    }
    return;
  }
  float *f = g_new (float, (gsize) ih * iw), *g = g_new (float, (gsize) oh * ow);
  for (int i = 0; i < ih * iw; i++)
    f[i] = in[i] ? 1.0f : 0.0f;
  mt_resize_bilinear (f, ih, iw, g, oh, ow);
  for (int i = 0; i < oh * ow; i++)
    out[i] = g[i] >= 0.5f;
  g_free (f);
  g_free (g);
}
