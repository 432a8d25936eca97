/* SmallCNN and training: state_dict names and shapes, initialisation, the whole
 * network's gradient, the schedule, real training on the bundled digits (which learns
 * the shortcut), PyTorch loading our weights, resuming a killed run, divergence, and
 * fine-tuning from the optimizer state. */
#include "tests/mt-test-util.h"
#include "ml/cpu/mt-cpu.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The PyTorch module's state_dict for num_classes = 2, in PyTorch's order. */
static const struct {
  const char *name;
  int ndim;
  gint64 shape[4];
} state_dict[] = {
  { "backbone.0.weight", 4, { 16, 3, 3, 3 } }, { "backbone.0.bias", 1, { 16 } },
  { "backbone.1.weight", 1, { 16 } }, { "backbone.1.bias", 1, { 16 } }, { "backbone.1.running_mean", 1, { 16 } },
  { "backbone.1.running_var", 1, { 16 } }, { "backbone.1.num_batches_tracked", 0, { 0 } },
  { "backbone.3.weight", 4, { 16, 16, 3, 3 } }, { "backbone.3.bias", 1, { 16 } },
  { "backbone.4.weight", 1, { 16 } }, { "backbone.4.bias", 1, { 16 } }, { "backbone.4.running_mean", 1, { 16 } },
  { "backbone.4.running_var", 1, { 16 } }, { "backbone.4.num_batches_tracked", 0, { 0 } },
  { "backbone.7.weight", 4, { 32, 16, 3, 3 } }, { "backbone.7.bias", 1, { 32 } },
  { "backbone.8.weight", 1, { 32 } }, { "backbone.8.bias", 1, { 32 } }, { "backbone.8.running_mean", 1, { 32 } },
  { "backbone.8.running_var", 1, { 32 } }, { "backbone.8.num_batches_tracked", 0, { 0 } },
  { "backbone.10.weight", 4, { 32, 32, 3, 3 } }, { "backbone.10.bias", 1, { 32 } },
  { "backbone.11.weight", 1, { 32 } }, { "backbone.11.bias", 1, { 32 } }, { "backbone.11.running_mean", 1, { 32 } },
  { "backbone.11.running_var", 1, { 32 } }, { "backbone.11.num_batches_tracked", 0, { 0 } },
  { "linear.0.weight", 2, { 256, 512 } }, { "linear.0.bias", 1, { 256 } },
  { "linear.1.weight", 1, { 256 } }, { "linear.1.bias", 1, { 256 } }, { "linear.1.running_mean", 1, { 256 } },
  { "linear.1.running_var", 1, { 256 } }, { "linear.1.num_batches_tracked", 0, { 0 } },
  { "linear.3.weight", 2, { 2, 256 } }, { "linear.3.bias", 1, { 2 } },
};

START_TEST (state_dict_names_and_shapes)
{
  g_autoptr (MtModel) m = mt_model_new (mt_arch_lookup ("small_cnn"), 2);
  mt_model_init (m, 1);
  g_autoptr (MtBundle) b = mt_model_to_bundle (m);
  ck_assert_uint_eq (mt_bundle_size (b), G_N_ELEMENTS (state_dict));
  for (guint i = 0; i < G_N_ELEMENTS (state_dict); i++) {
    MtTensor *t = mt_bundle_get (b, state_dict[i].name);
    ck_assert_msg (t != NULL, "missing %s", state_dict[i].name);
    ck_assert_int_eq (t->ndim, state_dict[i].ndim);
    for (int d = 0; d < t->ndim; d++)
      ck_assert_int_eq (t->shape[d], state_dict[i].shape[d]);
    ck_assert_int_eq (t->dtype, g_str_has_suffix (state_dict[i].name, "num_batches_tracked") ? MT_DTYPE_I64 : MT_DTYPE_F32);
  }
  /* Round trip, and a bundle with a wrong shape is refused with the tensor's name. */
  g_autoptr (GError) err = NULL;
  g_autoptr (MtModel) back = mt_model_from_bundle (b, "mem", &err);
  ck_assert (back != NULL);
  gint64 bad[] = { 16, 3, 5, 5 };
  g_autoptr (MtTensor) wrong = mt_tensor_new (MT_DTYPE_F32, 4, bad);
  mt_bundle_set (b, "backbone.0.weight", wrong);
  ck_assert_ptr_null (mt_model_from_bundle (b, "mem", &err));
  ck_assert_msg (strstr (err->message, "'backbone.0.weight' is float32 [16, 3, 5, 5], the architecture needs float32 [16, 3, 3, 3]"),
                 "%s", err->message);
}
END_TEST

