/* The evaluator: list inputs in the language, the report's figures against independent
 * computations, its JSON schema, its charts as PNG files, selective classification on
 * real predictions, and MaskTune beating ERM on the biased test set end to end. */
#include "tests/mt-test-util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- list inputs --------------------------------------------------------------------- */

static const char *graph_src =
  "d = mnist(limit=10)\n"
  "t = mnist(split=\"test\", limit=10)\n"
  "b = biaser(d)\n"
  "m1 = trainer(b, epochs=1)\n"
  "m2 = finetuner(m1, b)\n";

static MtDag *
load (const char *extra, GError **error)
{
  MtRegistry *reg = mt_test_registry ();
  g_autofree char *src = g_strconcat (graph_src, extra, NULL);
  return mt_graph_load_string ("t.pipe", src, reg, NULL, error);
}

START_TEST (list_inputs_bind_in_order)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (MtDag) g = load ("e = evaluator(models=[m2, m1.model,], tests=t)\n", &err);
  ck_assert_msg (g != NULL, "%s", err ? err->message : "");
  MtDagNode *e = mt_dag_find (g, "e");
  /* models[0], models[1], tests[0]; the optional validation list has no binding. */
  ck_assert_uint_eq (e->inputs->len, 3);
  const char *names[] = { "models[0]", "models[1]", "tests[0]" };
  const char *srcs[] = { "m2", "m1", "t" };
  for (guint i = 0; i < 3; i++) {
    MtDagInput *gi = &g_array_index (e->inputs, MtDagInput, i);
    ck_assert_str_eq (gi->name, names[i]);
    ck_assert_str_eq (gi->src->name, srcs[i]);
  }
  /* The evaluator runs after both models. */
  ck_assert_uint_gt (e->index, mt_dag_find (g, "m2")->index);
  g_autofree char *dot = mt_dag_to_dot (g, NULL, NULL);
  ck_assert_msg (strstr (dot, "models[1]"), "%s", dot);
}
END_TEST

START_TEST (list_order_enters_the_key)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (MtDag) a = load ("e = evaluator(models=[m1, m2], tests=[t])\n", &err);
  g_autoptr (MtDag) b = load ("e = evaluator(models=[m2, m1], tests=[t])\n", &err);
  ck_assert (a && b);
  const char *da[] = { "1111", "2222", "3333", NULL };
  const char *db[] = { "2222", "1111", "3333", NULL };
  g_autoptr (MtKeyInfo) ka = mt_key_compute (mt_dag_find (a, "e"), da, &err);
  g_autoptr (MtKeyInfo) kb = mt_key_compute (mt_dag_find (b, "e"), db, &err);
  g_autoptr (MtKeyInfo) ka2 = mt_key_compute (mt_dag_find (a, "e"), da, &err);
  ck_assert (ka && kb && ka2);
  ck_assert_str_eq (ka->key, ka2->key);
  ck_assert_str_ne (ka->key, kb->key);
}
END_TEST

static void
expect_error (const char *extra, const char *message)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (MtDag) g = load (extra, &err);
  ck_assert_msg (g == NULL, "accepted: %s", extra);
  ck_assert_msg (strstr (err->message, message), "for %s\nexpected: %s\ngot: %s", extra, message, err->message);
}

START_TEST (list_input_errors)
{
  expect_error ("e = evaluator(models=[], tests=[t])\n", "t.pipe:6:22: error: input 'models' of evaluator: the list is empty");
  expect_error ("e = evaluator(models=[m1, b], tests=[t])\n",
                "t.pipe:6:27: error: input 'models' of evaluator expects a model, but 'b' gives a dataset");
  expect_error ("e = evaluator(models=[m1, m3], tests=[t])\n", "t.pipe:6:27: error: unknown node 'm3'");
  expect_error ("e = evaluator(tests=[t])\n", "missing its required input 'models' (a list of model)");
  expect_error ("e = xgradcam([m1, m2], b)\n", "t.pipe:6:14: error: input 'model' of xgradcam takes one node, not a list");
  expect_error ("e = evaluator(models=[m1, 3], tests=[t])\n", "takes a node name, found an integer");
}
END_TEST

/* ---- one real run, shared by the tests below ------------------------------------------- */

static char *run_dir;
static char *run_out;
static char *run_stdout;

