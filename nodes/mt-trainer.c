#include "nodes/mt-trainer.h"
#include "ml/mt-dataset.h"
#include "base/mt-error.h"
#include "base/mt-fault.h"
#include "base/mt-fileutil.h"
#include "ml/mt-model.h"
#include "formats/mt-safetensors.h"
#include "base/mt-suggest.h"
#include "ml/mt-train.h"
#include "base/mt-number.h"
#include "runtime/mt-enum.h"

#include <stdlib.h>
#include <string.h>

/* Settings both nodes share. */
typedef struct {
  int epochs;
  double lr, momentum, weight_decay;
  int batch_size;
  gint64 seed;
  int optimizer;          /* MtOptimizer, or OPTIMIZER_AUTO (the finetuner's: the state's) */
  gboolean nesterov;
  GVariant *betas;        /* ad: Adam's beta1, beta2 */
  double eps;
  /* training augmentations (ml/mt-augment.h) */
  int random_crop;        /* MtAugmentCrop */
  GVariant *crop_scale, *crop_ratio;  /* ad */
  int crop_padding;
  gboolean hflip;
} Common;

MT_DEFINE_ENUM_TYPE (trainer_crop_type, "MtAugmentCrop",
                     { MT_AUGMENT_CROP_NONE, "MT_AUGMENT_CROP_NONE", "none" },
                     { MT_AUGMENT_CROP_RESIZED, "MT_AUGMENT_CROP_RESIZED", "resized" },
                     { MT_AUGMENT_CROP_PADDED, "MT_AUGMENT_CROP_PADDED", "padded" })

#define OPTIMIZER_AUTO -1
MT_DEFINE_ENUM_TYPE (trainer_optimizer_type, "MtOptimizer",
                     { MT_OPTIMIZER_SGD, "MT_OPTIMIZER_SGD", "sgd" },
                     { MT_OPTIMIZER_ADAM, "MT_OPTIMIZER_ADAM", "adam" })
MT_DEFINE_ENUM_TYPE (finetuner_optimizer_type, "MtFinetunerOptimizer",
                     { OPTIMIZER_AUTO, "MT_OPTIMIZER_AUTO", "auto" },
                     { MT_OPTIMIZER_SGD, "MT_OPTIMIZER_SGD", "sgd" },
                     { MT_OPTIMIZER_ADAM, "MT_OPTIMIZER_ADAM", "adam" })

/* Shared by trainer and finetuner, except epochs and lr. */
#define DEFAULT_MOMENTUM 0.9
#define DEFAULT_WEIGHT_DECAY 1e-4
#define DEFAULT_BATCH_SIZE 128
#define DEFAULT_SEED 0
#define DEFAULT_TRAINER_EPOCHS 10
#define DEFAULT_TRAINER_LR 0.01
#define DEFAULT_ARCH "small_cnn"
#define DEFAULT_NUM_CLASSES 0
#define DEFAULT_LR_GAMMA 0.5
#define DEFAULT_VAL_FRACTION 0.1
/* MaskTune fine-tunes for one epoch, by default at the model's final learning rate. */
#define DEFAULT_FINETUNER_EPOCHS 1
#define DEFAULT_FINETUNER_LR -1.0
#define DEFAULT_TRAINER_OPTIMIZER MT_OPTIMIZER_SGD
#define DEFAULT_FINETUNER_OPTIMIZER OPTIMIZER_AUTO
#define DEFAULT_NESTEROV FALSE
#define DEFAULT_BETA1 0.9
#define DEFAULT_BETA2 0.999
#define DEFAULT_EPS 1e-8
#define DEFAULT_RANDOM_CROP MT_AUGMENT_CROP_NONE
#define DEFAULT_CROP_SCALE { 0.7, 1.0 }       /* MaskTune's, for Waterbirds and CelebA */
#define DEFAULT_CROP_RATIO { 3.0 / 4.0, 4.0 / 3.0 }
#define DEFAULT_CROP_PADDING 4                /* the CIFAR recipe */
#define DEFAULT_HFLIP FALSE

enum { PROP_0, PROP_EPOCHS, PROP_LR, PROP_MOMENTUM, PROP_WEIGHT_DECAY, PROP_BATCH_SIZE, PROP_SEED,
       PROP_OPTIMIZER, PROP_NESTEROV, PROP_BETAS, PROP_EPS, PROP_RANDOM_CROP, PROP_CROP_SCALE,
       PROP_CROP_RATIO, PROP_CROP_PADDING, PROP_HFLIP, PROP_ARCH, PROP_NUM_CLASSES, PROP_LR_MILESTONES, PROP_LR_GAMMA, PROP_VAL_FRACTION };