START_TEST (pytorch_default_init)
{
  g_autoptr (MtModel) m = mt_model_new (mt_arch_lookup ("small_cnn"), 2);
  mt_model_init (m, 42);
  for (guint i = 0; i < mt_model_n_params (m); i++) {
    MtParam *p = mt_model_param (m, i);
    if (g_str_has_prefix (p->name, "backbone.1.") || g_str_has_prefix (p->name, "linear.1.")) {
      float expect = g_str_has_suffix (p->name, ".weight") ? 1.0f : 0.0f;  /* batch norm */
      for (gsize k = 0; k < p->len; k++)
        ck_assert_float_eq (p->data[k], expect);
      continue;
    }
    if (strstr (p->name, "backbone.4") || strstr (p->name, "backbone.8") || strstr (p->name, "backbone.11"))
      continue;
    /* fan_in of the layer this parameter belongs to */
    int fan_in = g_str_has_prefix (p->name, "backbone.0") ? 27 : g_str_has_prefix (p->name, "backbone.3") ? 144
               : g_str_has_prefix (p->name, "backbone.7") ? 144 : g_str_has_prefix (p->name, "backbone.10") ? 288
               : g_str_has_prefix (p->name, "linear.0") ? 512 : 256;
    double bound = 1 / sqrt (fan_in), sq = 0;
    for (gsize k = 0; k < p->len; k++) {
      ck_assert (fabs (p->data[k]) <= bound);
      sq += p->data[k] * p->data[k];
    }
    if (p->len > 1000)  /* uniform(-b, b) has standard deviation b / sqrt(3) */
      ck_assert_double_eq_tol (sqrt (sq / p->len), bound / sqrt (3), 0.05 * bound);
  }
}
END_TEST

static double
loss_of (MtModel *m, const float *x, const gint64 *y, int n)
{
  const float *logits = mt_model_forward (m, x, n, TRUE);
  return mt_cpu_cross_entropy (logits, y, n, 2, NULL, NULL);
}

/* @steps SGD steps of @arch from seed 1 on fixed random data with @threads threads;
 * returns every parameter's bytes, concatenated. @unfused: every batch norm kept apart
 * from its ReLU. */
static GByteArray *
train_bytes_fused (const char *arch, int c, int hw, int threads, int steps, gboolean unfused)
{
  mt_cpu_set_threads (threads);
  g_autoptr (GError) err = NULL;
  g_autoptr (MtModel) m = mt_model_new_sized (mt_arch_lookup (arch), 2, c, hw, hw, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  const MtArch *a = mt_model_arch (m);
  for (int i = 0; unfused && i < a->n_layers; i++)
    if (a->layers[i].kind == MT_LAYER_BATCHNORM2D)
      ck_assert (mt_model_keep_output (m, a->layers[i].name));
  mt_model_init (m, 1);
  MtBackend *be = mt_model_get_backend (m);
  const int n = 24;
  MtRng rng;
  mt_rng_seed (&rng, 4);
  gsize nx = (gsize) n * c * hw * hw;
  g_autofree float *x = g_new (float, nx), *dlogits = g_new (float, n * 2);
  gint64 y[24];
  for (gsize i = 0; i < nx; i++)
    x[i] = (float) mt_rng_uniform (&rng);
  for (int i = 0; i < n; i++)
    y[i] = i % 2;
  g_autoptr (GPtrArray) mom = g_ptr_array_new_with_free_func (g_free);
  for (guint p = 0; p < mt_model_n_params (m); p++)
    g_ptr_array_add (mom, g_new0 (float, mt_model_param (m, p)->len));
  MtSgdSpec sgd = { 0.05, 0.9, 1e-4, FALSE };
  for (int s = 0; s < steps; s++) {
    const float *logits = mt_model_forward (m, x, n, TRUE);
    double loss;
    be->ops->cross_entropy (be, logits, y, n, 2, dlogits, &loss, NULL);
    mt_model_backward (m, dlogits, NULL);
    for (guint p = 0; p < mt_model_n_params (m); p++) {
      MtParam *mp = mt_model_param (m, p);
      be->ops->sgd_step (be, &sgd, mp->data, mp->grad, mom->pdata[p], mp->len, s == 0);
    }
  }
  GByteArray *out = g_byte_array_new ();
  for (guint p = 0; p < mt_model_n_params (m); p++)
    g_byte_array_append (out, (const guint8 *) mt_model_param (m, p)->data, mt_model_param (m, p)->len * sizeof (float));
  return out;
}

static GByteArray *
train_bytes (const char *arch, int c, int hw, int threads, int steps)
{
  return train_bytes_fused (arch, c, hw, threads, steps, FALSE);
}

/* A batch norm run fused with its ReLU gives the bytes of the two run apart; its own
 * output exists only when asked for. */
START_TEST (fused_batchnorm_relu_changes_nothing)
{
  int keep = mt_cpu_threads ();
  const struct { const char *arch; int c, hw; } cases[] = { { "small_cnn", 3, 28 }, { "resnet18", 3, 32 } };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
    g_autoptr (GByteArray) a = train_bytes_fused (cases[k].arch, cases[k].c, cases[k].hw, 2, 3, FALSE);
    g_autoptr (GByteArray) b = train_bytes_fused (cases[k].arch, cases[k].c, cases[k].hw, 2, 3, TRUE);
    ck_assert_uint_eq (a->len, b->len);
    ck_assert_msg (memcmp (a->data, b->data, a->len) == 0, "%s: fused and unfused training differ", cases[k].arch);
  }
  mt_cpu_set_threads (keep);
  g_autoptr (MtModel) m = mt_model_new (mt_arch_lookup ("small_cnn"), 2);
  mt_model_init (m, 1);
  g_autofree float *x = g_new0 (float, 4 * 3 * 28 * 28);
  mt_model_forward (m, x, 4, TRUE);
  int c = 0, h = 0, w = 0;
  ck_assert_ptr_null (mt_model_activation (m, "backbone.1", &c, &h, &w));
  ck_assert (c == 16 && h == 26 && w == 26);
  ck_assert_ptr_nonnull (mt_model_activation (m, "backbone.2", NULL, NULL, NULL));
  ck_assert (mt_model_keep_output (m, "backbone.1"));
  mt_model_forward (m, x, 4, TRUE);
  ck_assert_ptr_nonnull (mt_model_activation (m, "backbone.1", NULL, NULL, NULL));
  ck_assert (!mt_model_keep_output (m, "no.such.layer"));
}
END_TEST

