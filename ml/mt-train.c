#include "ml/mt-train.h"
#include "ml/mt-dataset.h"
#include "base/mt-json-write.h"
#include "base/mt-error.h"
#include "base/mt-json.h"
#include "base/mt-rng.h"
#include "base/mt-number.h"
#include "ml/mt-backend.h"
#include "ml/mt-loader.h"
#include "ml/mt-slices.h"
#include "ml/mt-staging.h"
#include "ml/mt-step-graph.h"
#include "ml/mt-batches.h"
#include "ml/mt-device-data.h"
#include "ml/mt-augment.h"

#include <math.h>

/* A loss this many times a uniform guess's (ln classes) means the run has diverged: the
 * logits stand hundreds apart against the labels, whether or not they overflowed yet. */
#define DIVERGED_LOSS_FACTOR 1000.0

static gboolean
diverged (double loss, int classes)
{
  return !isfinite (loss) || loss > DIVERGED_LOSS_FACTOR * log (MAX (classes, 2));
}

static const char *
loss_text (double loss, char buf[G_ASCII_DTOSTR_BUF_SIZE])
{
  if (isnan (loss))
    return "NaN";
  if (!isfinite (loss))
    return "infinite";
  return g_ascii_formatd (buf, G_ASCII_DTOSTR_BUF_SIZE, "%.3g", loss);
}

static gboolean
fail_diverged (double loss, int epoch, gint64 batch, double lr, GError **error)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_set_error (error, MT_ERROR, MT_ERROR_NODE,
               "training diverged: the loss is %s in epoch %d (batch %" G_GINT64_FORMAT "); lower lr (%g)",
               loss_text (loss, buf), epoch + 1, batch + 1, lr);
  return FALSE;
}

#include <stdlib.h>
#include <string.h>

MtTrainState *
mt_train_state_new (MtModel *model)
{
  MtTrainState *st = g_new0 (MtTrainState, 1);
  st->model = model;
  st->best = mt_model_new_like (model);
  mt_model_copy_weights (st->best, model);
  st->best_epoch = -1;
  st->log = json_array_new ();
  return st;
}

const char *
mt_optimizer_name (MtOptimizer o)
{
  return o == MT_OPTIMIZER_ADAM ? "adam" : "sgd";
}

static void
free_buffers (MtTrainState *st, float ***buffers, float **span)
{
  if (!*buffers)
    return;
  MtBackend *be = mt_model_get_backend (st->model);
  if (*span)
    be->ops->free (be, *span);
  for (guint i = 0; !*span && i < mt_model_n_params (st->model); i++)
    be->ops->free (be, (*buffers)[i]);
  *span = NULL;
  g_clear_pointer (buffers, g_free);
}

static void
free_momentum (MtTrainState *st)
{
  free_buffers (st, &st->momentum, &st->momentum_span);
  free_buffers (st, &st->exp_avg_sq, &st->exp_avg_sq_span);
}

/* Zeroed optimizer state beside each parameter, in the model's backend memory: one span
 * (*@span) at the parameters' offsets where they lie in one, else a buffer each. */
static float **
new_buffers (MtModel *model, float **span)
{
  MtBackend *be = mt_model_get_backend (model);
  guint np = mt_model_n_params (model);
  float **b = g_new0 (float *, np);
  float *data, *grad;
  gsize len;
  *span = mt_model_flat_params (model, &data, &grad, &len) ? be->ops->alloc (be, len * sizeof (float)) : NULL;
  for (guint p = 0; p < np; p++) {
    MtParam *mp = mt_model_param (model, p);
    b[p] = *span ? *span + mp->offset : be->ops->alloc (be, mp->len * sizeof (float));
  }
  return b;
}

/* The host's part of an optimizer update: the state's buffers on the first (returns
 * TRUE then) and the step count. */
static gboolean
optimizer_prepare (MtTrainState *st, const MtTrainConfig *cfg)
{
  gboolean first = st->momentum == NULL;
  if (first) {
    st->optimizer = cfg->optimizer;
    st->momentum = new_buffers (st->model, &st->momentum_span);
    if (cfg->optimizer == MT_OPTIMIZER_ADAM)
      st->exp_avg_sq = new_buffers (st->model, &st->exp_avg_sq_span);
  }
  st->step++;
  return first;
}