static GVariant *
trainer_default_betas (void)
{
  static const double betas[] = { DEFAULT_BETA1, DEFAULT_BETA2 };
  return g_variant_new_fixed_array (G_VARIANT_TYPE_DOUBLE, betas, 2, sizeof (double));
}

static GVariant *
trainer_pair (double a, double b)
{
  const double v[] = { a, b };
  return g_variant_new_fixed_array (G_VARIANT_TYPE_DOUBLE, v, 2, sizeof (double));
}

static GVariant *
trainer_default_scale (void)
{
  const double v[] = DEFAULT_CROP_SCALE;
  return trainer_pair (v[0], v[1]);
}

static GVariant *
trainer_default_ratio (void)
{
  const double v[] = DEFAULT_CROP_RATIO;
  return trainer_pair (v[0], v[1]);
}

static void
trainer_common_init (Common *c, int epochs, double lr, int optimizer)
{
  *c = (Common) { epochs, lr, DEFAULT_MOMENTUM, DEFAULT_WEIGHT_DECAY, DEFAULT_BATCH_SIZE, DEFAULT_SEED,
                  optimizer, DEFAULT_NESTEROV, g_variant_ref_sink (trainer_default_betas ()), DEFAULT_EPS,
                  DEFAULT_RANDOM_CROP, g_variant_ref_sink (trainer_default_scale ()),
                  g_variant_ref_sink (trainer_default_ratio ()), DEFAULT_CROP_PADDING, DEFAULT_HFLIP };
}

static void
trainer_common_clear (Common *c)
{
  g_clear_pointer (&c->betas, g_variant_unref);
  g_clear_pointer (&c->crop_scale, g_variant_unref);
  g_clear_pointer (&c->crop_ratio, g_variant_unref);
}

/* The augmentation the settings ask for (its ranges checked by validate). */
static void
trainer_augment (const Common *c, MtAugment *a)
{
  gsize n = 0;
  const double *sc = g_variant_get_fixed_array (c->crop_scale, &n, sizeof (double));
  const double *ra = g_variant_get_fixed_array (c->crop_ratio, &n, sizeof (double));
  *a = (MtAugment) { c->random_crop, { sc[0], sc[1] }, { ra[0], ra[1] }, c->crop_padding, c->hflip };
}

static gboolean
trainer_validate_common (Common *c, const char **property, GError **error)
{
  gsize nb = 0;
  const double *b = g_variant_get_fixed_array (c->betas, &nb, sizeof (double));
  if (nb != 2 || !(b[0] >= 0 && b[0] < 1) || !(b[1] >= 0 && b[1] < 1)) {
    *property = "betas";
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "betas must be two values in [0, 1), as Adam's (0.9, 0.999)");
    return FALSE;
  }
  gsize ns = 0, nr = 0;
  const double *sc = g_variant_get_fixed_array (c->crop_scale, &ns, sizeof (double));
  const double *ra = g_variant_get_fixed_array (c->crop_ratio, &nr, sizeof (double));
  if (ns != 2 || !(sc[0] > 0 && sc[0] <= sc[1] && sc[1] <= 1)) {
    *property = "crop-scale";
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "crop_scale must be [low, high] with 0 < low <= high <= 1");
    return FALSE;
  }
  if (nr != 2 || !(ra[0] > 0 && ra[0] <= ra[1])) {
    *property = "crop-ratio";
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "crop_ratio must be [low, high] with 0 < low <= high");
    return FALSE;
  }
  if (c->nesterov && c->optimizer != MT_OPTIMIZER_ADAM && c->momentum == 0) {
    *property = "nesterov";
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "Nesterov momentum requires a momentum above 0");
    return FALSE;
  }
  return TRUE;
}

/* The optimizer settings of @c, @optimizer resolved. */
static void
trainer_config_optimizer (const Common *c, MtOptimizer optimizer, MtTrainConfig *cfg)
{
  gsize nb = 0;
  const double *b = g_variant_get_fixed_array (c->betas, &nb, sizeof (double));
  cfg->optimizer = optimizer;
  cfg->nesterov = c->nesterov;
  cfg->beta1 = b[0];
  cfg->beta2 = b[1];
  cfg->eps = c->eps;
}

