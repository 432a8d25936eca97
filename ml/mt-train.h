/* Mini-batch SGD training of a model on a dataset, shared by the trainer and the
 * finetuner: epochs of shuffled batches, PyTorch's SGD and multi-step schedule, a
 * validation split, per-epoch logs, best weights, and checkpoints for resuming. */
#pragma once

#include <json-glib/json-glib.h>

#include "base/mt-bundle.h"
#include "ml/mt-model.h"
#include "ml/mt-augment.h"

G_BEGIN_DECLS

typedef enum {
  MT_OPTIMIZER_SGD,        /* torch.optim.SGD: momentum, nesterov, weight decay */
  MT_OPTIMIZER_ADAM,       /* torch.optim.Adam: betas, eps, weight decay */
} MtOptimizer;

const char *mt_optimizer_name (MtOptimizer o);   /* "sgd", "adam" */

typedef struct {
  int epochs;
  double lr;               /* at epoch 0 */
  double momentum;
  double weight_decay;
  MtOptimizer optimizer;
  gboolean nesterov;       /* SGD */
  double beta1, beta2, eps;  /* Adam */
  int batch_size;
  const gint64 *milestones;  /* epochs at which lr *= gamma */
  gsize n_milestones;
  double gamma;
  guint64 seed;
  double val_fraction;     /* held out from training, for validation and best weights */
  const MtAugment *augment;  /* on training batches (NULL: none); never on validation */
} MtTrainConfig;

typedef struct {
  MtModel *model;
  MtModel *best;           /* weights of the best epoch so far */
  MtOptimizer optimizer;   /* the one that made the buffers below */
  float **momentum;        /* per parameter (SGD's buffer, Adam's exp_avg), or NULL before the first step */
  float **exp_avg_sq;      /* Adam's, per parameter */
  float *momentum_span;    /* where the parameters lie in one span (mt_model_flat_params): */
  float *exp_avg_sq_span;  /* the buffers above, one allocation each at the same offsets */
  gint64 step;             /* updates made (Adam's bias correction) */
  int epochs_done;
  double lr;               /* learning rate of the last epoch run */
  int best_epoch;          /* -1: none yet */
  double best_accuracy;
  JsonArray *log;          /* one object per epoch */
  /* How the last mt_train_run's steps ran (ml/mt-step-graph.h): as they came, recorded,
   * or replayed from a recording; not saved. */
  gint64 steps_eager, steps_recorded, steps_replayed;
} MtTrainState;

typedef struct {
  /* @detail: "epoch 3/10, 1900 img/s, ETA 0:25". */
  void (*progress) (double fraction, const char *detail, gpointer user_data);
  void (*log) (const char *message, gpointer user_data);
  /* Called after each epoch; return FALSE (with @error) to stop. */
  gboolean (*epoch_done) (MtTrainState *state, gpointer user_data, GError **error);
  gpointer user_data;
} MtTrainHooks;

MtTrainState *mt_train_state_new  (MtModel *model);
void          mt_train_state_free (MtTrainState *st);

/* The learning rate of @epoch under the multi-step schedule. */
double        mt_train_lr_at      (const MtTrainConfig *cfg, int epoch);

/* Runs epochs st->epochs_done .. cfg->epochs - 1 on @data (a dataset bundle). A NaN or
 * infinite loss stops with an error naming the epoch. */
gboolean      mt_train_run        (MtTrainState *st, const MtTrainConfig *cfg, MtBundle *data,
                                   const MtTrainHooks *hooks, GError **error);

/* Accuracy and mean loss of @model in eval mode on @data (all samples, or @idx); -1 with
 * @error when an image could not be read. */
double        mt_train_evaluate   (MtModel *model, MtBundle *data, const gint64 *idx, gint64 n,
                                   int batch_size, double *loss, GError **error);

/* The logits [N, classes] of @model in eval mode on every image of @data (a dataset whose
 * images the caller checked against the model); free with g_free. NULL with @error when
 * an image could not be read. */
float        *mt_train_predict    (MtModel *model, MtBundle *data, int batch_size,
                                   void (*progress) (double fraction, gpointer user_data),
                                   gpointer user_data, GError **error);
/* The per-epoch log without its timings (seconds, images per second): what outputs
 * hold, so that their bytes do not depend on how fast the machine was. */
JsonArray    *mt_train_log_without_timing (MtTrainState *st);
/* Optimizer state as a bundle with PyTorch's names ("<param>.momentum_buffer" for SGD,
 * "<param>.exp_avg" and "<param>.exp_avg_sq" for Adam), "best.<name>" and metadata
 * (optimizer, step, lr, ...) and back. The model must be the one the state belongs to. */
/* @with_timing keeps each epoch's seconds in the log: for checkpoints, not for outputs,
 * whose bytes must not depend on how fast the machine was. */
MtBundle     *mt_train_state_to_bundle   (MtTrainState *st, gboolean with_timing);
gboolean      mt_train_state_from_bundle (MtTrainState *st, MtBundle *b, gboolean with_progress,
                                          const char *what, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtTrainState, mt_train_state_free)

G_END_DECLS
