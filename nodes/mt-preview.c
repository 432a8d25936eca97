#include "nodes/mt-preview.h"
#include "ml/mt-dataset.h"
#include "base/mt-error.h"

#include <string.h>

struct _MtPreview {
  MtNode parent_instance;
  int count, columns, scale;
};

G_DEFINE_FINAL_TYPE (MtPreview, mt_preview, MT_TYPE_NODE)

#define DEFAULT_COUNT 64
#define DEFAULT_COLUMNS 8
#define DEFAULT_SCALE 3

enum { PROP_0, PROP_COUNT, PROP_COLUMNS, PROP_SCALE };

/* The jet colour map, as the Grad-CAM figures use: blue (0) to red (1). */
static void
preview_jet (float v, guint8 rgb[3])
{
  v = CLAMP (v, 0.0f, 1.0f);
  float r = CLAMP (1.5f - ABS (4 * v - 3), 0.0f, 1.0f);
  float g = CLAMP (1.5f - ABS (4 * v - 2), 0.0f, 1.0f);
  float b = CLAMP (1.5f - ABS (4 * v - 1), 0.0f, 1.0f);
  rgb[0] = (guint8) (r * 255 + 0.5f);
  rgb[1] = (guint8) (g * 255 + 0.5f);
  rgb[2] = (guint8) (b * 255 + 0.5f);
}

typedef enum { PANEL_IMAGE, PANEL_HEAT, PANEL_MASK } PanelKind;

typedef struct {
  PanelKind kind;
  MtTensor *t;   /* images [N, C, H, W], heat [N, H, W] float, or mask [N, H, W] uint8 */
} Panel;

/* One row per sample: the image, then each panel given (heat map, mask, masked image,
 * heat map after fine-tuning), each magnified `scale` times with a 2-pixel gap. */
static MtTensor *
preview_render_panels (MtTensor *images, GPtrArray *panels, gint64 count, int scale, GError **error)
{
  gint64 n = MIN (count, images->shape[0]), h = images->shape[2], w = images->shape[3];
  for (guint p = 0; p < panels->len; p++) {
    Panel *pn = panels->pdata[p];
    gint64 ph = pn->t->ndim == 4 ? pn->t->shape[2] : pn->t->shape[1];
    gint64 pw = pn->t->ndim == 4 ? pn->t->shape[3] : pn->t->shape[2];
    if (pn->t->shape[0] < n || ph != h || pw != w) {
      g_autofree char *s = mt_tensor_shape_string (pn->t);
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "a preview panel of shape %s does not match the %" G_GINT64_FORMAT
                   "x%" G_GINT64_FORMAT " images", s, h, w);
      return NULL;
    }
  }
  gint64 gap = 2, tw = w * scale, th = h * scale, cols = panels->len;
  gint64 shape[3] = { n * (th + gap) + gap, cols * (tw + gap) + gap, 3 };
  MtTensor *out = mt_tensor_new (MT_DTYPE_U8, 3, shape);
  memset (out->data, 255, out->nbytes);
  guint8 *o = out->data;
  for (gint64 i = 0; i < n; i++)
    for (guint p = 0; p < panels->len; p++) {
      Panel *pn = panels->pdata[p];
      gint64 y0 = gap + i * (th + gap), x0 = gap + p * (tw + gap);
      for (gint64 y = 0; y < th; y++)
        for (gint64 x = 0; x < tw; x++) {
          gint64 sy = y / scale, sx = x / scale;
          guint8 rgb[3];
          if (pn->kind == PANEL_IMAGE) {
            gint64 c = pn->t->shape[1];
            const guint8 *src = (const guint8 *) pn->t->data + i * c * h * w;
            for (int k = 0; k < 3; k++)
              rgb[k] = src[(c == 3 ? k : 0) * h * w + sy * w + sx];
          } else if (pn->kind == PANEL_HEAT) {
            preview_jet (((const float *) pn->t->data)[i * h * w + sy * w + sx], rgb);
          } else {
            guint8 v = ((const guint8 *) pn->t->data)[i * h * w + sy * w + sx] ? 255 : 0;
            rgb[0] = rgb[1] = rgb[2] = v;
          }
          memcpy (o + ((y0 + y) * shape[1] + x0 + x) * 3, rgb, 3);
        }
    }
  return out;
}

