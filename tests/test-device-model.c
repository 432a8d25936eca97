/* The model, the trainer, prediction and saliency passes on a backend whose memory is not
 * the host's (tests/mt-guard-backend.h: host code touching it faults, as reading a GPU's
 * would give garbage): what the CUDA backend needs of everything above the ops, checked
 * without a GPU. Each pass gives the CPU backend's bytes, since the guard runs the CPU's
 * ops: only where the data lives differs. */
#include "tests/mt-test-util.h"
#include "tests/mt-guard-backend.h"
#include "ml/mt-dataset.h"
#include "ml/mt-staging.h"
#include "ml/mt-train.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* @n random images of @c x @hw x @hw whose class is whether the top-left quarter is the
 * brighter: something to learn. */
static MtBundle *
dataset (gint64 n, int c, int hw, guint64 seed)
{
  gint64 ishape[] = { n, c, hw, hw }, lshape[] = { n };
  g_autoptr (MtTensor) images = mt_tensor_new (MT_DTYPE_U8, 4, ishape);
  g_autoptr (MtTensor) labels = mt_tensor_new (MT_DTYPE_I64, 1, lshape);
  MtRng rng;
  mt_rng_seed (&rng, seed);
  guint8 *px = images->data;
  for (gsize i = 0; i < images->nbytes; i++)
    px[i] = (guint8) mt_rng_below (&rng, 200);
  for (gint64 i = 0; i < n; i++) {
    gboolean bright = i % 2;
    ((gint64 *) labels->data)[i] = bright;
    for (int k = 0; k < c && bright; k++)
      for (int y = 0; y < hw / 2; y++)
        for (int x = 0; x < hw / 2; x++)
          px[((i * c + k) * hw + y) * hw + x] += 55;
  }
  MtBundle *b = mt_bundle_new ();
  mt_bundle_set (b, MT_DATASET_IMAGES, images);
  mt_bundle_set (b, MT_DATASET_LABELS, labels);
  return b;
}