/* The ops of one update of every parameter by the configured optimizer: one op over the
 * parameters' span where they lie in one (the update is elementwise, and the floats
 * between them are zeros that stay zero), else one per parameter. */
static void
optimizer_ops (MtTrainState *st, const MtTrainConfig *cfg, double lr, gboolean first)
{
  MtModel *model = st->model;
  MtBackend *be = mt_model_get_backend (model);
  guint np = mt_model_n_params (model);
  float *data, *grad;
  gsize len;
  gboolean flat = st->momentum_span && mt_model_flat_params (model, &data, &grad, &len);
  if (cfg->optimizer == MT_OPTIMIZER_ADAM) {
    MtAdamSpec a = { lr, cfg->beta1, cfg->beta2, cfg->eps, cfg->weight_decay, st->step };
    if (flat && st->exp_avg_sq_span) {
      be->ops->adam_step (be, &a, data, grad, st->momentum_span, st->exp_avg_sq_span, len);
      return;
    }
    for (guint p = 0; p < np; p++) {
      MtParam *mp = mt_model_param (model, p);
      be->ops->adam_step (be, &a, mp->data, mp->grad, st->momentum[p], st->exp_avg_sq[p], mp->len);
    }
    return;
  }
  MtSgdSpec sg = { lr, cfg->momentum, cfg->weight_decay, cfg->nesterov };
  if (flat) {
    be->ops->sgd_step (be, &sg, data, grad, st->momentum_span, len, first);
    return;
  }
  for (guint p = 0; p < np; p++) {
    MtParam *mp = mt_model_param (model, p);
    be->ops->sgd_step (be, &sg, mp->data, mp->grad, st->momentum[p], mp->len, first);
  }
}

/* One training step's ops: forward, loss, backward and, for SGD, the update (Adam's
 * bias corrections change every step: its update runs outside a recording). */
typedef struct {
  MtSlices *slices;
  MtTrainState *st;
  const MtTrainConfig *cfg;
  double lr;
  gboolean first;
  const float *x;
  const gint64 *y;
  int n;
  double *loss;
  gint64 *correct;
} Step;

static gboolean
step_has_update (const MtTrainConfig *cfg)
{
  return cfg->optimizer == MT_OPTIMIZER_SGD;
}

static void
step_ops (gpointer data)
{
  Step *s = data;
  mt_slices_train_step (s->slices, s->x, s->y, s->n, s->loss, s->correct);
  if (step_has_update (s->cfg))
    optimizer_ops (s->st, s->cfg, s->lr, s->first);
}

/* A step, recorded and replayed where @graph can: what the recording's values depend
 * on are the batch size, the learning rate and the first-step flag. */
static gboolean
train_step (MtStepGraph *graph, Step *s, GError **error)
{
  union { double d; guint64 u; } lr = { s->lr };
  const guint64 key[2] = { (guint64) s->n << 1 | (guint64) s->first, lr.u };
  gboolean host_ran;
  if (!mt_step_graph_run (graph, key, step_ops, s, &host_ran, error))
    return FALSE;
  if (!host_ran)
    mt_model_count_train_forward (s->st->model);
  if (!step_has_update (s->cfg))
    optimizer_ops (s->st, s->cfg, s->lr, s->first);
  return TRUE;
}

void
mt_train_state_free (MtTrainState *st)
{
  if (!st)
    return;
  free_momentum (st);
  mt_model_free (st->best);
  json_array_unref (st->log);
  g_free (st);
}

double
mt_train_lr_at (const MtTrainConfig *cfg, int epoch)
{
  double lr = cfg->lr;
  for (gsize i = 0; i < cfg->n_milestones; i++)
    if (epoch >= cfg->milestones[i])
      lr *= cfg->gamma;
  return lr;
}

