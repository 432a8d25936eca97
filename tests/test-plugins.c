/* Plugins: loading, the reasons a plugin is rejected, registry rules, and the example
 * mask plugin at work in a pipeline. */
#include "tests/mt-test-util.h"

#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

START_TEST (load_good_plugin)
{
  MtRegistry *reg = mt_registry_new ();
  guint n = mt_registry_load_path (reg, g_getenv ("MT_TEST_PLUGIN_DIR"));
  ck_assert_uint_eq (n, 1);
  ck_assert (mt_registry_lookup (reg, "fill") != 0);
  ck_assert (mt_registry_lookup (reg, "toy_model") != 0);
  ck_assert_msg (strstr (mt_registry_get_origin (reg, "fill"), "test-nodes.so"), "%s",
                 mt_registry_get_origin (reg, "fill"));
  ck_assert_uint_eq (mt_registry_get_rejected (reg)->len, 0);
  /* The same directory twice loads nothing new and rejects nothing. */
  ck_assert_uint_eq (mt_registry_load_path (reg, g_getenv ("MT_TEST_PLUGIN_DIR")), 1);
  ck_assert_uint_eq (mt_registry_get_plugins (reg)->len, 1);
  mt_registry_free (reg);
}
END_TEST

static const char *
reason_for (MtRegistry *reg, const char *file_part)
{
  GPtrArray *rej = mt_registry_get_rejected (reg);
  for (guint i = 0; i < rej->len; i++) {
    MtPluginRejection *r = rej->pdata[i];
    if (strstr (r->path, file_part))
      return r->reason;
  }
  return NULL;
}