/* Evaluation folds each batch norm into the convolution before it (and its ReLU into the
 * convolution's post-op): the logits and the activations handed out agree with the
 * unfolded layers to float rounding. The running statistics come from training passes,
 * so the fold is not the identity. */
START_TEST (folded_evaluation_matches_unfolded)
{
  const struct { const char *arch; int c, hw; } cases[] = { { "small_cnn", 3, 28 }, { "resnet18", 3, 32 } };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
    g_autoptr (MtModel) a = mt_model_new_sized (mt_arch_lookup (cases[k].arch), 2, cases[k].c, cases[k].hw,
                                                cases[k].hw, NULL);
    g_autoptr (MtModel) b = mt_model_new_sized (mt_arch_lookup (cases[k].arch), 2, cases[k].c, cases[k].hw,
                                                cases[k].hw, NULL);
    const MtArch *arch = mt_model_arch (b);
    const char *last_relu = NULL;
    for (int i = 0; i < arch->n_layers; i++) {
      if (arch->layers[i].kind == MT_LAYER_CONV2D || arch->layers[i].kind == MT_LAYER_BATCHNORM2D)
        ck_assert (mt_model_keep_output (b, arch->layers[i].name));
      if (arch->layers[i].kind == MT_LAYER_RELU && i > 0 && arch->layers[i - 1].kind == MT_LAYER_BATCHNORM2D)
        last_relu = arch->layers[i].name;
    }
    mt_model_init (a, 3);
    mt_model_init (b, 3);
    const int n = 6;
    gsize nx = (gsize) n * cases[k].c * cases[k].hw * cases[k].hw;
    g_autofree float *x = g_new (float, nx);
    MtRng rng;
    mt_rng_seed (&rng, 8);
    for (gsize i = 0; i < nx; i++)
      x[i] = (float) mt_rng_uniform (&rng);
    for (int step = 0; step < 3; step++) {  /* running statistics away from 0 and 1 */
      mt_model_forward (a, x, n, TRUE);
      mt_model_forward (b, x, n, TRUE);
    }
    g_autofree float *la = g_memdup2 (mt_model_forward (a, x, n, FALSE), n * 2 * sizeof (float));
    const float *lb = mt_model_forward (b, x, n, FALSE);
    double scale = 0;
    for (int i = 0; i < n * 2; i++)
      scale = MAX (scale, fabs (lb[i]));
    for (int i = 0; i < n * 2; i++)
      ck_assert_msg (fabs (la[i] - lb[i]) <= 1e-4 * scale, "%s logit %d: folded %.8g, unfolded %.8g",
                     cases[k].arch, i, la[i], lb[i]);
    /* The folded convolution's own output is not made; the ReLU's after it is. */
    ck_assert_msg (!mt_model_activation (a, arch->layers[0].name, NULL, NULL, NULL), "%s: no fold", cases[k].arch);
    ck_assert_ptr_nonnull (mt_model_activation (b, arch->layers[0].name, NULL, NULL, NULL));
    int c = 0, h = 0, w = 0;
    const float *ya = mt_model_activation (a, last_relu, &c, &h, &w);
    const float *yb = mt_model_activation (b, last_relu, NULL, NULL, NULL);
    ck_assert_ptr_nonnull (ya);
    ck_assert_ptr_nonnull (yb);
    gsize len = (gsize) n * c * h * w;
    scale = 0;
    for (gsize i = 0; i < len; i++)
      scale = MAX (scale, fabs (yb[i]));
    for (gsize i = 0; i < len; i++)
      ck_assert_msg (fabs (ya[i] - yb[i]) <= 1e-4 * scale, "%s %s[%zu]: folded %.8g, unfolded %.8g", cases[k].arch,
                     last_relu, i, ya[i], yb[i]);
  }
}
END_TEST

/* The CPU backend (oneDNN's convolutions included) gives the same bytes run after run
 * for a fixed thread count: SmallCNN, a CIFAR ResNet (option-A shortcuts) and ResNet-18
 * (7x7 stem, max-pooling, strided 1x1 downsamples, residual adds), at 1 and 2 threads. */
START_TEST (training_is_deterministic)
{
  int keep = mt_cpu_threads ();
  const struct { const char *arch; int c, hw; } cases[] = { { "small_cnn", 3, 28 }, { "resnet20", 3, 16 },
                                                         { "resnet18", 3, 32 } };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    for (int threads = 1; threads <= 2; threads++) {
      g_autoptr (GByteArray) a = train_bytes (cases[k].arch, cases[k].c, cases[k].hw, threads, 4);
      g_autoptr (GByteArray) b = train_bytes (cases[k].arch, cases[k].c, cases[k].hw, threads, 4);
      ck_assert_uint_eq (a->len, b->len);
      ck_assert_msg (memcmp (a->data, b->data, a->len) == 0, "%s at %d threads: two trainings differ",
                     cases[k].arch, threads);
    }
  mt_cpu_set_threads (keep);
}
END_TEST

