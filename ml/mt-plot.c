#include "ml/mt-plot.h"
#include "ml/mt-plot-private.h"

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <string.h>

#define PLOT_W 880
#define PLOT_H 520
#define MARGIN_L 78.0
#define MARGIN_R 24.0
#define MARGIN_T 56.0
#define MARGIN_B 96.0

/* Okabe-Ito: distinguishable with every common colour-vision deficiency. */
static const double palette[MT_PLOT_COLOURS][3] = {
  { 0.000, 0.447, 0.698 }, { 0.835, 0.369, 0.000 }, { 0.000, 0.620, 0.451 },
  { 0.800, 0.475, 0.655 }, { 0.337, 0.706, 0.914 }, { 0.902, 0.624, 0.000 },
  { 0.0, 0.0, 0.0 },
};

static void
set_colour (cairo_t *cr, guint i)
{
  const double *c = palette[i % G_N_ELEMENTS (palette)];
  cairo_set_source_rgb (cr, c[0], c[1], c[2]);
}

typedef enum { ALIGN_LEFT, ALIGN_CENTRE, ALIGN_RIGHT } Align;

static void
text_at (cairo_t *cr, double x, double y, Align align, double size, gboolean bold, const char *s)
{
  cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                          bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, size);
  cairo_text_extents_t e;
  cairo_text_extents (cr, s, &e);
  double dx = align == ALIGN_LEFT ? 0 : align == ALIGN_CENTRE ? -e.x_advance / 2 : -e.x_advance;
  cairo_move_to (cr, x + dx, y);
  cairo_show_text (cr, s);
}

static cairo_t *
canvas_new (cairo_surface_t **surface)
{
  *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, PLOT_W, PLOT_H);
  cairo_t *cr = cairo_create (*surface);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  return cr;
}

/* Copies the surface out as RGB: RGB24 keeps each pixel in a native-endian uint32. */
MtTensor *
mt_plot_surface_to_tensor (cairo_surface_t *surface)
{
  cairo_surface_flush (surface);
  int w = cairo_image_surface_get_width (surface), h = cairo_image_surface_get_height (surface);
  gint64 shape[] = { h, w, 3 };
  MtTensor *t = mt_tensor_new (MT_DTYPE_U8, 3, shape);
  const guint8 *src = cairo_image_surface_get_data (surface);
  int stride = cairo_image_surface_get_stride (surface);
  guint8 *dst = t->data;
  for (int y = 0; y < h; y++) {
    const guint32 *row = (const guint32 *) (src + (gsize) y * stride);
    for (int x = 0; x < w; x++) {
      guint32 p = row[x];
      guint8 *o = dst + ((gsize) y * w + x) * 3;
      o[0] = (p >> 16) & 0xff;
      o[1] = (p >> 8) & 0xff;
      o[2] = p & 0xff;
    }
  }
  return t;
}

static MtTensor *
canvas_finish (cairo_t *cr, cairo_surface_t *surface)
{
  cairo_destroy (cr);
  MtTensor *t = mt_plot_surface_to_tensor (surface);
  cairo_surface_destroy (surface);
  return t;
}

void
mt_plot_text (cairo_t *cr, double x, double y, int align, double size, gboolean bold, const char *s)
{
  text_at (cr, x, y, (Align) align, size, bold, s);
}

typedef struct {
  double x0, x1, y0, y1;  /* data range */
  double left, right, top, bottom;  /* pixels */
  gboolean x_descending;
} Frame;

static double
frame_x (const Frame *f, double x)
{
  double u = (x - f->x0) / (f->x1 - f->x0);
  if (f->x_descending)
    u = 1 - u;
  return f->left + u * (f->right - f->left);
}

static double
frame_y (const Frame *f, double y)
{
  return f->bottom - (y - f->y0) / (f->y1 - f->y0) * (f->bottom - f->top);
}

