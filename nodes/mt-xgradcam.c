#include "nodes/mt-xgradcam.h"
#include "ml/mt-dataset.h"
#include "ml/mt-loader.h"
#include "runtime/mt-enum.h"
#include "nodes/mt-resolution.h"
#include "base/mt-error.h"
#include "ml/mt-model.h"
#include "ml/mt-saliency.h"
#include "ml/mt-slices.h"
#include "ml/mt-staging.h"

#include <string.h>

typedef enum { MT_TARGET_PREDICTED, MT_TARGET_LABEL } MtCamTarget;

struct _MtXgradcam {
  MtNode parent_instance;
  MtCamMethod method;
  MtCamTarget target;
  int batch_size;
  MtResolution resolution;
  char *target_layer;
};

G_DEFINE_FINAL_TYPE (MtXgradcam, mt_xgradcam, MT_TYPE_NODE)

#define DEFAULT_METHOD MT_CAM_XGRADCAM
#define DEFAULT_TARGET MT_TARGET_PREDICTED
#define DEFAULT_BATCH_SIZE 256
#define DEFAULT_RESOLUTION MT_RESOLUTION_INPUT
#define DEFAULT_TARGET_LAYER ""

enum { PROP_0, PROP_METHOD, PROP_TARGET, PROP_BATCH_SIZE, PROP_RESOLUTION, PROP_TARGET_LAYER };

MT_DEFINE_ENUM_TYPE (xgradcam_method_type, "MtCamMethod",
                     { MT_CAM_XGRADCAM, "MT_CAM_XGRADCAM", "xgradcam" },
                     { MT_CAM_GRADCAM, "MT_CAM_GRADCAM", "gradcam" },
                     { MT_CAM_GRADCAM_PP, "MT_CAM_GRADCAM_PP", "gradcam_pp" },
                     { MT_CAM_LAYERCAM, "MT_CAM_LAYERCAM", "layercam" })
MT_DEFINE_ENUM_TYPE (xgradcam_target_type, "MtCamTarget",
                     { MT_TARGET_PREDICTED, "MT_TARGET_PREDICTED", "predicted" },
                     { MT_TARGET_LABEL, "MT_TARGET_LABEL", "label" })

/* One batch of the pass, shared by the slices that take it (ml/mt-slices.h). */
typedef struct {
  MtXgradcam *self;
  const float *x;          /* the batch, NCHW, in the model's backend memory */
  gsize per;               /* floats per image */
  const gint64 *labels;    /* the dataset's */
  gint64 start;            /* the batch's first image in the dataset */
  int classes;
  const char *layer;
  float *out;              /* the maps, [n, h, w] */
  int h, w;
} Batch;

/* Images [first, first + count) of the batch on model @m. */
static void
saliency_slice (MtModel *m, int first, int count, gpointer data)
{
  Batch *bt = data;
  MtXgradcam *self = bt->self;
  int classes = bt->classes;
  /* Eval mode: samples are independent, so one backward of the summed scores gives
   * every sample's own gradient. */
  MtBackend *be = mt_model_get_backend (m);
  g_autofree void *zcopy = NULL, *gcopy = NULL, *acopy = NULL;
  const float *logits = mt_staging_read (be, mt_model_forward (m, bt->x + (gsize) first * bt->per, count, FALSE),
                                         (gsize) count * classes * sizeof (float), &zcopy);
  g_autofree float *dlogits = g_new0 (float, (gsize) count * classes);
  for (int i = 0; i < count; i++) {
    int t = 0;
    if (self->target == MT_TARGET_LABEL) {
      gint64 l = bt->labels[bt->start + first + i];
      t = (int) CLAMP (l, 0, classes - 1);
    } else {
      for (int k = 1; k < classes; k++)
        if (logits[(gsize) i * classes + k] > logits[(gsize) i * classes + t])
          t = k;
    }
    dlogits[(gsize) i * classes + t] = 1.0f;
  }
  MtStaging ds = { 0 };
  const float *gd = mt_model_backward_to (m, mt_staging_put (&ds, be, dlogits, (gsize) count * classes * sizeof (float)),
                                          bt->layer);
  int c = 0, ah = 0, aw = 0;
  const float *ad = mt_model_activation (m, bt->layer, &c, &ah, &aw);
  /* The maps are made on the host from the layer's activation and gradient. */
  gsize bytes = (gsize) count * c * ah * aw * sizeof (float);
  const float *g = mt_staging_read (be, gd, bytes, &gcopy), *a = mt_staging_read (be, ad, bytes, &acopy);
  mt_staging_clear (&ds);
  g_autofree float *cam = g_new (float, ah * aw);
  for (int i = 0; i < count; i++) {
    gsize off = (gsize) i * c * ah * aw;
    float *dst = bt->out + (gsize) (bt->start + first + i) * bt->h * bt->w;
    mt_cam_compute (self->method, a + off, g + off, c, ah * aw, cam);
    mt_cam_scale (cam, ah * aw);
    if (self->resolution == MT_RESOLUTION_CAM)
      memcpy (dst, cam, (gsize) ah * aw * sizeof (float));
    else
      mt_resize_bilinear (cam, ah, aw, dst, bt->h, bt->w);
  }
}