/* Seed 1 on this slice gives an ERM model that leans on the patch (the case MaskTune is
 * for); the run is deterministic, so the figures below are fixed. */
static const char *e2e_src =
  "train = mnist(limit=2000)\n"
  "test = mnist(split=\"test\", limit=1000)\n"
  "biased = biaser(train, conflict_ratio=0.01)\n"
  "raw_test = biaser(test, mode=\"raw\")\n"
  "biased_test = biaser(test, conflict_ratio=1.0)\n"
  "erm = trainer(biased, epochs=3, lr=0.01, batch_size=64, seed=1)\n"
  "cam = xgradcam(erm, biased)\n"
  "masked = masker(biased, cam)\n"
  "masktune = finetuner(erm, masked.dataset, state=erm.state, epochs=1)\n"
  "report = evaluator(models=[erm, masktune], tests=[raw_test, biased_test])\n";

static void
run_setup (void)
{
  run_dir = mt_test_tmpdir ();
  g_autofree char *env_cache = g_strdup_printf ("MT_CACHE_DIR=%s/cache", run_dir);
  const char *env[] = { env_cache, NULL };
  g_autofree char *pipe = mt_test_write (run_dir, "e2e.pipe", e2e_src);
  g_autofree char *err = NULL;
  int rc = mt_test_mtrun (run_dir, env, &run_stdout, &err, "run", pipe, NULL);
  if (rc != 0) {
    fprintf (stderr, "the evaluator's pipeline failed:\n%s\n", err);
    return;
  }
  run_out = g_build_filename (run_dir, "out", NULL);
  const char *nodes[] = { "report", "erm", "masktune", "raw_test", "biased_test" };
  for (guint i = 0; i < G_N_ELEMENTS (nodes); i++)
    if (mt_test_mtrun (run_dir, env, NULL, NULL, "cache", "export", "-q", "-p", pipe, nodes[i], run_out, NULL) != 0)
      g_clear_pointer (&run_out, g_free);
}

static void
run_teardown (void)
{
  if (run_dir)
    mt_file_remove_tree (run_dir, NULL);
  g_clear_pointer (&run_dir, g_free);
  g_clear_pointer (&run_out, g_free);
  g_clear_pointer (&run_stdout, g_free);
}

static JsonObject *
load_report (JsonParser *parser)
{
  ck_assert_msg (run_out != NULL, "the pipeline did not run (see above)");
  g_autofree char *p = g_build_filename (run_out, "report.report.json", NULL);
  g_autoptr (GError) err = NULL;
  ck_assert_msg (json_parser_load_from_file (parser, p, &err), "%s", err ? err->message : "");
  return json_node_get_object (json_parser_get_root (parser));
}

static JsonObject *
result (JsonObject *report, const char *model, const char *dataset)
{
  JsonArray *rs = json_object_get_array_member (report, "results");
  for (guint i = 0; i < json_array_get_length (rs); i++) {
    JsonObject *r = json_array_get_object_element (rs, i);
    if (!strcmp (json_object_get_string_member (r, "model"), model) &&
        !strcmp (json_object_get_string_member (r, "dataset"), dataset))
      return r;
  }
  ck_abort_msg ("no result for %s on %s", model, dataset);
  return NULL;
}

static MtBundle *
load_export (const char *file)
{
  g_autofree char *p = g_build_filename (run_out, file, NULL);
  g_autoptr (GError) err = NULL;
  MtBundle *b = mt_safetensors_load (p, &err);
  ck_assert_msg (b != NULL, "%s", err ? err->message : "");
  return b;
}

