/* Data: IDX files and every malformed case, the mnist node (synthetic, bundled and
 * Fashion-MNIST data), the biaser's counts, pixels, colours and seeds, and previews. */
#include "tests/mt-test-util.h"

#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

/* ---- helpers ----------------------------------------------------------------- */

typedef struct {
  char *dir;
  MtCache *cache;
  GHashTable *results;  /* node name -> MtManifest* */
} Run;

static void
on_event (const MtEvent *e, gpointer user_data)
{
  Run *r = user_data;
  if (e->type == MT_EVENT_FINISHED || e->type == MT_EVENT_CACHED) {
    g_autofree char *text = json_to_string (e->manifest->root, FALSE);
    g_hash_table_insert (r->results, g_strdup (e->node->name),
                         mt_manifest_parse (text, strlen (text), "event", NULL));
  }
}

static gboolean
run_pipe (Run *r, const char *src, GError **error)
{
  if (!r->dir) {
    r->dir = mt_test_tmpdir ();
    g_autofree char *cdir = g_build_filename (r->dir, "cache", NULL);
    r->cache = mt_cache_open (cdir, error);
    r->results = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) mt_manifest_free);
  }
  g_autoptr (MtDag) g = mt_graph_load_string ("t.pipe", src, mt_registry_get_default (), NULL, error);
  if (!g)
    return FALSE;
  MtRunOptions opts = { .jobs = 2, .on_event = on_event, .user_data = r };
  return mt_executor_run (g, r->cache, &opts, error);
}

static MtBundle *
output_bundle (Run *r, const char *node)
{
  MtManifest *m = g_hash_table_lookup (r->results, node);
  ck_assert_msg (m != NULL, "no result for %s", node);
  g_autofree char *p = mt_cache_output_path (r->cache, m->outputs->pdata[0]);
  g_autoptr (GError) err = NULL;
  MtBundle *b = mt_safetensors_load (p, &err);
  ck_assert_msg (b != NULL, "%s", err ? err->message : "");
  return b;
}

static void
run_clear (Run *r)
{
  if (r->dir)
    mt_file_remove_tree (r->dir, NULL);
  g_free (r->dir);
  mt_cache_close (r->cache);
  g_clear_pointer (&r->results, g_hash_table_unref);
}

/* A synthetic MNIST-format set: @per_digit[d] samples of digit d, in round-robin order;
 * pixel (y, x) of sample i is (i + y * 28 + x) % 256, so every image is different. */
static void
write_synthetic (const char *root, const char *prefix, const int per_digit[10], gboolean gz)
{
  int n = 0;
  for (int d = 0; d < 10; d++)
    n += per_digit[d];
  gint64 ishape[] = { n, 28, 28 }, lshape[] = { n };
  g_autoptr (MtTensor) images = mt_tensor_new (MT_DTYPE_U8, 3, ishape);
  g_autoptr (MtTensor) labels = mt_tensor_new (MT_DTYPE_U8, 1, lshape);
  int left[10];
  memcpy (left, per_digit, sizeof left);
  int i = 0;
  while (i < n)
    for (int d = 0; d < 10 && i < n; d++)
      if (left[d] > 0) {
        left[d]--;
        ((guint8 *) labels->data)[i] = (guint8) d;
        for (int p = 0; p < 784; p++)
          ((guint8 *) images->data)[(gsize) i * 784 + p] = (guint8) ((i + p) % 256);
        i++;
      }
  g_autofree char *iname = g_strdup_printf ("%s-images-idx3-ubyte%s", prefix, gz ? ".gz" : "");
  g_autofree char *lname = g_strdup_printf ("%s-labels-idx1-ubyte%s", prefix, gz ? ".gz" : "");
  g_autofree char *ip = g_build_filename (root, iname, NULL);
  g_autofree char *lp = g_build_filename (root, lname, NULL);
  g_autoptr (GError) err = NULL;
  ck_assert (mt_idx_save (images, ip, gz, &err));
  ck_assert (mt_idx_save (labels, lp, gz, &err));
}

static const int hundred[10] = { 100, 100, 100, 100, 100, 100, 100, 100, 100, 100 };
static const int uneven[10] = { 37, 51, 12, 80, 20, 44, 9, 63, 28, 57 };  /* 200 / 201 */

/* ---- IDX ----------------------------------------------------------------------- */

