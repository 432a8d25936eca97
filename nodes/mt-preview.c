#include "nodes/mt-preview.h"
#include "ml/mt-dataset.h"
#include "ml/mt-loader.h"
#include "ml/mt-panels.h"
#include "runtime/mt-enum.h"
#include "base/mt-error.h"

#include <string.h>

struct _MtPreview {
  MtNode parent_instance;
  int count, columns, scale, seed;
  MtDatasetPick sample;
};

G_DEFINE_FINAL_TYPE (MtPreview, mt_preview, MT_TYPE_NODE)

#define DEFAULT_COUNT 64
#define DEFAULT_COLUMNS 8
#define DEFAULT_SCALE 3
#define DEFAULT_SAMPLE MT_DATASET_PICK_PER_GROUP
#define DEFAULT_SEED 0

enum { PROP_0, PROP_COUNT, PROP_COLUMNS, PROP_SCALE, PROP_SAMPLE, PROP_SEED };

MT_DEFINE_ENUM_TYPE (mt_preview_sample_get_type, "MtPreviewSample",
                     { MT_DATASET_PICK_FIRST, "MT_DATASET_PICK_FIRST", "first" },
                     { MT_DATASET_PICK_RANDOM, "MT_DATASET_PICK_RANDOM", "random" },
                     { MT_DATASET_PICK_PER_GROUP, "MT_DATASET_PICK_PER_GROUP", "per_group" })

/* "3/1": class 3, group 1, as the grid writes it. */
static char *
preview_row_label (MtBundle *b, gint64 i)
{
  MtTensor *labels = mt_bundle_get (b, MT_DATASET_LABELS);
  MtTensor *groups = mt_bundle_get (b, MT_DATASET_GROUPS);
  gint64 l = ((const gint64 *) labels->data)[i];
  return groups ? g_strdup_printf ("%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT, l, ((const gint64 *) groups->data)[i])
                : g_strdup_printf ("%" G_GINT64_FORMAT, l);
}

/* Rows @rows[0..n) of @t (a map or mask per sample), as a tensor of n. */
static MtTensor *
preview_rows (MtTensor *t, const gint64 *rows, guint n, const char *what, GError **error)
{
  if (t->ndim < 1 || t->shape[0] < 1) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s holds no samples", what);
    return NULL;
  }
  gsize row = t->nbytes / (gsize) t->shape[0];
  gint64 shape[MT_TENSOR_MAX_DIMS];
  memcpy (shape, t->shape, sizeof shape);
  shape[0] = n;
  MtTensor *out = mt_tensor_new (t->dtype, t->ndim, shape);
  for (guint i = 0; i < n; i++) {
    if (rows[i] >= t->shape[0]) {
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s has %" G_GINT64_FORMAT " samples, fewer than the dataset",
                   what, t->shape[0]);
      mt_tensor_unref (out);
      return NULL;
    }
    memcpy ((guint8 *) out->data + i * row, (const guint8 *) t->data + rows[i] * row, row);
  }
  return out;
}