static gboolean
check_data (MtModel *model, MtBundle *data, GError **error)
{
  if (!mt_dataset_check (data, "training data", error))
    return FALSE;
  gint64 shape[4];
  mt_dataset_images_shape (data, shape);
  if (!mt_model_check_images (model, shape, error))
    return FALSE;
  MtTensor *labels = mt_bundle_get (data, MT_DATASET_LABELS);
  for (gint64 i = 0; i < labels->shape[0]; i++) {
    gint64 l = ((gint64 *) labels->data)[i];
    if (l < 0 || l >= mt_model_num_classes (model)) {
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "sample %" G_GINT64_FORMAT " has label %" G_GINT64_FORMAT
                   " but the model has %d classes", i, l, mt_model_num_classes (model));
      return FALSE;
    }
  }
  return TRUE;
}

/* Each batch's loss and correct count, kept in backend memory until a pass or an epoch
 * is done: a device runs the batches without waiting for the host, which then reads
 * them all at once and adds them up in batch order, as it would have batch by batch. */
typedef struct {
  MtStaging losses, hits;
  int *sizes;             /* images in each batch; 0: not run */
  gint64 batches;
} Tally;

static void
tally_init (Tally *t, MtBackend *be, gint64 batches)
{
  *t = (Tally) { .batches = MAX (batches, 1) };
  t->sizes = g_new0 (int, t->batches);
  mt_staging_device (&t->losses, be, t->batches * sizeof (double));
  mt_staging_device (&t->hits, be, t->batches * sizeof (gint64));
}