START_TEST (reject_bad_plugins)
{
  MtRegistry *reg = mt_registry_new ();
  ck_assert_uint_eq (mt_registry_load_path (reg, g_getenv ("MT_TEST_BAD_PLUGIN_DIR")), 0);
  ck_assert_uint_eq (mt_registry_get_rejected (reg)->len, 2);
  g_autofree char *abi = g_strdup_printf ("built for plugin ABI %d, this masktune has ABI %d: rebuild it",
                                          MT_PLUGIN_ABI_VERSION + 41, MT_PLUGIN_ABI_VERSION);
  ck_assert_str_eq (reason_for (reg, "bad-abi.so"), abi);
  ck_assert_str_eq (reason_for (reg, "no-symbol.so"),
                    "no 'mt_plugin_info' symbol: not a masktune plugin (use MT_PLUGIN_DEFINE)");

  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *junk = mt_test_write (dir, "junk.so", "this is not an ELF file");
  g_autoptr (GError) err = NULL;
  ck_assert (!mt_registry_load_plugin (reg, junk, &err));
  ck_assert_msg (strstr (err->message, "junk.so rejected: cannot load"), "%s", err->message);
  mt_registry_free (reg);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (registry_rules)
{
  MtRegistry *reg = mt_test_registry ();
  g_autoptr (GError) err = NULL;
  GType fill = mt_registry_lookup (reg, "fill");
  ck_assert (!mt_registry_register (reg, "fill", fill, &err));
  ck_assert_msg (strstr (err->message, "node type 'fill' is already registered by"), "%s", err->message);
  g_clear_error (&err);
  ck_assert (!mt_registry_register (reg, "bad name", fill, &err));
  g_clear_error (&err);
  ck_assert (!mt_registry_register (reg, "obj", G_TYPE_OBJECT, &err));
  ck_assert (strstr (err->message, "not a concrete MtNode subclass"));
  g_clear_error (&err);
  ck_assert (!mt_registry_register (reg, "abstract", MT_TYPE_NODE, &err));
  ck_assert_str_eq (mt_registry_get_origin (reg, "npy_file"), "built-in");
}
END_TEST

START_TEST (example_mask_plugin_runs)
{
  MtRegistry *reg = mt_test_registry ();
  ck_assert_uint_eq (mt_registry_load_path (reg, g_getenv ("MT_EXAMPLE_PLUGIN_DIR")), 2);
  g_autofree char *dir = mt_test_tmpdir ();
  g_autoptr (GError) err = NULL;
  g_autoptr (MtDag) g = mt_graph_load_string ("m.pipe",
    "d = toy_data(n=3)\ns = toy_saliency(d)\nm = threshold_mask(s, threshold=0.5)\n", reg, NULL, &err);
  ck_assert_msg (g != NULL, "%s", err ? err->message : "");
  g_autofree char *cdir = g_build_filename (dir, "cache", NULL);
  g_autoptr (MtCache) cache = mt_cache_open (cdir, &err);
  MtRunOptions opts = { .jobs = 1 };
  ck_assert_msg (mt_executor_run (g, cache, &opts, &err), "%s", err ? err->message : "");

  /* The ramp heat map is k/16 on a 4x4 image: half of the peak 15/16 is 0.46875,
   * so pixels 8..15 of each image are masked: 0, as the mask kind writes it (1 = kept,
   * as masker, random_mask and preview have it). */
  g_autoptr (GPtrArray) keys = mt_cache_list_keys (cache, &err);
  gboolean found = FALSE;
  for (guint i = 0; i < keys->len; i++) {
    g_autoptr (MtManifest) m = mt_cache_lookup (cache, keys->pdata[i], &err);
    if (g_strcmp0 (m->type, "threshold_mask") != 0)
      continue;
    g_autofree char *p = mt_cache_output_path (cache, m->outputs->pdata[0]);
    g_autoptr (MtTensor) mask = mt_npy_load (p, &err);
    ck_assert_int_eq (mask->dtype, MT_DTYPE_U8);
    ck_assert_int_eq (mask->ndim, 3);
    ck_assert_int_eq (mask->shape[0], 3);
    const guint8 *mv = mask->data;
    for (int n = 0; n < 3; n++)
      for (int k = 0; k < 16; k++)
        ck_assert_int_eq (mv[n * 16 + k], k < 8);
    found = TRUE;
  }
  ck_assert (found);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (random_mask_plugin)
{
  MtRegistry *reg = mt_test_registry ();
  mt_registry_load_path (reg, g_getenv ("MT_EXAMPLE_PLUGIN_DIR"));
  ck_assert (mt_registry_lookup (reg, "random_mask") != 0);
  g_autofree char *dir = mt_test_tmpdir ();
  g_autoptr (GError) err = NULL;
  g_autoptr (MtDag) g = mt_graph_load_string ("r.pipe",
    "d = mnist(limit=50)\nb = biaser(d)\nr = random_mask(b, min_size=5, max_size=9, seed=4)\n", reg, NULL, &err);
  ck_assert_msg (g != NULL, "%s", err ? err->message : "");
  g_autofree char *cdir = g_build_filename (dir, "cache", NULL);
  g_autoptr (MtCache) cache = mt_cache_open (cdir, &err);
  MtRunOptions opts = { .jobs = 1 };
  ck_assert_msg (mt_executor_run (g, cache, &opts, &err), "%s", err ? err->message : "");
  g_autoptr (GPtrArray) keys = mt_cache_list_keys (cache, &err);
  for (guint i = 0; i < keys->len; i++) {
    g_autoptr (MtManifest) m = mt_cache_lookup (cache, keys->pdata[i], &err);
    if (g_strcmp0 (m->type, "random_mask") != 0)
      continue;
    const MtCacheOutput *mo = mt_manifest_find_output (m, "mask");
    g_autofree char *p = mt_cache_output_path (cache, mo);
    g_autoptr (MtTensor) mask = mt_npy_load (p, &err);
    ck_assert_int_eq (mask->shape[0], 50);
    /* One axis-aligned square per sample, at most 9x9, at least 5x5 unless clipped. */
    for (int n = 0; n < 50; n++) {
      const guint8 *k = (const guint8 *) mask->data + n * 784;
      int y0 = 28, y1 = -1, x0 = 28, x1 = -1, count = 0;
      for (int q = 0; q < 784; q++)
        if (!k[q]) {
          count++;
          y0 = MIN (y0, q / 28); y1 = MAX (y1, q / 28);
          x0 = MIN (x0, q % 28); x1 = MAX (x1, q % 28);
        }
      ck_assert_int_gt (count, 0);
      ck_assert_int_eq (count, (y1 - y0 + 1) * (x1 - x0 + 1));  /* a full rectangle */
      ck_assert_int_le (y1 - y0 + 1, 9);
      ck_assert_int_le (x1 - x0 + 1, 9);
    }
  }
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (inspect_shows_rejections)
{
  g_autofree char *out = NULL;
  int rc = mt_test_mtrun (NULL, NULL, &out, NULL, "inspect", "--plugin-path", g_getenv ("MT_TEST_BAD_PLUGIN_DIR"), NULL);
  ck_assert_int_eq (rc, 0);
  ck_assert_msg (strstr (out, "Plugins rejected: 2"), "%s", out);
  ck_assert_msg (strstr (out, "bad-abi.so: built for plugin ABI"), "%s", out);
  ck_assert_msg (strstr (out, "no-symbol.so: no 'mt_plugin_info' symbol"), "%s", out);
  ck_assert_msg (strstr (out, "fill ") && strstr (out, "[test-nodes.so]"), "%s", out);
  ck_assert_msg (strstr (out, "npy_file") && strstr (out, "[built-in]"), "%s", out);
}
END_TEST

/* Plugins that crash or exit while loading take only the scanner down (issue: a
 * segfaulting constructor or register function killed mtrun; exit(0) made `mtrun run`
 * print nothing and succeed). They are rejected with what happened, remembered, and a
 * pipeline runs beside them. */
START_TEST (crashing_plugins_are_scanned_out_of_process)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *reg = g_build_filename (dir, "registry.json", NULL);
  g_autofree char *renv = g_strdup_printf ("MT_PLUGIN_REGISTRY=%s", reg);
  g_autofree char *cenv = g_strdup_printf ("MT_CACHE_DIR=%s/cache", dir);
  const char *env[] = { renv, cenv, NULL };
  const char *crash = g_getenv ("MT_TEST_CRASH_PLUGIN_DIR");
  ck_assert_msg (crash != NULL, "MT_TEST_CRASH_PLUGIN_DIR is not set (run through make check)");
  for (int round = 0; round < 2; round++) {  /* the second from the registry file */
    g_autofree char *out = NULL, *err = NULL;
    int rc = mt_test_mtrun (NULL, env, &out, &err, "inspect", "--plugin-path", crash, NULL);
    ck_assert_msg (rc == 0, "inspect: exit %d: %s", rc, err);
    ck_assert_msg (strstr (out, "Plugins rejected: 3"), "%s", out);
    ck_assert_msg (strstr (out, "crash-ctor.so: crashed while loading: signal 11 (Segmentation fault)"), "%s", out);
    ck_assert_msg (strstr (out, "crash-register.so: crashed while loading: signal 11 (Segmentation fault)"), "%s", out);
    ck_assert_msg (strstr (out, "exit-zero.so: exited (status") && strstr (out, "does it call exit()?"), "%s", out);
    ck_assert_msg (strstr (out, "biaser"), "the built-in nodes are still there:\n%s", out);
  }
  g_autofree char *saved = NULL;
  ck_assert (g_file_get_contents (reg, &saved, NULL, NULL));
  ck_assert_msg (strstr (saved, "crash-register.so") && strstr (saved, "\"ok\": false"), "%s", saved);
  /* A pipeline runs with them on the plugin path. */
  g_autofree char *pipe = mt_test_write (dir, "p.pipe", "d = mnist(limit=20)\nb = biaser(d)\n");
  g_autofree char *out = NULL, *err = NULL;
  int rc = mt_test_mtrun (NULL, env, &out, &err, "run", "--plugin-path", crash, pipe, NULL);
  ck_assert_msg (rc == 0 && strstr (err, "2 ran"), "run: exit %d: %s\n%s", rc, out, err);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

/* mtrun never exits 0 without having done its job: a plugin believed good (a registry
 * file says so) that calls exit(0) while it loads turns into a failure with a reason. */
START_TEST (exit_in_a_plugin_is_a_failure)
{
  g_autofree char *dir = mt_test_tmpdir ();
  const char *crash = g_getenv ("MT_TEST_CRASH_PLUGIN_DIR");
  g_autofree char *plug = g_build_filename (dir, "exit-zero.so", NULL);
  g_autofree char *src = g_build_filename (crash, "exit-zero.so", NULL);
  ck_assert (mt_file_copy (src, plug, NULL));
  GStatBuf st;
  ck_assert (g_stat (plug, &st) == 0);
  g_autofree char *canon = g_canonicalize_filename (plug, NULL);
  g_autofree char *json = g_strdup_printf (
    "{\"format\": \"masktune-plugin-registry-1\", \"plugins\": {\"%s\": {\"size\": %" G_GINT64_FORMAT
    ", \"mtime_us\": %" G_GINT64_FORMAT ", \"abi\": %d, \"ok\": true}}}", canon, (gint64) st.st_size,
    (gint64) st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000, MT_PLUGIN_ABI_VERSION);
  g_autofree char *reg = mt_test_write (dir, "registry.json", json);
  g_autofree char *renv = g_strdup_printf ("MT_PLUGIN_REGISTRY=%s", reg);
  const char *env[] = { renv, NULL };
  g_autofree char *out = NULL, *err = NULL;
  int rc = mt_test_mtrun (NULL, env, &out, &err, "inspect", "--plugin-path", dir, NULL);
  ck_assert_msg (rc == 1, "exit %d, expected 1: %s", rc, err);
  ck_assert_msg (strstr (err, "mtrun: stopped before finishing (something called exit(): a plugin?)"), "%s", err);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

/* The same plugin twice on the path (an installed copy and a local build): the second is
 * rejected in one line naming both files, and GLib never complains. */
START_TEST (a_plugin_twice_is_one_clear_rejection)
{
  g_autofree char *dir = mt_test_tmpdir ();
  const char *examples = g_getenv ("MT_EXAMPLE_PLUGIN_DIR");
  g_autofree char *src = g_build_filename (examples, "random-mask.so", NULL);
  g_autofree char *copy = g_build_filename (dir, "random-mask.so", NULL);
  ck_assert (mt_file_copy (src, copy, NULL));
  g_autofree char *reg = g_build_filename (dir, "registry.json", NULL);
  g_autofree char *renv = g_strdup_printf ("MT_PLUGIN_REGISTRY=%s", reg);
  const char *env[] = { renv, "MT_PLUGIN_PATH=", NULL };
  g_autofree char *out = NULL, *err = NULL;
  int rc = mt_test_mtrun (NULL, env, &out, &err, "inspect", "--plugin-path", examples, "--plugin-path", dir, NULL);
  ck_assert_msg (rc == 0, "exit %d: %s", rc, err);
  g_autofree char *canon = g_canonicalize_filename (copy, NULL);
  g_autofree char *line = g_strdup_printf ("%s: it registers node type 'random_mask', which ", canon);
  ck_assert_msg (strstr (out, line) && strstr (out, "already registers"), "%s", out);
  ck_assert_msg (!strstr (err, "GLib") && !strstr (err, "CRITICAL") && !strstr (err, "WARNING"), "%s", err);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

static MtManifest *
latest_of_type (MtCache *cache, const char *type)
{
  g_autoptr (GPtrArray) keys = mt_cache_list_keys (cache, NULL);
  for (guint i = 0; keys && i < keys->len; i++) {
    MtManifest *m = mt_cache_lookup (cache, keys->pdata[i], NULL);
    if (m && g_strcmp0 (m->type, type) == 0)
      return m;
    mt_manifest_free (m);
  }
  return NULL;
}

static MtTensor *
load_port (MtCache *cache, MtManifest *m, const char *port, const char *tensor)
{
  g_autofree char *p = mt_cache_output_path (cache, mt_manifest_find_output (m, port));
  if (!tensor)
    return mt_npy_load (p, NULL);
  g_autoptr (MtBundle) b = mt_safetensors_load (p, NULL);
  return b ? mt_tensor_ref (mt_bundle_get (b, tensor)) : NULL;
}

/* One convention for the mask kind, whoever writes it: 1 = pixel kept, 0 = masked. The
 * masked datasets of masker and random_mask are the input where the mask is 1 and 0
 * where it is 0; threshold_mask's is checked above; mtrun inspect says so. */
START_TEST (mask_kind_is_one_where_kept)
{
  MtRegistry *reg = mt_test_registry ();
  mt_registry_load_path (reg, g_getenv ("MT_EXAMPLE_PLUGIN_DIR"));
  g_autofree char *dir = mt_test_tmpdir ();
  g_autoptr (GError) err = NULL;
  g_autoptr (MtDag) g = mt_graph_load_string ("k.pipe",
    "d = toy_data(n=3)\ns = toy_saliency(d)\nm = masker(d, s, method=\"threshold\", tau=0.5)\n"
    "r = random_mask(d, min_size=2, max_size=2)\n", reg, NULL, &err);
  ck_assert_msg (g != NULL, "%s", err ? err->message : "");
  g_autofree char *cdir = g_build_filename (dir, "cache", NULL);
  g_autoptr (MtCache) cache = mt_cache_open (cdir, &err);
  MtRunOptions opts = { .jobs = 1 };
  ck_assert_msg (mt_executor_run (g, cache, &opts, &err), "%s", err ? err->message : "");
  g_autoptr (MtManifest) dm = latest_of_type (cache, "toy_data");
  g_autoptr (MtTensor) orig = load_port (cache, dm, "dataset", "images");
  const char *types[] = { "masker", "random_mask" };
  for (guint t = 0; t < G_N_ELEMENTS (types); t++) {
    g_autoptr (MtManifest) m = latest_of_type (cache, types[t]);
    ck_assert_msg (m != NULL, "no %s entry", types[t]);
    g_autoptr (MtTensor) mask = load_port (cache, m, "mask", NULL);
    g_autoptr (MtTensor) img = load_port (cache, m, "dataset", "images");
    ck_assert (mask && img && mask->dtype == MT_DTYPE_U8);
    const guint8 *mv = mask->data, *iv = img->data, *ov = orig->data;
    guint kept = 0, masked = 0;
    for (gint64 n = 0; n < 3; n++)
      for (gint64 c = 0; c < 3; c++)
        for (gint64 px = 0; px < 16; px++) {
          guint8 keep = mv[n * 16 + px];
          gint64 at = (n * 3 + c) * 16 + px;
          ck_assert_msg (keep <= 1, "%s: mask value %u", types[t], keep);
          ck_assert_msg (iv[at] == (keep ? ov[at] : 0), "%s: pixel %" G_GINT64_FORMAT " is %u, mask %u, input %u",
                         types[t], at, iv[at], keep, ov[at]);
          kept += keep;
          masked += !keep;
        }
    ck_assert_msg (kept > 0 && masked > 0, "%s: %u kept, %u masked", types[t], kept, masked);
  }
  g_autofree char *out = NULL;
  ck_assert_int_eq (mt_test_mtrun (NULL, NULL, &out, NULL, "inspect", NULL), 0);
  ck_assert_msg (strstr (out, "mask      .npy          uint8 N x H x W per sample: 1 = pixel kept, 0 = pixel masked"), "%s", out);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("plugins");
  TCase *tc = tcase_create ("core");
  tcase_add_test (tc, load_good_plugin);
  tcase_add_test (tc, reject_bad_plugins);
  tcase_add_test (tc, registry_rules);
  tcase_add_test (tc, example_mask_plugin_runs);
  tcase_add_test (tc, random_mask_plugin);
  tcase_add_test (tc, inspect_shows_rejections);
  tcase_add_test (tc, crashing_plugins_are_scanned_out_of_process);
  tcase_add_test (tc, exit_in_a_plugin_is_a_failure);
  tcase_add_test (tc, a_plugin_twice_is_one_clear_rejection);
  tcase_add_test (tc, mask_kind_is_one_where_kept);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}
