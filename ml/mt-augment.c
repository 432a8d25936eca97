#include "ml/mt-augment.h"
#include "ml/mt-transform.h"

#include <math.h>
#include <string.h>

gboolean
mt_augment_active (const MtAugment *a)
{
  return a && (a->crop != MT_AUGMENT_CROP_NONE || a->flip);
}

void
mt_augment_resized_crop_params (const MtAugment *a, MtRng *rng, int h, int w, int *top, int *left, int *ch, int *cw)
{
  double area = (double) h * w, lr0 = log (a->ratio[0]), lr1 = log (a->ratio[1]);
  for (int t = 0; t < 10; t++) {
    double target = area * (a->scale[0] + (a->scale[1] - a->scale[0]) * mt_rng_uniform (rng));
    double aspect = exp (lr0 + (lr1 - lr0) * mt_rng_uniform (rng));
    int cw_ = (int) lround (sqrt (target * aspect)), ch_ = (int) lround (sqrt (target / aspect));
    if (cw_ > 0 && cw_ <= w && ch_ > 0 && ch_ <= h) {
      *top = (int) mt_rng_below (rng, (guint64) (h - ch_ + 1));
      *left = (int) mt_rng_below (rng, (guint64) (w - cw_ + 1));
      *ch = ch_;
      *cw = cw_;
      return;
    }
  }
  double in_ratio = (double) w / h;
  int cw_ = w, ch_ = h;
  if (in_ratio < a->ratio[0])
    ch_ = (int) lround (cw_ / a->ratio[0]);
  else if (in_ratio > a->ratio[1])
    cw_ = (int) lround (ch_ * a->ratio[1]);
  *top = (h - ch_) / 2;
  *left = (w - cw_) / 2;
  *ch = ch_;
  *cw = cw_;
}

/* The @ch x @cw region at (@top, @left) resized back to @h x @w, as PIL does it. */
static void
resized_crop (guint8 *img, int c, int h, int w, int top, int left, int ch, int cw)
{
  gint64 shape[] = { ch, cw, c };
  g_autoptr (MtTensor) region = mt_tensor_new (MT_DTYPE_U8, 3, shape);
  guint8 *r = region->data;
  for (int y = 0; y < ch; y++)
    for (int x = 0; x < cw; x++)
      for (int k = 0; k < c; k++)
        r[((gsize) y * cw + x) * c + k] = img[((gsize) k * h + top + y) * w + left + x];
  g_autoptr (MtTensor) out = mt_transform_resize (region, h, w);
  const guint8 *o = out->data;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int k = 0; k < c; k++)
        img[((gsize) k * h + y) * w + x] = o[((gsize) y * w + x) * c + k];
}

/* A random h x w window of the image padded with @pad zeros on each side. */
static void
padded_crop (guint8 *img, int c, int h, int w, int pad, MtRng *rng)
{
  int top = (int) mt_rng_below (rng, (guint64) (2 * pad + 1)), left = (int) mt_rng_below (rng, (guint64) (2 * pad + 1));
  gsize plane = (gsize) h * w;
  g_autofree guint8 *src = g_memdup2 (img, plane * c);
  memset (img, 0, plane * c);
  for (int k = 0; k < c; k++)
    for (int y = 0; y < h; y++) {
      int sy = y + top - pad;
      if (sy < 0 || sy >= h)
        continue;
      for (int x = 0; x < w; x++) {
        int sx = x + left - pad;
        if (sx >= 0 && sx < w)
          img[k * plane + (gsize) y * w + x] = src[k * plane + (gsize) sy * w + sx];
      }
    }
}

void
mt_augment_apply (const MtAugment *a, guint64 seed, guint8 *img, int c, int h, int w)
{
  if (!mt_augment_active (a))
    return;
  MtRng rng;
  mt_rng_seed (&rng, seed);
  if (a->crop == MT_AUGMENT_CROP_RESIZED) {
    int top, left, ch, cw;
    mt_augment_resized_crop_params (a, &rng, h, w, &top, &left, &ch, &cw);
    if (ch != h || cw != w)
      resized_crop (img, c, h, w, top, left, ch, cw);
  } else if (a->crop == MT_AUGMENT_CROP_PADDED && a->padding > 0) {
    padded_crop (img, c, h, w, a->padding, &rng);
  }
  if (a->flip && mt_rng_uniform (&rng) < 0.5)
    for (int k = 0; k < c; k++)
      for (int y = 0; y < h; y++) {
        guint8 *row = img + ((gsize) k * h + y) * w;
        for (int x = 0; x < w / 2; x++) {
          guint8 t = row[x];
          row[x] = row[w - 1 - x];
          row[w - 1 - x] = t;
        }
      }
}
