/* The residual networks: torchvision's ResNet-18/34/50 and the CIFAR ResNet-20/32/56 of the
 * MaskTune code. Their parameter counts and state_dicts are PyTorch's; the whole network's
 * gradient (skip connections add two paths' gradients) matches central differences; and
 * weights go between masktune and PyTorch both ways with the same logits (skipped with a
 * message where python3-torch and python3-torchvision are not installed). */
#include "tests/mt-test-util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static gsize
n_weights (MtModel *m)
{
  gsize n = 0;
  for (guint i = 0; i < mt_model_n_params (m); i++)
    n += mt_model_param (m, i)->len;
  return n;
}

/* The published counts: torchvision's model zoo and He et al.'s CIFAR table. */
START_TEST (parameter_counts_and_state_dicts)
{
  const struct { const char *arch; int classes; gsize params; guint tensors; } cases[] = {
    { "resnet18", 1000, 11689512, 122 }, { "resnet34", 1000, 21797672, 218 }, { "resnet50", 1000, 25557032, 320 },
    { "resnet20", 10, 269722, 0 }, { "resnet32", 10, 464154, 0 }, { "resnet56", 10, 853018, 0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    const MtArch *arch = mt_arch_lookup (cases[i].arch);
    ck_assert_ptr_nonnull (arch);
    g_autoptr (MtModel) m = mt_model_new (arch, cases[i].classes);
    ck_assert_msg (n_weights (m) == cases[i].params, "%s: %" G_GSIZE_FORMAT " parameters", cases[i].arch, n_weights (m));
    g_autoptr (MtBundle) b = mt_model_to_bundle (m);
    if (cases[i].tensors)
      ck_assert_uint_eq (mt_bundle_size (b), cases[i].tensors);
    ck_assert (mt_model_has_layer (m, arch->target_layer));
  }
  /* Names as torchvision writes them. */
  g_autoptr (MtModel) r50 = mt_model_new (mt_arch_lookup ("resnet50"), 1000);
  g_autoptr (MtBundle) b = mt_model_to_bundle (r50);
  const char *names[] = { "conv1.weight", "bn1.running_var", "layer1.0.downsample.0.weight",
                          "layer3.5.conv3.weight", "layer4.2.bn3.num_batches_tracked", "fc.bias" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    ck_assert_msg (mt_bundle_get (b, names[i]), "no %s", names[i]);
  ck_assert_ptr_null (mt_bundle_get (b, "conv1.bias"));  /* ResNet convolutions have none */
  MtTensor *w = mt_bundle_get (b, "layer2.0.conv2.weight");
  ck_assert (w->ndim == 4 && w->shape[0] == 128 && w->shape[1] == 128 && w->shape[2] == 3);
}
END_TEST

/* Any input size down to what leaves 1 x 1; the stage name finds its last block. */
START_TEST (input_sizes_and_stages)
{
  const MtArch *arch = mt_arch_lookup ("resnet18");
  g_autoptr (GError) err = NULL;
  g_autoptr (MtModel) m = mt_model_new_sized (arch, 5, 3, 64, 48, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  mt_model_init (m, 3);
  g_autofree float *x = g_new0 (float, 2 * 3 * 64 * 48);
  mt_model_forward (m, x, 2, FALSE);
  int c = 0, h = 0, w = 0;
  ck_assert_ptr_nonnull (mt_model_activation (m, "layer4", &c, &h, &w));
  ck_assert (c == 512 && h == 2 && w == 2);
  ck_assert_ptr_nonnull (mt_model_activation (m, "layer2", &c, &h, &w));
  ck_assert (c == 128 && h == 8 && w == 6);
  ck_assert (!mt_model_has_layer (m, "layer5") && !mt_model_has_layer (m, "layer4.9"));
  ck_assert_ptr_null (mt_model_new_sized (arch, 5, 1, 64, 64, &err));  /* grey: three channels needed */
  g_clear_error (&err);
  ck_assert_ptr_null (mt_model_new_sized (mt_arch_lookup ("small_cnn"), 2, 3, 64, 64, &err));
  ck_assert_msg (strstr (err->message, "small_cnn takes 3 x 28 x 28 images"), "%s", err->message);
  /* The size travels with the weights. */
  g_autoptr (MtBundle) b = mt_model_to_bundle (m);
  ck_assert_str_eq (mt_bundle_get_metadata (b, "input_size"), "3x64x48");
  g_autoptr (MtModel) back = mt_model_from_bundle (b, "test", &err);
  ck_assert_msg (back != NULL, "%s", err ? err->message : "");
  int bc, bh, bw;
  mt_model_input_size (back, &bc, &bh, &bw);
  ck_assert (bc == 3 && bh == 64 && bw == 48);
}
END_TEST

static double
loss_of (MtModel *m, const float *x, int n, const float *r, int classes)
{
  const float *y = mt_model_forward (m, x, n, FALSE);
  double s = 0;
  for (int i = 0; i < n * classes; i++)
    s += (double) y[i] * r[i];
  return s;
}

/* d sum(logits * r) / d input and / d some weights, against central differences in
 * float32: a block's input gets its gradient from both the convolutions and the shortcut. */
static void
check_gradient (const char *arch_name, int size, const char *param_name)
{
  const int n = 2, classes = 3;
  g_autoptr (GError) err = NULL;
  g_autoptr (MtModel) m = mt_model_new_sized (mt_arch_lookup (arch_name), classes, 3, size, size, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  mt_model_init (m, 7);
  MtRng rng;
  mt_rng_seed (&rng, 5);
  gsize nx = (gsize) n * 3 * size * size;
  g_autofree float *x = g_new (float, nx), *r = g_new (float, n * classes), *dx = g_new0 (float, nx);
  for (gsize i = 0; i < nx; i++)
    x[i] = (float) (2 * mt_rng_uniform (&rng) - 1);
  for (int i = 0; i < n * classes; i++)
    r[i] = (float) (2 * mt_rng_uniform (&rng) - 1);
  loss_of (m, x, n, r, classes);
  mt_model_backward (m, r, dx);
  MtParam *p = NULL;
  for (guint i = 0; i < mt_model_n_params (m); i++)
    if (g_strcmp0 (mt_model_param (m, i)->name, param_name) == 0)
      p = mt_model_param (m, i);
  ck_assert_msg (p != NULL, "%s: no %s", arch_name, param_name);
  g_autofree float *pg = g_memdup2 (p->grad, p->len * sizeof (float));
  /* Float32 differences over a deep net cross ReLU kinks now and then: the check is on the
   * whole sample, |fd - analytic| / |fd| over 24 inputs and 12 weights. A lost path (a
   * shortcut's gradient not added) is off by tens of percent; the exact check against
   * PyTorch's autograd is weights_go_both_ways_with_pytorch. */
  const double h = 2e-3;
  double err2 = 0, norm2 = 0;
  for (int k = 0; k < 36; k++) {
    gboolean on_x = k < 24;
    float *v = on_x ? &x[mt_rng_below (&rng, nx)] : &p->data[mt_rng_below (&rng, p->len)];
    float analytic = on_x ? dx[v - x] : pg[v - p->data];
    float keep = *v;
    *v = keep + (float) h;
    double up = loss_of (m, x, n, r, classes);
    *v = keep - (float) h;
    double down = loss_of (m, x, n, r, classes);
    *v = keep;
    double fd = (up - down) / (2 * h);
    err2 += (fd - analytic) * (fd - analytic);
    norm2 += fd * fd;
  }
  double rel = sqrt (err2 / MAX (norm2, 1e-30));
  printf ("%s: finite differences within %.2f%% of the gradient\n", arch_name, 100 * rel);
  /* ResNet-50's 50 float32 layers make the differences noisier: 5.0% on an AVX2 EPYC at
   * h = 1e-3 and 2e-3 alike (worse at 5e-4 from rounding, at 5e-3 from kinks). */
  double bound = g_str_equal (arch_name, "resnet50") ? 0.10 : 0.05;
  ck_assert_msg (rel < bound, "%s: gradient off by %.1f%% (bound %.0f%%)", arch_name, 100 * rel, 100 * bound);

}

START_TEST (gradient_through_blocks)
{
  check_gradient ("resnet20", 8, "layer2.0.conv1.weight");      /* the option-A shortcut */
  check_gradient ("resnet18", 32, "layer2.0.downsample.0.weight");  /* a projection shortcut */
  check_gradient ("resnet50", 32, "layer1.0.conv3.weight");     /* bottlenecks */
}
END_TEST

static gboolean
have_torchvision (void)
{
  const char *argv[] = { "/usr/bin/python3", "-c", "import torch, torchvision, numpy", NULL };
  int status = 0;
  return g_file_test (argv[0], G_FILE_TEST_IS_EXECUTABLE) &&
         g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                       NULL, NULL, NULL, NULL, &status, NULL) && g_spawn_check_wait_status (status, NULL);
}

static char *
run_check (const char *mode, const char *arch, const char *model, const char *x, const char *logits,
           const char *r, const char *dx)
{
  g_autofree char *script = g_build_filename (g_getenv ("MT_SRCDIR"), "tests", "check_torch_resnet.py", NULL);
  const char *argv[] = { "/usr/bin/python3", script, mode, arch, model, x, logits, r, dx, NULL };
  char *out = NULL, *err = NULL;
  int status = 0;
  ck_assert (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, NULL));
  ck_assert_msg (g_spawn_check_wait_status (status, NULL), "check_torch_resnet.py %s %s: %s", mode, arch, err);
  g_free (err);
  return out;
}

static MtTensor *
logits_tensor (const float *y, int n, int classes)
{
  gint64 shape[] = { n, classes };
  return mt_tensor_new_from_data (MT_DTYPE_F32, 2, shape, y);
}

START_TEST (weights_go_both_ways_with_pytorch)
{
  if (!have_torchvision ()) {
    printf ("SKIP: PyTorch ResNet comparison (apt-get install python3-torch python3-torchvision)\n");
    return;
  }
  const char *archs[] = { "resnet18", "resnet50", "resnet32" };
  g_autofree char *dir = mt_test_tmpdir ();
  const int n = 3, size = 32;
  MtRng rng;
  mt_rng_seed (&rng, 9);
  gint64 xs[] = { n, 3, size, size };
  g_autoptr (MtTensor) xt = mt_tensor_new (MT_DTYPE_F32, 4, xs);
  for (gint64 i = 0; i < mt_tensor_numel (xt); i++)
    ((float *) xt->data)[i] = (float) (2 * mt_rng_uniform (&rng) - 1);
  g_autofree char *xp = g_build_filename (dir, "x.npy", NULL);
  ck_assert (mt_npy_save (xt, xp, NULL));
  for (guint a = 0; a < G_N_ELEMENTS (archs); a++) {
    const MtArch *arch = mt_arch_lookup (archs[a]);
    g_autoptr (GError) err = NULL;
    /* masktune -> PyTorch: a model trained a little (batch statistics moved), eval logits. */
    g_autoptr (MtModel) m = mt_model_new_sized (arch, 10, 3, size, size, &err);
    mt_model_init (m, 11);
    g_autofree float *tx = g_new (float, 8 * 3 * size * size);
    for (gsize i = 0; i < 8 * 3 * size * size; i++)
      tx[i] = (float) (4 * mt_rng_uniform (&rng) - 1.5);
    for (int step = 0; step < 3; step++)
      mt_model_forward (m, tx, 8, TRUE);
    g_autoptr (MtTensor) ours = logits_tensor (mt_model_forward (m, xt->data, n, FALSE), n, 10);
    /* and the input gradient of sum(logits * r), the path saliency and masking take */
    gint64 rs[] = { n, 10 };
    g_autoptr (MtTensor) rt = mt_tensor_new (MT_DTYPE_F32, 2, rs);
    for (int i = 0; i < n * 10; i++)
      ((float *) rt->data)[i] = (float) (2 * mt_rng_uniform (&rng) - 1);
    g_autoptr (MtTensor) dxt = mt_tensor_new (MT_DTYPE_F32, 4, xs);
    mt_model_backward (m, rt->data, dxt->data);
    g_autoptr (MtBundle) b = mt_model_to_bundle (m);
    g_autofree char *mp = g_build_filename (dir, "ours.safetensors", NULL);
    g_autofree char *lp = g_build_filename (dir, "ours.npy", NULL);
    g_autofree char *rp = g_build_filename (dir, "r.npy", NULL);
    g_autofree char *dp = g_build_filename (dir, "dx.npy", NULL);
    ck_assert (mt_safetensors_save (b, mp, NULL) && mt_npy_save (ours, lp, NULL) && mt_npy_save (rt, rp, NULL) &&
               mt_npy_save (dxt, dp, NULL));
    g_autofree char *out = run_check ("to-torch", archs[a], mp, xp, lp, rp, dp);
    double diff = 1, rel[3] = { 1, 1, 1 };
    const char *at = strstr (out, "max |logit difference| ");
    ck_assert_msg (at && sscanf (at + strlen ("max |logit difference| "), "%lf", &diff) == 1, "%s", out);
    const char *rat = strstr (out, "per-sample relative ");
    ck_assert_msg (rat && sscanf (rat + strlen ("per-sample relative "), "%lf %lf %lf", &rel[0], &rel[1], &rel[2]) == 3,
                   "%s", out);
    printf ("masktune -> PyTorch %s", out);
    ck_assert_msg (diff < 1e-3, "%s", out);
    /* Sorted: the two best samples agree to float32 rounding; none is off by a path. */
    ck_assert_msg (rel[1] < 1e-5 && rel[2] < 0.05, "%s", out);

    /* PyTorch -> masktune: its state_dict (no masktune metadata) loads strictly. */
    g_autofree char *tp = g_build_filename (dir, "torch.safetensors", NULL);
    g_autofree char *tl = g_build_filename (dir, "torch.npy", NULL);
    g_free (run_check ("from-torch", archs[a], tp, xp, tl, NULL, NULL));
    g_autoptr (MtBundle) tb = mt_safetensors_load (tp, &err);
    ck_assert_msg (tb != NULL, "%s", err ? err->message : "");
    g_autoptr (MtModel) tm = mt_model_from_state_dict (tb, arch, 3, size, size, "torch.safetensors", &err);
    ck_assert_msg (tm != NULL, "%s", err ? err->message : "");
    ck_assert_int_eq (mt_model_num_classes (tm), 7);
    g_autoptr (MtTensor) want = mt_npy_load (tl, &err);
    const float *got = mt_model_forward (tm, xt->data, n, FALSE);
    double worst = 0, scale = 0;
    for (int i = 0; i < n * 7; i++) {
      worst = MAX (worst, fabs (got[i] - ((float *) want->data)[i]));
      scale = MAX (scale, fabs (((float *) want->data)[i]));
    }
    printf ("PyTorch -> masktune %s: max |logit difference| %.3g (logits up to %.3g)\n", archs[a], worst, scale);
    ck_assert_msg (worst < 1e-3 * MAX (1, scale), "%s: %g", archs[a], worst);
    /* A tensor missing or of another shape is named, as strict loading would. */
    g_autoptr (MtBundle) cut = mt_bundle_new ();
    g_autofree const char **names = mt_bundle_names (tb);
    for (guint k = 0; names[k]; k++)
      if (g_strcmp0 (names[k], "fc.bias") != 0)
        mt_bundle_set (cut, names[k], mt_bundle_get (tb, names[k]));
    g_autoptr (MtModel) none = mt_model_from_state_dict (cut, arch, 3, size, size, "cut.safetensors", &err);
    if (g_strcmp0 (archs[a], "resnet32") != 0) {
      ck_assert_ptr_null (none);
      ck_assert_msg (strstr (err->message, "cut.safetensors: no tensor 'fc.bias'"), "%s", err->message);
    }
  }
  mt_file_remove_tree (dir, NULL);
}
END_TEST

/* A user's pretrained torchvision ResNet through the nodes: model_file reads the plain
 * state_dict (ImageNet normalisation by default), predict gives PyTorch's logits on a
 * dataset, and trainer(init=...) fine-tunes it with a new classifier for 2 classes. */
START_TEST (pretrained_weights_in_a_pipeline)
{
  if (!have_torchvision ()) {
    printf ("SKIP: PyTorch pretrained-weights pipeline (apt-get install python3-torch python3-torchvision)\n");
    return;
  }
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *tp = g_build_filename (dir, "tv.safetensors", NULL);
  g_autofree char *tl = g_build_filename (dir, "unused.npy", NULL);
  g_autofree char *xp = g_build_filename (dir, "x.npy", NULL);
  gint64 xs[] = { 1, 3, 32, 32 };
  g_autoptr (MtTensor) xt = mt_tensor_new (MT_DTYPE_F32, 4, xs);
  ck_assert (mt_npy_save (xt, xp, NULL));
  g_free (run_check ("from-torch", "resnet18", tp, xp, tl, NULL, NULL));
  g_autofree char *pipe = mt_test_write (dir, "p.pipe",
    "d = mnist(split=\"test\", limit=40)\nb = biaser(d)\n"
    "tv = model_file(path=\"tv.safetensors\", arch=\"resnet18\")\n"
    "p = predict(tv, b)\n"
    "ft = trainer(b, init=tv, epochs=1, batch_size=16, val_fraction=0)\n");
  g_autofree char *cenv = g_strdup_printf ("MT_CACHE_DIR=%s/cache", dir);
  const char *env[] = { cenv, NULL };
  g_autofree char *err = NULL;
  ck_assert_msg (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, NULL) == 0, "%s", err);
  ck_assert_msg (strstr (err, "resnet18, 7 classes, ImageNet-normalised input") &&
                 strstr (err, "init: resnet18 with 7 classes; the classifier (2 tensors) is new for 2 classes"),
                 "%s", err);
  g_autofree char *out = g_build_filename (dir, "out", NULL);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, NULL, "cache", "export", "-q", "-p", pipe, "p", out, NULL), 0);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, NULL, "cache", "export", "-q", "-p", pipe, "b", out, NULL), 0);
  g_autofree char *logits = g_build_filename (out, "p.logits.npy", NULL);
  g_autofree char *data = g_build_filename (out, "b.dataset.safetensors", NULL);
  g_autofree char *res = run_check ("predict", "resnet18", tp, data, logits, NULL, NULL);
  double diff = 1;
  const char *at = strstr (res, "max |logit difference| ");
  ck_assert_msg (at && sscanf (at + strlen ("max |logit difference| "), "%lf", &diff) == 1, "%s", res);
  printf ("model_file + predict vs PyTorch: %s", res);
  ck_assert_msg (diff < 1e-3, "%s", res);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("resnet");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, parameter_counts_and_state_dicts);
  tcase_add_test (tc, input_sizes_and_stages);
  tcase_add_test (tc, gradient_through_blocks);
  tcase_add_test (tc, weights_go_both_ways_with_pytorch);
  tcase_add_test (tc, pretrained_weights_in_a_pipeline);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}