static void
trainer_install_common (GObjectClass *oc, int epochs_default, double lr_min, double lr_default, const char *lr_blurb,
                        GType optimizer_type, int optimizer_default, const char *optimizer_blurb)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  g_object_class_install_property (oc, PROP_OPTIMIZER,
    g_param_spec_enum ("optimizer", "Optimizer", optimizer_blurb, optimizer_type, optimizer_default, rw));
  g_object_class_install_property (oc, PROP_NESTEROV,
    g_param_spec_boolean ("nesterov", "Nesterov", "Nesterov momentum (SGD)", DEFAULT_NESTEROV, rw));
  g_object_class_install_property (oc, PROP_BETAS,
    g_param_spec_variant ("betas", "Betas", "Adam's decay rates of the first and second moments",
                          G_VARIANT_TYPE ("ad"), trainer_default_betas (), rw));
  g_object_class_install_property (oc, PROP_EPS,
    g_param_spec_double ("eps", "Epsilon", "Adam's term added to the denominator", 0.0, 1.0, DEFAULT_EPS, rw));
  g_object_class_install_property (oc, PROP_RANDOM_CROP,
    g_param_spec_enum ("random-crop", "Random crop", "augment training batches: resized (RandomResizedCrop back to "
                       "the image size, with crop_scale and crop_ratio), padded (RandomCrop after crop_padding "
                       "zeros), or none", trainer_crop_type (), DEFAULT_RANDOM_CROP, rw));
  g_object_class_install_property (oc, PROP_CROP_SCALE,
    g_param_spec_variant ("crop-scale", "Crop scale", "RandomResizedCrop's range of the area kept",
                          G_VARIANT_TYPE ("ad"), trainer_default_scale (), rw));
  g_object_class_install_property (oc, PROP_CROP_RATIO,
    g_param_spec_variant ("crop-ratio", "Crop ratio", "RandomResizedCrop's range of aspect ratios",
                          G_VARIANT_TYPE ("ad"), trainer_default_ratio (), rw));
  g_object_class_install_property (oc, PROP_CROP_PADDING,
    g_param_spec_int ("crop-padding", "Crop padding", "RandomCrop's zero padding on each side", 0, 1024,
                      DEFAULT_CROP_PADDING, rw));
  g_object_class_install_property (oc, PROP_HFLIP,
    g_param_spec_boolean ("hflip", "Flip", "RandomHorizontalFlip(0.5) on training batches", DEFAULT_HFLIP, rw));
  g_object_class_install_property (oc, PROP_EPOCHS,
    g_param_spec_int ("epochs", "Epochs", "passes over the training data", 1, 10000, epochs_default, rw));
  g_object_class_install_property (oc, PROP_LR,
    g_param_spec_double ("lr", "Learning rate", lr_blurb, lr_min, 1e6, lr_default, rw));
  g_object_class_install_property (oc, PROP_MOMENTUM,
    g_param_spec_double ("momentum", "Momentum", "SGD momentum", 0.0, 1.0, DEFAULT_MOMENTUM, rw));
  g_object_class_install_property (oc, PROP_WEIGHT_DECAY,
    g_param_spec_double ("weight-decay", "Weight decay", "L2 penalty added to every gradient", 0.0, 1.0, DEFAULT_WEIGHT_DECAY, rw));
  g_object_class_install_property (oc, PROP_BATCH_SIZE,
    g_param_spec_int ("batch-size", "Batch size", "samples per SGD step", 2, 65536, DEFAULT_BATCH_SIZE, rw));
  g_object_class_install_property (oc, PROP_SEED,
    g_param_spec_int64 ("seed", "Seed", "seed of the initial weights, the shuffling and the split", 0, G_MAXINT64, DEFAULT_SEED, rw));
}

static gboolean
trainer_set_common (Common *c, guint id, const GValue *v)
{
  switch (id) {
  case PROP_EPOCHS: c->epochs = g_value_get_int (v); return TRUE;
  case PROP_LR: c->lr = g_value_get_double (v); return TRUE;
  case PROP_MOMENTUM: c->momentum = g_value_get_double (v); return TRUE;
  case PROP_WEIGHT_DECAY: c->weight_decay = g_value_get_double (v); return TRUE;
  case PROP_BATCH_SIZE: c->batch_size = g_value_get_int (v); return TRUE;
  case PROP_SEED: c->seed = g_value_get_int64 (v); return TRUE;
  case PROP_OPTIMIZER: c->optimizer = g_value_get_enum (v); return TRUE;
  case PROP_NESTEROV: c->nesterov = g_value_get_boolean (v); return TRUE;
  case PROP_BETAS:
    g_clear_pointer (&c->betas, g_variant_unref);
    c->betas = g_value_dup_variant (v);
    return TRUE;
  case PROP_EPS: c->eps = g_value_get_double (v); return TRUE;
  case PROP_RANDOM_CROP: c->random_crop = g_value_get_enum (v); return TRUE;
  case PROP_CROP_SCALE:
    g_clear_pointer (&c->crop_scale, g_variant_unref);
    c->crop_scale = g_value_dup_variant (v);
    return TRUE;
  case PROP_CROP_RATIO:
    g_clear_pointer (&c->crop_ratio, g_variant_unref);
    c->crop_ratio = g_value_dup_variant (v);
    return TRUE;
  case PROP_CROP_PADDING: c->crop_padding = g_value_get_int (v); return TRUE;
  case PROP_HFLIP: c->hflip = g_value_get_boolean (v); return TRUE;
  default: return FALSE;
  }
}

