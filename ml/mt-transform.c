#include "ml/mt-transform.h"
#include "base/mt-error.h"

#include <math.h>
#include <string.h>

/* Per output index: the first input index, how many, and their normalised weights. */
typedef struct {
  int *start, *count;
  double *w;
  int support;
} Coeffs;

static void
coeffs_compute (Coeffs *c, int in, int out)
{
  double scale = (double) in / out, filterscale = MAX (scale, 1.0), support = filterscale;  /* bilinear: 1 */
  c->support = (int) ceil (support) * 2 + 1;
  c->start = g_new (int, out);
  c->count = g_new (int, out);
  c->w = g_new0 (double, (gsize) out * c->support);
  for (int o = 0; o < out; o++) {
    double center = (o + 0.5) * scale, ss = 1.0 / filterscale;
    int xmin = MAX ((int) (center - support + 0.5), 0);
    int xmax = MIN ((int) (center + support + 0.5), in) - xmin;
    xmax = MIN (xmax, c->support);
    double total = 0;
    double *w = c->w + (gsize) o * c->support;
    for (int x = 0; x < xmax; x++) {
      double t = fabs ((x + xmin - center + 0.5) * ss);
      w[x] = t < 1.0 ? 1.0 - t : 0.0;
      total += w[x];
    }
    for (int x = 0; x < xmax && total > 0; x++)
      w[x] /= total;
    c->start[o] = xmin;
    c->count[o] = xmax;
  }
}

static void
coeffs_clear (Coeffs *c)
{
  g_free (c->start);
  g_free (c->count);
  g_free (c->w);
}

static guint8
clip8 (double v)
{
  return (guint8) CLAMP (floor (v + 0.5), 0, 255);
}

/* One separable pass along rows (@horizontal) or columns. */
static MtTensor *
resample_pass (const MtTensor *img, int out, gboolean horizontal)
{
  gint64 h = img->shape[0], w = img->shape[1], ch = img->shape[2];
  gint64 oh = horizontal ? h : out, ow = horizontal ? out : w;
  gint64 shape[] = { oh, ow, ch };
  MtTensor *res = mt_tensor_new (MT_DTYPE_U8, 3, shape);
  Coeffs c;
  coeffs_compute (&c, (int) (horizontal ? w : h), out);
  const guint8 *s = img->data;
  guint8 *d = res->data;
  for (gint64 y = 0; y < oh; y++)
    for (gint64 x = 0; x < ow; x++) {
      int o = (int) (horizontal ? x : y);
      const double *wt = c.w + (gsize) o * c.support;
      for (gint64 k = 0; k < ch; k++) {
        double acc = 0;
        for (int t = 0; t < c.count[o]; t++) {
          gint64 sy = horizontal ? y : c.start[o] + t, sx = horizontal ? c.start[o] + t : x;
          acc += wt[t] * s[(sy * w + sx) * ch + k];
        }
        d[(y * ow + x) * ch + k] = clip8 (acc);
      }
    }
  coeffs_clear (&c);
  return res;
}

MtTensor *
mt_transform_resize (const MtTensor *img, int out_h, int out_w)
{
  g_return_val_if_fail (img->dtype == MT_DTYPE_U8 && img->ndim == 3 && out_h > 0 && out_w > 0, NULL);
  MtTensor *cur = mt_tensor_ref ((MtTensor *) img);
  if (out_w != img->shape[1]) {
    MtTensor *next = resample_pass (cur, out_w, TRUE);
    mt_tensor_unref (cur);
    cur = next;
  }
  if (out_h != img->shape[0]) {
    MtTensor *next = resample_pass (cur, out_h, FALSE);
    mt_tensor_unref (cur);
    cur = next;
  }
  return cur;
}

MtTensor *
mt_transform_resize_shorter (const MtTensor *img, int size)
{
  gint64 h = img->shape[0], w = img->shape[1];
  if ((h <= w && h == size) || (w <= h && w == size))
    return mt_tensor_ref ((MtTensor *) img);
  int oh, ow;
  if (h <= w) {
    oh = size;
    ow = (int) (size * w / h);
  } else {
    ow = size;
    oh = (int) (size * h / w);
  }
  return mt_transform_resize (img, oh, ow);
}

MtTensor *
mt_transform_center_crop (const MtTensor *img, int ch, int cw, GError **error)
{
  gint64 h = img->shape[0], w = img->shape[1], c = img->shape[2];
  if (ch > h || cw > w) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "a %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " image is smaller "
                 "than the %dx%d crop", h, w, ch, cw);
    return NULL;
  }
  /* Python's round(), as torchvision uses: halves to even. */
  gint64 top = (gint64) rint ((h - ch) / 2.0), left = (gint64) rint ((w - cw) / 2.0);
  gint64 shape[] = { ch, cw, c };
  MtTensor *out = mt_tensor_new (MT_DTYPE_U8, 3, shape);
  for (int y = 0; y < ch; y++)
    memcpy ((guint8 *) out->data + (gsize) y * cw * c, (const guint8 *) img->data + ((top + y) * w + left) * c,
            (gsize) cw * c);
  return out;
}