static void
tally_clear (Tally *t)
{
  mt_staging_clear (&t->losses);
  mt_staging_clear (&t->hits);
  g_clear_pointer (&t->sizes, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Tally, tally_clear)

/* Where batch @bi's loss and count go (backend memory). */
static double *tally_loss (Tally *t, gint64 bi) { return (double *) t->losses.dev + bi; }
static gint64 *tally_correct (Tally *t, gint64 bi) { return (gint64 *) t->hits.dev + bi; }

/* The batches' totals, read from the backend: the sum of loss times batch size, the
 * correct count and the images. With @classes > 0 it stops at the first batch whose
 * loss diverged and returns its index (its loss in *@bad), else -1. */
static gint64
tally_sum (Tally *t, int classes, double *loss_sum, gint64 *correct, gint64 *seen, double *bad)
{
  const double *lh = mt_staging_download (&t->losses, t->batches * sizeof (double));
  const gint64 *hh = mt_staging_download (&t->hits, t->batches * sizeof (gint64));
  *loss_sum = 0;
  *correct = *seen = 0;
  for (gint64 bi = 0; bi < t->batches; bi++) {
    if (!t->sizes[bi])
      continue;
    if (classes > 0 && diverged (lh[bi], classes)) {
      *bad = lh[bi];
      return bi;
    }
    *loss_sum += lh[bi] * t->sizes[bi];
    *correct += hh[bi];
    *seen += t->sizes[bi];
  }
  return -1;
}

static gint64
batch_count (gint64 n, int batch_size)
{
  return (n + batch_size - 1) / batch_size;
}

/* Accuracy and loss on the pass @src: one download of the losses at the end, not one
 * wait per batch. */
static double
evaluate_pass (MtSlices *slices, MtModel *model, MtBatches *src, int batch_size, double *loss, GError **error)
{
  MtBackend *be = mt_model_get_backend (model);
  g_auto (Tally) tally = { 0 };
  gint64 batches = batch_count (mt_batches_size (src), batch_size);
  tally_init (&tally, be, batches);
  gint64 bi = 0;
  const float *x;
  const gint64 *y;
  int b = 0;
  GError *err = NULL;
  while (mt_batches_next (src, &b, &x, &y, &err)) {
    g_return_val_if_fail (bi < batches, -1);
    const float *logits = mt_slices_forward_eval (slices, x, b);
    be->ops->cross_entropy (be, logits, y, b, mt_model_num_classes (model), NULL, tally_loss (&tally, bi),
                            tally_correct (&tally, bi));
    tally.sizes[bi++] = b;
  }
  if (err) {
    g_propagate_error (error, err);
    return -1;
  }
  double total_loss;
  gint64 correct, n;
  tally_sum (&tally, 0, &total_loss, &correct, &n, NULL);
  if (loss)
    *loss = n ? total_loss / (double) n : 0;
  return n ? (double) correct / (double) n : 0;
}

double
mt_train_evaluate (MtModel *model, MtBundle *data, const gint64 *idx, gint64 n, int batch_size, double *loss,
                   GError **error)
{
  g_autoptr (MtDeviceData) dd = mt_device_data_new (mt_model_get_backend (model), data);
  g_autoptr (MtBatches) src = mt_batches_new (model, data, dd, NULL, idx, n, batch_size);
  g_autoptr (MtSlices) slices = mt_slices_new (model, 0);
  return evaluate_pass (slices, model, src, batch_size, loss, error);
}

float *
mt_train_predict (MtModel *model, MtBundle *data, int batch_size,
                  void (*progress) (double fraction, gpointer user_data), gpointer user_data, GError **error)
{
  MtBackend *be = mt_model_get_backend (model);
  g_autoptr (MtDeviceData) dd = mt_device_data_new (be, data);
  g_autoptr (MtBatches) src = mt_batches_new (model, data, dd, NULL, NULL, 0, batch_size);
  gint64 n = mt_batches_size (src);
  int classes = mt_model_num_classes (model);
  g_autofree float *out = g_new (float, (gsize) MAX (n, 1) * classes);
  g_autoptr (MtSlices) slices = mt_slices_new (model, 0);
  gint64 start = 0;
  const float *x;
  int b = 0;
  GError *err = NULL;
  while (mt_batches_next (src, &b, &x, NULL, &err)) {
    const float *logits = mt_slices_forward_eval (slices, x, b);
    be->ops->download (be, out + (gsize) start * classes, logits, (gsize) b * classes * sizeof (float));
    start += b;
    if (progress)
      progress ((double) start / (double) n, user_data);
  }
  /* A whole pass is done: the buffers go, so that several models' passes in a row (the
   * evaluator's) hold one model's buffers at a time, not all of them. */
  mt_model_release_buffers (model);
  if (!err)
    mt_backend_sync (mt_model_get_backend (model), &err);
  if (err) {
    g_propagate_error (error, err);
    return NULL;
  }
  return g_steal_pointer (&out);
}

gboolean
mt_train_run (MtTrainState *st, const MtTrainConfig *cfg, MtBundle *data, const MtTrainHooks *hooks,
              GError **error)
{
  MtModel *model = st->model;
  if (!check_data (model, data, error))
    return FALSE;
  if (st->momentum && st->optimizer != cfg->optimizer) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "the optimizer state is %s's, but this training uses %s",
                 mt_optimizer_name (st->optimizer), mt_optimizer_name (cfg->optimizer));
    return FALSE;
  }
  MtTensor *labels = mt_bundle_get (data, MT_DATASET_LABELS);
  g_autoptr (MtLoader) loader = mt_loader_new (data, 0);
  gint64 n = mt_loader_size (loader);

  /* A fixed, seeded split: the same samples are held out on every run and resume. */
  g_autofree gint64 *order = g_new (gint64, n);
  for (gint64 i = 0; i < n; i++)
    order[i] = i;
  gint64 n_val = (gint64) floor (cfg->val_fraction * (double) n + 0.5);
  MtRng rng;
  if (n_val > 0) {
    mt_rng_seed (&rng, cfg->seed ^ 0x76616c6964617465ULL);
    mt_rng_shuffle (&rng, order, n);
  }
  gint64 n_train = n - n_val;
  if (n_train < 2) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "too few training samples (%" G_GINT64_FORMAT ")", n_train);
    return FALSE;
  }
  const gint64 *val_idx = order + n_train;
  g_autofree gint64 *perm = g_new (gint64, n_train);

  int classes = mt_model_num_classes (model);
  MtBackend *be = mt_model_get_backend (model);
  g_autoptr (MtSlices) slices = mt_slices_new (model, 0);
  gint64 batches = batch_count (n_train, cfg->batch_size);
  g_auto (MtStaging) ys = { 0 };
  g_auto (Tally) tally = { 0 };
  tally_init (&tally, be, batches);
  /* On a device that can hold the dataset, batches are gathered there into buffers that
   * stay put (which a recorded step needs): no upload per step. */
  g_autoptr (MtDeviceData) dd = mt_augment_active (cfg->augment) ? NULL : mt_device_data_new (be, data);
  g_auto (MtStaging) xs = { 0 };
  MtInputSpec input;
  mt_model_input_spec (model, &input);
  float *x_dev = dd ? mt_staging_device (&xs, be, (gsize) cfg->batch_size * input.c * input.hw * sizeof (float))
                    : NULL;
  gint64 *y_dev = dd ? mt_staging_device (&ys, be, (gsize) cfg->batch_size * sizeof (gint64)) : NULL;
  /* A recorded step writes its loss and count to one place; each batch's is copied from there. */
  g_auto (MtStepGraph) graph = { 0 };
  mt_step_graph_init (&graph, be);
  g_auto (MtStaging) step_out = { 0 };
  double *step_loss = graph.enabled ? mt_staging_device (&step_out, be, 2 * sizeof (double)) : NULL;
  gint64 *step_correct = step_loss ? (gint64 *) (step_loss + 1) : NULL;

  /* Progress runs over the epochs this call trains (a resumed run starts later); the
   * first epoch is fixed here, since st->epochs_done moves as epochs finish. */
  const int first_epoch = st->epochs_done;
  const gint64 run_t0 = g_get_monotonic_time ();
  gint64 run_seen = 0;
  for (int epoch = st->epochs_done; epoch < cfg->epochs; epoch++) {
    gint64 t0 = g_get_monotonic_time ();
    double lr = mt_train_lr_at (cfg, epoch);
    /* Each epoch's order depends on the seed and the epoch alone: a resumed run sees
     * the same batches as an uninterrupted one. */
    memcpy (perm, order, n_train * sizeof (gint64));
    mt_rng_seed (&rng, cfg->seed + 0x9E3779B97F4A7C15ULL * (guint64) (epoch + 1));
    mt_rng_shuffle (&rng, perm, n_train);
    memset (tally.sizes, 0, tally.batches * sizeof (int));
    /* batch norm needs two samples (PyTorch raises on one): a last batch of one is left out. */
    gint64 n_used = n_train % cfg->batch_size == 1 ? n_train - 1 : n_train;
    if (dd)
      mt_device_data_start (dd, perm, n_used);
    else
      mt_loader_start (loader, perm, n_used, cfg->batch_size, cfg->augment,
                       cfg->seed ^ (0xA5A5A5A5DEADBEEFULL + (guint64) epoch * 0x2545F4914F6CDD1DULL));
    for (gint64 bi = 0; bi < batches; bi++) {
      int b = 0;
      const float *x;
      const gint64 *yb;
      if (dd) {
        gint64 at = bi * cfg->batch_size;
        if (at >= n_used)
          continue;
        b = (int) MIN (cfg->batch_size, n_used - at);
        mt_device_data_batch (dd, &input, at, b, x_dev, y_dev);
        x = x_dev;
        yb = y_dev;
      } else {
        const gint64 *bidx;
        GError *lerr = NULL;
        const guint8 *px = mt_loader_next (loader, &b, &bidx, &lerr);
        if (!px) {
          if (lerr)
            g_propagate_prefixed_error (error, lerr, "epoch %d: ", epoch + 1);
          else
            continue;
          return FALSE;
        }
        x = mt_model_load_input (model, px, (gsize) b);
        gint64 *y = mt_staging_host (&ys, be, (gsize) cfg->batch_size * sizeof (gint64));
        for (int i = 0; i < b; i++)
          y[i] = ((gint64 *) labels->data)[bidx[i]];
        yb = mt_staging_upload (&ys, (gsize) b * sizeof (gint64));
      }
      gboolean first = optimizer_prepare (st, cfg);
      double *loss_dev = tally_loss (&tally, bi);
      Step step = { slices, st, cfg, lr, first, x, yb, b, step_loss ? step_loss : loss_dev,
                    step_loss ? step_correct : tally_correct (&tally, bi) };
      if (!train_step (&graph, &step, error)) {
        g_prefix_error (error, "epoch %d: ", epoch + 1);
        return FALSE;
      }
      st->steps_eager = graph.eager;
      st->steps_recorded = graph.recorded;
      st->steps_replayed = graph.replayed;
      if (step_loss) {
        be->ops->copy (be, loss_dev, step_loss, sizeof (double));
        be->ops->copy (be, tally_correct (&tally, bi), step_correct, sizeof (gint64));
      }
      tally.sizes[bi] = b;
      /* Where reading the loss costs nothing, a diverged step stops the run at once. */
      if (mt_backend_is_host (be) && diverged (*loss_dev, classes))
        return fail_diverged (*loss_dev, epoch, bi, lr, error);
      run_seen += b;
      if (hooks && hooks->progress) {
        double f = (epoch - first_epoch + (bi + 1.0) / batches) / (cfg->epochs - first_epoch);
        double secs = (g_get_monotonic_time () - run_t0) / 1e6;
        int eta = (int) (f > 0 ? secs * (1 - f) / f + 0.5 : 0);
        g_autofree char *detail = g_strdup_printf ("epoch %d/%d, %.0f img/s, ETA %d:%02d", epoch + 1, cfg->epochs,
                                                   run_seen / MAX (secs, 1e-9), eta / 60, eta % 60);
        hooks->progress (f, detail, hooks->user_data);
      }
    }
    double loss_sum, bad_loss;
    gint64 correct, seen;
    gint64 bad = tally_sum (&tally, classes, &loss_sum, &correct, &seen, &bad_loss);
    if (bad >= 0)
      return fail_diverged (bad_loss, epoch, bad, lr, error);
    double train_loss = seen ? loss_sum / seen : 0, train_acc = seen ? (double) correct / seen : 0;
    double val_loss = 0, val_acc = train_acc;
    if (n_val > 0) {
      /* From the dataset on the device where training has it there, else by the training's loader. */
      g_autoptr (MtBatches) vb =
        mt_batches_new (model, data, dd, dd ? NULL : loader, val_idx, n_val, cfg->batch_size);
      GError *lerr = NULL;
      val_acc = evaluate_pass (slices, model, vb, cfg->batch_size, &val_loss, &lerr);
      if (lerr) {
        g_propagate_prefixed_error (error, lerr, "epoch %d, validation: ", epoch + 1);
        return FALSE;
      }
    }
    /* Weights that give NaN (or an absurd loss) on held-out data have diverged too, even
     * while the batches' own losses stayed sane (batch norm in training mode can hide it). */
    if (diverged (val_loss, classes)) {
      char buf[G_ASCII_DTOSTR_BUF_SIZE];
      g_set_error (error, MT_ERROR, MT_ERROR_NODE,
                   "training diverged: the loss is %s on the validation split in epoch %d; lower lr (%g)",
                   loss_text (val_loss, buf), epoch + 1, lr);
      return FALSE;
    }
    /* A device backend reports its asynchronous failures here, before the epoch counts. */
    if (!mt_backend_sync (be, error)) {
      g_prefix_error (error, "epoch %d: ", epoch + 1);
      return FALSE;
    }
    double secs = (g_get_monotonic_time () - t0) / 1e6;

    JsonObject *e = json_object_new ();
    json_object_set_int_member (e, "epoch", epoch + 1);
    json_object_set_double_member (e, "lr", lr);
    json_object_set_double_member (e, "loss", train_loss);
    json_object_set_double_member (e, "accuracy", train_acc);
    if (n_val > 0) {
      json_object_set_double_member (e, "val_loss", val_loss);
      json_object_set_double_member (e, "val_accuracy", val_acc);
    }
    json_object_set_double_member (e, "seconds", secs);
    json_object_set_double_member (e, "images_per_second", seen / MAX (secs, 1e-9));
    json_array_add_object_element (st->log, e);

    /* Best by validation accuracy (training accuracy without a split); ties keep the earlier. */
    if (st->best_epoch < 0 || val_acc > st->best_accuracy) {
      st->best_accuracy = val_acc;
      st->best_epoch = epoch + 1;
      mt_model_copy_weights (st->best, model);
    }
    st->epochs_done = epoch + 1;
    st->lr = lr;
    if (hooks && hooks->log) {
      g_autofree char *msg = n_val > 0
        ? g_strdup_printf ("epoch %d/%d: lr %g, loss %.4f, accuracy %.4f, val loss %.4f, val accuracy %.4f, %.0f img/s",
                           epoch + 1, cfg->epochs, lr, train_loss, train_acc, val_loss, val_acc, seen / MAX (secs, 1e-9))
        : g_strdup_printf ("epoch %d/%d: lr %g, loss %.4f, accuracy %.4f, %.0f img/s",
                           epoch + 1, cfg->epochs, lr, train_loss, train_acc, seen / MAX (secs, 1e-9));
      hooks->log (msg, hooks->user_data);
    }
    if (hooks && hooks->epoch_done && !hooks->epoch_done (st, hooks->user_data, error))
      return FALSE;
  }
  return TRUE;
}