static gboolean
trainer_get_common (Common *c, guint id, GValue *v)
{
  switch (id) {
  case PROP_EPOCHS: g_value_set_int (v, c->epochs); return TRUE;
  case PROP_LR: g_value_set_double (v, c->lr); return TRUE;
  case PROP_MOMENTUM: g_value_set_double (v, c->momentum); return TRUE;
  case PROP_WEIGHT_DECAY: g_value_set_double (v, c->weight_decay); return TRUE;
  case PROP_BATCH_SIZE: g_value_set_int (v, c->batch_size); return TRUE;
  case PROP_SEED: g_value_set_int64 (v, c->seed); return TRUE;
  case PROP_OPTIMIZER: g_value_set_enum (v, c->optimizer); return TRUE;
  case PROP_NESTEROV: g_value_set_boolean (v, c->nesterov); return TRUE;
  case PROP_BETAS: g_value_set_variant (v, c->betas); return TRUE;
  case PROP_EPS: g_value_set_double (v, c->eps); return TRUE;
  case PROP_RANDOM_CROP: g_value_set_enum (v, c->random_crop); return TRUE;
  case PROP_CROP_SCALE: g_value_set_variant (v, c->crop_scale); return TRUE;
  case PROP_CROP_RATIO: g_value_set_variant (v, c->crop_ratio); return TRUE;
  case PROP_CROP_PADDING: g_value_set_int (v, c->crop_padding); return TRUE;
  case PROP_HFLIP: g_value_set_boolean (v, c->hflip); return TRUE;
  default: return FALSE;
  }
}

/* ---- running a training, with checkpoints that let a killed run resume ------------ */

typedef struct {
  MtContext *ctx;
  char *checkpoint;
} Session;

static void
trainer_hook_progress (double f, const char *detail, gpointer user_data)
{
  mt_context_progress_detail (((Session *) user_data)->ctx, f, detail);
}

static void
trainer_hook_log (const char *msg, gpointer user_data)
{
  mt_context_log (((Session *) user_data)->ctx, "%s", msg);
}

/* One file holds the weights ("model.*") and the optimizer state: it is written
 * atomically, so a resume never mixes epochs. */
static gboolean
trainer_hook_epoch_done (MtTrainState *st, gpointer user_data, GError **error)
{
  Session *s = user_data;
  g_autoptr (MtBundle) b = mt_train_state_to_bundle (st, TRUE);
  g_autoptr (MtBundle) w = mt_model_to_bundle (st->model);
  mt_bundle_add_prefixed (b, "model", w);
  mt_bundle_set_metadata (b, "arch", mt_bundle_get_metadata (w, "arch"));
  mt_bundle_set_metadata (b, "num_classes", mt_bundle_get_metadata (w, "num_classes"));
  g_autoptr (GBytes) bytes = mt_safetensors_encode (b);
  gsize len;
  const void *data = g_bytes_get_data (bytes, &len);
  if (!mt_file_write_atomic (s->checkpoint, data, len, error))
    return FALSE;
  mt_fault_point ("after-checkpoint");  /* crash tests: die with a checkpoint on disk */
  return TRUE;
}

/* Restores weights and state from a checkpoint of an interrupted run of this key. */
static gboolean
trainer_resume (Session *s, MtTrainState *st, GError **error)
{
  if (!g_file_test (s->checkpoint, G_FILE_TEST_EXISTS))
    return TRUE;
  g_autoptr (GError) err = NULL;
  g_autoptr (MtBundle) b = mt_safetensors_load (s->checkpoint, &err);
  if (!b) {
    mt_context_log (s->ctx, "ignoring an unreadable checkpoint: %s", err->message);
    return TRUE;
  }
  g_autoptr (MtBundle) w = mt_model_to_bundle (st->model);
  g_autofree char *missing = NULL;
  if (!mt_bundle_take_prefixed (w, "model", b, &missing)) {
    mt_context_log (s->ctx, "ignoring a checkpoint without '%s'", missing);
    return TRUE;
  }
  g_autoptr (MtModel) m = mt_model_from_bundle (w, s->checkpoint, error);
  if (!m)
    return FALSE;
  mt_model_copy_weights (st->model, m);
  if (!mt_train_state_from_bundle (st, b, TRUE, s->checkpoint, error))
    return FALSE;
  mt_context_log (s->ctx, "resuming after epoch %d from %s", st->epochs_done, s->checkpoint);
  return TRUE;
}