START_TEST (masktune_beats_erm_on_the_biased_test_set)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *report = load_report (parser);
  double erm_raw = json_object_get_double_member (result (report, "erm", "raw_test"), "accuracy");
  double erm_biased = json_object_get_double_member (result (report, "erm", "biased_test"), "accuracy");
  double mt_raw = json_object_get_double_member (result (report, "masktune", "raw_test"), "accuracy");
  double mt_biased = json_object_get_double_member (result (report, "masktune", "biased_test"), "accuracy");
  double erm_worst = json_object_get_double_member (result (report, "erm", "biased_test"), "worst_group_accuracy");
  double mt_worst = json_object_get_double_member (result (report, "masktune", "biased_test"), "worst_group_accuracy");
  printf ("ERM raw %.3f biased %.3f (worst group %.3f); MaskTune raw %.3f biased %.3f (worst group %.3f)\n",
          erm_raw, erm_biased, erm_worst, mt_raw, mt_biased, mt_worst);
  /* ERM falls for the shortcut: moving the patch to the other class costs it dearly. */
  ck_assert_msg (erm_biased < erm_raw - 0.2, "ERM did not lean on the patch: %f vs %f", erm_biased, erm_raw);
  /* MaskTune does not, and is better on both test sets and on the worst group. */
  ck_assert_msg (mt_biased > erm_biased + 0.3, "MaskTune %f vs ERM %f on the biased test set", mt_biased, erm_biased);
  ck_assert_msg (mt_raw > erm_raw, "MaskTune %f vs ERM %f on the raw test set", mt_raw, erm_raw);
  ck_assert_msg (mt_worst > erm_worst + 0.3, "worst group: MaskTune %f vs ERM %f", mt_worst, erm_worst);

  /* mtrun printed the headline table. */
  ck_assert_msg (strstr (run_stdout, "report (evaluator):") && strstr (run_stdout, "| erm |") &&
                 strstr (run_stdout, "| masktune |") && strstr (run_stdout, "biased_test worst group %"),
                 "%s", run_stdout);
}
END_TEST

/* The report's figures equal what an independent path computes from the exported model
 * and data: the training code's evaluation, and counts done here. */
START_TEST (report_figures_match_an_independent_computation)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *report = load_report (parser);
  const char *models[] = { "erm", "masktune" };
  const char *sets[] = { "raw_test", "biased_test" };
  for (guint m = 0; m < 2; m++) {
    g_autofree char *file = g_strdup_printf ("%s.model.safetensors", models[m]);
    g_autoptr (MtBundle) w = load_export (file);
    g_autoptr (MtModel) model = mt_model_from_bundle (w, models[m], NULL);
    ck_assert (model != NULL);
    for (guint d = 0; d < 2; d++) {
      g_autofree char *dfile = g_strdup_printf ("%s.dataset.safetensors", sets[d]);
      g_autoptr (MtBundle) data = load_export (dfile);
      double loss = 0;
      double acc = mt_train_evaluate (model, data, NULL, 0, 100, &loss, NULL);
      JsonObject *r = result (report, models[m], sets[d]);
      ck_assert_double_eq_tol (json_object_get_double_member (r, "accuracy"), acc, 1e-12);
      ck_assert_double_eq_tol (json_object_get_double_member (r, "loss"), loss, 1e-5);
      gint64 n = mt_dataset_size (data);
      ck_assert_int_eq (json_object_get_int_member (r, "n"), n);

      /* Confusion: rows sum to the class counts, the diagonal to the correct ones. */
      JsonArray *conf = json_object_get_array_member (r, "confusion");
      const gint64 *labels = mt_bundle_get (data, MT_DATASET_LABELS)->data;
      const gint64 *groups = mt_bundle_get (data, MT_DATASET_GROUPS)->data;
      gint64 class_n[2] = { 0 }, group_n[4] = { 0 }, diag = 0;
      for (gint64 i = 0; i < n; i++) {
        class_n[labels[i]]++;
        group_n[groups[i]]++;
      }
      for (int c = 0; c < 2; c++) {
        JsonArray *row = json_array_get_array_element (conf, c);
        ck_assert_int_eq (json_array_get_int_element (row, 0) + json_array_get_int_element (row, 1), class_n[c]);
        diag += json_array_get_int_element (row, c);
      }
      ck_assert_double_eq_tol ((double) diag / (double) n, acc, 1e-12);
      JsonArray *gc = json_object_get_array_member (r, "group_count");
      JsonArray *ga = json_object_get_array_member (r, "group_accuracy");
      double worst = INFINITY;
      for (int g = 0; g < 4; g++) {
        ck_assert_int_eq (json_array_get_int_element (gc, g), group_n[g]);
        JsonNode *v = json_array_get_element (ga, g);
        ck_assert (group_n[g] == 0 ? JSON_NODE_HOLDS_NULL (v) : !JSON_NODE_HOLDS_NULL (v));
        if (group_n[g])
          worst = MIN (worst, json_node_get_double (v));
      }
      ck_assert_double_eq_tol (json_object_get_double_member (r, "worst_group_accuracy"), worst, 1e-12);
    }
  }
  /* Provenance: the pipeline, the version, this node's properties and what is upstream. */
  JsonObject *prov = json_object_get_object_member (report, "provenance");
  ck_assert_str_eq (json_object_get_string_member (prov, "pipeline"), "e2e.pipe");
  ck_assert_str_eq (json_object_get_string_member (prov, "masktune_version"), MT_VERSION_STRING);
  JsonObject *node = json_object_get_object_member (prov, "node");
  ck_assert_str_eq (json_object_get_string_member (node, "type"), "evaluator");
  ck_assert (json_object_has_member (json_object_get_object_member (node, "properties"), "coverages"));
  ck_assert_uint_eq (json_array_get_length (json_object_get_array_member (prov, "upstream")), 9);
}
END_TEST

