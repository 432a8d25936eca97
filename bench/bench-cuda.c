/* Throughput of the model on a compute backend, the device benchmark (default: cuda; any
 * backend mt_backend_new knows, so "cpu" runs it anywhere): the work of the MaskTune
 * pipeline's two heavy nodes, each through the code the node runs.
 *
 *   - training: epochs of SmallCNN on 60,000 3 x 28 x 28 images, batch 128 (469 steps),
 *     SGD with momentum 0.9 and weight decay 1e-4, through mt_train_run (the loader, the
 *     input upload, the step, the optimizer, the per-epoch sync);
 *   - saliency: XGradCAM on the same 60,000 images, batch 256, as the xgradcam node makes
 *     its maps (each batch gathered from the dataset on the backend, eval forward, the
 *     one-hot seed, backward to the target layer, the 28 x 28 maps, downloaded);
 *   - masks: the masker's pass (ml/mt-mask-pass.h) over those 60,000 maps, MaskTune's
 *     mean_std rule and top_k (maps up, masks down).
 *
 *   make bench/bench-cuda && ./bench/bench-cuda [--backend NAME] [--epochs N] [--images N]
 *
 * The first epoch includes making cuDNN's plans and loading the kernels; the best epoch
 * is the figure. The targets on an H200: an epoch in 0.15 s or less, and 5 times
 * PyTorch eager on the same GPU (bench/bench_torch.py --device cuda). */
#include "tests/mt-internal.h"
#include "ml/mt-batches.h"
#include "ml/mt-dataset.h"
#include "ml/mt-mask-pass.h"
#include "ml/mt-staging.h"
#include "ml/mt-train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

static MtBundle *
dataset (gint64 n)
{
  gint64 ishape[] = { n, 3, 28, 28 }, lshape[] = { n };
  g_autoptr (MtTensor) images = mt_tensor_new (MT_DTYPE_U8, 4, ishape);
  g_autoptr (MtTensor) labels = mt_tensor_new (MT_DTYPE_I64, 1, lshape);
  MtRng rng;
  mt_rng_seed (&rng, 1);
  for (gsize i = 0; i < images->nbytes; i++)
    ((guint8 *) images->data)[i] = (guint8) mt_rng_below (&rng, 256);
  for (gint64 i = 0; i < n; i++)
    ((gint64 *) labels->data)[i] = i % 2;
  MtBundle *b = mt_bundle_new ();
  mt_bundle_set (b, MT_DATASET_IMAGES, images);
  mt_bundle_set (b, MT_DATASET_LABELS, labels);
  return b;
}

typedef struct {
  double *best;
  double t0;
} Epochs;

static gboolean
on_epoch (MtTrainState *st, gpointer user_data, GError **error)
{
  Epochs *e = user_data;
  double t = now ();
  if (*e->best == 0 || t - e->t0 < *e->best)
    *e->best = t - e->t0;
  printf ("  epoch %d: %.3f s\n", st->epochs_done, t - e->t0);
  e->t0 = t;
  return TRUE;
}

/* One saliency pass over @data as the xgradcam node makes it (one slice), its maps into
 * @maps [n, 28, 28] on the host. */
static gboolean
saliency_pass (MtModel *m, MtBundle *data, MtDeviceData *dd, int bs, float *maps, GError **error)
{
  MtBackend *be = mt_model_get_backend (m);
  const char *layer = mt_model_arch (m)->target_layer;
  int classes = mt_model_num_classes (m), c = 0, h = 0, w = 0, hw = 28 * 28;
  mt_model_activation (m, layer, &c, &h, &w);
  g_auto (MtStaging) seed = { 0 }, work = { 0 }, dmaps = { 0 };
  float *sd = mt_staging_device (&seed, be, (gsize) bs * classes * sizeof (float));
  float *wd = mt_staging_device (&work, be, mt_cam_work_floats (bs, c, h, w) * sizeof (float));
  float *md = mt_staging_device (&dmaps, be, (gsize) bs * hw * sizeof (float));
  g_autoptr (MtBatches) src = mt_batches_new (m, data, dd, NULL, NULL, 0, bs);
  const float *x;
  int b = 0;
  for (gint64 start = 0; mt_batches_next (src, &b, &x, NULL, error); start += b) {
    const float *logits = mt_model_forward (m, x, b, FALSE);
    be->ops->cam_seed (be, logits, NULL, b, classes, sd);
    const float *g = mt_model_backward_to (m, sd, layer);
    const float *a = mt_model_activation (m, layer, &c, &h, &w);
    be->ops->cam_maps (be, MT_CAM_XGRADCAM, a, g, b, c, h, w, 28, 28, wd, md);
    be->ops->download (be, maps + start * hw, md, (gsize) b * hw * sizeof (float));
  }
  return (!error || !*error) && mt_backend_sync (be, error);
}