static gboolean
trainer_train_and_save (MtContext *ctx, MtModel *model, MtTrainState *st, const MtTrainConfig *cfg,
                MtBundle *data, GError **error)
{
  Session s = { ctx, g_build_filename (mt_context_get_resume_dir (ctx), "checkpoint.safetensors", NULL) };
  MtTrainHooks hooks = { trainer_hook_progress, trainer_hook_log, trainer_hook_epoch_done, &s };
  gboolean ok = trainer_resume (&s, st, error) && mt_train_run (st, cfg, data, &hooks, error);
  g_free (s.checkpoint);
  if (!ok)
    return FALSE;
  g_autoptr (MtBundle) weights = mt_model_to_bundle (model);
  g_autofree char *final_lr = mt_number_format (st->lr);
  mt_bundle_set_metadata (weights, "final_lr", final_lr);
  g_autofree char *be = g_strdup_printf ("%d", st->best_epoch);
  mt_bundle_set_metadata (weights, "best_epoch", be);
  g_autoptr (MtBundle) state = mt_train_state_to_bundle (st, FALSE);

  g_autoptr (JsonBuilder) jb = json_builder_new ();
  json_builder_begin_object (jb);
  json_builder_set_member_name (jb, "epochs");
  /* Timings go to the run's messages and the manifest, never into the output: a
   * rerun (or a resumed one) must produce the same bytes. */
  g_autoptr (JsonArray) epochs = mt_train_log_without_timing (st);
  json_builder_add_value (jb, json_node_init_array (json_node_alloc (), epochs));
  json_builder_set_member_name (jb, "best_epoch");
  json_builder_add_int_value (jb, st->best_epoch);
  json_builder_set_member_name (jb, "best_accuracy");
  json_builder_add_double_value (jb, st->best_accuracy);
  json_builder_set_member_name (jb, "final_lr");
  json_builder_add_double_value (jb, st->lr);
  json_builder_end_object (jb);
  g_autoptr (JsonNode) report = json_builder_get_root (jb);
  return mt_context_save_bundle (ctx, "model", weights, error) &&
         mt_context_save_bundle (ctx, "state", state, error) &&
         mt_context_save_json (ctx, "log", report, error);
}

static void
trainer_add_outputs (MtNodeClass *nc)
{
  mt_node_class_add_output (nc, "model", MT_KIND_MODEL, "last weights: a PyTorch state_dict, as .safetensors");
  mt_node_class_add_output (nc, "state", MT_KIND_STATE,
                            "optimizer state (SGD's momentum buffers or Adam's moments), best weights, learning rate");
  mt_node_class_add_output (nc, "log", MT_KIND_REPORT, "loss and accuracy per epoch");
}

/* ---- trainer ------------------------------------------------------------------- */

struct _MtTrainer {
  MtNode parent_instance;
  Common c;
  char *arch;
  int num_classes;
  GVariant *milestones;
  double gamma;
  double val_fraction;
};

G_DEFINE_FINAL_TYPE (MtTrainer, mt_trainer, MT_TYPE_NODE)

static int
trainer_classes_of (MtBundle *data, int requested)
{
  if (requested > 0)
    return requested;
  const char *meta = mt_bundle_get_metadata (data, "num_classes");
  if (meta && atoi (meta) >= 2)
    return atoi (meta);
  MtTensor *labels = mt_bundle_get (data, MT_DATASET_LABELS);
  gint64 top = 1;
  for (gint64 i = 0; i < labels->shape[0]; i++)
    top = MAX (top, ((gint64 *) labels->data)[i]);
  return (int) top + 1;
}

static gboolean
trainer_validate (MtNode *node, const char **property, GError **error)
{
  MtTrainer *self = MT_TRAINER (node);
  if (!trainer_validate_common (&self->c, property, error))
    return FALSE;
  if (!mt_arch_lookup (self->arch)) {
    g_autofree char *hint = mt_suggest_hint (self->arch, (const char **) mt_arch_names ());
    g_autofree char *all = g_strjoinv (", ", (char **) mt_arch_names ());
    *property = "arch";
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "unknown arch '%s'%s (known: %s)", self->arch, hint, all);
    return FALSE;
  }
  gsize nm = 0;
  const gint64 *ms = g_variant_get_fixed_array (self->milestones, &nm, sizeof (gint64));
  for (gsize i = 0; i < nm; i++)
    if (ms[i] < 1 || (i > 0 && ms[i] <= ms[i - 1])) {
      *property = "lr-milestones";
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "lr_milestones must be increasing epoch numbers from 1, "
                   "got %" G_GINT64_FORMAT " %s", ms[i], ms[i] < 1 ? "(below 1)" : "after a larger or equal one");
      return FALSE;
    }
  return TRUE;
}