START_TEST (whole_network_gradient)
{
  /* Back-propagation through all of SmallCNN against finite differences of the loss
   * (float32 network, so a loose tolerance on the parameters with clear gradients). */
  g_autoptr (MtModel) m = mt_model_new (mt_arch_lookup ("small_cnn"), 2);
  mt_model_init (m, 3);
  const int n = 6;
  MtRng rng;
  mt_rng_seed (&rng, 5);
  g_autofree float *x = g_new (float, n * 3 * 28 * 28);
  for (int i = 0; i < n * 3 * 28 * 28; i++)
    x[i] = (float) mt_rng_uniform (&rng);
  gint64 y[6] = { 0, 1, 1, 0, 1, 0 };
  g_autofree float *dlogits = g_new (float, n * 2);
  const float *logits = mt_model_forward (m, x, n, TRUE);
  mt_cpu_cross_entropy (logits, y, n, 2, dlogits, NULL);
  mt_model_backward (m, dlogits, NULL);
  int checked = 0;
  for (guint i = 0; i < mt_model_n_params (m); i++) {
    MtParam *p = mt_model_param (m, i);
    /* The element with the largest gradient in each parameter tensor. */
    gsize best = 0;
    for (gsize k = 1; k < p->len; k++)
      if (fabs (p->grad[k]) > fabs (p->grad[best]))
        best = k;
    double g = p->grad[best];
    if (fabs (g) < 1e-3)
      continue;
    float keep = p->data[best];
    double h = 1e-3 * MAX (1.0, fabs (keep));
    p->data[best] = keep + (float) h;
    double up = loss_of (m, x, y, n);
    p->data[best] = keep - (float) h;
    double down = loss_of (m, x, y, n);
    p->data[best] = keep;
    double numeric = (up - down) / (2 * h);
    ck_assert_msg (fabs (numeric - g) <= 0.05 * fabs (g) + 1e-4, "%s[%" G_GSIZE_FORMAT "]: backward %.6g, numeric %.6g",
                   p->name, best, g, numeric);
    checked++;
  }
  ck_assert_int_ge (checked, 10);
}
END_TEST

START_TEST (learning_rate_schedule)
{
  const gint64 ms[] = { 3, 5 };
  MtTrainConfig cfg = { .lr = 0.1, .milestones = ms, .n_milestones = 2, .gamma = 0.5 };
  ck_assert_double_eq (mt_train_lr_at (&cfg, 0), 0.1);
  ck_assert_double_eq (mt_train_lr_at (&cfg, 2), 0.1);
  ck_assert_double_eq (mt_train_lr_at (&cfg, 3), 0.05);
  ck_assert_double_eq (mt_train_lr_at (&cfg, 4), 0.05);
  ck_assert_double_eq (mt_train_lr_at (&cfg, 5), 0.025);
}
END_TEST

/* ---- real runs through mtrun ------------------------------------------------------- */

typedef struct {
  char *dir;
  char *env_cache;
  const char *env[3];
} Place;

static void
place_init (Place *p, const char *cache_name)
{
  p->dir = mt_test_tmpdir ();
  p->env_cache = g_strdup_printf ("MT_CACHE_DIR=%s/%s", p->dir, cache_name);
  p->env[0] = p->env_cache;
  p->env[1] = NULL;
}

static void
place_clear (Place *p)
{
  mt_file_remove_tree (p->dir, NULL);
  g_free (p->dir);
  g_free (p->env_cache);
}

static char *
export (Place *p, const char *pipe, const char *node)
{
  g_autofree char *out = g_build_filename (p->dir, "out", NULL);
  ck_assert_int_eq (mt_test_mtrun (p->dir, p->env, NULL, NULL, "cache", "export", "-q", "-p", pipe, node, out, NULL), 0);
  return g_steal_pointer (&out);
}

static MtBundle *
load_export (const char *dir, const char *file)
{
  g_autofree char *p = g_build_filename (dir, file, NULL);
  g_autoptr (GError) err = NULL;
  MtBundle *b = mt_safetensors_load (p, &err);
  ck_assert_msg (b != NULL, "%s", err ? err->message : "");
  return b;
}

static gboolean
have_torch (void)
{
  const char *argv[] = { "/usr/bin/python3", "-c", "import torch, numpy", NULL };
  int status = 0;
  return g_file_test (argv[0], G_FILE_TEST_IS_EXECUTABLE) &&
         g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                       NULL, NULL, NULL, NULL, &status, NULL) && g_spawn_check_wait_status (status, NULL);
}

/* The optimizers' updates against torch.optim over five steps of random gradients:
 * SGD (plain, Nesterov) and Adam (with and without weight decay). */