START_TEST (idx_round_trip)
{
  g_autofree char *dir = mt_test_tmpdir ();
  const MtDType types[] = { MT_DTYPE_U8, MT_DTYPE_I32, MT_DTYPE_F32, MT_DTYPE_F64 };
  for (guint t = 0; t < G_N_ELEMENTS (types); t++)
    for (int gz = 0; gz <= 1; gz++) {
      gint64 shape[] = { 5, 3, 7 };
      g_autoptr (MtTensor) a = mt_tensor_new (types[t], 3, shape);
      for (gsize i = 0; i < a->nbytes; i++)
        ((guint8 *) a->data)[i] = (guint8) (i * 31 + 7);
      g_autofree char *name = g_strdup_printf ("t%u-%d.idx", t, gz);
      g_autofree char *p = g_build_filename (dir, name, NULL);
      g_autoptr (GError) err = NULL;
      ck_assert (mt_idx_save (a, p, gz, &err));
      g_autoptr (MtTensor) b = mt_idx_load (p, &err);
      ck_assert_msg (b != NULL, "%s", err ? err->message : "");
      ck_assert (mt_tensor_equal (a, b));
    }
  /* Big-endian on disk: an int32 of 1 is 00 00 00 01. */
  gint64 one[] = { 1 };
  g_autoptr (MtTensor) i1 = mt_tensor_new (MT_DTYPE_I32, 1, one);
  ((gint32 *) i1->data)[0] = 1;
  g_autofree char *p = g_build_filename (dir, "one.idx", NULL);
  ck_assert (mt_idx_save (i1, p, FALSE, NULL));
  g_autofree char *bytes = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (p, &bytes, &len, NULL));
  const guint8 expect[] = { 0, 0, 0x0C, 1, 0, 0, 0, 1, 0, 0, 0, 1 };
  ck_assert_uint_eq (len, sizeof expect);
  ck_assert (memcmp (bytes, expect, len) == 0);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

static void
expect_idx_error (const char *dir, const char *name, const void *data, gsize len, const char *needle)
{
  g_autofree char *p = g_build_filename (dir, name, NULL);
  ck_assert (g_file_set_contents (p, data, (gssize) len, NULL));
  g_autoptr (GError) err = NULL;
  g_autoptr (MtTensor) t = mt_idx_load (p, &err);
  ck_assert_msg (t == NULL, "%s accepted", name);
  ck_assert_msg (strstr (err->message, p) && strstr (err->message, needle), "'%s' not in: %s", needle, err->message);
}

START_TEST (idx_malformed)
{
  g_autofree char *dir = mt_test_tmpdir ();
  const guint8 good[] = { 0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3 };
  expect_idx_error (dir, "magic", "\x01\x02\x08\x01", 4, "not an IDX file");
  expect_idx_error (dir, "type", "\x00\x00\x0b\x01\x00\x00\x00\x01\x00\x00", 10, "unsupported IDX element type 0x0b");
  expect_idx_error (dir, "ndim", "\x00\x00\x08\x00", 4, "claims 0 dimensions");
  expect_idx_error (dir, "short-magic", "\x00\x00", 2, "truncated: the magic number needs 4 bytes, only 2 remain");
  expect_idx_error (dir, "short-dims", good, 6, "truncated: the dimensions need");
  expect_idx_error (dir, "short-data", good, 10, "truncated: the data needs 3 bytes, only 2 remain");
  guint8 longer[12];
  memcpy (longer, good, sizeof good);
  longer[11] = 9;
  expect_idx_error (dir, "extra", longer, sizeof longer, "data continue past the 3 elements");
  expect_idx_error (dir, "huge", "\x00\x00\x08\x02\x7f\xff\xff\xff\x7f\xff\xff\xff", 12, "implausible IDX dimensions");

  /* A gzip file cut short, and one with a damaged stream. */
  gint64 shape[] = { 64, 28, 28 };
  g_autoptr (MtTensor) t = mt_tensor_new (MT_DTYPE_U8, 3, shape);
  for (gsize i = 0; i < t->nbytes; i++)
    ((guint8 *) t->data)[i] = (guint8) ((i * 7919) >> 3);
  g_autofree char *gzp = g_build_filename (dir, "whole.gz", NULL);
  ck_assert (mt_idx_save (t, gzp, TRUE, NULL));
  g_autofree char *gzdata = NULL;
  gsize gzlen = 0;
  ck_assert (g_file_get_contents (gzp, &gzdata, &gzlen, NULL));
  expect_idx_error (dir, "cut.gz", gzdata, gzlen / 2, "truncated");
  gzdata[gzlen / 2] ^= 0xff;
  gzdata[gzlen / 2 + 1] ^= 0x55;
  g_autofree char *bad = g_build_filename (dir, "damaged.gz", NULL);
  ck_assert (g_file_set_contents (bad, gzdata, (gssize) gzlen, NULL));
  g_autoptr (GError) err = NULL;
  g_autoptr (MtTensor) u = mt_idx_load (bad, &err);
  ck_assert (u == NULL);
  ck_assert_msg (strstr (err->message, "damaged.gz") &&
                 (strstr (err->message, "corrupt gzip") || strstr (err->message, "truncated")), "%s", err->message);
  g_clear_error (&err);
  g_autofree char *missing = g_build_filename (dir, "missing", NULL);
  ck_assert_ptr_null (mt_idx_load (missing, &err));
  ck_assert (strstr (err->message, "cannot open") && strstr (err->message, "missing"));
  mt_file_remove_tree (dir, NULL);
}
END_TEST

/* ---- mnist --------------------------------------------------------------------- */

