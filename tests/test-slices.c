/* Batch-slice threading (ml/mt-slices.h): a step on slices against the same step on the
 * whole batch on one thread (SmallCNN, ResNet-18, a CIFAR ResNet; even and uneven
 * slices, more slices than images), bytes that do not change from run to run, the
 * running statistics, evaluation, and the trainer on slices learning as on one thread. */
#include "tests/mt-test-util.h"
#include "ml/cpu/mt-cpu.h"
#include "ml/mt-slices.h"

#include <math.h>
#include <string.h>

typedef struct {
  const char *arch;
  int hw, n, slices;
} Case;

static MtModel *
model_for (const Case *k)
{
  g_autoptr (GError) err = NULL;
  MtModel *m = mt_model_new_sized (mt_arch_lookup (k->arch), 2, 3, k->hw, k->hw, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  mt_model_init (m, 1);
  return m;
}

static float *
images (const Case *k, gint64 **labels)
{
  gsize len = (gsize) k->n * 3 * k->hw * k->hw;
  float *x = g_new (float, len);
  MtRng rng;
  mt_rng_seed (&rng, 4);
  for (gsize i = 0; i < len; i++)
    x[i] = (float) mt_rng_uniform (&rng);
  *labels = g_new (gint64, k->n);
  for (int i = 0; i < k->n; i++)
    (*labels)[i] = (i * 7 / 3) % 2;
  return x;
}

/* TRUE when @param ("layer1.0.bn1.weight") belongs to a batch norm of @m. */
static gboolean
is_batchnorm (MtModel *m, const char *param)
{
  const MtArch *a = mt_model_arch (m);
  for (int i = 0; i < a->n_layers; i++)
    if ((a->layers[i].kind == MT_LAYER_BATCHNORM2D || a->layers[i].kind == MT_LAYER_BATCHNORM1D) &&
        g_str_has_prefix (param, a->layers[i].name) && param[strlen (a->layers[i].name)] == '.')
      return TRUE;
  return FALSE;
}

/* The bytes of the tensors of @m whose names contain @part ("running_", "num_batches"). */
static GByteArray *
buffers (MtModel *m, const char *part)
{
  g_autoptr (MtBundle) b = mt_model_to_bundle (m);
  g_autofree const char **names = mt_bundle_names (b);
  GByteArray *out = g_byte_array_new ();
  for (guint i = 0; names[i]; i++)
    if (strstr (names[i], part)) {
      MtTensor *t = mt_bundle_get (b, names[i]);
      g_byte_array_append (out, t->data, t->nbytes);
    }
  return out;
}

/* One step on slices against the whole batch on one thread. Batch norm's statistics
 * (hence the running ones), its gradients, the loss and the logits are the whole batch's
 * bytes where every slice has 16 images or more (below that, oneDNN's GEMM picks other
 * kernels for the linear layers, whose rows then round otherwise); the other gradients
 * are sums of the slices' and agree to float rounding (looser for slices of an image or
 * two, whose batch statistics come from a handful of values). */
static void
check_step (const Case *k, gboolean exact)
{
  mt_cpu_set_threads (1);
  g_autoptr (MtModel) a = model_for (k);
  g_autoptr (MtModel) b = model_for (k);
  g_autofree gint64 *y = NULL;
  g_autofree float *x = images (k, &y);
  g_autoptr (MtSlices) whole = mt_slices_new (a, 1);
  g_autoptr (MtSlices) sliced = mt_slices_new (b, k->slices);
  ck_assert_int_eq (mt_slices_count (whole), 1);
  ck_assert_int_eq (mt_slices_count (sliced), k->slices);
  gint64 ca = -1, cb = -1;
  double la = -1, lb = -2;
  mt_slices_train_step (whole, x, y, k->n, &la, &ca);
  mt_slices_train_step (sliced, x, y, k->n, &lb, &cb);
  ck_assert_int_eq (ca, cb);
  if (exact)
    ck_assert_msg (la == lb, "%s, %d in %d slices: loss %.17g, whole batch %.17g", k->arch, k->n, k->slices, lb, la);
  else
    ck_assert_double_eq_tol (la, lb, 1e-6);
  double scale = 0;
  for (guint p = 0; p < mt_model_n_params (a); p++)
    for (gsize i = 0; i < mt_model_param (a, p)->len; i++)
      scale = MAX (scale, fabs (mt_model_param (a, p)->grad[i]));
  for (guint p = 0; p < mt_model_n_params (a); p++) {
    MtParam *pa = mt_model_param (a, p), *pb = mt_model_param (b, p);
    ck_assert_str_eq (pa->name, pb->name);
    if (exact && is_batchnorm (a, pa->name)) {
      ck_assert_msg (memcmp (pa->grad, pb->grad, pa->len * sizeof (float)) == 0,
                     "%s, %d in %d slices: the gradient of %s is not the whole batch's", k->arch, k->n, k->slices,
                     pa->name);
      continue;
    }
    for (gsize i = 0; i < pa->len; i++)
      ck_assert_msg (fabs (pa->grad[i] - pb->grad[i]) <= (exact ? 2e-5 : 1e-4) * scale, "%s, %d in %d slices: %s[%zu] %.8g vs %.8g",
                     k->arch, k->n, k->slices, pa->name, i, pb->grad[i], pa->grad[i]);
  }
  const char *parts[] = { "running_", "num_batches" };
  for (guint i = 0; i < G_N_ELEMENTS (parts); i++) {
    g_autoptr (GByteArray) ra = buffers (a, parts[i]);
    g_autoptr (GByteArray) rb = buffers (b, parts[i]);
    ck_assert_uint_eq (ra->len, rb->len);
    if (exact || i == 1)
      ck_assert_msg (memcmp (ra->data, rb->data, ra->len) == 0, "%s, %d in %d slices: %s* differ", k->arch, k->n,
                     k->slices, parts[i]);
  }
  /* Evaluation on slices: the same logits, bytes where the slices are large enough. */
  g_autofree float *za = g_memdup2 (mt_slices_forward_eval (whole, x, k->n), (gsize) k->n * 2 * sizeof (float));
  const float *zb = mt_slices_forward_eval (sliced, x, k->n);
  for (int i = 0; i < k->n * 2; i++)
    ck_assert_msg (exact ? za[i] == zb[i] : fabs (za[i] - zb[i]) <= 1e-5 * (1 + fabs (za[i])),
                   "%s, %d in %d slices: logit %d %.8g vs %.8g", k->arch, k->n, k->slices, i, zb[i], za[i]);
}

START_TEST (slices_give_the_whole_batch_step)
{
  int keep = mt_cpu_threads ();
  const Case exact[] = { { "small_cnn", 28, 64, 2 }, { "small_cnn", 28, 97, 3 }, { "resnet18", 32, 32, 2 },
                         { "resnet20", 16, 48, 3 } };
  for (guint i = 0; i < G_N_ELEMENTS (exact); i++)
    check_step (&exact[i], TRUE);
  /* Small and uneven slices; more slices than images (one idles). */
  const Case small[] = { { "small_cnn", 28, 24, 2 }, { "small_cnn", 28, 7, 4 }, { "small_cnn", 28, 3, 4 } };
  for (guint i = 0; i < G_N_ELEMENTS (small); i++)
    check_step (&small[i], FALSE);
  mt_cpu_set_threads (keep);
}
END_TEST

/* Four SGD steps on @slices slices: every parameter's bytes. */
static GByteArray *
train_bytes (const Case *k)
{
  g_autoptr (MtModel) m = model_for (k);
  g_autofree gint64 *y = NULL;
  g_autofree float *x = images (k, &y);
  g_autoptr (MtSlices) s = mt_slices_new (m, k->slices);
  MtBackend *be = mt_model_get_backend (m);
  g_autoptr (GPtrArray) mom = g_ptr_array_new_with_free_func (g_free);
  for (guint p = 0; p < mt_model_n_params (m); p++)
    g_ptr_array_add (mom, g_new0 (float, mt_model_param (m, p)->len));
  MtSgdSpec sgd = { 0.05, 0.9, 1e-4, FALSE };
  for (int step = 0; step < 4; step++) {
    double loss;
    mt_slices_train_step (s, x, y, k->n, &loss, NULL);
    for (guint p = 0; p < mt_model_n_params (m); p++) {
      MtParam *mp = mt_model_param (m, p);
      be->ops->sgd_step (be, &sgd, mp->data, mp->grad, mom->pdata[p], mp->len, step == 0);
    }
  }
  GByteArray *out = buffers (m, "running_");
  for (guint p = 0; p < mt_model_n_params (m); p++)
    g_byte_array_append (out, (const guint8 *) mt_model_param (m, p)->data, mt_model_param (m, p)->len * sizeof (float));
  return out;
}

START_TEST (sliced_training_is_deterministic)
{
  int keep = mt_cpu_threads ();
  mt_cpu_set_threads (2);  /* the caller's thread threads nothing while it runs a slice */
  const Case cases[] = { { "small_cnn", 28, 40, 2 }, { "small_cnn", 28, 41, 3 }, { "resnet20", 16, 20, 2 } };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GByteArray) a = train_bytes (&cases[i]);
    g_autoptr (GByteArray) b = train_bytes (&cases[i]);
    ck_assert_uint_eq (a->len, b->len);
    ck_assert_msg (memcmp (a->data, b->data, a->len) == 0, "%s on %d slices: two trainings differ", cases[i].arch,
                   cases[i].slices);
  }
  mt_cpu_set_threads (keep);
}
END_TEST

/* The backend's thread count is the default; MT_THREADING=ops is one slice (each op
 * threads itself). */
START_TEST (slice_count_follows_the_threads)
{
  int keep = mt_cpu_threads ();
  g_autoptr (MtModel) m = mt_model_new (mt_arch_lookup ("small_cnn"), 2);
  mt_cpu_set_threads (3);
  g_autoptr (MtSlices) a = mt_slices_new (m, 0);
  ck_assert_int_eq (mt_slices_count (a), 3);
  g_setenv ("MT_THREADING", "ops", TRUE);
  g_autoptr (MtSlices) b = mt_slices_new (m, 0);
  ck_assert_int_eq (mt_slices_count (b), 1);
  g_unsetenv ("MT_THREADING");
  mt_cpu_set_threads (keep);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("slices");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, slices_give_the_whole_batch_step);
  tcase_add_test (tc, sliced_training_is_deterministic);
  tcase_add_test (tc, slice_count_follows_the_threads);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}