static gboolean
preview_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtPreview *self = MT_PREVIEW (node);
  g_autoptr (MtBundle) b = mt_context_load_bundle (ctx, "dataset", error);
  if (!b || !mt_dataset_check (b, "preview input", error))
    return FALSE;
  guint n = 0;
  g_autofree gint64 *rows = mt_dataset_pick (b, self->sample, (guint) self->count, (guint64) self->seed, &n);
  gboolean panels_given = mt_context_has_input (ctx, "saliency") || mt_context_has_input (ctx, "mask") ||
                          mt_context_has_input (ctx, "masked") || mt_context_has_input (ctx, "saliency_after");
  if (!panels_given) {
    g_autoptr (MtTensor) grid = mt_dataset_render_grid (b, rows, n, (guint) self->columns, (guint) self->scale, error);
    return grid && mt_context_save_image (ctx, "image", grid, error);
  }
  /* Every panel holds just the rows drawn, in order (a streamed dataset decodes only those). */
  g_autoptr (GArray) panels = g_array_new (FALSE, TRUE, sizeof (MtPanel));
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func ((GDestroyNotify) mt_tensor_unref);
  g_autofree gint64 *at = g_new (gint64, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    at[i] = i;
  MtTensor *picked = mt_loader_gather (b, rows, n, error);
  if (!picked)
    return FALSE;
  g_ptr_array_add (keep, picked);
  MtPanel first = { MT_PANEL_IMAGE, picked, "image" };
  g_array_append_val (panels, first);
  const struct { const char *port; MtPanelKind kind; const char *title; } order[] = {
    { "saliency", MT_PANEL_HEAT, "heat map" }, { "mask", MT_PANEL_MASK, "mask" },
    { "masked", MT_PANEL_IMAGE, "masked" }, { "saliency_after", MT_PANEL_HEAT, "heat map after" },
  };
  for (guint k = 0; k < G_N_ELEMENTS (order); k++) {
    if (!mt_context_has_input (ctx, order[k].port))
      continue;
    MtPanel pn = { order[k].kind, NULL, order[k].title };
    if (order[k].kind == MT_PANEL_IMAGE) {
      g_autoptr (MtBundle) mb = mt_context_load_bundle (ctx, order[k].port, error);
      if (!mb || !mt_dataset_check (mb, order[k].port, error))
        return FALSE;
      if (mt_dataset_size (mb) != mt_dataset_size (b)) {
        g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s has %" G_GINT64_FORMAT " samples, the dataset %" G_GINT64_FORMAT,
                     order[k].port, mt_dataset_size (mb), mt_dataset_size (b));
        return FALSE;
      }
      pn.t = mt_loader_gather (mb, rows, n, error);
    } else {
      g_autoptr (MtTensor) t = mt_context_load_tensor (ctx, order[k].port, error);
      pn.t = t ? preview_rows (t, rows, n, order[k].port, error) : NULL;
    }
    if (!pn.t)
      return FALSE;
    g_ptr_array_add (keep, (MtTensor *) pn.t);
    g_array_append_val (panels, pn);
  }
  g_autoptr (GPtrArray) labels = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (labels, preview_row_label (b, rows[i]));
  g_autoptr (MtTensor) img = mt_panels_render ((const MtPanel *) panels->data, panels->len, at, n, self->scale,
                                               (const char *const *) labels->pdata, error);
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
  case PROP_SAMPLE: self->sample = g_value_get_enum (value); break;
  case PROP_SEED: self->seed = g_value_get_int (value); break;
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
  case PROP_SAMPLE: g_value_set_enum (value, self->sample); break;
  case PROP_SEED: g_value_set_int (value, self->seed); break;
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
    g_param_spec_int ("count", "Count", "how many samples to show", 1, 4096, DEFAULT_COUNT, rw));
  g_object_class_install_property (oc, PROP_SAMPLE,
    g_param_spec_enum ("sample", "Sample", "which samples: per_group (each group in turn, so the rare ones are "
                       "seen), first, or random", mt_preview_sample_get_type (), DEFAULT_SAMPLE, rw));
  g_object_class_install_property (oc, PROP_SEED,
    g_param_spec_int ("seed", "Seed", "sample=random: the seed", 0, G_MAXINT, DEFAULT_SEED, rw));
  g_object_class_install_property (oc, PROP_COLUMNS,
    g_param_spec_int ("columns", "Columns", "samples per row", 1, 256, DEFAULT_COLUMNS, rw));
  g_object_class_install_property (oc, PROP_SCALE,
    g_param_spec_int ("scale", "Scale", "magnification of each image", 1, 16, DEFAULT_SCALE, rw));
  mt_node_class_set_metadata (nc, "3",
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
  self->sample = DEFAULT_SAMPLE;
  self->seed = DEFAULT_SEED;
}