START_TEST (selective_classification_on_real_predictions)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *report = load_report (parser);
  JsonArray *curves = json_object_get_array_member (json_object_get_object_member (report, "selective"), "curves");
  /* Per test set: the ERM x MaskTune pair, then each model alone. */
  ck_assert_uint_eq (json_array_get_length (curves), 6);
  ck_assert_str_eq (json_object_get_string_member (json_array_get_object_element (curves, 0), "label"), "erm × masktune");
  for (guint i = 0; i < json_array_get_length (curves); i++) {
    JsonObject *cv = json_array_get_object_element (curves, i);
    JsonObject *val = json_object_get_object_member (cv, "validation");
    ck_assert_int_eq (json_object_get_int_member (val, "n") + json_object_get_int_member (val, "n_test"), 1000);
    JsonArray *pts = json_object_get_array_member (cv, "points");
    ck_assert_uint_eq (json_array_get_length (pts), 8);
    double prev_cov = 2, prev_thr = -1;
    for (guint k = 0; k < json_array_get_length (pts); k++) {
      JsonObject *p = json_array_get_object_element (pts, k);
      double want = json_object_get_double_member (p, "expected_coverage") / 100;
      double got = json_object_get_double_member (p, "coverage");
      double thr = json_object_get_double_member (p, "threshold");
      /* Thresholds come from 500 other samples of the same distribution: the achieved
       * coverage follows the expected one, and both fall together. */
      /* The coverage of test samples above a threshold that left out a quantile of the
       * validation ones: binomial noise from both halves (standard deviation
       * sqrt(p (1 - p) (1/n_val + 1/n_test)), about 0.019 at 90% here), held to 4 of them. */
      gint64 nv = json_object_get_int_member (val, "n"), nt = json_object_get_int_member (val, "n_test");
      /* At 100% the threshold is the least confident validation sample's, which about
       * nt / nv test samples fall below: no sharper than one validation sample. */
      double pq = CLAMP (want, 1.0 / nv, 1 - 1.0 / nv);
      double tol = 4 * sqrt (pq * (1 - pq) * (1.0 / nv + 1.0 / nt)) + 0.01;
      ck_assert_msg (fabs (got - want) < tol, "curve %u: expected %.2f, got %.3f (tolerance %.3f)", i, want, got, tol);
      ck_assert (got <= prev_cov + 1e-12 && thr >= prev_thr - 1e-12);
      ck_assert_int_eq (json_object_get_int_member (p, "covered"), llround (got * 500));
      prev_cov = got;
      prev_thr = thr;
    }
  }
  /* The combined confidence ranks well where the test set looks like the training data:
   * on the raw test set, leaving out the least confident 20% raises the accuracy. (On the
   * biased set it need not: ERM is confidently wrong there, and the product follows it.) */
  JsonArray *pair = json_object_get_array_member (json_array_get_object_element (curves, 0), "points");
  ck_assert_str_eq (json_object_get_string_member (json_array_get_object_element (curves, 0), "dataset"), "raw_test");
  double full = json_object_get_double_member (json_array_get_object_element (pair, 0), "accuracy");
  double most = json_object_get_double_member (json_array_get_object_element (pair, 7), "accuracy");
  ck_assert_msg (most > full, "80%%: %f, 100%%: %f", most, full);
}
END_TEST