/* The best of three runs of @fn, in seconds. */
#define BEST_OF_3(best, ok, call) G_STMT_START { \
    for (int rep_ = 0; rep_ < 3 && (ok); rep_++) { \
      double t0_ = now (); \
      (ok) = (call); \
      double t_ = now () - t0_; \
      (best) = rep_ == 0 || t_ < (best) ? t_ : (best); \
    } \
  } G_STMT_END

int
main (int argc, char **argv)
{
  const char *name = "cuda";
  int epochs = 3;
  gint64 images = 60000;
  for (int i = 1; i < argc; i++) {
    if (!strcmp (argv[i], "--backend") && i + 1 < argc)
      name = argv[++i];
    else if (!strcmp (argv[i], "--epochs") && i + 1 < argc)
      epochs = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--images") && i + 1 < argc)
      images = atoll (argv[++i]);
    else {
      fprintf (stderr, "usage: bench-cuda [--backend NAME] [--epochs N] [--images N]\n");
      return 2;
    }
  }
  epochs = MAX (epochs, 1);
  images = MAX (images, 256);
  g_autoptr (GError) err = NULL;
  g_autofree char *what = NULL;
  if (!mt_backend_probe (name, &what, &err)) {
    fprintf (stderr, "bench-cuda: backend %s: %s\n", name, err->message);
    return 1;
  }
  g_autoptr (MtBackend) be = mt_backend_open (name, &err);
  if (!be) {
    fprintf (stderr, "bench-cuda: backend %s: %s\n", name, err->message);
    return 1;
  }
  printf ("backend %s (%s), %" G_GINT64_FORMAT " images\n", name, what, images);
  g_autoptr (MtBundle) data = dataset (images);
  g_autoptr (MtModel) m = mt_model_new (mt_arch_lookup ("small_cnn"), 2);
  mt_model_init (m, 0);
  if (!mt_model_set_backend (m, be, &err)) {
    fprintf (stderr, "bench-cuda: %s\n", err->message);
    return 1;
  }
  double best = 0;
  Epochs e = { &best, now () };
  MtTrainConfig cfg = { .epochs = epochs, .lr = 0.01, .momentum = 0.9, .weight_decay = 1e-4, .batch_size = 128,
                        .gamma = 1, .seed = 1 };
  MtTrainHooks hooks = { .epoch_done = on_epoch, .user_data = &e };
  g_autoptr (MtTrainState) st = mt_train_state_new (m);
  if (!mt_train_run (st, &cfg, data, &hooks, &err)) {
    fprintf (stderr, "bench-cuda: training: %s\n", err->message);
    return 1;
  }
  printf ("training: best epoch %.3f s, %.0f img/s (steps: %" G_GINT64_FORMAT " as they came, %" G_GINT64_FORMAT
          " recorded, %" G_GINT64_FORMAT " replayed)\n", best, images / best, st->steps_eager, st->steps_recorded,
          st->steps_replayed);
  double sbest = 0, mbest = 0, tbest = 0;
  gboolean ok = TRUE;
  g_autofree float *maps = g_new (float, (gsize) images * 28 * 28);
  g_autofree guint8 *keep = g_new (guint8, (gsize) images * 28 * 28);
  g_autoptr (MtDeviceData) dd = mt_device_data_new (be, data);
  BEST_OF_3 (sbest, ok, saliency_pass (m, data, dd, 256, maps, &err));
  if (!ok) {
    fprintf (stderr, "bench-cuda: saliency: %s\n", err->message);
    return 1;
  }
  printf ("saliency: best pass %.3f s, %.0f img/s\n", sbest, images / sbest);
  MtMaskRule mean_std = { .method = MT_MASK_MEAN_STD, .k = 2 }, top = { .method = MT_MASK_TOP_K, .fraction = 0.1 };
  BEST_OF_3 (mbest, ok, mt_mask_pass (be, &mean_std, maps, images, 28 * 28, keep, &err));
  BEST_OF_3 (tbest, ok, mt_mask_pass (be, &top, maps, images, 28 * 28, keep, &err));
  if (!ok) {
    fprintf (stderr, "bench-cuda: masks: %s\n", err->message);
    return 1;
  }
  printf ("masks: mean_std best pass %.3f s, %.0f maps/s; top_k %.3f s, %.0f maps/s\n", mbest, images / mbest, tbest,
          images / tbest);
  return 0;
}