/* A step of 1, 2 or 5 times a power of ten giving about @want ticks over @span. */
static double
nice_step (double span, int want)
{
  double raw = span / want;
  double p = pow (10, floor (log10 (raw)));
  double m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void
draw_y_axis (cairo_t *cr, const Frame *f, const char *label, gboolean percent)
{
  double step = nice_step (f->y1 - f->y0, 5);
  cairo_set_line_width (cr, 1);
  for (double v = ceil (f->y0 / step - 1e-9) * step; v <= f->y1 + 1e-9; v += step) {
    double y = round (frame_y (f, v)) + 0.5;
    cairo_set_source_rgb (cr, 0.88, 0.88, 0.88);
    cairo_move_to (cr, f->left, y);
    cairo_line_to (cr, f->right, y);
    cairo_stroke (cr);
    char buf[32];
    double shown = round (v * 1000) / 10 + 0.0;  /* + 0.0: no "-0" */
    if (percent)
      g_snprintf (buf, sizeof buf, "%g%%", shown == 0 ? 0.0 : shown);
    else
      g_snprintf (buf, sizeof buf, "%g", v);
    cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
    text_at (cr, f->left - 8, y + 4, ALIGN_RIGHT, 12, FALSE, buf);
  }
  cairo_save (cr);
  cairo_translate (cr, 20, (f->top + f->bottom) / 2);
  cairo_rotate (cr, -G_PI / 2);
  text_at (cr, 0, 0, ALIGN_CENTRE, 13, FALSE, label);
  cairo_restore (cr);
  cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
  cairo_move_to (cr, f->left + 0.5, f->top);
  cairo_line_to (cr, f->left + 0.5, f->bottom + 0.5);
  cairo_line_to (cr, f->right, f->bottom + 0.5);
  cairo_stroke (cr);
}

static void
set_style (cairo_t *cr, guint style)
{
  static const double dashed[] = { 7, 5 }, dotted[] = { 2, 4 };
  if (style == 1)
    cairo_set_dash (cr, dashed, 2, 0);
  else if (style >= 2)
    cairo_set_dash (cr, dotted, 2, 0);
  else
    cairo_set_dash (cr, NULL, 0, 0);
}

typedef struct {
  const char *name;
  gboolean box;      /* a colour box (bars), else a line */
  int colour;        /* palette index, or -1 for grey */
  guint style;
} LegendEntry;

/* Legend entries in rows under the plot. */
static void
draw_legend (cairo_t *cr, guint n, const LegendEntry *entries)
{
  double x = MARGIN_L, y = PLOT_H - 22 - (n > 6 ? 16 : 0);
  for (guint i = 0; i < n; i++) {
    const LegendEntry *e = &entries[i];
    if (e->colour < 0)
      cairo_set_source_rgb (cr, 0.35, 0.35, 0.35);
    else
      set_colour (cr, (guint) e->colour);
    if (e->box) {
      cairo_rectangle (cr, x, y - 10, 12, 12);
      cairo_fill (cr);
    } else {
      cairo_set_line_width (cr, 2.5);
      set_style (cr, e->style);
      cairo_move_to (cr, x - 4, y - 4);
      cairo_line_to (cr, x + 18, y - 4);
      cairo_stroke (cr);
      cairo_set_dash (cr, NULL, 0, 0);
    }
    cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
    text_at (cr, x + 22, y, ALIGN_LEFT, 12, FALSE, e->name);
    cairo_text_extents_t ext;
    cairo_text_extents (cr, e->name, &ext);
    x += 22 + ext.x_advance + 22;
    if (x > PLOT_W - 160 && i + 1 < n) {
      x = MARGIN_L;
      y += 16;
    }
  }
}

MtTensor *
mt_plot_bars (const char *title, const char *ylabel, guint n_groups, const char *const *group_names,
              guint n_series, const char *const *series_names, const double *values)
{
  cairo_surface_t *surface = NULL;
  cairo_t *cr = canvas_new (&surface);
  /* Many clusters: their names slanted, with room made for them under the axis. */
  gboolean slanted = n_groups > 6;
  Frame f = { 0, 1, 0, 1.05, MARGIN_L, PLOT_W - MARGIN_R, MARGIN_T, PLOT_H - MARGIN_B - (slanted ? 60 : 0), FALSE };
  cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
  text_at (cr, PLOT_W / 2.0, 30, ALIGN_CENTRE, 17, TRUE, title);
  draw_y_axis (cr, &f, ylabel, TRUE);

  double slot = (f.right - f.left) / MAX (n_groups, 1);
  double bar = MIN (64.0, slot * 0.8 / MAX (n_series, 1));
  for (guint g = 0; g < n_groups; g++) {
    double cx = f.left + slot * (g + 0.5);
    double x = cx - bar * n_series / 2.0;
    for (guint s = 0; s < n_series; s++, x += bar) {
      double v = values[(gsize) g * n_series + s];
      if (isnan (v))
        continue;
      double top = frame_y (&f, CLAMP (v, 0, 1.05));
      set_colour (cr, s);
      cairo_rectangle (cr, x + 2, top, bar - 4, f.bottom - top);
      cairo_fill (cr);
      if (bar < 24)
        continue;  /* too narrow to label: the tables have the numbers */
      char buf[32];
      g_snprintf (buf, sizeof buf, "%.1f", v * 100);
      cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
      text_at (cr, x + bar / 2, top - 5, ALIGN_CENTRE, bar < 40 ? 10 : 12, FALSE, buf);
    }
    cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
    if (slanted) {
      cairo_save (cr);
      cairo_translate (cr, cx + 4, f.bottom + 12);
      cairo_rotate (cr, -G_PI / 6);
      text_at (cr, 0, 0, ALIGN_RIGHT, 12, FALSE, group_names[g]);
      cairo_restore (cr);
    } else {
      text_at (cr, cx, f.bottom + 22, ALIGN_CENTRE, 13, FALSE, group_names[g]);
    }
  }
  g_autofree LegendEntry *legend = g_new0 (LegendEntry, MAX (n_series, 1));
  for (guint i = 0; i < n_series; i++)
    legend[i] = (LegendEntry) { series_names[i], TRUE, (int) i, 0 };
  draw_legend (cr, n_series, legend);
  return canvas_finish (cr, surface);
}

MtTensor *
mt_plot_lines (const char *title, const char *xlabel, const char *ylabel, guint n_series,
               const MtPlotSeries *series, MtPlotFlags flags, const MtPlotKey *key)
{
  gboolean x_descending = (flags & MT_PLOT_X_DESCENDING) != 0;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (guint s = 0; s < n_series; s++)
    for (guint i = 0; i < series[s].n; i++) {
      if (isnan (series[s].y[i]) || isnan (series[s].x[i]))
        continue;
      x0 = MIN (x0, series[s].x[i]);
      x1 = MAX (x1, series[s].x[i]);
      y0 = MIN (y0, series[s].y[i]);
      y1 = MAX (y1, series[s].y[i]);
    }
  if (!isfinite (x0)) {
    x0 = 0;
    x1 = y1 = 1;
    y0 = 0;
  }
  /* Pad so that no point sits on the frame; keep flat data visible. */
  double ypad = MAX ((y1 - y0) * 0.08, 0.01), xpad = MAX ((x1 - x0) * 0.03, 0.005);
  Frame f = { x0 - xpad, x1 + xpad, MAX (0, y0 - ypad), MIN (1.0, y1 + ypad),
              MARGIN_L, PLOT_W - MARGIN_R, MARGIN_T, PLOT_H - MARGIN_B, x_descending };
  if (f.y1 <= f.y0)
    f.y1 = f.y0 + 0.01;

  cairo_surface_t *surface = NULL;
  cairo_t *cr = canvas_new (&surface);
  cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
  text_at (cr, PLOT_W / 2.0, 30, ALIGN_CENTRE, 17, TRUE, title);
  draw_y_axis (cr, &f, ylabel, TRUE);

  double step = nice_step (f.x1 - f.x0, 8);
  cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
  for (double v = ceil (f.x0 / step - 1e-9) * step; v <= f.x1 + 1e-9; v += step) {
    char buf[32];
    double shown = round (v * 1000) / 10;
    if (flags & MT_PLOT_X_PLAIN)
      g_snprintf (buf, sizeof buf, "%g", fabs (v) < 1e-9 ? 0.0 : v);
    else
      g_snprintf (buf, sizeof buf, "%g%%", shown == 0 ? 0.0 : shown);
    text_at (cr, frame_x (&f, v), f.bottom + 18, ALIGN_CENTRE, 12, FALSE, buf);
  }
  text_at (cr, (f.left + f.right) / 2, f.bottom + 40, ALIGN_CENTRE, 13, FALSE, xlabel);

  cairo_rectangle (cr, f.left, f.top, f.right - f.left, f.bottom - f.top);
  cairo_clip (cr);
  for (guint s = 0; s < n_series; s++) {
    const MtPlotSeries *ser = &series[s];
    set_colour (cr, ser->colour);
    cairo_set_line_width (cr, 2.5);
    set_style (cr, ser->style);
    gboolean pen = FALSE;
    for (guint i = 0; i < ser->n; i++) {
      if (isnan (ser->y[i])) {
        pen = FALSE;
        continue;
      }
      double x = frame_x (&f, ser->x[i]), y = frame_y (&f, ser->y[i]);
      if (pen)
        cairo_line_to (cr, x, y);
      else
        cairo_move_to (cr, x, y);
      pen = TRUE;
    }
    cairo_stroke (cr);
    cairo_set_dash (cr, NULL, 0, 0);
    for (guint i = 0; i < ser->n; i++) {
      if (isnan (ser->y[i]))
        continue;
      cairo_arc (cr, frame_x (&f, ser->x[i]), frame_y (&f, ser->y[i]), 3.5, 0, 2 * G_PI);
      cairo_fill (cr);
    }
  }
  cairo_reset_clip (cr);

  g_autoptr (GArray) legend = g_array_new (FALSE, TRUE, sizeof (LegendEntry));
  if (key) {
    for (guint i = 0; i < key->n_colours; i++) {
      if (!key->colours[i])
        continue;  /* a colour kept for a series not drawn here */
      LegendEntry e = { key->colours[i], FALSE, (int) i, 0 };
      g_array_append_val (legend, e);
    }
    for (guint i = 0; key->n_styles > 1 && i < key->n_styles; i++) {
      LegendEntry e = { key->styles[i], FALSE, -1, i };
      g_array_append_val (legend, e);
    }
  } else {
    for (guint i = 0; i < n_series; i++) {
      LegendEntry e = { series[i].name, FALSE, (int) series[i].colour, series[i].style };
      g_array_append_val (legend, e);
    }
  }
  draw_legend (cr, legend->len, (LegendEntry *) legend->data);
  return canvas_finish (cr, surface);
}

void
mt_plot_release_fonts (void)
{
  cairo_debug_reset_static_data ();
  FcFini ();
}
