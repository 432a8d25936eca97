#include "mt-preview.h"
#include "mt-dataset.h"

struct _MtPreview {
  MtNode parent_instance;
  int count, columns, scale;
};

G_DEFINE_FINAL_TYPE (MtPreview, mt_preview, MT_TYPE_NODE)

enum { PROP_0, PROP_COUNT, PROP_COLUMNS, PROP_SCALE };

static gboolean
run (MtNode *node, MtContext *ctx, GError **error)
{
  MtPreview *self = MT_PREVIEW (node);
  g_autoptr (MtBundle) b = mt_context_load_bundle (ctx, "dataset", error);
  if (!b)
    return FALSE;
  g_autoptr (MtTensor) grid = mt_dataset_render_grid (b, (guint) self->count, (guint) self->columns,
                                                      (guint) self->scale, error);
  return grid && mt_context_save_image (ctx, "image", grid, error);
}

static void
set_property (GObject *obj, guint id, const GValue *value, GParamSpec *pspec)
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
get_property (GObject *obj, guint id, GValue *value, GParamSpec *pspec)
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
  oc->set_property = set_property;
  oc->get_property = get_property;
  nc->run = run;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  g_object_class_install_property (oc, PROP_COUNT,
    g_param_spec_int ("count", "Count", "how many samples to show (the first ones)", 1, 4096, 64, rw));
  g_object_class_install_property (oc, PROP_COLUMNS,
    g_param_spec_int ("columns", "Columns", "samples per row", 1, 256, 8, rw));
  g_object_class_install_property (oc, PROP_SCALE,
    g_param_spec_int ("scale", "Scale", "magnification of each image", 1, 16, 3, rw));
  mt_node_class_set_metadata (nc, "1",
    "PNG grid of samples: label/group under each, orange frame = patched");
  mt_node_class_add_input (nc, "dataset", MT_KIND_DATASET, TRUE, "the samples to show");
  mt_node_class_add_output (nc, "image", MT_KIND_IMAGE, "the grid");
}

static void
mt_preview_init (MtPreview *self)
{
  self->count = 64;
  self->columns = 8;
  self->scale = 3;
}
