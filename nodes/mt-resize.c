#include "nodes/mt-resize.h"
#include "base/mt-error.h"
#include "ml/mt-dataset.h"
#include "ml/mt-transform.h"

#include <string.h>

#define DEFAULT_SIZE 64
#define DEFAULT_CROP 0

enum { PROP_0, PROP_SIZE, PROP_CROP };

struct _MtResize {
  MtNode parent_instance;
  int size, crop;
};

G_DEFINE_FINAL_TYPE (MtResize, mt_resize, MT_TYPE_NODE)

static gboolean
resize_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtResize *self = MT_RESIZE (node);
  g_autoptr (MtBundle) in = mt_context_load_bundle (ctx, "dataset", error);
  if (!in || !mt_dataset_check (in, "resize input", error) || !mt_dataset_require_in_memory (in, "resize", error))
    return FALSE;
  MtTensor *images = mt_bundle_get (in, MT_DATASET_IMAGES);
  gint64 n = images->shape[0], c = images->shape[1], h = images->shape[2], w = images->shape[3];
  gint64 hwc[] = { h, w, c };
  g_autoptr (MtTensor) one = mt_tensor_new (MT_DTYPE_U8, 3, hwc);
  g_autoptr (MtTensor) out = NULL;
  for (gint64 i = 0; i < n; i++) {
    const guint8 *src = (const guint8 *) images->data + i * c * h * w;
    for (gint64 p = 0; p < h * w; p++)
      for (gint64 k = 0; k < c; k++)
        ((guint8 *) one->data)[p * c + k] = src[k * h * w + p];
    g_autoptr (MtTensor) r = mt_transform_resize_shorter (one, self->size);
    g_autoptr (MtTensor) t = self->crop > 0 ? mt_transform_center_crop (r, self->crop, self->crop, error)
                                            : mt_tensor_ref (r);
    if (!t)
      return FALSE;
    gint64 oh = t->shape[0], ow = t->shape[1];
    if (!out) {
      gint64 shape[] = { n, c, oh, ow };
      out = mt_tensor_try_alloc (MT_DTYPE_U8, 4, shape, error);
      if (!out)
        return FALSE;
    }
    guint8 *dst = (guint8 *) out->data + i * c * oh * ow;
    for (gint64 p = 0; p < oh * ow; p++)
      for (gint64 k = 0; k < c; k++)
        dst[k * oh * ow + p] = ((const guint8 *) t->data)[p * c + k];
    if ((i & 1023) == 0)
      mt_context_progress (ctx, (double) i / (double) n);
  }
  /* Everything but the images as it was. */
  g_autoptr (MtBundle) b = mt_bundle_new ();
  g_autofree const char **names = mt_bundle_names (in);
  for (guint k = 0; names[k]; k++)
    mt_bundle_set (b, names[k], strcmp (names[k], MT_DATASET_IMAGES) == 0 ? out : mt_bundle_get (in, names[k]));
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, mt_bundle_metadata (in));
  while (g_hash_table_iter_next (&it, &key, &value))
    mt_bundle_set_metadata (b, key, value);
  mt_context_log (ctx, "%" G_GINT64_FORMAT " images %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT
                  "x%" G_GINT64_FORMAT, n, h, w, out->shape[2], out->shape[3]);
  return mt_context_save_bundle (ctx, "dataset", b, error);
}

static void
resize_set_property (GObject *obj, guint id, const GValue *v, GParamSpec *pspec)
{
  MtResize *self = MT_RESIZE (obj);
  switch (id) {
  case PROP_SIZE: self->size = g_value_get_int (v); break;
  case PROP_CROP: self->crop = g_value_get_int (v); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
resize_get_property (GObject *obj, guint id, GValue *v, GParamSpec *pspec)
{
  MtResize *self = MT_RESIZE (obj);
  switch (id) {
  case PROP_SIZE: g_value_set_int (v, self->size); break;
  case PROP_CROP: g_value_set_int (v, self->crop); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
mt_resize_class_init (MtResizeClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = resize_set_property;
  oc->get_property = resize_get_property;
  nc->run = resize_run;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  g_object_class_install_property (oc, PROP_SIZE,
    g_param_spec_int ("size", "Size", "the shorter side, in pixels", 1, 8192, DEFAULT_SIZE, rw));
  g_object_class_install_property (oc, PROP_CROP,
    g_param_spec_int ("crop", "Crop", "then the centre crop x crop (0: none)", 0, 8192, DEFAULT_CROP, rw));
  mt_node_class_set_metadata (nc, "1", "Resizes a dataset's images (antialiased bilinear, as torchvision's Resize)");
  mt_node_class_add_input (nc, "dataset", MT_KIND_DATASET, TRUE, "the samples");
  mt_node_class_add_output (nc, "dataset", MT_KIND_DATASET, "the same samples, resized");
}

static void
mt_resize_init (MtResize *self)
{
  self->size = DEFAULT_SIZE;
  self->crop = DEFAULT_CROP;
}
