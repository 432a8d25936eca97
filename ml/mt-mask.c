#include "ml/mt-mask.h"
#include "ml/mt-saliency.h"

#include <math.h>
#include <string.h>

/* top_k's @m hottest pixels of @len: a radix select over the heat's order keys, 8 bits a
 * round from the top, finds the key of the m-th hottest (and how many of that key are
 * taken, first by position), as the CUDA kernel does in parallel: O(len), not a sort. */
static void
mask_top_k (const float *heat, int len, int m, guint8 *keep)
{
  if (m <= 0)
    return;
  guint32 stack_keys[1024];
  guint32 *keys = len <= 1024 ? stack_keys : g_new (guint32, len);
  for (int i = 0; i < len; i++)
    keys[i] = mt_ew_mask_heat_key (heat[i]);
  guint32 prefix = 0, high = 0;
  unsigned want = (unsigned) m;
  for (int shift = 24; shift >= 0; shift -= 8) {
    unsigned hist[256] = { 0 };
    for (int i = 0; i < len; i++)
      if ((keys[i] & high) == prefix)
        hist[(keys[i] >> shift) & 255]++;
    prefix |= mt_ew_mask_radix_digit (hist, &want) << shift;
    high |= 255u << shift;
  }
  for (int i = 0; i < len; i++) {
    if (keys[i] > prefix) {
      keep[i] = 0;
    } else if (keys[i] == prefix && want > 0) {
      keep[i] = 0;
      want--;
    }
  }
  if (keys != stack_keys)
    g_free (keys);
}

double
mt_mask_rule_param (const MtMaskRule *rule)
{
  switch (rule->method) {
  case MT_MASK_MEAN_STD: return rule->k;
  case MT_MASK_THRESHOLD: return rule->tau;
  case MT_MASK_MEAN_SCALE: return rule->factor;
  case MT_MASK_TOP_K: break;
  }
  return 0;
}

int
mt_mask_compute (const MtMaskRule *rule, const float *heat, int len, guint8 *keep)
{
  memset (keep, 1, len);
  int masked = 0;
  if (rule->method == MT_MASK_TOP_K) {
    int m = mt_ew_mask_top_count (rule->fraction, len);
    mask_top_k (heat, len, m, keep);
    return m;
  }
  double cut;
  if (!mt_ew_mask_cut (rule->method, heat, len, mt_mask_rule_param (rule), &cut))
    return 0;
  for (int i = 0; i < len; i++)
    if (heat[i] > cut) {
      keep[i] = 0;
      masked++;
    }
  return masked;
}

gint64
mt_mask_find_nonfinite (const float *heat, gint64 n, int len)
{
  for (gint64 i = 0; i < n; i++)
    for (int p = 0; p < len; p++)
      if (!isfinite (heat[i * len + p]))
        return i;
  return -1;
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