JsonArray *
mt_train_log_without_timing (MtTrainState *st)
{
  JsonArray *entries = json_array_new ();
  for (guint i = 0; i < json_array_get_length (st->log); i++) {
    JsonObject *e = json_array_get_object_element (st->log, i);
    JsonObject *copy = json_object_new ();
    g_autoptr (GList) keys = json_object_get_members (e);
    for (GList *k = keys; k; k = k->next)
      if (g_strcmp0 (k->data, "seconds") != 0 && g_strcmp0 (k->data, "images_per_second") != 0)
        json_object_set_member (copy, k->data, json_node_copy (json_object_get_member (e, k->data)));
    json_array_add_object_element (entries, copy);
  }
  return entries;
}

MtBundle *
mt_train_state_to_bundle (MtTrainState *st, gboolean with_timing)
{
  MtBundle *b = mt_bundle_new ();
  guint np = mt_model_n_params (st->model);
  MtBackend *mbe = mt_model_get_backend (st->model);
  gboolean adam = st->optimizer == MT_OPTIMIZER_ADAM;
  for (guint p = 0; st->momentum && p < np; p++) {
    MtParam *mp = mt_model_param (st->model, p);
    gint64 shape[] = { (gint64) mp->len };
    g_autoptr (MtTensor) t = mt_tensor_new (MT_DTYPE_F32, 1, shape);
    mbe->ops->download (mbe, t->data, st->momentum[p], t->nbytes);
    g_autofree char *name = g_strdup_printf ("%s.%s", mp->name, adam ? "exp_avg" : "momentum_buffer");
    mt_bundle_set (b, name, t);
    if (adam) {
      g_autoptr (MtTensor) v = mt_tensor_new (MT_DTYPE_F32, 1, shape);
      mbe->ops->download (mbe, v->data, st->exp_avg_sq[p], v->nbytes);
      g_autofree char *vname = g_strdup_printf ("%s.exp_avg_sq", mp->name);
      mt_bundle_set (b, vname, v);
    }
  }
  g_autofree char *step = g_strdup_printf ("%" G_GINT64_FORMAT, st->step);
  mt_bundle_set_metadata (b, "optimizer", mt_optimizer_name (st->optimizer));
  mt_bundle_set_metadata (b, "step", step);
  g_autoptr (MtBundle) best = mt_model_to_bundle (st->best);
  mt_bundle_add_prefixed (b, "best", best);
  g_autofree char *lr = mt_number_format (st->lr);
  g_autofree char *ba = mt_number_format (st->best_accuracy);
  mt_bundle_set_metadata (b, "lr", lr);
  mt_bundle_set_metadata (b, "best_accuracy", ba);
  g_autofree char *done = g_strdup_printf ("%d", st->epochs_done);
  g_autofree char *be = g_strdup_printf ("%d", st->best_epoch);
  mt_bundle_set_metadata (b, "epochs_done", done);
  mt_bundle_set_metadata (b, "best_epoch", be);
  mt_bundle_set_metadata (b, "has_momentum", st->momentum ? "true" : "false");
  g_autoptr (JsonArray) entries = with_timing ? json_array_ref (st->log) : mt_train_log_without_timing (st);
  g_autoptr (JsonNode) log = json_node_init_array (json_node_alloc (), entries);
  g_autofree char *log_text = mt_json_to_string (log, FALSE);
  mt_bundle_set_metadata (b, "log", log_text);
  return b;
}