START_TEST (mnist_reads_a_root)
{
  Run r = { 0 };
  g_autofree char *root = mt_test_tmpdir ();
  write_synthetic (root, "train", uneven, TRUE);
  write_synthetic (root, "t10k", hundred, FALSE);
  g_autofree char *src = g_strdup_printf ("tr = mnist(root=\"%s\")\nte = mnist(root=\"%s\", split=\"test\", limit=300)\n",
                                          root, root);
  g_autoptr (GError) err = NULL;
  ck_assert_msg (run_pipe (&r, src, &err), "%s", err ? err->message : "");
  g_autoptr (MtBundle) tr = output_bundle (&r, "tr");
  g_autoptr (MtBundle) te = output_bundle (&r, "te");
  ck_assert (mt_dataset_check (tr, "tr", NULL));
  MtTensor *img = mt_bundle_get (tr, MT_DATASET_IMAGES);
  ck_assert_int_eq (img->shape[0], 401);
  ck_assert_int_eq (img->shape[1], 1);
  ck_assert_int_eq (img->shape[2], 28);
  ck_assert_int_eq (((guint8 *) img->data)[784 * 5 + 3], (5 + 3) % 256);
  MtTensor *lab = mt_bundle_get (tr, MT_DATASET_LABELS);
  int counts[10] = { 0 };
  for (gint64 i = 0; i < lab->shape[0]; i++)
    counts[((gint64 *) lab->data)[i]]++;
  for (int d = 0; d < 10; d++)
    ck_assert_int_eq (counts[d], uneven[d]);
  ck_assert_int_eq (mt_dataset_size (te), 300);
  run_clear (&r);
  mt_file_remove_tree (root, NULL);
}
END_TEST

static void
expect_mnist_error (const char *root, const char *needle)
{
  Run r = { 0 };
  g_autofree char *src = g_strdup_printf ("tr = mnist(root=\"%s\")\n", root);
  g_autoptr (GError) err = NULL;
  ck_assert (!run_pipe (&r, src, &err));
  ck_assert_msg (strstr (err->message, needle), "'%s' not in: %s", needle, err->message);
  run_clear (&r);
}

START_TEST (mnist_errors_name_the_file)
{
  g_autofree char *root = mt_test_tmpdir ();
  g_autofree char *msg = g_strdup_printf ("no training images file in %s (expected train-images-idx3-ubyte", root);
  expect_mnist_error (root, msg);
  write_synthetic (root, "train", hundred, TRUE);
  g_autofree char *lp = g_build_filename (root, "train-labels-idx1-ubyte.gz", NULL);
  g_unlink (lp);
  g_autofree char *msg2 = g_strdup_printf ("no training labels file in %s", root);
  expect_mnist_error (root, msg2);

  /* Labels for fewer samples than images. */
  gint64 ls[] = { 999 };
  g_autoptr (MtTensor) few = mt_tensor_new (MT_DTYPE_U8, 1, ls);
  ck_assert (mt_idx_save (few, lp, TRUE, NULL));
  g_autofree char *msg3 = g_strdup_printf ("%s has 999 labels but", lp);
  expect_mnist_error (root, msg3);

  /* A label that is no digit. */
  gint64 ls2[] = { 1000 };
  g_autoptr (MtTensor) odd = mt_tensor_new (MT_DTYPE_U8, 1, ls2);
  ((guint8 *) odd->data)[17] = 12;
  ck_assert (mt_idx_save (odd, lp, TRUE, NULL));
  expect_mnist_error (root, "label 12 of sample 17 is not a class 0-9");

  /* A truncated images file. */
  g_autofree char *ip = g_build_filename (root, "train-images-idx3-ubyte.gz", NULL);
  g_autofree char *data = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (ip, &data, &len, NULL));
  ck_assert (g_file_set_contents (ip, data, (gssize) (len - 100), NULL));
  g_autofree char *msg4 = g_strdup_printf ("%s: truncated", ip);
  expect_mnist_error (root, msg4);
  mt_file_remove_tree (root, NULL);
}
END_TEST

START_TEST (bundled_digits)
{
  Run r = { 0 };
  g_autoptr (GError) err = NULL;
  ck_assert_msg (run_pipe (&r, "tr = mnist()\nte = mnist(split=\"test\")\n", &err), "%s", err ? err->message : "");
  /* The counts data/README.md documents. */
  const int train_counts[10] = { 800, 901, 792, 825, 784, 690, 811, 856, 755, 782 };
  const int test_counts[10] = { 201, 226, 199, 207, 196, 173, 203, 214, 189, 196 };
  const char *names[] = { "tr", "te" };
  const int *expect[] = { train_counts, test_counts };
  for (int s = 0; s < 2; s++) {
    g_autoptr (MtBundle) b = output_bundle (&r, names[s]);
    MtTensor *lab = mt_bundle_get (b, MT_DATASET_LABELS);
    MtTensor *img = mt_bundle_get (b, MT_DATASET_IMAGES);
    int counts[10] = { 0 };
    for (gint64 i = 0; i < lab->shape[0]; i++)
      counts[((gint64 *) lab->data)[i]]++;
    for (int d = 0; d < 10; d++)
      ck_assert_int_eq (counts[d], expect[s][d]);
    /* Real digits: mostly black background, some bright strokes. */
    gint64 bright = 0;
    for (gsize i = 0; i < img->nbytes; i++)
      bright += ((guint8 *) img->data)[i] > 128;
    double frac = (double) bright / (double) img->nbytes;
    ck_assert_msg (frac > 0.08 && frac < 0.2, "bright fraction %f", frac);
  }
  run_clear (&r);
}
END_TEST