static MtModel *
new_model (const char *arch, int c, int hw)
{
  g_autoptr (GError) err = NULL;
  MtModel *m = mt_model_new_sized (mt_arch_lookup (arch), 2, c, hw, hw, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  mt_model_init (m, 7);
  return m;
}

/* @m on a new guard backend (returned; free it after the model). */
static MtBackend *
to_guard (MtModel *m)
{
  MtBackend *be = mt_guard_backend_new ();
  g_autoptr (GError) err = NULL;
  ck_assert_msg (mt_model_set_backend (m, be, &err), "%s", err ? err->message : "");
  ck_assert_ptr_eq (mt_model_get_backend (m), be);
  for (guint p = 0; p < mt_model_n_params (m); p++) {
    ck_assert (mt_guard_backend_owns (mt_model_param (m, p)->data));
    ck_assert (mt_guard_backend_owns (mt_model_param (m, p)->grad));
  }
  return be;
}

static void
assert_same_bundles (MtBundle *a, MtBundle *b, const char *what)
{
  g_autofree const char **names = mt_bundle_names (a);
  ck_assert_uint_eq (mt_bundle_size (a), mt_bundle_size (b));
  for (guint k = 0; names[k]; k++) {
    MtTensor *x = mt_bundle_get (a, names[k]), *y = mt_bundle_get (b, names[k]);
    ck_assert_msg (y != NULL, "%s: no %s", what, names[k]);
    ck_assert_msg (x->nbytes == y->nbytes && memcmp (x->data, y->data, x->nbytes) == 0, "%s: %s differs", what,
                   names[k]);
  }
}

/* The guard itself: host code reading its memory dies; so does an op handed host memory. */
static int
child_status (void (*fn) (void))
{
  pid_t pid = fork ();
  ck_assert_int_ge (pid, 0);
  if (pid == 0) {
    /* A child that survives exits 0; the expected outcome is a fault or an abort (its
     * message is not this test's output). */
    if (!freopen ("/dev/null", "w", stderr))
      _exit (0);
    fn ();
    _exit (0);
  }
  int status = 0;
  ck_assert_int_eq (waitpid (pid, &status, 0), pid);
  return status;
}

static void
read_backend_memory (void)
{
  MtBackend *be = mt_guard_backend_new ();
  volatile float *p = be->ops->alloc (be, 64);
  volatile float v = p[3];
  (void) v;
}

static void
hand_host_memory_to_an_op (void)
{
  MtBackend *be = mt_guard_backend_new ();
  float host[16] = { 0 };
  float *y = be->ops->alloc (be, sizeof host);
  be->ops->relu_forward (be, host, 16, y);
}

static void
upload_while_recording (void)
{
  MtBackend *be = mt_guard_backend_new ();
  float host[16] = { 0 };
  float *y = be->ops->alloc (be, sizeof host);
  be->ops->capture_begin (be, NULL);
  be->ops->upload (be, y, host, sizeof host);
}

START_TEST (guard_catches_host_access)
{
  int st = child_status (read_backend_memory);
  ck_assert_msg (!(WIFEXITED (st) && WEXITSTATUS (st) == 0), "a host read of guarded memory went unnoticed");
  st = child_status (hand_host_memory_to_an_op);
  ck_assert_msg (!(WIFEXITED (st) && WEXITSTATUS (st) == 0), "an op took host memory unnoticed");
  st = child_status (upload_while_recording);
  ck_assert_msg (!(WIFEXITED (st) && WEXITSTATUS (st) == 0), "an upload while recording went unnoticed");
  /* And what a backend must do works: zeroed, uploaded, copied, downloaded. */
  g_autoptr (MtBackend) be = mt_guard_backend_new ();
  float in[5] = { 1, 2, 3, 4, 5 }, out[5] = { 9, 9, 9, 9, 9 };
  float *a = be->ops->alloc (be, sizeof in), *b = be->ops->alloc (be, sizeof in);
  be->ops->download (be, out, a, sizeof out);
  for (int i = 0; i < 5; i++)
    ck_assert_float_eq (out[i], 0);
  be->ops->upload (be, a, in, sizeof in);
  be->ops->copy (be, b, a, sizeof in);
  be->ops->zero (be, b, sizeof (float));
  be->ops->download (be, out, b, sizeof out);
  ck_assert_float_eq (out[0], 0);
  ck_assert_float_eq (out[4], 5);
  /* A recording runs nothing until replayed, with its arguments as they were; a replay
   * after memory moved is refused. */
  ck_assert (be->ops->capture_begin (be, NULL));
  be->ops->copy (be, b, a, sizeof in);
  g_autoptr (GError) err = NULL;
  MtGraph *g = be->ops->capture_end (be, &err);
  ck_assert (g != NULL);
  be->ops->download (be, out, b, sizeof out);
  ck_assert_float_eq (out[0], 0);
  float twice[5] = { 10, 20, 30, 40, 50 };
  be->ops->upload (be, a, twice, sizeof twice);
  ck_assert (be->ops->graph_replay (be, g));
  be->ops->download (be, out, b, sizeof out);
  ck_assert_float_eq (out[0], 10);
  ck_assert_float_eq (out[4], 50);
  be->ops->free (be, a);
  ck_assert (!be->ops->graph_replay (be, g));
  be->ops->graph_free (be, g);
  be->ops->free (be, b);
}
END_TEST

/* A model moved onto the backend and back keeps its weights; a backend without an op the
 * architecture needs is refused, the model unchanged. */
START_TEST (models_move_between_backends)
{
  g_autoptr (MtModel) m = new_model ("resnet20", 3, 16);
  g_autoptr (MtBundle) before = mt_model_to_bundle (m);
  g_autoptr (MtBackend) be = to_guard (m);
  g_autoptr (MtBundle) on = mt_model_to_bundle (m);
  assert_same_bundles (before, on, "on the guard backend");
  g_autoptr (GError) err = NULL;
  ck_assert (mt_model_set_backend (m, mt_backend_cpu (), &err));
  g_autoptr (MtBundle) back = mt_model_to_bundle (m);
  assert_same_bundles (before, back, "back on the CPU");
  ck_assert_uint_eq (mt_guard_backend_in_use (), 0);  /* nothing left behind */

  MtBackendOps partial = *be->ops;
  partial.shortcut_forward = NULL;
  MtBackend lacking = { &partial, "lacking", NULL, FALSE };
  ck_assert (!mt_model_set_backend (m, &lacking, &err));
  ck_assert_msg (strstr (err->message, "shortcut_forward") && strstr (err->message, "lacking"), "%s", err->message);
  ck_assert_ptr_eq (mt_model_get_backend (m), mt_backend_cpu ());
}
END_TEST

typedef struct {
  const char *arch;
  int c, hw;
  MtOptimizer opt;
  gboolean nesterov;
  gboolean no_val;   /* no validation, and the learning rate drops for the third epoch */
} Case;

static const Case cases[] = {
  { "small_cnn", 3, 28, MT_OPTIMIZER_SGD, FALSE, FALSE },
  { "small_cnn", 3, 28, MT_OPTIMIZER_SGD, TRUE, TRUE },
  { "resnet20", 3, 16, MT_OPTIMIZER_ADAM, FALSE, FALSE },
  { "resnet18", 3, 32, MT_OPTIMIZER_SGD, FALSE, FALSE },
};

/* Training (with validation, momentum or Adam's moments, a checkpoint and a resume),
 * evaluation and prediction on the guard backend give the CPU's bytes. The guard records
 * steps and replays them (a CUDA graph's semantics: arguments by value, no host access
 * while recording); each epoch's validation moves memory, so the next epoch records
 * again; a last partial batch runs as it comes. */
START_TEST (training_on_device_memory)
{
  const Case *k = &cases[_i];
  gint64 n = g_str_equal (k->arch, "resnet18") ? 72 : 100;
  g_autoptr (MtBundle) data = dataset (n, k->c, k->hw, 3);
  MtTrainConfig cfg = { .epochs = 2, .lr = k->opt == MT_OPTIMIZER_ADAM ? 1e-3 : 0.02, .momentum = 0.9,
                        .nesterov = k->nesterov, .batch_size = 16, .val_fraction = k->no_val ? 0 : 0.2,
                        .seed = 5, .optimizer = k->opt, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                        .weight_decay = 5e-4 };
  /* Without validation a recording lives across epochs: the new rate must not replay the old. */
  const gint64 milestones[] = { 2 };
  if (k->no_val) {
    cfg.milestones = milestones;
    cfg.n_milestones = 1;
    cfg.gamma = 0.1;
  }
  MtModel *models[2];
  g_autoptr (MtBackend) be = NULL;
  MtBundle *states[2], *weights[2];
  float *logits[2];
  double acc[2], loss[2];
  for (int side = 0; side < 2; side++) {
    models[side] = new_model (k->arch, k->c, k->hw);
    if (side)
      be = to_guard (models[side]);
    g_autoptr (MtTrainState) st = mt_train_state_new (models[side]);
    g_autoptr (GError) err = NULL;
    cfg.epochs = 1;
    ck_assert_msg (mt_train_run (st, &cfg, data, NULL, &err), "%s", err ? err->message : "");
    /* A checkpoint and a resume from it, as the trainer node does between epochs. */
    g_autoptr (MtBundle) ckpt = mt_train_state_to_bundle (st, FALSE);
    g_autoptr (MtBundle) w = mt_model_to_bundle (models[side]);
    g_autoptr (MtTrainState) st2 = mt_train_state_new (models[side]);
    ck_assert_msg (mt_train_state_from_bundle (st2, ckpt, TRUE, "checkpoint", &err), "%s", err ? err->message : "");
    cfg.epochs = 3;
    guint updates_before = mt_guard_backend_optimizer_ops ();
    ck_assert_msg (mt_train_run (st2, &cfg, data, NULL, &err), "%s", err ? err->message : "");
    if (side == 0) {
      ck_assert (st2->steps_recorded == 0 && st2->steps_replayed == 0);
    } else {
      ck_assert_msg (st2->steps_recorded == 2 && st2->steps_replayed >= 2,
                     "%s: %" G_GINT64_FORMAT " steps as they came, %" G_GINT64_FORMAT " recorded, %" G_GINT64_FORMAT
                     " replayed", k->arch, st2->steps_eager, st2->steps_recorded, st2->steps_replayed);
      /* The parameters lie in one span on the device: each step's update is one op. */
      float *pd, *pg;
      gsize span;
      ck_assert (mt_model_flat_params (models[side], &pd, &pg, &span));
      ck_assert_int_eq (mt_guard_backend_optimizer_ops () - updates_before,
                        st2->steps_eager + st2->steps_recorded + st2->steps_replayed);
    }
    states[side] = mt_train_state_to_bundle (st2, FALSE);
    weights[side] = mt_model_to_bundle (models[side]);
    acc[side] = mt_train_evaluate (models[side], data, NULL, n, 24, &loss[side], &err);
    ck_assert_msg (acc[side] >= 0, "%s", err ? err->message : "");
    logits[side] = mt_train_predict (models[side], data, 24, NULL, NULL, &err);
    ck_assert_msg (logits[side] != NULL, "%s", err ? err->message : "");
  }
  assert_same_bundles (weights[0], weights[1], "weights");
  assert_same_bundles (states[0], states[1], "optimizer state");
  ck_assert_str_eq (mt_bundle_get_metadata (states[0], "log"), mt_bundle_get_metadata (states[1], "log"));
  ck_assert (acc[0] == acc[1] && loss[0] == loss[1]);
  ck_assert (memcmp (logits[0], logits[1], (gsize) n * 2 * sizeof (float)) == 0);
  for (int side = 0; side < 2; side++) {
    mt_bundle_unref (states[side]);
    mt_bundle_unref (weights[side]);
    mt_model_free (models[side]);
    g_free (logits[side]);
  }
}
END_TEST

/* On a GPU: training with CUDA graphs (the default) gives the bytes of training without
 * them (MT_GRAPHS=0), with most steps replayed; SmallCNN with SGD (the update in the
 * graph) and resnet20 with Adam (the update outside it). */
START_TEST (cuda_graphs_replay_as_eager)
{
  g_autoptr (GError) perr = NULL;
  if (!mt_backend_probe ("cuda", NULL, &perr)) {
    /* On the GPU machine (bench/gpu-run.sh) a skip is a failure. */
    ck_assert_msg (!g_getenv ("MT_REQUIRE_GPU"), "MT_REQUIRE_GPU is set, but: %s", perr->message);
    printf ("SKIP: CUDA graphs against eager steps: %s\n", perr->message);
    return;
  }
  const Case *k = &cases[_i == 0 ? 0 : 2];
  g_autoptr (MtBundle) data = dataset (400, k->c, k->hw, 3);
  MtTrainConfig cfg = { .epochs = 2, .lr = k->opt == MT_OPTIMIZER_ADAM ? 1e-3 : 0.02, .momentum = 0.9,
                        .batch_size = 32, .val_fraction = 0.1, .seed = 5, .optimizer = k->opt, .beta1 = 0.9,
                        .beta2 = 0.999, .eps = 1e-8, .weight_decay = 5e-4 };
  MtBundle *states[2], *weights[2];
  for (int side = 0; side < 2; side++) {
    g_setenv ("MT_GRAPHS", side ? "1" : "0", TRUE);
    g_autoptr (GError) err = NULL;
    /* Freed in reverse: the state's buffers and the model's before their backend. */
    g_autoptr (MtBackend) be = mt_backend_new ("cuda", &err);
    ck_assert_msg (be != NULL, "%s", err ? err->message : "");
    g_autoptr (MtModel) m = new_model (k->arch, k->c, k->hw);
    ck_assert_msg (mt_model_set_backend (m, be, &err), "%s", err ? err->message : "");
    g_autoptr (MtTrainState) st = mt_train_state_new (m);
    ck_assert_msg (mt_train_run (st, &cfg, data, NULL, &err), "%s", err ? err->message : "");
    printf ("CUDA graphs %s, %s: %" G_GINT64_FORMAT " steps as they came, %" G_GINT64_FORMAT " recorded, %"
            G_GINT64_FORMAT " replayed\n", side ? "on" : "off", k->arch, st->steps_eager, st->steps_recorded,
            st->steps_replayed);
    /* MT_CUDA_SYNC=1 waits for every kernel, which a graph cannot: nothing is recorded. */
    if (side && g_strcmp0 (g_getenv ("MT_CUDA_SYNC"), "1") != 0)
      ck_assert (st->steps_recorded >= 1 && st->steps_replayed > st->steps_eager);
    else
      ck_assert (st->steps_recorded == 0 && st->steps_replayed == 0);
    states[side] = mt_train_state_to_bundle (st, FALSE);
    weights[side] = mt_model_to_bundle (m);
  }
  g_unsetenv ("MT_GRAPHS");
  assert_same_bundles (weights[0], weights[1], "weights");
  assert_same_bundles (states[0], states[1], "optimizer state");
  ck_assert_str_eq (mt_bundle_get_metadata (states[0], "log"), mt_bundle_get_metadata (states[1], "log"));
  for (int side = 0; side < 2; side++) {
    mt_bundle_unref (states[side]);
    mt_bundle_unref (weights[side]);
  }
}
END_TEST

/* What saliency methods use: backward to a layer, the activation there, forward and
 * backward from a layer, the input's gradient; the same bytes as on the CPU. */
START_TEST (saliency_passes_on_device_memory)
{
  const char *archs[] = { "small_cnn", "resnet20" };
  const char *arch = archs[_i];
  int hw = _i ? 16 : 28;
  const int n = 6;
  g_autoptr (MtBundle) data = dataset (n, 3, hw, 9);
  const guint8 *px = mt_bundle_get (data, MT_DATASET_IMAGES)->data;
  const char *layer = mt_arch_lookup (arch)->target_layer;
  float *got[2][5];
  gsize sizes[5] = { 0 };
  g_autoptr (MtBackend) be = NULL;
  for (int side = 0; side < 2; side++) {
    g_autoptr (MtModel) m = new_model (arch, 3, hw);
    mt_model_keep_output (m, layer);
    if (side)
      be = to_guard (m);
    MtBackend *mb = mt_model_get_backend (m);
    const float *x = mt_model_load_input (m, px, n);
    const float *z = mt_model_forward (m, x, n, FALSE);
    float dl[n * 2];
    for (int i = 0; i < n * 2; i++)
      dl[i] = i % 2 ? 1.0f : 0.0f;
    MtStaging ds = { 0 }, gin = { 0 };
    const float *dld = mt_staging_put (&ds, mb, dl, sizeof dl);
    int c = 0, h = 0, w = 0;
    const float *g = mt_model_backward_to (m, dld, layer);
    const float *a = mt_model_activation (m, layer, &c, &h, &w);
    gsize act = (gsize) n * c * h * w * sizeof (float), img = (gsize) n * 3 * hw * hw * sizeof (float);
    const float *srcs[] = { z, g, a };
    gsize lens[] = { sizeof dl, act, act };
    for (int k = 0; k < 3; k++) {
      got[side][k] = g_malloc (lens[k]);
      mb->ops->download (mb, got[side][k], srcs[k], lens[k]);
      sizes[k] = lens[k];
    }
    /* Forward from the layer's activation gives the logits again; backward from it
     * gives the image's gradient. */
    const float *z2 = mt_model_forward_from (m, layer, a, n);
    got[side][3] = g_malloc (sizeof dl);
    mb->ops->download (mb, got[side][3], z2, sizeof dl);
    sizes[3] = sizeof dl;
    float *dx = mt_staging_device (&gin, mb, img);
    ck_assert (mt_model_backward_from (m, layer, g, dx));
    got[side][4] = mt_staging_download (&gin, img);
    got[side][4] = g_memdup2 (got[side][4], img);
    sizes[4] = img;
    mt_staging_clear (&ds);
    mt_staging_clear (&gin);
  }
  const char *what[] = { "logits", "gradient at the layer", "activation", "logits from the layer", "input gradient" };
  for (int k = 0; k < 5; k++) {
    ck_assert_msg (memcmp (got[0][k], got[1][k], sizes[k]) == 0, "%s: %s differs", arch, what[k]);
    g_free (got[0][k]);
    g_free (got[1][k]);
  }
}
END_TEST

/* ---- instances from mt_backend_open: a pool ------------------------------------------ */

static guint pooled_made, pooled_destroyed;
static MtBackendOps counted_ops;
static void (*guard_destroy) (MtBackend *be);

static void
counted_destroy (MtBackend *be)
{
  g_atomic_int_inc (&pooled_destroyed);
  guard_destroy (be);
}

static MtBackend *
counted_guard (GError **error)
{
  MtBackend *be = mt_guard_backend_new ();
  static gsize once;
  if (g_once_init_enter (&once)) {
    counted_ops = *be->ops;
    guard_destroy = be->ops->destroy;
    counted_ops.destroy = counted_destroy;
    g_once_init_leave (&once, 1);
  }
  be->ops = &counted_ops;
  g_atomic_int_inc (&pooled_made);
  return be;
}

/* A node's instance goes back to the pool and is the next node's, warm; one that failed
 * is destroyed instead; instances held at once are distinct. */
START_TEST (opened_instances_are_pooled)
{
  mt_backend_register ("counted", counted_guard);
  mt_backend_release_idle ();
  guint made0 = pooled_made, gone0 = pooled_destroyed;
  g_autoptr (GError) err = NULL;
  MtBackend *a = mt_backend_open ("counted", &err), *b = mt_backend_open ("counted", &err);
  ck_assert (a && b && a != b);
  ck_assert_uint_eq (pooled_made - made0, 2);
  float *p = a->ops->alloc (a, 16 * sizeof (float));
  a->ops->zero (a, p, 16 * sizeof (float));
  a->ops->free (a, p);
  mt_backend_free (a);
  MtBackend *c = mt_backend_open ("counted", &err);
  ck_assert_ptr_eq (c, a);  /* the idle one, not a new one */
  ck_assert_uint_eq (pooled_made - made0, 2);
  mt_backend_set_error (c, g_error_new_literal (MT_ERROR, MT_ERROR_FAILED, "a kernel failed"));
  mt_backend_free (c);  /* failed: destroyed, not handed on */
  ck_assert_uint_eq (pooled_destroyed - gone0, 1);
  mt_backend_free (b);
  MtBackend *d = mt_backend_open ("counted", &err);
  ck_assert_ptr_eq (d, b);
  ck_assert_ptr_null (d->error);
  mt_backend_free (d);
  /* The CPU's is the process-wide one, never pooled or destroyed. */
  ck_assert_ptr_eq (mt_backend_open ("cpu", &err), mt_backend_cpu ());
  mt_backend_free (mt_backend_cpu ());
  ck_assert_uint_eq (mt_backend_release_idle (), 1);
  ck_assert_uint_eq (pooled_destroyed - gone0, 2);
  ck_assert_uint_eq (mt_backend_release_idle (), 0);
  ck_assert_uint_eq (mt_guard_backend_in_use (), 0);
}
END_TEST

#define POOL_THREADS 4

static GHashTable *held;  /* instances some thread holds now */
static GMutex held_lock;

static gpointer
open_use_close (gpointer data)
{
  for (int round = 0; round < 50; round++) {
    g_autoptr (GError) err = NULL;
    MtBackend *be = mt_backend_open ("counted", &err);
    g_assert (be != NULL);
    /* Held by this thread alone: the pool never hands it to a second holder. */
    g_mutex_lock (&held_lock);
    g_assert (g_hash_table_add (held, be));
    g_mutex_unlock (&held_lock);
    float *p = be->ops->alloc (be, 64 * sizeof (float));
    be->ops->zero (be, p, 64 * sizeof (float));
    be->ops->free (be, p);
    g_mutex_lock (&held_lock);
    g_hash_table_remove (held, be);
    g_mutex_unlock (&held_lock);
    mt_backend_free (be);
  }
  return NULL;
}

/* Workers taking and handing back instances at once make no more than there are workers. */
START_TEST (pool_is_shared_by_workers)
{
  mt_backend_register ("counted", counted_guard);
  mt_backend_release_idle ();
  guint made0 = pooled_made;
  held = g_hash_table_new (NULL, NULL);
  GThread *t[POOL_THREADS];
  for (int i = 0; i < POOL_THREADS; i++)
    t[i] = g_thread_new ("pool", open_use_close, NULL);
  for (int i = 0; i < POOL_THREADS; i++)
    g_thread_join (t[i]);
  g_clear_pointer (&held, g_hash_table_unref);
  guint made = pooled_made - made0;
  ck_assert_msg (made >= 1 && made <= POOL_THREADS, "%u instances for %d workers", made, POOL_THREADS);
  ck_assert_uint_eq (mt_backend_release_idle (), made);
  ck_assert_uint_eq (mt_guard_backend_in_use (), 0);
}
END_TEST

/* ---- a pipeline on the backend ------------------------------------------------------ */

static guint guards_made;

static MtBackend *
guard_for_a_node (GError **error)
{
  g_atomic_int_inc (&guards_made);
  return mt_guard_backend_new ();
}

static void
collect_outputs (const MtEvent *e, gpointer user_data)
{
  if (e->type != MT_EVENT_FINISHED)
    return;
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < e->manifest->outputs->len; i++) {
    MtCacheOutput *o = e->manifest->outputs->pdata[i];
    g_string_append_printf (s, "%s=%s ", o->port, o->digest);
  }
  g_hash_table_insert (user_data, g_strdup (e->node->name), g_string_free (s, FALSE));
}