gboolean
mt_train_state_from_bundle (MtTrainState *st, MtBundle *b, gboolean with_progress, const char *what,
                            GError **error)
{
  guint np = mt_model_n_params (st->model);
  const char *opt = mt_bundle_get_metadata (b, "optimizer");
  if (opt && g_strcmp0 (opt, "sgd") != 0 && g_strcmp0 (opt, "adam") != 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: unknown optimizer '%s'", what, opt);
    return FALSE;
  }
  free_momentum (st);
  st->optimizer = g_strcmp0 (opt, "adam") == 0 ? MT_OPTIMIZER_ADAM : MT_OPTIMIZER_SGD;
  const char *step = mt_bundle_get_metadata (b, "step");
  st->step = step ? g_ascii_strtoll (step, NULL, 10) : 0;
  if (g_strcmp0 (mt_bundle_get_metadata (b, "has_momentum"), "true") == 0) {
    gboolean adam = st->optimizer == MT_OPTIMIZER_ADAM;
    st->momentum = new_buffers (st->model, &st->momentum_span);
    if (adam)
      st->exp_avg_sq = new_buffers (st->model, &st->exp_avg_sq_span);
    for (guint p = 0; p < np * (adam ? 2 : 1); p++) {
      MtParam *mp = mt_model_param (st->model, p % np);
      const char *suffix = !adam ? "momentum_buffer" : p < np ? "exp_avg" : "exp_avg_sq";
      g_autofree char *name = g_strdup_printf ("%s.%s", mp->name, suffix);
      MtTensor *t = mt_bundle_get (b, name);
      if (!t || t->dtype != MT_DTYPE_F32 || (gsize) mt_tensor_numel (t) != mp->len) {
        g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: no valid '%s' for this model", what, name);
        return FALSE;
      }
      MtBackend *be = mt_model_get_backend (st->model);
      be->ops->upload (be, p < np ? st->momentum[p] : st->exp_avg_sq[p - np], t->data, t->nbytes);
    }
    if (adam && st->step < 1) {
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: Adam's moments without a step count", what);
      return FALSE;
    }
  }
  const char *lr = mt_bundle_get_metadata (b, "lr");
  if (lr)
    st->lr = g_ascii_strtod (lr, NULL);
  if (!with_progress)
    return TRUE;
  /* Resuming: the best weights, the epoch count and the log come back too. */
  g_autoptr (MtBundle) best = mt_model_to_bundle (st->best);
  g_autofree char *missing = NULL;
  if (!mt_bundle_take_prefixed (best, "best", b, &missing)) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: no '%s'", what, missing);
    return FALSE;
  }
  MtModel *restored = mt_model_from_bundle (best, what, error);
  if (!restored)
    return FALSE;
  mt_model_copy_weights (st->best, restored);
  mt_model_free (restored);
  st->epochs_done = atoi (mt_bundle_get_metadata (b, "epochs_done") ? mt_bundle_get_metadata (b, "epochs_done") : "0");
  st->best_epoch = atoi (mt_bundle_get_metadata (b, "best_epoch") ? mt_bundle_get_metadata (b, "best_epoch") : "-1");
  const char *ba = mt_bundle_get_metadata (b, "best_accuracy");
  st->best_accuracy = ba ? g_ascii_strtod (ba, NULL) : 0;
  const char *log = mt_bundle_get_metadata (b, "log");
  if (log) {
    g_autoptr (JsonNode) root = mt_json_parse (log, strlen (log), G_MAXSIZE, "training log", NULL);
    if (root && JSON_NODE_HOLDS_ARRAY (root)) {
      json_array_unref (st->log);
      st->log = json_array_ref (json_node_get_array (root));
    }
  }
  return TRUE;
}