START_TEST (fashion_mnist_from_debian)
{
  const char *root = "/usr/share/datasets/fashion-mnist";
  if (!g_file_test (root, G_FILE_TEST_IS_DIR)) {
    printf ("SKIP: %s not installed (apt-get install dataset-fashion-mnist)\n", root);
    return;
  }
  Run r = { 0 };
  g_autofree char *src = g_strdup_printf ("tr = mnist(root=\"%s\")\nte = mnist(root=\"%s\", split=\"test\")\n", root, root);
  g_autoptr (GError) err = NULL;
  ck_assert_msg (run_pipe (&r, src, &err), "%s", err ? err->message : "");
  g_autoptr (MtBundle) tr = output_bundle (&r, "tr");
  g_autoptr (MtBundle) te = output_bundle (&r, "te");
  ck_assert_int_eq (mt_dataset_size (tr), 60000);
  ck_assert_int_eq (mt_dataset_size (te), 10000);
  MtTensor *lab = mt_bundle_get (tr, MT_DATASET_LABELS);
  int counts[10] = { 0 };
  for (gint64 i = 0; i < lab->shape[0]; i++)
    counts[((gint64 *) lab->data)[i]]++;
  for (int d = 0; d < 10; d++)
    ck_assert_int_eq (counts[d], 6000);
  run_clear (&r);
}
END_TEST

/* ---- biaser -------------------------------------------------------------------- */

static char *
data_root (const int per_digit[10])
{
  char *root = mt_test_tmpdir ();
  write_synthetic (root, "train", per_digit, TRUE);
  return root;
}

static void
group_counts (MtBundle *b, gint64 out[4])
{
  MtTensor *groups = mt_bundle_get (b, MT_DATASET_GROUPS);
  memset (out, 0, 4 * sizeof (gint64));
  for (gint64 i = 0; i < groups->shape[0]; i++)
    out[((gint64 *) groups->data)[i]]++;
}

START_TEST (biaser_counts_exact)
{
  g_autofree char *root = data_root (uneven);  /* class 0: 200 samples, class 1: 201 */
  const double ratios[] = { 0.0, 0.01, 0.05, 0.1, 0.5, 0.99, 1.0 };
  /* Group order: (class 0, plain), (class 0, patched), (class 1, plain), (class 1, patched). */
  const gint64 expect[][4] = {
    { 0, 200, 201, 0 }, { 2, 198, 199, 2 }, { 10, 190, 191, 10 }, { 20, 180, 181, 20 },
    { 100, 100, 100, 101 }, { 198, 2, 2, 199 }, { 200, 0, 0, 201 },
  };
  for (guint k = 0; k < G_N_ELEMENTS (ratios); k++) {
    Run r = { 0 };
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_autofree char *src = g_strdup_printf ("d = mnist(root=\"%s\")\nb = biaser(d, conflict_ratio=%s)\n", root,
                                            g_ascii_dtostr (buf, sizeof buf, ratios[k]));
    g_autoptr (GError) err = NULL;
    ck_assert_msg (run_pipe (&r, src, &err), "%s", err ? err->message : "");
    g_autoptr (MtBundle) b = output_bundle (&r, "b");
    ck_assert (mt_dataset_check (b, "b", NULL));
    gint64 g[4];
    group_counts (b, g);
    for (int i = 0; i < 4; i++)
      ck_assert_msg (g[i] == expect[k][i], "ratio %g group %d: %" G_GINT64_FORMAT " != %" G_GINT64_FORMAT,
                     ratios[k], i, g[i], expect[k][i]);
    run_clear (&r);
  }
  ck_assert_int_eq (mt_biaser_patched_count (1000, 0.99), 990);
  ck_assert_int_eq (mt_biaser_patched_count (100, 0.29), 29);
  ck_assert_int_eq (mt_biaser_patched_count (3, 0.5), 2);  /* halves round up */
  mt_file_remove_tree (root, NULL);
}
END_TEST