START_TEST (optimizers_match_pytorch)
{
  if (!have_torch ()) {
    printf ("SKIP: torch.optim comparison (apt-get install python3-torch)\n");
    return;
  }
  const struct { MtOptimizer opt; double lr, momentum, wd; gboolean nesterov; } cases[] = {
    { MT_OPTIMIZER_SGD, 0.1, 0.9, 1e-3, FALSE }, { MT_OPTIMIZER_SGD, 0.05, 0.9, 1e-3, TRUE },
    { MT_OPTIMIZER_SGD, 0.05, 0.0, 0.0, FALSE }, { MT_OPTIMIZER_ADAM, 1e-2, 0, 0.0, FALSE },
    { MT_OPTIMIZER_ADAM, 1e-3, 0, 1e-2, FALSE },
  };
  g_autofree char *dir = mt_test_tmpdir ();
  MtBackend *be = mt_backend_cpu ();
  const gsize n = 257;
  const int steps = 5;
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    MtRng rng;
    mt_rng_seed (&rng, 11 + c);
    g_autofree float *p = g_new (float, n), *m = g_new0 (float, n), *v = g_new0 (float, n);
    gint64 gshape[] = { steps, (gint64) n }, pshape[] = { (gint64) n };
    g_autoptr (MtTensor) grads = mt_tensor_new (MT_DTYPE_F32, 2, gshape);
    for (gsize i = 0; i < n; i++)
      p[i] = (float) (mt_rng_uniform (&rng) * 2 - 1);
    for (gsize i = 0; i < n * steps; i++)
      ((float *) grads->data)[i] = (float) (mt_rng_uniform (&rng) * 2 - 1) * (i % 7 == 0 ? 1e-4f : 1.0f);
    g_autoptr (MtBundle) b = mt_bundle_new ();
    g_autoptr (MtTensor) p0 = mt_tensor_new_from_data (MT_DTYPE_F32, 1, pshape, p);
    mt_bundle_set (b, "p0", p0);
    mt_bundle_set (b, "grads", grads);
    for (int k = 0; k < steps; k++) {
      const float *g = (const float *) grads->data + (gsize) k * n;
      if (cases[c].opt == MT_OPTIMIZER_ADAM) {
        MtAdamSpec a = { cases[c].lr, 0.9, 0.999, 1e-8, cases[c].wd, k + 1 };
        be->ops->adam_step (be, &a, p, g, m, v, n);
      } else {
        MtSgdSpec sg = { cases[c].lr, cases[c].momentum, cases[c].wd, cases[c].nesterov };
        be->ops->sgd_step (be, &sg, p, g, m, n, k == 0);
      }
    }
    g_autoptr (MtTensor) pt = mt_tensor_new_from_data (MT_DTYPE_F32, 1, pshape, p);
    g_autoptr (MtTensor) mt = mt_tensor_new_from_data (MT_DTYPE_F32, 1, pshape, m);
    g_autoptr (MtTensor) vt = mt_tensor_new_from_data (MT_DTYPE_F32, 1, pshape, v);
    mt_bundle_set (b, "p", pt);
    mt_bundle_set (b, "buf", mt);
    mt_bundle_set (b, "exp_avg_sq", vt);
    g_autofree char *lr = g_strdup_printf ("%.17g", cases[c].lr), *mom = g_strdup_printf ("%.17g", cases[c].momentum);
    g_autofree char *wd = g_strdup_printf ("%.17g", cases[c].wd);
    mt_bundle_set_metadata (b, "optimizer", mt_optimizer_name (cases[c].opt));
    mt_bundle_set_metadata (b, "lr", lr);
    mt_bundle_set_metadata (b, "momentum", mom);
    mt_bundle_set_metadata (b, "weight_decay", wd);
    mt_bundle_set_metadata (b, "nesterov", cases[c].nesterov ? "true" : "false");
    mt_bundle_set_metadata (b, "beta1", "0.9");
    mt_bundle_set_metadata (b, "beta2", "0.999");
    mt_bundle_set_metadata (b, "eps", "1e-8");
    g_autofree char *path = g_build_filename (dir, "run.safetensors", NULL);
    ck_assert (mt_safetensors_save (b, path, NULL));
    g_autofree char *script = g_build_filename (g_getenv ("MT_SRCDIR"), "tests", "check_torch_optim.py", NULL);
    const char *argv[] = { "/usr/bin/python3", script, path, NULL };
    g_autofree char *pout = NULL, *perr = NULL;
    int status = 0;
    ck_assert (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &pout, &perr, &status, NULL));
    printf ("torch.optim %s%s: %s", mt_optimizer_name (cases[c].opt), cases[c].nesterov ? " nesterov" : "", pout);
    ck_assert_msg (g_spawn_check_wait_status (status, NULL), "case %u: %s%s", c, pout, perr);
  }
}
END_TEST