/* MaskTune end to end (trainer, xgradcam, masker, finetuner, predict, evaluator) with
 * every node's models and masks on a guard backend of its own, two nodes at a time: the same
 * output bytes as on the CPU, node by node. */
START_TEST (pipeline_on_device_memory)
{
  static const char pipe[] =
    "train = mnist(split=\"train\", limit=600)\n"
    "test = mnist(split=\"test\", limit=300)\n"
    "biased = biaser(train, conflict_ratio=0.01, patch=\"square\", size=4, color=[255, 0, 0])\n"
    "biased_test = biaser(test, conflict_ratio=1.0)\n"
    "erm = trainer(biased, epochs=2, lr=0.01, momentum=0.9, weight_decay=1e-4, batch_size=64)\n"
    "cam = xgradcam(erm, biased, method=\"gradcam_pp\")\n"
    "masked = masker(biased, cam, method=\"mean_std\", k=2.0)\n"
    "hottest = masker(biased, cam, method=\"top_k\", fraction=0.1)\n"
    "masktune = finetuner(erm, masked.dataset, state=erm.state, epochs=1)\n"
    "pred = predict(masktune, biased_test)\n"
    "report = evaluator(models=[erm, masktune], tests=[biased_test])\n";
  mt_backend_register ("guard", guard_for_a_node);
  guint made_before = g_atomic_int_get (&guards_made);
  GHashTable *outputs[2];
  for (int side = 0; side < 2; side++) {
    outputs[side] = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    g_autofree char *dir = mt_test_tmpdir ();
    g_autofree char *cdir = g_build_filename (dir, "cache", NULL);
    g_autoptr (GError) err = NULL;
    g_autoptr (MtCache) cache = mt_cache_open (cdir, &err);
    ck_assert_msg (cache != NULL, "%s", err ? err->message : "");
    g_autoptr (MtDag) g = mt_graph_load_string ("t.pipe", pipe, mt_registry_get_default (), NULL, &err);
    ck_assert_msg (g != NULL, "%s", err ? err->message : "");
    MtRunOptions opts = { .jobs = 2, .backend = side ? "guard" : "cpu", .on_event = collect_outputs,
                          .user_data = outputs[side] };
    ck_assert_msg (mt_executor_run (g, cache, &opts, &err), "%s", err ? err->message : "");
  }
  /* Seven nodes computed on it (trainer, xgradcam, the maskers, finetuner, predict,
   * evaluator), two at a time: on at most two instances, each handed back to the pool. */
  guint made = g_atomic_int_get (&guards_made) - made_before;
  ck_assert_msg (made >= 1 && made <= 2, "%u instances for a run of two workers", made);
  ck_assert_uint_eq (mt_backend_release_idle (), made);
  ck_assert_uint_eq (mt_guard_backend_in_use (), 0);
  const char *nodes[] = { "erm", "cam", "masked", "hottest", "masktune", "pred", "report" };
  for (guint k = 0; k < G_N_ELEMENTS (nodes); k++) {
    const char *a = g_hash_table_lookup (outputs[0], nodes[k]), *b = g_hash_table_lookup (outputs[1], nodes[k]);
    ck_assert_msg (a && b, "%s did not run", nodes[k]);
    ck_assert_msg (g_str_equal (a, b), "%s: on the CPU %s, on the guard backend %s", nodes[k], a, b);
  }
  g_hash_table_unref (outputs[0]);
  g_hash_table_unref (outputs[1]);
}
END_TEST