START_TEST (biaser_raw_and_class_map)
{
  g_autofree char *root = data_root (hundred);
  Run r = { 0 };
  g_autofree char *src = g_strdup_printf (
    "d = mnist(root=\"%s\")\n"
    "raw = biaser(d, mode=\"raw\")\n"
    "three = biaser(d, class_map=[0, 0, 0, 1, 1, 1, 2, 2, 2, 2], conflict_ratio=0.1)\n", root);
  g_autoptr (GError) err = NULL;
  ck_assert_msg (run_pipe (&r, src, &err), "%s", err ? err->message : "");
  g_autoptr (MtBundle) raw = output_bundle (&r, "raw");
  gint64 g[4];
  group_counts (raw, g);
  ck_assert_int_eq (g[0], 500);
  ck_assert_int_eq (g[1], 0);
  ck_assert_int_eq (g[2], 500);
  ck_assert_int_eq (g[3], 0);
  g_autoptr (MtBundle) three = output_bundle (&r, "three");
  MtTensor *groups = mt_bundle_get (three, MT_DATASET_GROUPS);
  gint64 c[6] = { 0 };
  for (gint64 i = 0; i < groups->shape[0]; i++)
    c[((gint64 *) groups->data)[i]]++;
  /* class 0: 300 (270 patched), class 1: 300 (30 patched), class 2: 400 (40 patched) */
  const gint64 expect[6] = { 30, 270, 270, 30, 360, 40 };
  for (int i = 0; i < 6; i++)
    ck_assert_int_eq (c[i], expect[i]);
  ck_assert_str_eq (mt_bundle_get_metadata (three, "num_classes"), "3");
  run_clear (&r);

  Run bad = { 0 };
  g_autofree char *src2 = g_strdup_printf ("d = mnist(root=\"%s\")\nb = biaser(d, class_map=[0, 1])\n", root);
  ck_assert (!run_pipe (&bad, src2, &err));
  ck_assert_msg (strstr (err->message, "class_map must give a class for each of the 10 labels"), "%s", err->message);
  g_clear_error (&err);
  run_clear (&bad);
  Run bad2 = { 0 };
  g_autofree char *src3 = g_strdup_printf ("d = mnist(root=\"%s\")\nb = biaser(d, color=[255, 0, 300])\n", root);
  ck_assert (!run_pipe (&bad2, src3, &err));
  ck_assert_msg (strstr (err->message, "color component 300 is outside 0..255"), "%s", err->message);
  run_clear (&bad2);
  mt_file_remove_tree (root, NULL);
}
END_TEST

static guint8
px (MtTensor *img, gint64 i, int ch, int y, int x)
{
  return ((guint8 *) img->data)[((i * 3 + ch) * 28 + y) * 28 + x];
}

START_TEST (biaser_patch_pixels)
{
  g_autofree char *root = data_root (hundred);
  Run r = { 0 };
  g_autofree char *src = g_strdup_printf (
    "d = mnist(root=\"%s\")\n"
    "sq = biaser(d, size=4)\n"
    "br = biaser(d, size=5, position=\"bottom_right\", color=[0, 255, 0], conflict_ratio=0.2)\n"
    "ce = biaser(d, size=6, position=\"center\", color=[10, 20, 30])\n"
    "fg = biaser(d, patch=\"foreground\", color=[0, 0, 255])\n"
    "bg = biaser(d, patch=\"background\", color=[0, 255, 0])\n"
    "tx = biaser(d, patch=\"texture\", color=[40, 90, 200], conflict_ratio=0.3)\n"
    "tr = biaser(d, patch=\"texture\", mode=\"raw\")\n", root);
  g_autoptr (GError) err = NULL;
  ck_assert_msg (run_pipe (&r, src, &err), "%s", err ? err->message : "");
  g_autoptr (MtBundle) d = output_bundle (&r, "d");
  MtTensor *grey = mt_bundle_get (d, MT_DATASET_IMAGES);
  const char *names[] = { "sq", "br", "ce" };
  const int sizes[] = { 4, 5, 6 }, y0s[] = { 0, 23, 11 }, x0s[] = { 0, 23, 11 };
  const guint8 colors[][3] = { { 255, 0, 0 }, { 0, 255, 0 }, { 10, 20, 30 } };
  for (int v = 0; v < 3; v++) {
    g_autoptr (MtBundle) b = output_bundle (&r, names[v]);
    MtTensor *img = mt_bundle_get (b, MT_DATASET_IMAGES);
    MtTensor *patched = mt_bundle_get (b, MT_DATASET_PATCHED);
    ck_assert_int_eq (img->shape[1], 3);
    for (gint64 i = 0; i < img->shape[0]; i++) {
      gboolean p = ((guint8 *) patched->data)[i];
      for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++) {
          gboolean in = p && y >= y0s[v] && y < y0s[v] + sizes[v] && x >= x0s[v] && x < x0s[v] + sizes[v];
          guint8 g = ((guint8 *) grey->data)[(i * 28 + y) * 28 + x];
          for (int ch = 0; ch < 3; ch++)
            ck_assert_int_eq (px (img, i, ch, y, x), in ? colors[v][ch] : g);
        }
    }
  }
  /* Colour in proportion to the grey value: strokes (foreground) or behind them. */
  g_autoptr (MtBundle) fg = output_bundle (&r, "fg");
  g_autoptr (MtBundle) bg = output_bundle (&r, "bg");
  MtTensor *fi = mt_bundle_get (fg, MT_DATASET_IMAGES), *bi = mt_bundle_get (bg, MT_DATASET_IMAGES);
  MtTensor *fp = mt_bundle_get (fg, MT_DATASET_PATCHED);
  gint64 i = 0;
  while (!((guint8 *) fp->data)[i])
    i++;
  for (int p = 0; p < 784; p++) {
    guint g = ((guint8 *) grey->data)[i * 784 + p];
    int y = p / 28, x = p % 28;
    ck_assert_int_eq (px (fi, i, 0, y, x), 0);
    ck_assert_int_eq (px (fi, i, 1, y, x), 0);
    ck_assert_int_eq (px (fi, i, 2, y, x), (g * 255 + 127) / 255);
    ck_assert_int_eq (px (bi, i, 0, y, x), (g * 255 + 127) / 255);
    ck_assert_int_eq (px (bi, i, 1, y, x), 255);
    ck_assert_int_eq (px (bi, i, 2, y, x), (g * 255 + 127) / 255);
  }
  /* Texture: every sample on a place, water (blue waves) when patched, else land (green
   * over brown); each has its own phase; the raw set has none. */
  g_autoptr (MtBundle) tx = output_bundle (&r, "tx");
  g_autoptr (MtBundle) tr = output_bundle (&r, "tr");
  MtTensor *ti = mt_bundle_get (tx, MT_DATASET_IMAGES), *tp = mt_bundle_get (tx, MT_DATASET_PATCHED);
  MtTensor *ri = mt_bundle_get (tr, MT_DATASET_IMAGES);
  int water = 0, land = 0;
  for (gint64 k = 0; k < ti->shape[0]; k++) {
    double sum[3] = { 0, 0, 0 };
    int dark = 0;
    for (int p = 0; p < 784; p++) {
      int y = p / 28, x = p % 28;
      guint g = ((guint8 *) grey->data)[k * 784 + p];
      for (int ch = 0; ch < 3; ch++)
        ck_assert_int_eq (px (ri, k, ch, y, x), g);
      if (g > 60)
        continue;  /* where the item is, the item shows */
      dark++;
      for (int ch = 0; ch < 3; ch++)
        sum[ch] += px (ti, k, ch, y, x);
    }
    ck_assert_msg (dark > 100, "sample %" G_GINT64_FORMAT ": %d background pixels", k, dark);
    gboolean is_water = sum[2] > sum[0] && sum[2] > sum[1];
    ck_assert_int_eq (is_water, ((guint8 *) tp->data)[k]);
    water += is_water;
    land += !is_water && sum[1] > sum[2];
  }
  ck_assert_int_eq (water + land, ti->shape[0]);
  ck_assert (memcmp ((guint8 *) ti->data, (guint8 *) ti->data + 3 * 784, 3 * 784) != 0);
  run_clear (&r);
  mt_file_remove_tree (root, NULL);
}
END_TEST

