#include "nodes/mt-masker.h"
#include "ml/mt-dataset.h"
#include "runtime/mt-enum.h"
#include "nodes/mt-resolution.h"
#include "base/mt-error.h"
#include "ml/mt-mask.h"
#include "ml/mt-mask-pass.h"

#include <string.h>

typedef enum { MT_UPSAMPLE_NEAREST, MT_UPSAMPLE_BILINEAR } MtMaskUpsample;

struct _MtMasker {
  MtNode parent_instance;
  MtMaskRule rule;
  MtResolution resolution;
  MtMaskUpsample upsample;
};

G_DEFINE_FINAL_TYPE (MtMasker, mt_masker, MT_TYPE_NODE)

#define DEFAULT_METHOD MT_MASK_MEAN_STD
#define DEFAULT_K 2.0
#define DEFAULT_TAU 0.5
#define DEFAULT_FRACTION 0.1
#define DEFAULT_FACTOR 1.0
#define DEFAULT_RESOLUTION MT_RESOLUTION_INPUT
#define DEFAULT_UPSAMPLE MT_UPSAMPLE_NEAREST

enum { PROP_0, PROP_METHOD, PROP_K, PROP_TAU, PROP_FRACTION, PROP_FACTOR, PROP_RESOLUTION, PROP_UPSAMPLE };

MT_DEFINE_ENUM_TYPE (masker_method_type, "MtMaskMethod",
                     { MT_MASK_MEAN_STD, "MT_MASK_MEAN_STD", "mean_std" },
                     { MT_MASK_THRESHOLD, "MT_MASK_THRESHOLD", "threshold" },
                     { MT_MASK_TOP_K, "MT_MASK_TOP_K", "top_k" },
                     { MT_MASK_MEAN_SCALE, "MT_MASK_MEAN_SCALE", "mean_scale" })
MT_DEFINE_ENUM_TYPE (masker_upsample_type, "MtMaskUpsample",
                     { MT_UPSAMPLE_NEAREST, "MT_UPSAMPLE_NEAREST", "nearest" },
                     { MT_UPSAMPLE_BILINEAR, "MT_UPSAMPLE_BILINEAR", "bilinear" })

static gboolean
masker_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtMasker *self = MT_MASKER (node);
  g_autoptr (MtBundle) data = mt_context_load_bundle (ctx, "dataset", error);
  if (!data || !mt_dataset_check (data, "masker input", error))
    return FALSE;
  g_autoptr (MtTensor) heat = mt_context_load_tensor (ctx, "saliency", error);
  if (!heat)
    return FALSE;
  gint64 ishape[4];
  mt_dataset_images_shape (data, ishape);
  gint64 n = ishape[0], h = ishape[2], w = ishape[3];
  /* input: maps at the image size; cam: at the layer's (smaller) size, upsampled after. */
  gboolean at_cam = self->resolution == MT_RESOLUTION_CAM;
  if (heat->dtype != MT_DTYPE_F32 || heat->ndim != 3 || heat->shape[0] != n ||
      (!at_cam && (heat->shape[1] != h || heat->shape[2] != w)) ||
      (at_cam && (heat->shape[1] > h || heat->shape[2] > w))) {
    g_autofree char *hs = mt_tensor_shape_string (heat);
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "heat maps %s %s do not fit the images [%" G_GINT64_FORMAT ", %"
                 G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]%s",
                 mt_dtype_name (heat->dtype), hs, ishape[0], ishape[1], ishape[2], ishape[3],
                 at_cam ? "" : " (maps at the layer's size need resolution=\"cam\")");
    return FALSE;
  }
  gint64 hh = heat->shape[1], hw = heat->shape[2];
  int len = (int) (hh * hw);
  gint64 bad = mt_mask_find_nonfinite (heat->data, n, len);
  if (bad >= 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID,
                 "heat map %" G_GINT64_FORMAT " holds a NaN or an infinity, which no masking rule can order", bad);
    return FALSE;
  }
  g_autoptr (MtBackend) be = mt_backend_open (mt_context_get_backend (ctx), error);
  if (!be)
    return FALSE;
  gint64 mshape[] = { n, h, w };
  g_autoptr (MtTensor) mask = mt_tensor_new (MT_DTYPE_U8, 3, mshape);
  /* Masks at the maps' size: the output itself, or (maps at the layer's size) upsampled after. */
  gboolean same = hh == h && hw == w;
  g_autofree guint8 *small = same ? NULL : g_new (guint8, (gsize) n * len);
  if (!mt_mask_pass (be, &self->rule, heat->data, n, len, same ? (guint8 *) mask->data : small, error))
    return FALSE;
  g_autoptr (JsonArray) fractions = json_array_new ();
  gint64 total = 0;
  for (gint64 i = 0; i < n; i++) {
    guint8 *keep = (guint8 *) mask->data + i * h * w;
    if (!same)
      mt_mask_upsample (small + i * len, (int) hh, (int) hw, keep, (int) h, (int) w,
                        self->upsample == MT_UPSAMPLE_BILINEAR);
    gint64 m = 0;
    for (gint64 p = 0; p < h * w; p++)
      m += !keep[p];
    total += m;
    json_array_add_double_element (fractions, (double) m / (double) (h * w));
  }
  /* The maps and the input's images are not needed again: let them go before the masked
   * copy is made and written, which is the node's peak. */
  g_clear_pointer (&heat, mt_tensor_unref);
  g_autoptr (MtBundle) out = mt_dataset_apply_mask (data, mask);
  g_clear_pointer (&data, mt_bundle_unref);

  double overall = n ? (double) total / (double) (n * h * w) : 0;
  mt_context_log (ctx, "masked %.2f%% of the pixels", 100 * overall);
  JsonObject *o = json_object_new ();
  json_object_set_double_member (o, "masked_fraction", overall);
  json_object_set_array_member (o, "per_sample", json_array_ref (fractions));
  g_autoptr (JsonNode) report = json_node_init_object (json_node_alloc (), o);
  json_object_unref (o);
  return mt_context_save_bundle (ctx, "dataset", out, error) &&
         mt_context_save_tensor (ctx, "mask", mask, error) &&
         mt_context_save_json (ctx, "report", report, error);
}