static gboolean
trainer_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtTrainer *self = MT_TRAINER (node);
  const char *property = NULL;
  if (!trainer_validate (node, &property, error))
    return FALSE;
  const MtArch *arch = mt_arch_lookup (self->arch);
  g_autoptr (MtBackend) be = mt_backend_open (mt_context_get_backend (ctx), error);
  if (!be)
    return FALSE;
  g_autoptr (MtBundle) data = mt_context_load_bundle (ctx, "dataset", error);
  if (!data || !mt_dataset_check (data, "training data", error))
    return FALSE;
  gint64 shape[4];
  mt_dataset_images_shape (data, shape);
  int classes = trainer_classes_of (data, self->num_classes);
  g_autoptr (MtModel) model = NULL;
  if (mt_context_has_input (ctx, "init")) {
    /* From given weights (a pretrained backbone): their architecture and input transform;
     * a classifier for another number of classes is replaced by a freshly drawn one. */
    g_autoptr (MtBundle) w = mt_context_load_bundle (ctx, "init", error);
    g_autoptr (MtModel) src = w ? mt_model_from_bundle (w, mt_context_get_input_path (ctx, "init"), error) : NULL;
    if (!src || !mt_model_fit (&src, shape, error))
      return FALSE;
    if (mt_model_num_classes (src) == classes) {
      model = g_steal_pointer (&src);
    } else {
      int c, h, w2;
      mt_model_input_size (src, &c, &h, &w2);
      model = mt_model_new_sized (mt_model_arch (src), classes, c, h, w2, error);
      if (!model)
        return FALSE;
      mt_model_init (model, (guint64) self->c.seed);
      guint fresh = mt_model_copy_matching (model, src);
      mt_model_copy_normalization (model, src);
      mt_context_log (ctx, "init: %s with %d classes; the classifier (%u tensors) is new for %d classes",
                      mt_model_arch (src)->name, mt_model_num_classes (src), fresh, classes);
    }
  } else {
    if (shape[1] < 1 || shape[1] > 4096 || shape[2] < 1 || shape[2] > 65536 || shape[3] < 1 || shape[3] > 65536) {
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "training images of shape [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                   ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] are not N x C x H x W",
                   shape[0], shape[1], shape[2], shape[3]);
      return FALSE;
    }
    model = mt_model_new_sized (arch, classes, (int) shape[1], (int) shape[2], (int) shape[3], error);
    if (!model)
      return FALSE;
    mt_model_init (model, (guint64) self->c.seed);
  }
  gsize nm = 0;
  const gint64 *ms = g_variant_get_fixed_array (self->milestones, &nm, sizeof (gint64));
  MtTrainConfig cfg = {
    .epochs = self->c.epochs, .lr = self->c.lr, .momentum = self->c.momentum, .weight_decay = self->c.weight_decay,
    .batch_size = self->c.batch_size, .milestones = ms, .n_milestones = nm, .gamma = self->gamma,
    .seed = (guint64) self->c.seed, .val_fraction = self->val_fraction,
  };
  trainer_config_optimizer (&self->c, self->c.optimizer, &cfg);
  MtAugment aug;
  trainer_augment (&self->c, &aug);
  cfg.augment = &aug;
  if (!mt_model_set_backend (model, be, error))
    return FALSE;
  g_autoptr (MtTrainState) st = mt_train_state_new (model);
  return trainer_train_and_save (ctx, model, st, &cfg, data, error);
}

