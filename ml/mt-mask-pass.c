#include "ml/mt-mask-pass.h"
#include "ml/mt-staging.h"

#include <string.h>

gboolean
mt_mask_pass (MtBackend *be, const MtMaskRule *rule, const float *heat, gint64 n, int len, guint8 *keep,
              GError **error)
{
  gint64 per = CLAMP (MT_MASK_PASS_CHUNK_BYTES / ((gint64) MAX (len, 1) * (gint64) sizeof (float)), 1, G_MAXINT);
  g_auto (MtStaging) hs = { 0 }, ks = { 0 };
  for (gint64 at = 0; at < n; at += per) {
    int b = (int) MIN (per, n - at);
    gsize cells = (gsize) b * len;
    if (mt_backend_is_host (be)) {
      be->ops->mask_maps (be, rule, heat + at * len, b, len, keep + at * len);
      continue;
    }
    const float *hd = mt_staging_put (&hs, be, heat + at * len, cells * sizeof (float));
    guint8 *kd = mt_staging_device (&ks, be, cells);
    be->ops->mask_maps (be, rule, hd, b, len, kd);
    memcpy (keep + at * len, mt_staging_download (&ks, cells), cells);
  }
  return mt_backend_sync (be, error);
}