START_TEST (erm_learns_the_shortcut)
{
  Place p;
  place_init (&p, "cache");
  g_autofree char *pipe = mt_test_write (p.dir, "erm.pipe",
    "train = mnist()\ntest = mnist(split=\"test\")\n"
    "biased = biaser(train, conflict_ratio=0.01)\n"
    "raw_test = biaser(test, mode=\"raw\")\nbiased_test = biaser(test, conflict_ratio=1.0)\n"
    "erm = trainer(biased, epochs=2, lr=0.01, seed=0)\n");
  g_autofree char *err = NULL;
  ck_assert_msg (mt_test_mtrun (p.dir, p.env, NULL, &err, "run", pipe, NULL) == 0, "%s", err);
  ck_assert_msg (strstr (err, "epoch 2/2"), "%s", err);
  g_autofree char *out = export (&p, pipe, "erm");
  g_free (export (&p, pipe, "raw_test"));
  g_free (export (&p, pipe, "biased_test"));
  g_autoptr (MtBundle) weights = load_export (out, "erm.model.safetensors");
  g_autoptr (GError) gerr = NULL;
  g_autoptr (MtModel) m = mt_model_from_bundle (weights, "erm", &gerr);
  ck_assert (m != NULL);
  g_autoptr (MtBundle) raw = load_export (out, "raw_test.dataset.safetensors");
  g_autoptr (MtBundle) biased = load_export (out, "biased_test.dataset.safetensors");
  double acc_raw = mt_train_evaluate (m, raw, NULL, 0, 256, NULL, NULL);
  double acc_biased = mt_train_evaluate (m, biased, NULL, 0, 256, NULL, NULL);
  printf ("ERM (2 epochs): raw test %.4f, biased test %.4f\n", acc_raw, acc_biased);

  /* It fits its training distribution, and leans on the patch: moving the patch to the
   * other class costs it far more than removing it. */
  g_autofree char *logp = g_build_filename (out, "erm.log.json", NULL);
  g_autoptr (JsonParser) jp = json_parser_new ();
  ck_assert (json_parser_load_from_file (jp, logp, NULL));
  JsonObject *log = json_node_get_object (json_parser_get_root (jp));
  JsonArray *epochs = json_object_get_array_member (log, "epochs");
  ck_assert_uint_eq (json_array_get_length (epochs), 2);
  double val = json_object_get_double_member (json_array_get_object_element (epochs, 1), "val_accuracy");
  ck_assert_msg (val >= 0.97, "val accuracy %f", val);
  ck_assert_msg (acc_raw >= 0.55, "raw accuracy %f", acc_raw);
  ck_assert_msg (acc_biased <= acc_raw - 0.1, "biased %f vs raw %f", acc_biased, acc_raw);

  /* PyTorch loads the weights strictly and computes the same logits. */
  if (!have_torch ()) {
    printf ("SKIP: PyTorch comparison (apt-get install python3-torch)\n");
  } else {
    const int n = 64;
    MtTensor *images = mt_bundle_get (raw, MT_DATASET_IMAGES);
    g_autofree float *x = g_new (float, n * 3 * 28 * 28);
    for (int i = 0; i < n * 3 * 28 * 28; i++)
      x[i] = ((guint8 *) images->data)[i] / 255.0f;
    const float *logits = mt_model_forward (m, x, n, FALSE);
    gint64 shape[] = { n, 2 };
    g_autoptr (MtTensor) lt = mt_tensor_new_from_data (MT_DTYPE_F32, 2, shape, logits);
    g_autofree char *lp = g_build_filename (out, "logits.npy", NULL);
    ck_assert (mt_npy_save (lt, lp, NULL));
    g_autofree char *script = g_build_filename (g_getenv ("MT_SRCDIR"), "tests", "check_torch_smallcnn.py", NULL);
    g_autofree char *mp = g_build_filename (out, "erm.model.safetensors", NULL);
    g_autofree char *dp = g_build_filename (out, "raw_test.dataset.safetensors", NULL);
    const char *argv[] = { "/usr/bin/python3", script, mp, dp, lp, NULL };
    g_autofree char *pout = NULL, *perr = NULL;
    int status = 0;
    ck_assert (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &pout, &perr, &status, NULL));
    ck_assert_msg (g_spawn_check_wait_status (status, NULL), "%s", perr);
    printf ("PyTorch: %s", pout);
    g_autofree char *expect = g_strdup_printf ("accuracy %.6f on 2004", acc_raw);
    ck_assert_msg (strstr (pout, expect), "ours %f; PyTorch said: %s", acc_raw, pout);
    const char *d = strstr (pout, "max_abs_diff ");
    ck_assert (d != NULL);
    ck_assert_msg (g_ascii_strtod (d + 13, NULL) < 1e-4, "%s", pout);
  }
  place_clear (&p);
}
END_TEST

static const char *small =
  "train = mnist(limit=600)\nbiased = biaser(train, conflict_ratio=0.05)\n"
  "erm = trainer(biased, epochs=3, batch_size=64, val_fraction=0.2, lr_milestones=[2], seed=9)\n";

