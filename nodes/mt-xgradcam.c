#include "nodes/mt-xgradcam.h"
#include "ml/mt-dataset.h"
#include "ml/mt-batches.h"
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

/* One batch of the pass, shared by the slices that take it (ml/mt-slices.h); every
 * pointer is in the model's backend memory, each slice using its images' part. */
typedef struct {
  MtCamMethod method;
  const float *x;          /* the batch, NCHW */
  gsize per;               /* floats per image */
  const gint64 *labels;    /* the batch's labels (the target), or NULL (the predicted class) */
  int classes;
  const char *layer;
  float *seed;             /* [batch, classes] */
  float *work;             /* the maps' scratch: c + lh * lw floats per image */
  float *maps;             /* [batch, h, w] */
  int h, w;
} Batch;

/* Images [first, first + count) of the batch on model @m, all on its backend: forward,
 * the one-hot seed, backward to the layer, then the maps. */
static void
saliency_slice (MtModel *m, int first, int count, gpointer data)
{
  Batch *bt = data;
  MtBackend *be = mt_model_get_backend (m);
  /* Eval mode: samples are independent, so one backward of the summed scores gives
   * every sample's own gradient. */
  const float *logits = mt_model_forward (m, bt->x + (gsize) first * bt->per, count, FALSE);
  float *seed = bt->seed + (gsize) first * bt->classes;
  be->ops->cam_seed (be, logits, bt->labels ? bt->labels + first : NULL, count, bt->classes, seed);
  const float *g = mt_model_backward_to (m, seed, bt->layer);
  int c = 0, lh = 0, lw = 0;
  const float *a = mt_model_activation (m, bt->layer, &c, &lh, &lw);
  be->ops->cam_maps (be, bt->method, a, g, count, c, lh, lw, bt->h, bt->w,
                     bt->work + (gsize) first * mt_cam_work_floats (1, c, lh, lw),
                     bt->maps + (gsize) first * bt->h * bt->w);
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
  gboolean by_label = self->target == MT_TARGET_LABEL, host = mt_backend_is_host (be);
  /* The pass's buffers, made once: on a host backend the maps land in the output itself. */
  g_auto (MtStaging) seed = { 0 }, work = { 0 }, dmaps = { 0 };
  Batch bt = { self->method, NULL, per, NULL, classes, layer,
               mt_staging_device (&seed, be, (gsize) bs * classes * sizeof (float)),
               mt_staging_device (&work, be, mt_cam_work_floats (bs, lc, lh, lw) * sizeof (float)),
               host ? NULL : mt_staging_device (&dmaps, be, (gsize) bs * h * w * sizeof (float)), (int) h, (int) w };
  /* A device that can hold the dataset gathers each batch itself. */
  g_autoptr (MtDeviceData) dd = mt_device_data_new (be, data);
  g_autoptr (MtBatches) src = mt_batches_new (model, data, dd, NULL, NULL, 0, bs);
  g_autoptr (MtSlices) slices = mt_slices_new (model, 0);  /* after keep_output: the replicas keep it too */
  GError *lerr = NULL;
  int b = 0;
  for (gint64 start = 0; mt_batches_next (src, &b, &bt.x, by_label ? &bt.labels : NULL, &lerr); start += b) {
    float *out = (float *) maps->data + start * h * w;
    if (host)
      bt.maps = out;
    mt_slices_map (slices, b, saliency_slice, &bt);
    if (!host)
      be->ops->download (be, out, bt.maps, (gsize) b * h * w * sizeof (float));
    mt_context_progress (ctx, (double) (start + b) / (double) n);
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