static GArray *
patched_indices (MtBundle *b)
{
  MtTensor *p = mt_bundle_get (b, MT_DATASET_PATCHED);
  GArray *a = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (gint64 i = 0; i < p->shape[0]; i++)
    if (((guint8 *) p->data)[i])
      g_array_append_val (a, i);
  return a;
}

START_TEST (biaser_selection_and_seed)
{
  g_autofree char *root = data_root (uneven);
  Run r = { 0 };
  g_autofree char *src = g_strdup_printf (
    "d = mnist(root=\"%s\")\n"
    "first = biaser(d, conflict_ratio=0.1)\n"
    "r1 = biaser(d, conflict_ratio=0.1, selection=\"random\", seed=7)\n"
    "r2 = biaser(d, conflict_ratio=0.1, selection=\"random\", seed=7, size=3)\n"
    "r3 = biaser(d, conflict_ratio=0.1, selection=\"random\", seed=8)\n", root);
  g_autoptr (GError) err = NULL;
  ck_assert_msg (run_pipe (&r, src, &err), "%s", err ? err->message : "");
  g_autoptr (MtBundle) first = output_bundle (&r, "first");
  MtTensor *cls = mt_bundle_get (first, MT_DATASET_LABELS);
  MtTensor *pat = mt_bundle_get (first, MT_DATASET_PATCHED);
  /* "first": the first 180 of class 0 and the first 20 of class 1, in dataset order. */
  gint64 seen[2] = { 0, 0 };
  for (gint64 i = 0; i < cls->shape[0]; i++) {
    gint64 c = ((gint64 *) cls->data)[i];
    gboolean expect = c == 0 ? seen[0] < 180 : seen[1] < 20;
    ck_assert_int_eq (((guint8 *) pat->data)[i], expect);
    seen[c]++;
  }
  g_autoptr (MtBundle) b1 = output_bundle (&r, "r1");
  g_autoptr (MtBundle) b2 = output_bundle (&r, "r2");
  g_autoptr (MtBundle) b3 = output_bundle (&r, "r3");
  g_autoptr (GArray) a1 = patched_indices (b1);
  g_autoptr (GArray) a2 = patched_indices (b2);
  g_autoptr (GArray) a3 = patched_indices (b3);
  g_autoptr (GArray) af = patched_indices (first);
  ck_assert_uint_eq (a1->len, 200);
  ck_assert_uint_eq (a3->len, 200);
  /* Same seed, same choice; another seed, another choice with the same counts. */
  ck_assert (a1->len == a2->len && memcmp (a1->data, a2->data, a1->len * sizeof (gint64)) == 0);
  ck_assert (memcmp (a1->data, a3->data, a1->len * sizeof (gint64)) != 0);
  ck_assert (memcmp (a1->data, af->data, a1->len * sizeof (gint64)) != 0);
  gint64 g1[4], g3[4];
  group_counts (b1, g1);
  group_counts (b3, g3);
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq (g1[i], g3[i]);
  run_clear (&r);

  /* The generator's stream is fixed forever (reproducible selections, stable keys).
   * Known answers for seed 7, from an independent Python transcription of
   * xoshiro256** seeded through splitmix64. */
  MtRng rng;
  mt_rng_seed (&rng, 7);
  ck_assert_uint_eq (mt_rng_next (&rng), 0xb358faf74ef9765aULL);
  ck_assert_uint_eq (mt_rng_next (&rng), 0x475c3d964f482cd2ULL);
  ck_assert_uint_eq (mt_rng_next (&rng), 0xd6f1d349952c7996ULL);
  mt_file_remove_tree (root, NULL);
}
END_TEST