START_TEST (killed_training_resumes_to_the_same_result)
{
  Place a, b;
  place_init (&a, "cache");
  place_init (&b, "cache");
  g_autofree char *pa = mt_test_write (a.dir, "t.pipe", small);
  g_autofree char *pb = mt_test_write (b.dir, "t.pipe", small);
  /* Uninterrupted run. */
  ck_assert_int_eq (mt_test_mtrun (a.dir, a.env, NULL, NULL, "run", "-q", pa, NULL), 0);
  /* Killed right after the first epoch's checkpoint, then rerun. */
  g_autofree char *fault_env = g_strdup (b.env_cache);
  const char *env[] = { fault_env, "MT_FAULT=after-checkpoint", NULL };
  g_autofree char *err = NULL;
  ck_assert_int_eq (mt_test_mtrun (b.dir, env, NULL, &err, "run", pb, NULL), 86);
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (b.dir, b.env, NULL, &err, "run", pb, NULL), 0);
  ck_assert_msg (strstr (err, "resuming after epoch 1") && strstr (err, "epoch 2/3") && !strstr (err, "epoch 1/3"),
                 "%s", err);
  g_autofree char *oa = export (&a, pa, "erm");
  g_autofree char *ob = export (&b, pb, "erm");
  const char *files[] = { "erm.model.safetensors", "erm.state.safetensors" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree char *fa = g_build_filename (oa, files[i], NULL);
    g_autofree char *fb = g_build_filename (ob, files[i], NULL);
    g_autofree char *da = mt_file_sha256 (fa, NULL, NULL);
    g_autofree char *db = mt_file_sha256 (fb, NULL, NULL);
    ck_assert_msg (g_strcmp0 (da, db) == 0, "%s differs after a resume", files[i]);
  }
  /* The log has all three epochs and the milestone halved the learning rate. */
  g_autofree char *logp = g_build_filename (ob, "erm.log.json", NULL);
  g_autoptr (JsonParser) jp = json_parser_new ();
  ck_assert (json_parser_load_from_file (jp, logp, NULL));
  JsonArray *epochs = json_object_get_array_member (json_node_get_object (json_parser_get_root (jp)), "epochs");
  ck_assert_uint_eq (json_array_get_length (epochs), 3);
  ck_assert_double_eq (json_object_get_double_member (json_array_get_object_element (epochs, 2), "lr"), 0.005);
  place_clear (&a);
  place_clear (&b);
}
END_TEST

START_TEST (divergence_is_an_error)
{
  Place p;
  place_init (&p, "cache");
  g_autofree char *pipe = mt_test_write (p.dir, "d.pipe",
    "train = mnist(limit=512)\nb = biaser(train)\nerm = trainer(b, epochs=2, lr=10000, momentum=0.99, batch_size=32)\n");
  g_autofree char *err = NULL;
  ck_assert_int_eq (mt_test_mtrun (p.dir, p.env, NULL, &err, "run", pipe, NULL), 1);
  ck_assert_msg (strstr (err, "node 'erm' (trainer) failed: training diverged: the loss is") &&
                 strstr (err, " in epoch "), "%s", err);
  place_clear (&p);
}
END_TEST

START_TEST (finetuner_continues_from_the_state)
{
  Place p;
  place_init (&p, "cache");
  g_autofree char *src = g_strconcat (small,
    "ft = finetuner(erm, biased, state=erm.state)\n"
    "fresh = finetuner(erm, biased, lr=0.001)\n", NULL);
  g_autofree char *pipe = mt_test_write (p.dir, "f.pipe", src);
  g_autofree char *err = NULL;
  ck_assert_msg (mt_test_mtrun (p.dir, p.env, NULL, &err, "run", pipe, NULL) == 0, "%s", err);
  ck_assert_msg (strstr (err, "no optimizer state given"), "%s", err);
  g_autofree char *out = export (&p, pipe, "erm");
  g_free (export (&p, pipe, "ft"));
  g_free (export (&p, pipe, "fresh"));
  g_autoptr (MtBundle) erm = load_export (out, "erm.model.safetensors");
  g_autoptr (MtBundle) ft = load_export (out, "ft.model.safetensors");
  g_autoptr (MtBundle) fresh = load_export (out, "fresh.model.safetensors");
  /* Fine-tuning continues at the model's final learning rate (0.005 after the milestone). */
  ck_assert_str_eq (mt_bundle_get_metadata (erm, "final_lr"), "0.005");
  ck_assert_str_eq (mt_bundle_get_metadata (ft, "final_lr"), "0.005");
  ck_assert_str_eq (mt_bundle_get_metadata (fresh, "final_lr"), "0.001");
  /* It trains: weights move, and batch-norm statistics keep counting batches. */
  MtTensor *w0 = mt_bundle_get (erm, "linear.3.weight"), *w1 = mt_bundle_get (ft, "linear.3.weight");
  ck_assert (!mt_tensor_equal (w0, w1));
  gint64 nb0 = ((gint64 *) mt_bundle_get (erm, "backbone.1.num_batches_tracked")->data)[0];
  gint64 nb1 = ((gint64 *) mt_bundle_get (ft, "backbone.1.num_batches_tracked")->data)[0];
  ck_assert_int_eq (nb0, 3 * 8);       /* 480 training samples in batches of 64: 8 steps an epoch */
  ck_assert_int_eq (nb1, nb0 + 5);     /* 600 samples, batch 128: 5 steps */
  place_clear (&p);
}
END_TEST

/* Adam's state (PyTorch's names and step count) is what the finetuner continues from;
 * asking it for SGD on Adam's state is a clear error. */