static void
trainer_set (GObject *obj, guint id, const GValue *v, GParamSpec *pspec)
{
  MtTrainer *self = MT_TRAINER (obj);
  if (trainer_set_common (&self->c, id, v))
    return;
  switch (id) {
  case PROP_ARCH:
    g_free (self->arch);
    self->arch = g_value_dup_string (v);
    break;
  case PROP_NUM_CLASSES: self->num_classes = g_value_get_int (v); break;
  case PROP_LR_MILESTONES:
    g_clear_pointer (&self->milestones, g_variant_unref);
    self->milestones = g_value_dup_variant (v);
    break;
  case PROP_LR_GAMMA: self->gamma = g_value_get_double (v); break;
  case PROP_VAL_FRACTION: self->val_fraction = g_value_get_double (v); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
trainer_get (GObject *obj, guint id, GValue *v, GParamSpec *pspec)
{
  MtTrainer *self = MT_TRAINER (obj);
  if (trainer_get_common (&self->c, id, v))
    return;
  switch (id) {
  case PROP_ARCH: g_value_set_string (v, self->arch); break;
  case PROP_NUM_CLASSES: g_value_set_int (v, self->num_classes); break;
  case PROP_LR_MILESTONES: g_value_set_variant (v, self->milestones); break;
  case PROP_LR_GAMMA: g_value_set_double (v, self->gamma); break;
  case PROP_VAL_FRACTION: g_value_set_double (v, self->val_fraction); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
trainer_finalize (GObject *obj)
{
  MtTrainer *self = MT_TRAINER (obj);
  g_free (self->arch);
  g_clear_pointer (&self->milestones, g_variant_unref);
  trainer_common_clear (&self->c);
  G_OBJECT_CLASS (mt_trainer_parent_class)->finalize (obj);
}

static void
mt_trainer_class_init (MtTrainerClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = trainer_set;
  oc->get_property = trainer_get;
  oc->finalize = trainer_finalize;
  nc->run = trainer_run;
  nc->validate = trainer_validate;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  trainer_install_common (oc, DEFAULT_TRAINER_EPOCHS, 1e-9, DEFAULT_TRAINER_LR, "initial learning rate",
                          trainer_optimizer_type (), DEFAULT_TRAINER_OPTIMIZER, "sgd or adam, as torch.optim's");
  g_object_class_install_property (oc, PROP_ARCH,
    g_param_spec_string ("arch", "Architecture", "the model: small_cnn, resnet18/34/50 (torchvision's), resnet20/32/56 "
                         "(CIFAR); with init, the weights' own", DEFAULT_ARCH, rw));
  g_object_class_install_property (oc, PROP_NUM_CLASSES,
    g_param_spec_int ("num-classes", "Classes", "output classes (0: from the dataset)", 0, 100000, DEFAULT_NUM_CLASSES, rw));
  g_object_class_install_property (oc, PROP_LR_MILESTONES,
    g_param_spec_variant ("lr-milestones", "Milestones", "epochs at which the learning rate is multiplied by lr_gamma",
                          G_VARIANT_TYPE ("ax"), g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, NULL, 0, sizeof (gint64)), rw));
  g_object_class_install_property (oc, PROP_LR_GAMMA,
    g_param_spec_double ("lr-gamma", "Gamma", "learning-rate factor at each milestone", 0.0, 1.0, DEFAULT_LR_GAMMA, rw));
  g_object_class_install_property (oc, PROP_VAL_FRACTION,
    g_param_spec_double ("val-fraction", "Validation", "fraction held out to validate and pick the best epoch",
                         0.0, 0.9, DEFAULT_VAL_FRACTION, rw));
  mt_node_class_set_metadata (nc, "3", "Trains a model with SGD or Adam and cross-entropy (ERM)");
  mt_node_class_set_uses_backend (nc, TRUE);
  mt_node_class_add_input (nc, "dataset", MT_KIND_DATASET, TRUE, "training data");
  mt_node_class_add_input (nc, "init", MT_KIND_MODEL, FALSE,
                           "starting weights (model_file: a pretrained backbone); the classifier is replaced when "
                           "the class count differs");
  trainer_add_outputs (nc);
}

static void
mt_trainer_init (MtTrainer *self)
{
  trainer_common_init (&self->c, DEFAULT_TRAINER_EPOCHS, DEFAULT_TRAINER_LR, DEFAULT_TRAINER_OPTIMIZER);
  self->arch = g_strdup (DEFAULT_ARCH);
  self->num_classes = DEFAULT_NUM_CLASSES;
  self->milestones = g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, NULL, 0, sizeof (gint64)));
  self->gamma = DEFAULT_LR_GAMMA;
  self->val_fraction = DEFAULT_VAL_FRACTION;
}

/* ---- finetuner ----------------------------------------------------------------- */

struct _MtFinetuner {
  MtNode parent_instance;
  Common c;
};

G_DEFINE_FINAL_TYPE (MtFinetuner, mt_finetuner, MT_TYPE_NODE)

static gboolean
finetuner_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtFinetuner *self = MT_FINETUNER (node);
  g_autoptr (MtBackend) be = mt_backend_open (mt_context_get_backend (ctx), error);
  if (!be)
    return FALSE;
  g_autoptr (MtBundle) weights = mt_context_load_bundle (ctx, "model", error);
  if (!weights)
    return FALSE;
  const char *final_lr = mt_bundle_get_metadata (weights, "final_lr");
  g_autoptr (MtModel) model = mt_model_from_bundle (weights, mt_context_get_input_path (ctx, "model"), error);
  if (!model)
    return FALSE;
  g_autoptr (MtBundle) data = mt_context_load_bundle (ctx, "dataset", error);
  if (!data || !mt_dataset_check (data, "fine-tuning data", error))
    return FALSE;
  gint64 shape[4];
  mt_dataset_images_shape (data, shape);
  if (!mt_model_fit (&model, shape, error) || !mt_model_set_backend (model, be, error))
    return FALSE;
  g_autoptr (MtTrainState) st = mt_train_state_new (model);
  MtOptimizer optimizer = self->c.optimizer == OPTIMIZER_AUTO ? MT_OPTIMIZER_SGD : (MtOptimizer) self->c.optimizer;
  if (mt_context_has_input (ctx, "state")) {
    g_autoptr (MtBundle) state = mt_context_load_bundle (ctx, "state", error);
    if (!state || !mt_train_state_from_bundle (st, state, FALSE, mt_context_get_input_path (ctx, "state"), error))
      return FALSE;
    /* auto: the optimizer that made the state goes on. */
    if (self->c.optimizer == OPTIMIZER_AUTO && st->momentum)
      optimizer = st->optimizer;
  } else {
    mt_context_log (ctx, "no optimizer state given: the %s starts from zero",
                    optimizer == MT_OPTIMIZER_ADAM ? "moments" : "momentum");
  }
  double lr = self->c.lr;
  if (lr <= 0)
    lr = final_lr ? g_ascii_strtod (final_lr, NULL) : 0;
  if (lr <= 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID,
                 "no learning rate: set lr, or give a model that records its final_lr");
    return FALSE;
  }
  MtTrainConfig cfg = {
    .epochs = self->c.epochs, .lr = lr, .momentum = self->c.momentum, .weight_decay = self->c.weight_decay,
    .batch_size = self->c.batch_size, .gamma = 1.0, .seed = (guint64) self->c.seed,
  };
  trainer_config_optimizer (&self->c, optimizer, &cfg);
  MtAugment aug;
  trainer_augment (&self->c, &aug);
  cfg.augment = &aug;
  return trainer_train_and_save (ctx, model, st, &cfg, data, error);
}

