/* The pipeline drawn for the HTML report: an SVG made with cairo's SVG surface (no
 * graphviz). Nodes go in layers by their depth (the longest path from a source), each a
 * box with its name and type filled by its state; within a layer they are ordered by
 * where their inputs are, which keeps most edges from crossing. */
#include "tools/mtrun-report.h"

#include <cairo.h>
#include <cairo-svg.h>
#include <string.h>

#define BOX_H 40.0
#define GAP_X 18.0
#define GAP_Y 46.0
#define MARGIN 16.0

typedef struct {
  double x, y, w;   /* top-left, width */
  int depth;
  double order;     /* where it goes in its layer */
} Place;

static void
fill_for (const char *state, double rgb[3])
{
  /* The colours of `mtrun dot`: green cached, orange to run, red failed, grey never run. */
  static const struct { const char *state; double rgb[3]; } map[] = {
    { "cached", { 0.784, 0.902, 0.788 } }, { "run", { 1.0, 0.878, 0.698 } },
    { "error", { 1.0, 0.804, 0.824 } }, { "never", { 0.9, 0.9, 0.9 } },
  };
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    if (g_strcmp0 (state, map[i].state) == 0) {
      memcpy (rgb, map[i].rgb, sizeof map[i].rgb);
      return;
    }
  rgb[0] = rgb[1] = rgb[2] = 1.0;
}

static double
text_width (cairo_t *cr, const char *text, double size)
{
  cairo_set_font_size (cr, size);
  cairo_text_extents_t e;
  cairo_text_extents (cr, text, &e);
  return e.x_advance;
}

static int
cmp_order (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const Place *p = user_data;
  guint x = *(const guint *) a, y = *(const guint *) b;
  return p[x].order < p[y].order ? -1 : p[x].order > p[y].order ? 1 : (x > y) - (x < y);
}

gboolean
mtrun_report_draw_dag (MtDag *g, const char *const *states, const char *path, GError **error)
{
  guint n = g->nodes->len;
  g_autofree Place *p = g_new0 (Place, MAX (n, 1));
  cairo_surface_t *scratch = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, 1, 1);
  cairo_t *m = cairo_create (scratch);
  cairo_select_font_face (m, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
  int max_depth = 0;
  for (guint i = 0; i < n; i++) {
    MtDagNode *gn = g->nodes->pdata[i];
    for (guint k = 0; k < gn->inputs->len; k++) {
      MtDagNode *src = g_array_index (gn->inputs, MtDagInput, k).src;
      if (src)
        p[i].depth = MAX (p[i].depth, p[src->index].depth + 1);
    }
    max_depth = MAX (max_depth, p[i].depth);
    p[i].w = MAX (text_width (m, gn->name, 12), text_width (m, gn->type_name, 10)) + 20;
  }
  cairo_destroy (m);
  cairo_surface_destroy (scratch);

  /* Layer by layer: each node after the mean place of its inputs in the layers above. */
  g_autoptr (GPtrArray) layers = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  double width = 0;
  for (int d = 0; d <= max_depth; d++) {
    GArray *layer = g_array_new (FALSE, FALSE, sizeof (guint));
    for (guint i = 0; i < n; i++) {
      if (p[i].depth != d)
        continue;
      MtDagNode *gn = g->nodes->pdata[i];
      double sum = 0;
      guint cnt = 0;
      for (guint k = 0; k < gn->inputs->len; k++) {
        MtDagNode *src = g_array_index (gn->inputs, MtDagInput, k).src;
        if (src) {
          sum += p[src->index].x + p[src->index].w / 2;
          cnt++;
        }
      }
      p[i].order = cnt ? sum / cnt : i;
      g_array_append_val (layer, i);
    }
    g_array_sort_with_data (layer, cmp_order, p);
    double x = 0;
    for (guint k = 0; k < layer->len; k++) {
      guint i = g_array_index (layer, guint, k);
      p[i].x = x;
      p[i].y = MARGIN + d * (BOX_H + GAP_Y);
      x += p[i].w + GAP_X;
    }
    width = MAX (width, x - GAP_X);
    g_ptr_array_add (layers, layer);
  }
  /* Centre every layer on the widest. */
  for (guint d = 0; d < layers->len; d++) {
    GArray *layer = layers->pdata[d];
    if (!layer->len)
      continue;
    guint last = g_array_index (layer, guint, layer->len - 1);
    double shift = MARGIN + (width - (p[last].x + p[last].w)) / 2;
    for (guint k = 0; k < layer->len; k++)
      p[g_array_index (layer, guint, k)].x += shift;
  }
  double W = width + 2 * MARGIN, H = 2 * MARGIN + (max_depth + 1) * BOX_H + max_depth * GAP_Y;

  cairo_surface_t *svg = cairo_svg_surface_create (path, MAX (W, 1), MAX (H, 1));
  cairo_t *cr = cairo_create (svg);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  cairo_set_line_width (cr, 1.2);
  for (guint i = 0; i < n; i++) {
    MtDagNode *gn = g->nodes->pdata[i];
    for (guint k = 0; k < gn->inputs->len; k++) {
      MtDagNode *src = g_array_index (gn->inputs, MtDagInput, k).src;
      if (!src)
        continue;
      const Place *a = &p[src->index], *b = &p[i];
      double x0 = a->x + a->w / 2, y0 = a->y + BOX_H, x1 = b->x + b->w / 2, y1 = b->y, my = (y0 + y1) / 2;
      cairo_set_source_rgb (cr, 0.45, 0.45, 0.45);
      cairo_move_to (cr, x0, y0);
      cairo_curve_to (cr, x0, my, x1, my, x1, y1 - 5);
      cairo_stroke (cr);
      cairo_move_to (cr, x1, y1);
      cairo_line_to (cr, x1 - 4, y1 - 7);
      cairo_line_to (cr, x1 + 4, y1 - 7);
      cairo_close_path (cr);
      cairo_fill (cr);
    }
  }
  for (guint i = 0; i < n; i++) {
    MtDagNode *gn = g->nodes->pdata[i];
    double rgb[3];
    fill_for (states[i], rgb);
    cairo_rectangle (cr, p[i].x, p[i].y, p[i].w, BOX_H);
    cairo_set_source_rgb (cr, rgb[0], rgb[1], rgb[2]);
    cairo_fill_preserve (cr);
    cairo_set_source_rgb (cr, 0.3, 0.3, 0.3);
    cairo_stroke (cr);
    cairo_set_source_rgb (cr, 0, 0, 0);
    cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size (cr, 12);
    cairo_move_to (cr, p[i].x + 10, p[i].y + 17);
    cairo_show_text (cr, gn->name);
    cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_ITALIC, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size (cr, 10);
    cairo_move_to (cr, p[i].x + 10, p[i].y + 32);
    cairo_show_text (cr, gn->type_name);
  }
  cairo_destroy (cr);
  cairo_surface_finish (svg);
  cairo_status_t st = cairo_surface_status (svg);
  cairo_surface_destroy (svg);
  if (st != CAIRO_STATUS_SUCCESS) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot write %s: %s", path, cairo_status_to_string (st));
    return FALSE;
  }
  return TRUE;
}