/* ---- previews ------------------------------------------------------------------ */

START_TEST (preview_png)
{
  g_autofree char *root = data_root (hundred);
  Run r = { 0 };
  g_autofree char *src = g_strdup_printf (
    "d = mnist(root=\"%s\")\nb = biaser(d, conflict_ratio=0.5)\np = preview(b, count=10, columns=4, scale=2, sample=\"first\")\n", root);
  g_autoptr (GError) err = NULL;
  ck_assert_msg (run_pipe (&r, src, &err), "%s", err ? err->message : "");
  MtManifest *m = g_hash_table_lookup (r.results, "p");
  MtCacheOutput *o = m->outputs->pdata[0];
  ck_assert_str_eq (o->kind, "image");
  ck_assert (g_str_has_suffix (o->file, ".png"));
  g_autofree char *path = mt_cache_output_path (r.cache, o);
  g_autoptr (MtTensor) png = mt_png_load (path, &err);
  ck_assert_msg (png != NULL, "%s", err ? err->message : "");
  /* 3 rows x 4 columns of 2x-magnified 28x28 tiles, 2-pixel frames, 14-pixel captions, 4 apart. */
  gint64 tile_w = 28 * 2 + 4, tile_h = 28 * 2 + 4 + 14;
  ck_assert_int_eq (png->shape[0], 3 * (tile_h + 4) + 4);
  ck_assert_int_eq (png->shape[1], 4 * (tile_w + 4) + 4);
  ck_assert_int_eq (png->shape[2], 3);
  /* The frame of sample 0 is orange when it carries the patch, grey otherwise. */
  g_autoptr (MtBundle) b = output_bundle (&r, "b");
  gboolean p0 = ((guint8 *) mt_bundle_get (b, MT_DATASET_PATCHED)->data)[0];
  const guint8 *pix = png->data + (4 * png->shape[1] + 4) * 3;
  ck_assert_int_eq (pix[0], p0 ? 255 : 150);
  ck_assert_int_eq (pix[1], p0 ? 140 : 150);
  run_clear (&r);
  mt_file_remove_tree (root, NULL);
}
END_TEST

/* Which samples a figure shows: per group in turn (so a 1% group is seen), the first, or
 * a seeded random few. */
START_TEST (preview_picks)
{
  const gint64 groups[] = { 0, 0, 0, 0, 1, 0, 0, 2, 2, 0 };
  gint64 n = G_N_ELEMENTS (groups), ishape[] = { n, 1, 2, 2 }, vshape[] = { n };
  g_autoptr (MtBundle) b = mt_bundle_new ();
  g_autoptr (MtTensor) images = mt_tensor_new (MT_DTYPE_U8, 4, ishape);
  g_autoptr (MtTensor) g = mt_tensor_new_from_data (MT_DTYPE_I64, 1, vshape, groups);
  mt_bundle_set (b, MT_DATASET_IMAGES, images);
  mt_bundle_set (b, MT_DATASET_GROUPS, g);
  guint k = 0;
  g_autofree gint64 *per = mt_dataset_pick (b, MT_DATASET_PICK_PER_GROUP, 6, 0, &k);
  const gint64 want_per[] = { 0, 4, 7, 1, 8, 2 };
  ck_assert_uint_eq (k, 6);
  for (guint i = 0; i < k; i++)
    ck_assert_int_eq (per[i], want_per[i]);
  g_autofree gint64 *all = mt_dataset_pick (b, MT_DATASET_PICK_PER_GROUP, 100, 0, &k);
  ck_assert_uint_eq (k, 10);  /* every sample once, no more */
  g_autofree gint64 *first = mt_dataset_pick (b, MT_DATASET_PICK_FIRST, 4, 0, &k);
  ck_assert (k == 4 && first[0] == 0 && first[3] == 3);
  g_autofree gint64 *r1 = mt_dataset_pick (b, MT_DATASET_PICK_RANDOM, 5, 7, &k);
  g_autofree gint64 *r2 = mt_dataset_pick (b, MT_DATASET_PICK_RANDOM, 5, 7, &k);
  ck_assert (memcmp (r1, r2, 5 * sizeof (gint64)) == 0);  /* the seed decides */
  for (guint i = 0; i < 5; i++)
    ck_assert (r1[i] >= 0 && r1[i] < n && (i == 0 || r1[i] > r1[i - 1]));  /* distinct, in order */
  gboolean differs = FALSE;
  for (guint64 seed = 8; seed < 16 && !differs; seed++) {
    g_autofree gint64 *r3 = mt_dataset_pick (b, MT_DATASET_PICK_RANDOM, 5, seed, &k);
    differs = memcmp (r1, r3, 5 * sizeof (gint64)) != 0;
  }
  ck_assert (differs);
}
END_TEST

