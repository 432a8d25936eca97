#include "nodes/mt-predict.h"
#include "base/mt-error.h"
#include "ml/mt-dataset.h"
#include "ml/mt-model.h"
#include "ml/mt-train.h"

#include <math.h>

struct _MtPredict {
  MtNode parent_instance;
  int batch_size;
};

G_DEFINE_FINAL_TYPE (MtPredict, mt_predict, MT_TYPE_NODE)

#define DEFAULT_BATCH_SIZE 256

enum { PROP_0, PROP_BATCH_SIZE };

static gboolean
predict_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtPredict *self = MT_PREDICT (node);
  g_autoptr (MtBackend) be = mt_backend_open (mt_context_get_backend (ctx), error);
  if (!be)
    return FALSE;
  g_autoptr (MtBundle) w = mt_context_load_bundle (ctx, "model", error);
  g_autoptr (MtModel) model = w ? mt_model_from_bundle (w, mt_context_get_input_path (ctx, "model"), error) : NULL;
  if (!model)
    return FALSE;
  g_autoptr (MtBundle) data = mt_context_load_bundle (ctx, "dataset", error);
  if (!data || !mt_dataset_check (data, "predict input", error))
    return FALSE;
  gint64 shape[4];
  mt_dataset_images_shape (data, shape);
  if (!mt_model_fit (&model, shape, error) || !mt_model_set_backend (model, be, error))
    return FALSE;
  gint64 n = shape[0];
  int classes = mt_model_num_classes (model);
  g_autofree float *logits = mt_train_predict (model, data, self->batch_size, NULL, NULL, error);
  if (!logits)
    return FALSE;
  gint64 ls[] = { n, classes }, vs[] = { n };
  g_autoptr (MtTensor) lt = mt_tensor_new_from_data (MT_DTYPE_F32, 2, ls, logits);
  g_autoptr (MtTensor) pred = mt_tensor_new (MT_DTYPE_I64, 1, vs);
  g_autoptr (MtTensor) conf = mt_tensor_new (MT_DTYPE_F32, 1, vs);
  for (gint64 i = 0; i < n; i++) {
    const float *z = logits + i * classes;
    int best = 0;
    for (int k = 1; k < classes; k++)
      if (z[k] > z[best])
        best = k;
    double sum = 0;  /* the softmax's largest probability, computed stably */
    for (int k = 0; k < classes; k++)
      sum += exp ((double) z[k] - z[best]);
    ((gint64 *) pred->data)[i] = best;
    ((float *) conf->data)[i] = (float) (1.0 / sum);
  }
  return mt_context_save_tensor (ctx, "logits", lt, error) &&
         mt_context_save_tensor (ctx, "predictions", pred, error) &&
         mt_context_save_tensor (ctx, "confidences", conf, error);
}

static void
predict_set_property (GObject *obj, guint id, const GValue *value, GParamSpec *pspec)
{
  if (id == PROP_BATCH_SIZE)
    MT_PREDICT (obj)->batch_size = g_value_get_int (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
}

static void
predict_get_property (GObject *obj, guint id, GValue *value, GParamSpec *pspec)
{
  if (id == PROP_BATCH_SIZE)
    g_value_set_int (value, MT_PREDICT (obj)->batch_size);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
}

static void
mt_predict_class_init (MtPredictClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = predict_set_property;
  oc->get_property = predict_get_property;
  nc->run = predict_run;
  g_object_class_install_property (oc, PROP_BATCH_SIZE,
    g_param_spec_int ("batch-size", "Batch size", "samples per pass", 1, 65536, DEFAULT_BATCH_SIZE,
                      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  mt_node_class_set_metadata (nc, "1", "A model's logits, predictions and confidences on a dataset (eval mode)");
  mt_node_class_set_uses_backend (nc, TRUE);
  mt_node_class_add_input (nc, "model", MT_KIND_MODEL, TRUE, "the model");
  mt_node_class_add_input (nc, "dataset", MT_KIND_DATASET, TRUE, "the samples");
  mt_node_class_add_output (nc, "logits", MT_KIND_TENSOR, "float32 N x classes");
  mt_node_class_add_output (nc, "predictions", MT_KIND_TENSOR, "int64 N: the argmax");
  mt_node_class_add_output (nc, "confidences", MT_KIND_TENSOR, "float32 N: the largest softmax probability");
}

static void
mt_predict_init (MtPredict *self)
{
  self->batch_size = DEFAULT_BATCH_SIZE;
}
