#include "ml/mt-panels.h"
#include "ml/mt-plot-private.h"
#include "base/mt-error.h"

#include <string.h>

#define GAP 8          /* between tiles */
#define TITLE_H 24     /* the column titles' band */
#define BAR_W 14       /* the colour bar */

void
mt_panels_jet (float v, guint8 rgb[3])
{
  v = CLAMP (v, 0.0f, 1.0f);
  float r = CLAMP (1.5f - ABS (4 * v - 3), 0.0f, 1.0f);
  float g = CLAMP (1.5f - ABS (4 * v - 2), 0.0f, 1.0f);
  float b = CLAMP (1.5f - ABS (4 * v - 1), 0.0f, 1.0f);
  rgb[0] = (guint8) (r * 255 + 0.5f);
  rgb[1] = (guint8) (g * 255 + 0.5f);
  rgb[2] = (guint8) (b * 255 + 0.5f);
}

static void
panel_hw (const MtPanel *p, gint64 *h, gint64 *w)
{
  *h = p->t->ndim == 4 ? p->t->shape[2] : p->t->shape[1];
  *w = p->t->ndim == 4 ? p->t->shape[3] : p->t->shape[2];
}

static gboolean
panels_check (const MtPanel *panels, guint n_panels, const gint64 *rows, guint n_rows, GError **error)
{
  if (n_panels == 0 || n_rows == 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "nothing to draw: no %s", n_panels ? "samples" : "panels");
    return FALSE;
  }
  gint64 h0, w0, need = 0;
  panel_hw (&panels[0], &h0, &w0);
  for (guint r = 0; r < n_rows; r++)
    need = MAX (need, rows[r] + 1);
  for (guint p = 0; p < n_panels; p++) {
    const MtTensor *t = panels[p].t;
    gboolean image = panels[p].kind == MT_PANEL_IMAGE;
    MtDType want = panels[p].kind == MT_PANEL_HEAT ? MT_DTYPE_F32 : MT_DTYPE_U8;
    gint64 h, w;
    panel_hw (&panels[p], &h, &w);
    if (t->dtype != want || t->ndim != (image ? 4 : 3) || (image && t->shape[1] != 1 && t->shape[1] != 3) ||
        t->shape[0] < need || h != h0 || w != w0) {
      g_autofree char *s = mt_tensor_shape_string (t);
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "panel '%s' (%s %s) does not fit %" G_GINT64_FORMAT " samples of %"
                   G_GINT64_FORMAT "x%" G_GINT64_FORMAT " (%s)", panels[p].title, mt_dtype_name (t->dtype), s, need,
                   h0, w0, image ? "uint8 N x C x H x W" : want == MT_DTYPE_F32 ? "float32 N x H x W" : "uint8 N x H x W");
      return FALSE;
    }
  }
  return TRUE;
}

static void
panel_pixel (const MtPanel *p, gint64 i, gint64 y, gint64 x, gint64 h, gint64 w, guint8 rgb[3])
{
  if (p->kind == MT_PANEL_IMAGE) {
    gint64 c = p->t->shape[1];
    const guint8 *src = (const guint8 *) p->t->data + i * c * h * w;
    for (int k = 0; k < 3; k++)
      rgb[k] = src[(c == 3 ? k : 0) * h * w + y * w + x];
  } else if (p->kind == MT_PANEL_HEAT) {
    mt_panels_jet (((const float *) p->t->data)[i * h * w + y * w + x], rgb);
  } else {
    rgb[0] = rgb[1] = rgb[2] = ((const guint8 *) p->t->data)[i * h * w + y * w + x] ? 255 : 0;
  }
}

static void
put_rgb (guint8 *data, int stride, gint64 x, gint64 y, const guint8 rgb[3])
{
  guint32 *row = (guint32 *) (data + (gsize) y * stride);
  row[x] = ((guint32) rgb[0] << 16) | ((guint32) rgb[1] << 8) | rgb[2];
}