static gboolean
preview_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtPreview *self = MT_PREVIEW (node);
  g_autoptr (MtBundle) b = mt_context_load_bundle (ctx, "dataset", error);
  if (!b)
    return FALSE;
  gboolean panels_given = mt_context_has_input (ctx, "saliency") || mt_context_has_input (ctx, "mask") ||
                          mt_context_has_input (ctx, "masked") || mt_context_has_input (ctx, "saliency_after");
  if (!panels_given) {
    g_autoptr (MtTensor) grid = mt_dataset_render_grid (b, (guint) self->count, (guint) self->columns,
                                                        (guint) self->scale, error);
    return grid && mt_context_save_image (ctx, "image", grid, error);
  }
  if (!mt_dataset_check (b, "preview input", error))
    return FALSE;
  g_autoptr (GPtrArray) panels = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func ((GDestroyNotify) mt_tensor_unref);
  g_autoptr (GPtrArray) bundles = g_ptr_array_new_with_free_func ((GDestroyNotify) mt_bundle_unref);
  Panel *first = g_new0 (Panel, 1);
  *first = (Panel) { PANEL_IMAGE, mt_bundle_get (b, MT_DATASET_IMAGES) };
  g_ptr_array_add (panels, first);
  const struct { const char *port; PanelKind kind; } order[] = {
    { "saliency", PANEL_HEAT }, { "mask", PANEL_MASK }, { "masked", PANEL_IMAGE }, { "saliency_after", PANEL_HEAT },
  };
  for (guint k = 0; k < G_N_ELEMENTS (order); k++) {
    if (!mt_context_has_input (ctx, order[k].port))
      continue;
    Panel *pn = g_new0 (Panel, 1);
    pn->kind = order[k].kind;
    if (order[k].kind == PANEL_IMAGE) {
      MtBundle *mb = mt_context_load_bundle (ctx, order[k].port, error);
      if (mb)
        g_ptr_array_add (bundles, mb);
      if (!mb || !mt_dataset_check (mb, order[k].port, error)) {
        g_free (pn);
        return FALSE;
      }
      pn->t = mt_bundle_get (mb, MT_DATASET_IMAGES);
    } else {
      MtTensor *t = mt_context_load_tensor (ctx, order[k].port, error);
      if (!t) {
        g_free (pn);
        return FALSE;
      }
      MtDType want = order[k].kind == PANEL_HEAT ? MT_DTYPE_F32 : MT_DTYPE_U8;
      if (t->dtype != want || t->ndim != 3) {
        g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "preview input '%s' must be %s N x H x W",
                     order[k].port, mt_dtype_name (want));
        mt_tensor_unref (t);
        g_free (pn);
        return FALSE;
      }
      g_ptr_array_add (keep, t);
      pn->t = t;
    }
    g_ptr_array_add (panels, pn);
  }
  g_autoptr (MtTensor) img = preview_render_panels (mt_bundle_get (b, MT_DATASET_IMAGES), panels, self->count, self->scale, error);
  return img && mt_context_save_image (ctx, "image", img, error);
}

static void
preview_set_property (GObject *obj, guint id, const GValue *value, GParamSpec *pspec)
{
  MtPreview *self = MT_PREVIEW (obj);
  switch (id) {
  case PROP_COUNT: self->count = g_value_get_int (value); break;
  case PROP_COLUMNS: self->columns = g_value_get_int (value); break;
  case PROP_SCALE: self->scale = g_value_get_int (value); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
preview_get_property (GObject *obj, guint id, GValue *value, GParamSpec *pspec)
{
  MtPreview *self = MT_PREVIEW (obj);
  switch (id) {
  case PROP_COUNT: g_value_set_int (value, self->count); break;
  case PROP_COLUMNS: g_value_set_int (value, self->columns); break;
  case PROP_SCALE: g_value_set_int (value, self->scale); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
mt_preview_class_init (MtPreviewClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = preview_set_property;
  oc->get_property = preview_get_property;
  nc->run = preview_run;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  g_object_class_install_property (oc, PROP_COUNT,
    g_param_spec_int ("count", "Count", "how many samples to show (the first ones)", 1, 4096, DEFAULT_COUNT, rw));
  g_object_class_install_property (oc, PROP_COLUMNS,
    g_param_spec_int ("columns", "Columns", "samples per row", 1, 256, DEFAULT_COLUMNS, rw));
  g_object_class_install_property (oc, PROP_SCALE,
    g_param_spec_int ("scale", "Scale", "magnification of each image", 1, 16, DEFAULT_SCALE, rw));
  mt_node_class_set_metadata (nc, "2",
    "PNG of samples: a grid (label/group, orange = patched), or MaskTune panels per sample");
  mt_node_class_add_input (nc, "dataset", MT_KIND_DATASET, TRUE, "the samples to show");
  mt_node_class_add_input (nc, "saliency", MT_KIND_SALIENCY, FALSE, "panels: heat maps (jet colours)");
  mt_node_class_add_input (nc, "mask", MT_KIND_MASK, FALSE, "panels: masks (white = kept)");
  mt_node_class_add_input (nc, "masked", MT_KIND_DATASET, FALSE, "panels: the masked images");
  mt_node_class_add_input (nc, "saliency_after", MT_KIND_SALIENCY, FALSE, "panels: heat maps of the fine-tuned model");
  mt_node_class_add_output (nc, "image", MT_KIND_IMAGE, "the grid");
}

static void
mt_preview_init (MtPreview *self)
{
  self->count = DEFAULT_COUNT;
  self->columns = DEFAULT_COLUMNS;
  self->scale = DEFAULT_SCALE;
}