static gboolean
finetuner_validate (MtNode *node, const char **property, GError **error)
{
  return trainer_validate_common (&MT_FINETUNER (node)->c, property, error);
}

static void
finetuner_finalize (GObject *obj)
{
  trainer_common_clear (&MT_FINETUNER (obj)->c);
  G_OBJECT_CLASS (mt_finetuner_parent_class)->finalize (obj);
}

static void
finetuner_set (GObject *obj, guint id, const GValue *v, GParamSpec *pspec)
{
  if (!trainer_set_common (&MT_FINETUNER (obj)->c, id, v))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
}

static void
finetuner_get (GObject *obj, guint id, GValue *v, GParamSpec *pspec)
{
  if (!trainer_get_common (&MT_FINETUNER (obj)->c, id, v))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
}

static void
mt_finetuner_class_init (MtFinetunerClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = finetuner_set;
  oc->get_property = finetuner_get;
  oc->finalize = finetuner_finalize;
  nc->run = finetuner_run;
  nc->validate = finetuner_validate;
  trainer_install_common (oc, DEFAULT_FINETUNER_EPOCHS, -1.0, DEFAULT_FINETUNER_LR,
                          "learning rate (-1: the model's final learning rate)", finetuner_optimizer_type (),
                          DEFAULT_FINETUNER_OPTIMIZER, "auto (the state's optimizer; sgd without one), sgd or adam");
  mt_node_class_set_metadata (nc, "3", "Continues training a model on new data (MaskTune's fine-tuning)");
  mt_node_class_set_uses_backend (nc, TRUE);
  mt_node_class_add_input (nc, "model", MT_KIND_MODEL, TRUE, "the model to fine-tune");
  mt_node_class_add_input (nc, "dataset", MT_KIND_DATASET, TRUE, "the data, e.g. the masked dataset");
  mt_node_class_add_input (nc, "state", MT_KIND_STATE, FALSE, "optimizer state to continue from (trainer's state)");
  trainer_add_outputs (nc);
}

static void
mt_finetuner_init (MtFinetuner *self)
{
  trainer_common_init (&self->c, DEFAULT_FINETUNER_EPOCHS, DEFAULT_FINETUNER_LR, DEFAULT_FINETUNER_OPTIMIZER);
}