static gboolean
xgradcam_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtXgradcam *self = MT_XGRADCAM (node);
  g_autoptr (MtBackend) be = mt_backend_open (mt_context_get_backend (ctx), error);
  if (!be)
    return FALSE;
  g_autoptr (MtBundle) weights = mt_context_load_bundle (ctx, "model", error);
  if (!weights)
    return FALSE;
  g_autoptr (MtModel) model = mt_model_from_bundle (weights, mt_context_get_input_path (ctx, "model"), error);
  if (!model)
    return FALSE;
  g_autoptr (MtBundle) data = mt_context_load_bundle (ctx, "dataset", error);
  if (!data || !mt_dataset_check (data, "saliency input", error))
    return FALSE;
  const MtArch *arch = mt_model_arch (model);
  MtTensor *labels = mt_bundle_get (data, MT_DATASET_LABELS);
  gint64 ishape[4];
  mt_dataset_images_shape (data, ishape);
  if (!mt_model_fit (&model, ishape, error) || !mt_model_set_backend (model, be, error))
    return FALSE;
  const char *layer = self->target_layer && *self->target_layer ? self->target_layer : arch->target_layer;
  if (!mt_model_has_layer (model, layer)) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s has no layer '%s' (its default: %s)", arch->name, layer,
                 arch->target_layer);
    return FALSE;
  }
  mt_model_keep_output (model, layer);  /* a batch norm's output, if that is the target */
  gint64 n = ishape[0], h = ishape[2], w = ishape[3];
  int classes = mt_model_num_classes (model), bs = self->batch_size;
  gsize per = (gsize) (ishape[1] * h * w);
  /* At the input's size, or at the layer's own (for masking at that resolution). */
  int lc = 0, lh = 0, lw = 0;
  mt_model_activation (model, layer, &lc, &lh, &lw);
  if (self->resolution == MT_RESOLUTION_CAM) {
    h = lh;
    w = lw;
  }
  gint64 shape[] = { n, h, w };
  g_autoptr (MtTensor) maps = mt_tensor_new (MT_DTYPE_F32, 3, shape);
  g_autoptr (MtLoader) loader = mt_loader_new (data, 0);
  g_autoptr (MtSlices) slices = mt_slices_new (model, 0);  /* after keep_output: the replicas keep it too */
  mt_loader_start (loader, NULL, n, bs, NULL, 0);
  Batch bt = { self, NULL, per, labels->data, 0, classes, layer, maps->data, (int) h, (int) w };
  const guint8 *src;
  int b = 0;
  GError *lerr = NULL;
  for (; (src = mt_loader_next (loader, &b, NULL, &lerr)); bt.start += b) {
    bt.x = mt_model_load_input (model, src, (gsize) b);
    mt_slices_map (slices, b, saliency_slice, &bt);
    mt_context_progress (ctx, (double) (bt.start + b) / (double) n);
  }
  if (lerr) {
    g_propagate_error (error, lerr);
    return FALSE;
  }
  return mt_backend_sync (be, error) && mt_context_save_tensor (ctx, "saliency", maps, error);
}