int
main (void)
{
  /* One slice on the CPU too, so both sides sum gradients alike (slices are for host
   * backends: mt-slices.h). */
  g_setenv ("MT_THREADING", "ops", TRUE);
  Suite *s = suite_create ("device-model");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, guard_catches_host_access);
  tcase_add_test (tc, models_move_between_backends);
  tcase_add_loop_test (tc, training_on_device_memory, 0, G_N_ELEMENTS (cases));
  tcase_add_loop_test (tc, saliency_passes_on_device_memory, 0, 2);
  tcase_add_test (tc, pipeline_on_device_memory);
  suite_add_tcase (s, tc);

  /* On a GPU, or on the host's CUDA simulator (tests/test-cuda-sim.sh runs this case). */
  TCase *cuda = tcase_create ("cuda");
  tcase_set_timeout (cuda, 600);
  tcase_add_loop_test (cuda, cuda_graphs_replay_as_eager, 0, 2);
  suite_add_tcase (s, cuda);
  /* A case of its own, which .ci/run also runs under ThreadSanitizer (CK_RUN_CASE=pool). */
  TCase *pool = tcase_create ("pool");
  tcase_add_test (pool, opened_instances_are_pooled);
  tcase_add_test (pool, pool_is_shared_by_workers);
  suite_add_tcase (s, pool);
  return mt_test_run_suite (s);
}
