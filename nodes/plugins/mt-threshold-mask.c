/* Example plugin: a mask node. It marks the pixels whose saliency reaches a threshold,
 * either absolute or relative to each sample's peak. Build it in the tree, or out of
 * tree with:
 *
 *   cc -shared -fPIC -o threshold-mask.so mt-threshold-mask.c $(pkg-config --cflags --libs masktune-1.0)
 *
 * and load it with MT_PLUGIN_PATH or mtrun --plugin-path. */
#include "masktune.h"

#define MT_TYPE_THRESHOLD_MASK (mt_threshold_mask_get_type ())
G_DECLARE_FINAL_TYPE (MtThresholdMask, mt_threshold_mask, MT, THRESHOLD_MASK, MtNode)

struct _MtThresholdMask {
  MtNode parent_instance;
  double threshold;
  gboolean relative;
};

G_DEFINE_FINAL_TYPE (MtThresholdMask, mt_threshold_mask, MT_TYPE_NODE)

#define DEFAULT_THRESHOLD 0.5
#define DEFAULT_RELATIVE TRUE

enum { PROP_0, PROP_THRESHOLD, PROP_RELATIVE };

static void
set_property (GObject *obj, guint id, const GValue *value, GParamSpec *pspec)
{
  MtThresholdMask *self = MT_THRESHOLD_MASK (obj);
  switch (id) {
  case PROP_THRESHOLD: self->threshold = g_value_get_double (value); break;
  case PROP_RELATIVE: self->relative = g_value_get_boolean (value); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
get_property (GObject *obj, guint id, GValue *value, GParamSpec *pspec)
{
  MtThresholdMask *self = MT_THRESHOLD_MASK (obj);
  switch (id) {
  case PROP_THRESHOLD: g_value_set_double (value, self->threshold); break;
  case PROP_RELATIVE: g_value_set_boolean (value, self->relative); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static gboolean
run (MtNode *node, MtContext *ctx, GError **error)
{
  MtThresholdMask *self = MT_THRESHOLD_MASK (node);
  g_autoptr (MtTensor) sal = mt_context_load_tensor (ctx, "saliency", error);
  if (!sal)
    return FALSE;
  if (sal->dtype != MT_DTYPE_F32 || sal->ndim != 3) {
    g_autofree char *shape = mt_tensor_shape_string (sal);
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID,
                 "saliency must be float32 N x H x W, got %s %s", mt_dtype_name (sal->dtype), shape);
    return FALSE;
  }
  g_autoptr (MtTensor) mask = mt_tensor_new (MT_DTYPE_U8, 3, sal->shape);
  gint64 n = sal->shape[0], hw = sal->shape[1] * sal->shape[2];
  const float *s = sal->data;
  guint8 *m = mask->data;
  for (gint64 i = 0; i < n; i++) {
    const float *si = s + i * hw;
    double cut = self->threshold;
    if (self->relative) {
      float peak = 0;
      for (gint64 k = 0; k < hw; k++)
        peak = MAX (peak, si[k]);
      cut *= peak;
    }
    for (gint64 k = 0; k < hw; k++)
      m[i * hw + k] = !(si[k] >= cut && si[k] > 0);  /* the mask kind: 1 = kept */
  }
  return mt_context_save_tensor (ctx, "mask", mask, error);
}

static void
mt_threshold_mask_class_init (MtThresholdMaskClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = set_property;
  oc->get_property = get_property;
  nc->run = run;
  g_object_class_install_property (oc, PROP_THRESHOLD,
    g_param_spec_double ("threshold", "Threshold", "mask pixels whose saliency is at least this",
                         0.0, G_MAXDOUBLE, DEFAULT_THRESHOLD, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_RELATIVE,
    g_param_spec_boolean ("relative", "Relative", "threshold is a fraction of each sample's peak saliency",
                          DEFAULT_RELATIVE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  mt_node_class_set_metadata (nc, "2", "Example plugin: mask pixels above a saliency threshold");
  mt_node_class_add_input (nc, "saliency", MT_KIND_SALIENCY, TRUE, "heat maps, float32 N x H x W");
  mt_node_class_add_output (nc, "mask", MT_KIND_MASK, "uint8 N x H x W, 1 = kept, 0 = masked (the mask kind)");
}

static void
mt_threshold_mask_init (MtThresholdMask *self)
{
  self->threshold = DEFAULT_THRESHOLD;
  self->relative = DEFAULT_RELATIVE;
}

static gboolean
register_nodes (MtRegistry *reg, GError **error)
{
  return mt_registry_register (reg, "threshold_mask", MT_TYPE_THRESHOLD_MASK, error);
}

MT_PLUGIN_DEFINE ("threshold-mask", "Example mask node: saliency above a threshold", "1.0", register_nodes)