static void
xgradcam_set_property (GObject *obj, guint id, const GValue *v, GParamSpec *pspec)
{
  MtXgradcam *self = MT_XGRADCAM (obj);
  switch (id) {
  case PROP_METHOD: self->method = g_value_get_enum (v); break;
  case PROP_TARGET: self->target = g_value_get_enum (v); break;
  case PROP_BATCH_SIZE: self->batch_size = g_value_get_int (v); break;
  case PROP_RESOLUTION: self->resolution = g_value_get_enum (v); break;
  case PROP_TARGET_LAYER:
    g_free (self->target_layer);
    self->target_layer = g_value_dup_string (v);
    break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
xgradcam_get_property (GObject *obj, guint id, GValue *v, GParamSpec *pspec)
{
  MtXgradcam *self = MT_XGRADCAM (obj);
  switch (id) {
  case PROP_METHOD: g_value_set_enum (v, self->method); break;
  case PROP_TARGET: g_value_set_enum (v, self->target); break;
  case PROP_BATCH_SIZE: g_value_set_int (v, self->batch_size); break;
  case PROP_RESOLUTION: g_value_set_enum (v, self->resolution); break;
  case PROP_TARGET_LAYER: g_value_set_string (v, self->target_layer); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
xgradcam_finalize (GObject *obj)
{
  g_free (MT_XGRADCAM (obj)->target_layer);
  G_OBJECT_CLASS (mt_xgradcam_parent_class)->finalize (obj);
}

static void
mt_xgradcam_class_init (MtXgradcamClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->finalize = xgradcam_finalize;
  oc->set_property = xgradcam_set_property;
  oc->get_property = xgradcam_get_property;
  nc->run = xgradcam_run;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  g_object_class_install_property (oc, PROP_METHOD,
    g_param_spec_enum ("method", "Method", "how channels are weighted", xgradcam_method_type (), DEFAULT_METHOD, rw));
  g_object_class_install_property (oc, PROP_TARGET,
    g_param_spec_enum ("target", "Target", "the class whose logit is explained", xgradcam_target_type (), DEFAULT_TARGET, rw));
  g_object_class_install_property (oc, PROP_BATCH_SIZE,
    g_param_spec_int ("batch-size", "Batch size", "samples per pass", 1, 65536, DEFAULT_BATCH_SIZE, rw));
  g_object_class_install_property (oc, PROP_RESOLUTION,
    g_param_spec_enum ("resolution", "Resolution", "input: maps upsampled to the image size; cam: at the layer's size",
                       MT_TYPE_RESOLUTION, DEFAULT_RESOLUTION, rw));
  g_object_class_install_property (oc, PROP_TARGET_LAYER,
    g_param_spec_string ("target-layer", "Target layer", "the layer whose activations are explained, or a stage "
                         "(\"layer4\": its last block); empty: the architecture's (small_cnn: backbone.12, "
                         "ImageNet ResNets: layer4, CIFAR ResNets: layer3)", DEFAULT_TARGET_LAYER, rw));
  mt_node_class_set_metadata (nc, "1", "Saliency maps at the model's target layer (XGradCAM, Grad-CAM, ...)");
  mt_node_class_set_uses_backend (nc, TRUE);
  mt_node_class_add_input (nc, "model", MT_KIND_MODEL, TRUE, "the model to explain");
  mt_node_class_add_input (nc, "dataset", MT_KIND_DATASET, TRUE, "the samples");
  mt_node_class_add_output (nc, "saliency", MT_KIND_SALIENCY, "float32 N x H x W in [0, 1] (H x W: see resolution)");
}

static void
mt_xgradcam_init (MtXgradcam *self)
{
  self->method = DEFAULT_METHOD;
  self->target = DEFAULT_TARGET;
  self->batch_size = DEFAULT_BATCH_SIZE;
  self->resolution = DEFAULT_RESOLUTION;
  self->target_layer = g_strdup (DEFAULT_TARGET_LAYER);
}