START_TEST (adam_state_carries_into_the_finetuner)
{
  Place p;
  place_init (&p, "cache");
  g_autofree char *pipe = mt_test_write (p.dir, "a.pipe",
    "train = mnist(limit=600)\nbiased = biaser(train, conflict_ratio=0.05)\n"
    "erm = trainer(biased, epochs=2, batch_size=64, val_fraction=0.2, optimizer=\"adam\", lr=1e-3, seed=9)\n"
    "ft = finetuner(erm, biased, state=erm.state)\n"
    "wrong = finetuner(erm, biased, state=erm.state, optimizer=\"sgd\")\n");
  g_autofree char *err = NULL;
  ck_assert_msg (mt_test_mtrun (p.dir, p.env, NULL, &err, "run", pipe, "--until", "ft", NULL) == 0, "%s", err);
  g_autofree char *out = export (&p, pipe, "erm");
  g_free (export (&p, pipe, "ft"));
  g_autoptr (MtBundle) st = load_export (out, "erm.state.safetensors");
  g_autoptr (MtBundle) ft = load_export (out, "ft.state.safetensors");
  ck_assert_str_eq (mt_bundle_get_metadata (st, "optimizer"), "adam");
  ck_assert_str_eq (mt_bundle_get_metadata (st, "step"), "16");     /* 480 samples, batch 64: 8 steps an epoch */
  ck_assert (mt_bundle_get (st, "linear.3.weight.exp_avg") && mt_bundle_get (st, "linear.3.weight.exp_avg_sq"));
  ck_assert (!mt_bundle_get (st, "linear.3.weight.momentum_buffer"));
  ck_assert_str_eq (mt_bundle_get_metadata (ft, "optimizer"), "adam");
  ck_assert_str_eq (mt_bundle_get_metadata (ft, "step"), "21");     /* + 600 / 128 rounded up */
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (p.dir, p.env, NULL, &err, "run", pipe, "--only", "wrong", NULL), 1);
  ck_assert_msg (strstr (err, "the optimizer state is adam's, but this training uses sgd"), "%s", err);
  place_clear (&p);
}
END_TEST

typedef struct {
  GArray *fractions;
  char *last_detail;
} Progress;

static void
record_progress (double f, const char *detail, gpointer user_data)
{
  Progress *p = user_data;
  g_array_append_val (p->fractions, f);
  g_free (p->last_detail);
  p->last_detail = g_strdup (detail);
}

/* The progress of a training runs once from 0 to 1 over all its epochs (it reset every
 * epoch: the fraction used epochs_done while the loop moved it), with a detail line. */
START_TEST (progress_covers_the_whole_training)
{
  const gint64 n = 96;
  gint64 ishape[] = { n, 3, 28, 28 }, lshape[] = { n };
  g_autoptr (MtTensor) images = mt_tensor_new (MT_DTYPE_U8, 4, ishape);
  g_autoptr (MtTensor) labels = mt_tensor_new (MT_DTYPE_I64, 1, lshape);
  MtRng rng;
  mt_rng_seed (&rng, 5);
  for (gsize i = 0; i < images->nbytes; i++)
    ((guint8 *) images->data)[i] = (guint8) mt_rng_below (&rng, 256);
  for (gint64 i = 0; i < n; i++)
    ((gint64 *) labels->data)[i] = i % 2;
  g_autoptr (MtBundle) data = mt_bundle_new ();
  mt_bundle_set (data, MT_DATASET_IMAGES, images);
  mt_bundle_set (data, MT_DATASET_LABELS, labels);
  g_autoptr (MtModel) model = mt_model_new (mt_arch_lookup ("small_cnn"), 2);
  mt_model_init (model, 1);
  g_autoptr (MtTrainState) st = mt_train_state_new (model);
  MtTrainConfig cfg = { .epochs = 3, .lr = 0.01, .momentum = 0.9, .batch_size = 16, .val_fraction = 0.25, .seed = 3 };
  Progress p = { g_array_new (FALSE, FALSE, sizeof (double)), NULL };
  MtTrainHooks hooks = { .progress = record_progress, .user_data = &p };
  g_autoptr (GError) err = NULL;
  ck_assert_msg (mt_train_run (st, &cfg, data, &hooks, &err), "%s", err ? err->message : "");
  ck_assert_uint_eq (p.fractions->len, 3 * 5);  /* 72 training samples: 5 batches an epoch */
  for (guint i = 1; i < p.fractions->len; i++)
    ck_assert_msg (g_array_index (p.fractions, double, i) > g_array_index (p.fractions, double, i - 1),
                   "progress went back at step %u: %g after %g", i, g_array_index (p.fractions, double, i),
                   g_array_index (p.fractions, double, i - 1));
  ck_assert_double_eq_tol (g_array_index (p.fractions, double, 4), 1.0 / 3, 1e-12);
  ck_assert_double_eq_tol (g_array_index (p.fractions, double, p.fractions->len - 1), 1.0, 1e-12);
  ck_assert_msg (p.last_detail && g_str_has_prefix (p.last_detail, "epoch 3/3, ") && strstr (p.last_detail, " img/s, ETA 0:00"),
                 "%s", p.last_detail);
  g_array_unref (p.fractions);
  g_free (p.last_detail);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("train");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, state_dict_names_and_shapes);
  tcase_add_test (tc, pytorch_default_init);
  tcase_add_test (tc, whole_network_gradient);
  tcase_add_test (tc, training_is_deterministic);
  tcase_add_test (tc, fused_batchnorm_relu_changes_nothing);
  tcase_add_test (tc, folded_evaluation_matches_unfolded);
  tcase_add_test (tc, learning_rate_schedule);
  tcase_add_test (tc, optimizers_match_pytorch);
  tcase_add_test (tc, erm_learns_the_shortcut);
  tcase_add_test (tc, killed_training_resumes_to_the_same_result);
  tcase_add_test (tc, divergence_is_an_error);
  tcase_add_test (tc, finetuner_continues_from_the_state);
  tcase_add_test (tc, adam_state_carries_into_the_finetuner);
  tcase_add_test (tc, progress_covers_the_whole_training);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}