START_TEST (report_schema)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *report = load_report (parser);
  g_autoptr (GError) err = NULL;
  ck_assert_msg (mt_report_validate (report, &err), "%s", err ? err->message : "");

  /* Each kind of damage is named. */
  JsonObject *r0 = json_array_get_object_element (json_object_get_array_member (report, "results"), 0);
  json_object_set_double_member (r0, "accuracy", 1.5);
  ck_assert (!mt_report_validate (report, &err));
  ck_assert_msg (strstr (err->message, "results: member 'accuracy' = 1.5 is not a fraction"), "%s", err->message);
  g_clear_error (&err);
  json_object_remove_member (r0, "accuracy");
  ck_assert (!mt_report_validate (report, &err));
  ck_assert_msg (strstr (err->message, "missing member 'accuracy'"), "%s", err->message);
  g_clear_error (&err);
  json_object_set_string_member (report, "schema", "other");
  ck_assert (!mt_report_validate (report, &err));
  ck_assert_msg (strstr (err->message, "schema is not masktune-report-v1"), "%s", err->message);
}
END_TEST

START_TEST (tables_and_figures)
{
  ck_assert_msg (run_out != NULL, "the pipeline did not run");
  g_autofree char *mdp = g_build_filename (run_out, "report.table.md", NULL);
  g_autofree char *md = NULL;
  ck_assert (g_file_get_contents (mdp, &md, NULL, NULL));
  ck_assert_msg (strstr (md, "# Evaluation: report") && strstr (md, "## Selective classification") &&
                 strstr (md, "| erm × masktune | biased_test |") && strstr (md, "### Groups of biased_test"),
                 "%s", md);

  /* Charts decode as PNG (libpng), have the expected size, and are not blank: the bar
   * chart shows the first series' colour. */
  const char *files[] = { "report.accuracy.png", "report.coverage.png" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree char *p = g_build_filename (run_out, files[i], NULL);
    g_autoptr (GError) err = NULL;
    g_autoptr (MtTensor) img = mt_png_load (p, &err);
    ck_assert_msg (img != NULL, "%s: %s", files[i], err ? err->message : "");
    ck_assert_int_eq (img->ndim, 3);
    ck_assert_int_eq (img->shape[2], 3);
    ck_assert_int_ge (img->shape[0], 300);
    ck_assert_int_ge (img->shape[1], 600);
    const guint8 *px = img->data;
    gint64 blue = 0, n = img->shape[0] * img->shape[1];
    for (gint64 k = 0; k < n; k++)
      blue += px[k * 3] == 0 && px[k * 3 + 1] == 114 && px[k * 3 + 2] == 178;
    ck_assert_msg (blue > (i == 0 ? 5000 : 300), "%s: %" G_GINT64_FORMAT " pixels of the first colour", files[i], blue);
  }
  /* One colour per model in both charts: the bars colour models by their place in the
   * report, and so do the coverage curves; the pair takes the next colour. */
  g_autofree char *jp = g_build_filename (run_out, "report.report.json", NULL);
  g_autofree char *js = NULL;
  gsize jlen = 0;
  ck_assert (g_file_get_contents (jp, &js, &jlen, NULL));
  g_autoptr (JsonNode) root = mt_json_parse (js, jlen, jlen + 1, "report", NULL);
  ck_assert_ptr_nonnull (root);
  gboolean truncated = TRUE;
  g_autoptr (GHashTable) colours = mt_report_curve_colours (json_node_get_object (root), &truncated);
  ck_assert (!truncated);
  ck_assert_uint_eq (g_hash_table_size (colours), 3);
  ck_assert_uint_eq (GPOINTER_TO_UINT (g_hash_table_lookup (colours, "erm")), 0);
  ck_assert_uint_eq (GPOINTER_TO_UINT (g_hash_table_lookup (colours, "masktune")), 1);
  ck_assert_uint_eq (GPOINTER_TO_UINT (g_hash_table_lookup (colours, "erm × masktune")), 2);
}
END_TEST