/* The panels figure: titled columns, a grey frame around every tile (a white mask keeps
 * its edge), and a colour bar from jet(1) at the top to jet(0) at the bottom. */
START_TEST (panels_figure)
{
  gint64 ishape[] = { 2, 1, 4, 4 }, hshape[] = { 2, 4, 4 };
  g_autoptr (MtTensor) images = mt_tensor_new (MT_DTYPE_U8, 4, ishape);
  g_autoptr (MtTensor) heat = mt_tensor_new (MT_DTYPE_F32, 3, hshape);
  g_autoptr (MtTensor) mask = mt_tensor_new (MT_DTYPE_U8, 3, hshape);
  for (gint64 i = 0; i < 32; i++) {
    ((float *) heat->data)[i] = 1.0f;
    ((guint8 *) mask->data)[i] = 1;
  }
  MtPanel panels[] = { { MT_PANEL_IMAGE, images, "image" }, { MT_PANEL_HEAT, heat, "heat map" },
                       { MT_PANEL_MASK, mask, "mask" } };
  const gint64 rows[] = { 1, 0 };
  g_autoptr (GError) err = NULL;
  g_autoptr (MtTensor) fig = mt_panels_render (panels, 3, rows, 2, 4, NULL, &err);
  ck_assert_msg (fig != NULL, "%s", err ? err->message : "");
  /* Columns 72 wide (room for a title), 8 apart; 16-pixel tiles centred in them. */
  ck_assert_int_eq (fig->shape[1], 8 + 3 * 80 + 14 + 40);
  ck_assert_int_eq (fig->shape[0], 24 + 2 * 24 + 8);
  const guint8 *px = fig->data;
  gint64 W = fig->shape[1];
#define AT(x, y) (px + ((gsize) (y) * W + (x)) * 3)
  guint8 red[3], blue[3];
  mt_panels_jet (1.0f, red);
  mt_panels_jet (0.0f, blue);
  gint64 heat_x = 8 + 80 + 28, mask_x = 8 + 160 + 28, y0 = 24;
  ck_assert (memcmp (AT (heat_x + 5, y0 + 5), red, 3) == 0);
  ck_assert (AT (mask_x + 5, y0 + 5)[0] == 255);                        /* kept = white */
  ck_assert (AT (mask_x - 1, y0 + 5)[0] == 140 && AT (mask_x - 1, y0 + 5)[1] == 140);  /* its frame */
  ck_assert (AT (mask_x - 3, y0 + 5)[0] == 255);                        /* the page beyond */
  ck_assert (memcmp (AT (248 + 5, 24), red, 3) == 0);                  /* the bar's top */
  ck_assert (memcmp (AT (248 + 5, 24 + 47), blue, 3) == 0);            /* its bottom: as tall as the rows */
  guint dark = 0;  /* the titles are drawn in the band above the tiles */
  for (gint64 y = 0; y < 22; y++)
    for (gint64 x = 0; x < 248; x++)
      dark += AT (x, y)[0] < 100;
  ck_assert_uint_gt (dark, 30);
#undef AT
  /* A panel of another size is named in the error. */
  gint64 bshape[] = { 2, 5, 5 };
  g_autoptr (MtTensor) big = mt_tensor_new (MT_DTYPE_F32, 3, bshape);
  MtPanel bad[] = { { MT_PANEL_IMAGE, images, "image" }, { MT_PANEL_HEAT, big, "heat map" } };
  ck_assert_ptr_null (mt_panels_render (bad, 2, rows, 2, 4, NULL, &err));
  ck_assert_msg (strstr (err->message, "panel 'heat map'"), "%s", err->message);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("data");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, idx_round_trip);
  tcase_add_test (tc, idx_malformed);
  tcase_add_test (tc, mnist_reads_a_root);
  tcase_add_test (tc, mnist_errors_name_the_file);
  tcase_add_test (tc, bundled_digits);
  tcase_add_test (tc, fashion_mnist_from_debian);
  tcase_add_test (tc, biaser_counts_exact);
  tcase_add_test (tc, biaser_raw_and_class_map);
  tcase_add_test (tc, biaser_patch_pixels);
  tcase_add_test (tc, biaser_selection_and_seed);
  tcase_add_test (tc, preview_png);
  tcase_add_test (tc, preview_picks);
  tcase_add_test (tc, panels_figure);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}