MtTensor *
mt_panels_render (const MtPanel *panels, guint n_panels, const gint64 *rows, guint n_rows, int scale,
                  const char *const *row_labels, GError **error)
{
  g_return_val_if_fail (panels != NULL && rows != NULL && scale > 0, NULL);
  if (!panels_check (panels, n_panels, rows, n_rows, error))
    return NULL;
  gint64 h, w;
  panel_hw (&panels[0], &h, &w);
  gboolean any_heat = FALSE;
  for (guint p = 0; p < n_panels; p++)
    any_heat |= panels[p].kind == MT_PANEL_HEAT;
  gint64 tw = w * scale, th = h * scale;
  gint64 label_w = row_labels ? 64 : 0;
  gint64 col_w = MAX (tw, 72);  /* room for a title under a small tile */
  gint64 bar_x = label_w + GAP + n_panels * (col_w + GAP);
  gint64 width = bar_x + (any_heat ? BAR_W + 40 : 0);
  gint64 height = TITLE_H + n_rows * (th + GAP) + GAP;
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, (int) width, (int) height);
  cairo_t *cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  cairo_surface_flush (surface);
  guint8 *data = cairo_image_surface_get_data (surface);
  int stride = cairo_image_surface_get_stride (surface);

  for (guint r = 0; r < n_rows; r++)
    for (guint p = 0; p < n_panels; p++) {
      gint64 x0 = label_w + GAP + p * (col_w + GAP) + (col_w - tw) / 2, y0 = TITLE_H + r * (th + GAP);
      for (gint64 y = 0; y < th; y++)
        for (gint64 x = 0; x < tw; x++) {
          guint8 rgb[3];
          panel_pixel (&panels[p], rows[r], y / scale, x / scale, h, w, rgb);
          put_rgb (data, stride, x0 + x, y0 + y, rgb);
        }
    }
  if (any_heat) {  /* the colour bar: 1 at the top, 0 at the bottom, as tall as the tiles allow */
    gint64 bar_h = MIN (height - TITLE_H - GAP, MAX (th, 120));
    for (gint64 y = 0; y < bar_h; y++) {
      guint8 rgb[3];
      mt_panels_jet (1.0f - (float) y / (float) MAX (bar_h - 1, 1), rgb);
      for (gint64 x = 0; x < BAR_W; x++)
        put_rgb (data, stride, bar_x + x, TITLE_H + y, rgb);
    }
    cairo_surface_mark_dirty (surface);
    cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
    mt_plot_text (cr, (double) bar_x + BAR_W + 4, TITLE_H + 10, 0, 11, FALSE, "1");
    mt_plot_text (cr, (double) bar_x + BAR_W + 4, (double) (TITLE_H + bar_h), 0, 11, FALSE, "0");
    cairo_save (cr);
    cairo_translate (cr, (double) bar_x + BAR_W + 22, TITLE_H + bar_h / 2.0);
    cairo_rotate (cr, -G_PI / 2);
    mt_plot_text (cr, 0, 0, 1, 11, FALSE, "saliency");
    cairo_restore (cr);
  } else {
    cairo_surface_mark_dirty (surface);
  }

  /* A grey frame around each tile: a white mask keeps its edge against the page. */
  cairo_set_source_rgb (cr, 0.55, 0.55, 0.55);
  cairo_set_line_width (cr, 1);
  for (guint r = 0; r < n_rows; r++)
    for (guint p = 0; p < n_panels; p++) {
      gint64 x0 = label_w + GAP + p * (col_w + GAP) + (col_w - tw) / 2, y0 = TITLE_H + r * (th + GAP);
      cairo_rectangle (cr, x0 - 0.5, y0 - 0.5, tw + 1, th + 1);
      cairo_stroke (cr);
    }
  if (any_heat) {
    gint64 bar_h = MIN (height - TITLE_H - GAP, MAX (th, 120));
    cairo_rectangle (cr, bar_x - 0.5, TITLE_H - 0.5, BAR_W + 1, bar_h + 1);
    cairo_stroke (cr);
  }
  cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
  for (guint p = 0; p < n_panels; p++)
    mt_plot_text (cr, label_w + GAP + p * (col_w + GAP) + col_w / 2.0, TITLE_H - 8, 1, 12, TRUE, panels[p].title);
  for (guint r = 0; row_labels && r < n_rows; r++)
    mt_plot_text (cr, label_w, TITLE_H + r * (th + GAP) + th / 2.0 + 4, 2, 11, FALSE, row_labels[r]);

  cairo_destroy (cr);
  MtTensor *t = mt_plot_surface_to_tensor (surface);
  cairo_surface_destroy (surface);
  return t;
}