START_TEST (bad_evaluator_inputs)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *env_cache = g_strdup_printf ("MT_CACHE_DIR=%s/cache", dir);
  const char *env[] = { env_cache, NULL };
  const char *src =
    "d = mnist(limit=64)\ntt = mnist(split=\"test\", limit=40)\nb = biaser(d)\nt = biaser(tt, mode=\"raw\")\n"
    "m = trainer(b, epochs=1, batch_size=32)\n"
    "twice = evaluator(models=[m, m], tests=[t])\n"
    "mismatch = evaluator(models=[m], tests=[t, b], validation=[t])\n";
  g_autofree char *pipe = mt_test_write (dir, "bad.pipe", src);
  const struct { const char *node, *message; } cases[] = {
    { "twice", "model 'm' is listed twice" },
    { "mismatch", "1 validation sets for 2 test sets" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *err = NULL;
    int rc = mt_test_mtrun (dir, env, NULL, &err, "run", "--until", cases[i].node, pipe, NULL);
    ck_assert_int_eq (rc, 1);
    ck_assert_msg (strstr (err, cases[i].message), "%s: %s", cases[i].node, err);
  }
  /* Coverages are checked when the pipeline is built, at the value, before anything runs. */
  g_autofree char *covpipe = mt_test_write (dir, "cov.pipe",
    "tt = mnist(split=\"test\", limit=40)\nt = biaser(tt, mode=\"raw\")\nm = trainer(t, epochs=1)\n"
    "fraction = evaluator(models=[m], tests=[t], coverages=[100.0, 0.0])\n");
  g_autofree char *cov_err = NULL;
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, &cov_err, "run", covpipe, NULL), 1);
  ck_assert_msg (strstr (cov_err, "cov.pipe:4:55: error: property 'coverages' of evaluator: coverages must be one or more "
                         "percentages in (0, 100]") && strstr (cov_err, "nothing was run"), "%s", cov_err);
  /* A validation set per test set: thresholds come from it and the report says so. */
  g_autofree char *okpipe = mt_test_write (dir, "ok.pipe",
    "d = mnist(limit=64)\ntt = mnist(split=\"test\", limit=40)\nvv = mnist(split=\"test\", limit=30)\n"
    "t = biaser(tt, mode=\"raw\")\nv = biaser(vv, mode=\"raw\")\n"
    "b = biaser(d)\nm = trainer(b, epochs=1, batch_size=32)\n"
    "e = evaluator(models=m, tests=[t], validation=[v], coverages=[100.0, 90.0])\n");
  g_autofree char *err = NULL;
  ck_assert_msg (mt_test_mtrun (dir, env, NULL, &err, "run", "-q", okpipe, NULL) == 0, "%s", err);
  g_autofree char *out = g_build_filename (dir, "out", NULL);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, NULL, "cache", "export", "-q", "-p", okpipe, "e", out, NULL), 0);
  g_autofree char *rp = g_build_filename (out, "e.report.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  ck_assert (json_parser_load_from_file (parser, rp, NULL));
  JsonObject *report = json_node_get_object (json_parser_get_root (parser));
  JsonArray *curves = json_object_get_array_member (json_object_get_object_member (report, "selective"), "curves");
  ck_assert_uint_eq (json_array_get_length (curves), 1);  /* one model: no pair */
  JsonObject *val = json_object_get_object_member (json_array_get_object_element (curves, 0), "validation");
  ck_assert_str_eq (json_object_get_string_member (val, "source"), "v");
  ck_assert_int_eq (json_object_get_int_member (val, "n"), 30);
  ck_assert_int_eq (json_object_get_int_member (val, "n_test"), 40);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("evaluator");
  TCase *lang = tcase_create ("language");
  tcase_add_test (lang, list_inputs_bind_in_order);
  tcase_add_test (lang, list_order_enters_the_key);
  tcase_add_test (lang, list_input_errors);
  suite_add_tcase (s, lang);
  TCase *run = tcase_create ("run");
  tcase_set_timeout (run, 300);
  tcase_add_unchecked_fixture (run, run_setup, run_teardown);
  tcase_add_test (run, masktune_beats_erm_on_the_biased_test_set);
  tcase_add_test (run, report_figures_match_an_independent_computation);
  tcase_add_test (run, selective_classification_on_real_predictions);
  tcase_add_test (run, report_schema);
  tcase_add_test (run, tables_and_figures);
  tcase_add_test (run, bad_evaluator_inputs);
  suite_add_tcase (s, run);
  return mt_test_run_suite (s);
}