static void
masker_set_property (GObject *obj, guint id, const GValue *v, GParamSpec *pspec)
{
  MtMaskRule *r = &MT_MASKER (obj)->rule;
  switch (id) {
  case PROP_METHOD: r->method = g_value_get_enum (v); break;
  case PROP_K: r->k = g_value_get_double (v); break;
  case PROP_TAU: r->tau = g_value_get_double (v); break;
  case PROP_FRACTION: r->fraction = g_value_get_double (v); break;
  case PROP_FACTOR: r->factor = g_value_get_double (v); break;
  case PROP_RESOLUTION: MT_MASKER (obj)->resolution = g_value_get_enum (v); break;
  case PROP_UPSAMPLE: MT_MASKER (obj)->upsample = g_value_get_enum (v); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
masker_get_property (GObject *obj, guint id, GValue *v, GParamSpec *pspec)
{
  MtMaskRule *r = &MT_MASKER (obj)->rule;
  switch (id) {
  case PROP_METHOD: g_value_set_enum (v, r->method); break;
  case PROP_K: g_value_set_double (v, r->k); break;
  case PROP_TAU: g_value_set_double (v, r->tau); break;
  case PROP_FRACTION: g_value_set_double (v, r->fraction); break;
  case PROP_FACTOR: g_value_set_double (v, r->factor); break;
  case PROP_RESOLUTION: g_value_set_enum (v, MT_MASKER (obj)->resolution); break;
  case PROP_UPSAMPLE: g_value_set_enum (v, MT_MASKER (obj)->upsample); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
mt_masker_class_init (MtMaskerClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = masker_set_property;
  oc->get_property = masker_get_property;
  nc->run = masker_run;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  g_object_class_install_property (oc, PROP_METHOD,
    g_param_spec_enum ("method", "Method", "the masking rule", masker_method_type (), DEFAULT_METHOD, rw));
  g_object_class_install_property (oc, PROP_K,
    g_param_spec_double ("k", "k", "mean_std: mask heat > mean + k * std of the positive heat", 0, 100, DEFAULT_K, rw));
  g_object_class_install_property (oc, PROP_TAU,
    g_param_spec_double ("tau", "tau", "threshold: mask heat > tau", 0, 1, DEFAULT_TAU, rw));
  g_object_class_install_property (oc, PROP_FRACTION,
    g_param_spec_double ("fraction", "Fraction", "top_k: the fraction of pixels to mask, hottest first", 0, 1, DEFAULT_FRACTION, rw));
  g_object_class_install_property (oc, PROP_FACTOR,
    g_param_spec_double ("factor", "Factor", "mean_scale: mask heat > factor * mean heat", 0, 1000, DEFAULT_FACTOR, rw));
  g_object_class_install_property (oc, PROP_RESOLUTION,
    g_param_spec_enum ("resolution", "Resolution",
                       "input: threshold maps at the image size (official); cam: at the layer's size, then upsample",
                       MT_TYPE_RESOLUTION, DEFAULT_RESOLUTION, rw));
  g_object_class_install_property (oc, PROP_UPSAMPLE,
    g_param_spec_enum ("upsample", "Upsample", "cam resolution: how the mask is enlarged", masker_upsample_type (),
                       DEFAULT_UPSAMPLE, rw));
  mt_node_class_set_metadata (nc, "1", "Masks the most salient pixels (MaskTune's masking step)");
  mt_node_class_add_input (nc, "dataset", MT_KIND_DATASET, TRUE, "the samples to mask");
  mt_node_class_add_input (nc, "saliency", MT_KIND_SALIENCY, TRUE, "heat maps N x H x W");
  mt_node_class_add_output (nc, "dataset", MT_KIND_DATASET, "the masked samples (0 in every channel)");
  mt_node_class_add_output (nc, "mask", MT_KIND_MASK, "uint8 N x H x W, 1 = kept");
  mt_node_class_add_output (nc, "report", MT_KIND_REPORT, "masked fraction per sample and overall");
}

static void
mt_masker_init (MtMasker *self)
{
  self->rule = (MtMaskRule) { DEFAULT_METHOD, DEFAULT_K, DEFAULT_TAU, DEFAULT_FRACTION, DEFAULT_FACTOR };
  self->resolution = DEFAULT_RESOLUTION;
  self->upsample = DEFAULT_UPSAMPLE;
}
