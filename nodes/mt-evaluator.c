#include "nodes/mt-evaluator.h"
#include "ml/mt-dataset.h"
#include "base/mt-error.h"
#include "ml/mt-metrics.h"
#include "ml/mt-model.h"
#include "ml/mt-report.h"
#include "base/mt-rng.h"
#include "ml/mt-train.h"

#include <math.h>
#include <string.h>

struct _MtEvaluator {
  MtNode parent_instance;
  int batch_size;
  GVariant *coverages;  /* ad, percent */
  gboolean combine;
  double val_fraction;
  gint64 seed;
};

G_DEFINE_FINAL_TYPE (MtEvaluator, mt_evaluator, MT_TYPE_NODE)

enum { PROP_0, PROP_BATCH_SIZE, PROP_COVERAGES, PROP_COMBINE, PROP_VAL_FRACTION, PROP_SEED };

#define DEFAULT_BATCH_SIZE 512
#define DEFAULT_COMBINE TRUE
#define DEFAULT_VAL_FRACTION 0.5
#define DEFAULT_SEED 0
static const double evaluator_default_coverages[] = { 100, 99, 98, 97, 95, 90, 85, 80 };

/* One test set: its samples and, per model, the logits on them. */
typedef struct {
  const char *name;
  MtBundle *data;
  gint64 n;
  const gint64 *labels;
  const gint64 *groups;     /* NULL when the set has no groups */
  float **logits;           /* [model] -> [n x classes] */
  /* Where thresholds are picked: a validation set, or a seeded part of this one. */
  MtBundle *val_data;
  const char *val_name;
  float **val_logits;       /* [model] when val_data */
  gint64 *val_idx, *test_idx;
  gint64 n_val, n_test;
} TestSet;

static void
evaluator_test_set_clear (TestSet *t, guint n_models)
{
  for (guint m = 0; m < n_models; m++) {
    g_free (t->logits ? t->logits[m] : NULL);
    g_free (t->val_logits ? t->val_logits[m] : NULL);
  }
  g_free (t->logits);
  g_free (t->val_logits);
  g_free (t->val_idx);
  g_free (t->test_idx);
  g_clear_pointer (&t->data, mt_bundle_unref);
  g_clear_pointer (&t->val_data, mt_bundle_unref);
}

static void
evaluator_add_number (JsonBuilder *b, double v)
{
  if (isfinite (v))
    json_builder_add_double_value (b, v);
  else
    json_builder_add_null_value (b);
}

static void
evaluator_add_metrics (JsonBuilder *b, const char *model, const char *dataset, const MtMetrics *m)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, model);
  json_builder_set_member_name (b, "dataset");
  json_builder_add_string_value (b, dataset);
  json_builder_set_member_name (b, "n");
  json_builder_add_int_value (b, m->n);
  json_builder_set_member_name (b, "accuracy");
  evaluator_add_number (b, m->accuracy);
  json_builder_set_member_name (b, "loss");
  evaluator_add_number (b, m->loss);
  json_builder_set_member_name (b, "class_accuracy");
  json_builder_begin_array (b);
  for (int c = 0; c < m->classes; c++)
    evaluator_add_number (b, m->class_accuracy[c]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "class_count");
  json_builder_begin_array (b);
  for (int c = 0; c < m->classes; c++)
    json_builder_add_int_value (b, m->class_count[c]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "group_accuracy");
  json_builder_begin_array (b);
  for (int g = 0; g < m->groups; g++)
    evaluator_add_number (b, m->group_accuracy[g]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "group_count");
  json_builder_begin_array (b);
  for (int g = 0; g < m->groups; g++)
    json_builder_add_int_value (b, m->group_count[g]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "worst_group_accuracy");
  if (m->groups)
    evaluator_add_number (b, m->worst_group_accuracy);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "worst_group");
  if (m->groups)
    json_builder_add_int_value (b, m->worst_group);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "confusion");
  json_builder_begin_array (b);
  for (int r = 0; r < m->classes; r++) {
    json_builder_begin_array (b);
    for (int c = 0; c < m->classes; c++)
      json_builder_add_int_value (b, m->confusion[r * m->classes + c]);
    json_builder_end_array (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

/* Rows @idx of @logits [*, classes] (all of them when @idx is NULL). */
static float *
evaluator_take_rows (const float *logits, const gint64 *idx, gint64 n, int classes)
{
  float *out = g_new (float, (gsize) MAX (n, 1) * classes);
  for (gint64 i = 0; i < n; i++)
    memcpy (out + (gsize) i * classes, logits + (gsize) (idx ? idx[i] : i) * classes, classes * sizeof (float));
  return out;
}

/* One selective-classification curve: confidences from model @a (and @b when >= 0),
 * thresholds picked on the validation samples, applied to the test samples. */
static void
evaluator_add_curve (MtEvaluator *self, JsonBuilder *b, TestSet *t, const char *const *model_names,
           int a, int bm, int classes)
{
  float **vsrc = t->val_data ? t->val_logits : t->logits;
  const gint64 *vidx = t->val_data ? NULL : t->val_idx;
  g_autofree float *va = evaluator_take_rows (vsrc[a], vidx, t->n_val, classes);
  g_autofree float *vb = bm >= 0 ? evaluator_take_rows (vsrc[bm], vidx, t->n_val, classes) : NULL;
  g_autofree float *ta = evaluator_take_rows (t->logits[a], t->test_idx, t->n_test, classes);
  g_autofree float *tb = bm >= 0 ? evaluator_take_rows (t->logits[bm], t->test_idx, t->n_test, classes) : NULL;
  g_autofree double *vconf = g_new (double, MAX (t->n_val, 1));
  g_autofree int *vpred = g_new (int, MAX (t->n_val, 1));
  g_autofree double *tconf = g_new (double, MAX (t->n_test, 1));
  g_autofree int *tpred = g_new (int, MAX (t->n_test, 1));
  g_autofree gint64 *tlabels = g_new (gint64, MAX (t->n_test, 1));
  mt_metrics_confidence (va, vb, t->n_val, classes, vconf, vpred);
  mt_metrics_confidence (ta, tb, t->n_test, classes, tconf, tpred);
  for (gint64 i = 0; i < t->n_test; i++)
    tlabels[i] = t->labels[t->test_idx[i]];

  g_autofree char *label = bm >= 0 ? g_strdup_printf ("%s × %s", model_names[a], model_names[bm])
                                   : g_strdup (model_names[a]);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "label");
  json_builder_add_string_value (b, label);
  json_builder_set_member_name (b, "dataset");
  json_builder_add_string_value (b, t->name);
  json_builder_set_member_name (b, "confidence");
  json_builder_add_string_value (b, bm >= 0 ? "softmax_product" : "softmax");
  json_builder_set_member_name (b, "models");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, model_names[a]);
  if (bm >= 0)
    json_builder_add_string_value (b, model_names[bm]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "validation");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "source");
  g_autofree char *src = t->val_data ? g_strdup (t->val_name)
    : g_strdup_printf ("a seeded %.0f%% of %s (seed %" G_GINT64_FORMAT ")", self->val_fraction * 100, t->name, self->seed);
  json_builder_add_string_value (b, src);
  json_builder_set_member_name (b, "n");
  json_builder_add_int_value (b, t->n_val);
  json_builder_set_member_name (b, "n_test");
  json_builder_add_int_value (b, t->n_test);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "points");
  json_builder_begin_array (b);
  gsize nc = 0;
  const double *cov = g_variant_get_fixed_array (self->coverages, &nc, sizeof (double));
  for (gsize i = 0; i < nc; i++) {
    double thr = mt_metrics_threshold_for_coverage (vconf, t->n_val, cov[i] / 100.0);
    double got = 0, acc = NAN;
    mt_metrics_selective (tconf, tpred, tlabels, t->n_test, thr, &got, &acc);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "expected_coverage");
    json_builder_add_double_value (b, cov[i]);
    json_builder_set_member_name (b, "threshold");
    evaluator_add_number (b, thr);
    json_builder_set_member_name (b, "coverage");
    evaluator_add_number (b, got);
    json_builder_set_member_name (b, "accuracy");
    evaluator_add_number (b, acc);
    json_builder_set_member_name (b, "covered");
    json_builder_add_int_value (b, (gint64) llround (got * (double) t->n_test));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

typedef struct {
  MtContext *ctx;
  double base, span;
} Progress;

static void
evaluator_on_progress (double fraction, gpointer user_data)
{
  Progress *p = user_data;
  mt_context_progress (p->ctx, p->base + fraction * p->span);
}

/* Loads test set @i (and its validation set when bound) and checks them against @model. */
static gboolean
evaluator_load_test_set (MtEvaluator *self, MtContext *ctx, guint i, guint n_tests, MtModel *model, TestSet *t,
               GError **error)
{
  t->name = mt_context_get_input_source (ctx, "tests", i);
  t->data = mt_context_load_bundle_at (ctx, "tests", i, error);
  gint64 shape[4];
  if (!t->data || !mt_dataset_check (t->data, t->name, error))
    return FALSE;
  mt_dataset_images_shape (t->data, shape);
  if (!mt_model_check_images (model, shape, error))
    return FALSE;
  t->n = mt_dataset_size (t->data);
  t->labels = mt_bundle_get (t->data, MT_DATASET_LABELS)->data;
  MtTensor *groups = mt_bundle_get (t->data, MT_DATASET_GROUPS);
  t->groups = groups ? groups->data : NULL;
  int classes = mt_model_num_classes (model);
  for (gint64 k = 0; k < t->n; k++) {
    if (t->labels[k] < 0 || t->labels[k] >= classes) {
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s: sample %" G_GINT64_FORMAT " has label %" G_GINT64_FORMAT
                   " but the models have %d classes", t->name, k, t->labels[k], classes);
      return FALSE;
    }
    if (t->groups && (t->groups[k] < 0 || t->groups[k] >= 2 * classes)) {
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s: sample %" G_GINT64_FORMAT " has group %" G_GINT64_FORMAT
                   " (groups are class * 2 + patched)", t->name, k, t->groups[k]);
      return FALSE;
    }
  }

  guint n_val = mt_context_get_n_inputs (ctx, "validation");
  if (n_val > 0 && n_val != n_tests) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%u validation sets for %u test sets: give one per test set, "
                 "in the same order, or none (then a part of each test set is held out)", n_val, n_tests);
    return FALSE;
  }
  if (n_val) {
    t->val_name = mt_context_get_input_source (ctx, "validation", i);
    t->val_data = mt_context_load_bundle_at (ctx, "validation", i, error);
    if (!t->val_data || !mt_dataset_check (t->val_data, t->val_name, error))
      return FALSE;
    mt_dataset_images_shape (t->val_data, shape);
    if (!mt_model_check_images (model, shape, error))
      return FALSE;
    t->n_val = mt_dataset_size (t->val_data);
    t->n_test = t->n;
    t->test_idx = g_new (gint64, MAX (t->n, 1));
    for (gint64 k = 0; k < t->n; k++)
      t->test_idx[k] = k;
    return TRUE;
  }
  /* The same seeded split for every model, so that their confidences pair up. */
  g_autofree gint64 *order = g_new (gint64, MAX (t->n, 1));
  for (gint64 k = 0; k < t->n; k++)
    order[k] = k;
  MtRng rng;
  mt_rng_seed (&rng, (guint64) self->seed);
  mt_rng_shuffle (&rng, order, (gsize) t->n);
  t->n_val = (gint64) llround (self->val_fraction * (double) t->n);
  t->n_test = t->n - t->n_val;
  if (t->n_val < 1 || t->n_test < 1) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s has %" G_GINT64_FORMAT " samples: too few to hold out "
                 "val_fraction=%g for selective classification", t->name, t->n, self->val_fraction);
    return FALSE;
  }
  t->val_idx = g_memdup2 (order, (gsize) t->n_val * sizeof (gint64));
  t->test_idx = g_memdup2 (order + t->n_val, (gsize) t->n_test * sizeof (gint64));
  return TRUE;
}

/* Coverages are percentages in (0, 100]; anything else is refused when set. */
static gboolean
evaluator_coverages_valid (GVariant *v)
{
  gsize n = 0;
  const double *c = g_variant_get_fixed_array (v, &n, sizeof (double));
  if (n == 0)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!(c[i] > 0 && c[i] <= 100))
      return FALSE;
  return TRUE;
}

static gboolean
evaluator_validate (MtNode *node, const char **property, GError **error)
{
  if (evaluator_coverages_valid (MT_EVALUATOR (node)->coverages))
    return TRUE;
  *property = "coverages";
  g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "coverages must be one or more percentages in (0, 100]");
  return FALSE;
}

static gboolean
evaluator_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtEvaluator *self = MT_EVALUATOR (node);
  if (!evaluator_coverages_valid (self->coverages)) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "coverages must be one or more percentages in (0, 100]");
    return FALSE;
  }
  guint n_models = mt_context_get_n_inputs (ctx, "models");
  guint n_tests = mt_context_get_n_inputs (ctx, "tests");
  g_autoptr (MtBackend) be = mt_backend_open (mt_context_get_backend (ctx), error);
  if (!be)
    return FALSE;
  g_autoptr (GPtrArray) models = g_ptr_array_new_with_free_func ((GDestroyNotify) mt_model_free);
  g_autofree const char **model_names = g_new0 (const char *, n_models + 1);
  int classes = 0;
  for (guint m = 0; m < n_models; m++) {
    model_names[m] = mt_context_get_input_source (ctx, "models", m);
    for (guint k = 0; k < m; k++)
      if (g_strcmp0 (model_names[k], model_names[m]) == 0) {
        g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "model '%s' is listed twice", model_names[m]);
        return FALSE;
      }
    g_autoptr (MtBundle) w = mt_context_load_bundle_at (ctx, "models", m, error);
    MtModel *model = w ? mt_model_from_bundle (w, model_names[m], error) : NULL;
    if (!model)
      return FALSE;
    g_ptr_array_add (models, model);
    if (!mt_model_set_backend (model, be, error))
      return FALSE;
    if (m > 0 && mt_model_num_classes (model) != classes) {
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "model '%s' has %d classes but '%s' has %d", model_names[m],
                   mt_model_num_classes (model), model_names[0], classes);
      return FALSE;
    }
    classes = mt_model_num_classes (model);
  }

  TestSet *tests = g_new0 (TestSet, n_tests);
  gboolean ok = TRUE;
  guint steps = n_tests * n_models, step = 0;
  for (guint i = 0; i < n_tests && ok; i++) {
    TestSet *t = &tests[i];
    ok = evaluator_load_test_set (self, ctx, i, n_tests, models->pdata[0], t, error);
    for (guint k = 0; ok && k < i; k++)
      if (g_strcmp0 (tests[k].name, t->name) == 0) {
        g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "test set '%s' is listed twice", t->name);
        ok = FALSE;
      }
    if (!ok)
      break;
    t->logits = g_new0 (float *, n_models);
    t->val_logits = g_new0 (float *, n_models);
    for (guint m = 0; m < n_models; m++, step++) {
      Progress p = { ctx, (double) step / steps, 1.0 / steps };
      t->logits[m] = mt_train_predict (models->pdata[m], t->data, self->batch_size, evaluator_on_progress, &p, error);
      if (t->logits[m] && t->val_data)
        t->val_logits[m] = mt_train_predict (models->pdata[m], t->val_data, self->batch_size, NULL, NULL, error);
      if (!t->logits[m] || (t->val_data && !t->val_logits[m])) {
        ok = FALSE;
        break;
      }
    }
  }

  g_autoptr (JsonBuilder) b = json_builder_new ();
  if (ok) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "schema");
    json_builder_add_string_value (b, MT_REPORT_SCHEMA);
    json_builder_set_member_name (b, "models");
    json_builder_begin_array (b);
    for (guint m = 0; m < n_models; m++)
      json_builder_add_string_value (b, model_names[m]);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "datasets");
    json_builder_begin_array (b);
    for (guint i = 0; i < n_tests; i++) {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, tests[i].name);
      json_builder_set_member_name (b, "n");
      json_builder_add_int_value (b, tests[i].n);
      json_builder_set_member_name (b, "groups");
      json_builder_add_boolean_value (b, tests[i].groups != NULL);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);

    json_builder_set_member_name (b, "results");
    json_builder_begin_array (b);
    for (guint m = 0; m < n_models; m++)
      for (guint i = 0; i < n_tests; i++) {
        TestSet *t = &tests[i];
        g_autoptr (MtMetrics) mm = mt_metrics_compute (t->logits[m], t->labels, t->groups, t->n, classes,
                                                       t->groups ? 2 * classes : 0);
        evaluator_add_metrics (b, model_names[m], t->name, mm);
      }
    json_builder_end_array (b);

    json_builder_set_member_name (b, "selective");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "coverages");
    json_builder_add_value (b, json_gvariant_serialize (self->coverages));
    json_builder_set_member_name (b, "curves");
    json_builder_begin_array (b);
    for (guint i = 0; i < n_tests; i++) {
      if (self->combine && n_models >= 2)
        evaluator_add_curve (self, b, &tests[i], model_names, 0, 1, classes);
      for (guint m = 0; m < n_models; m++)
        evaluator_add_curve (self, b, &tests[i], model_names, (int) m, -1, classes);
    }
    json_builder_end_array (b);
    json_builder_end_object (b);

    JsonNode *prov = mt_context_get_provenance (ctx);
    json_builder_set_member_name (b, "provenance");
    json_builder_add_value (b, prov ? json_node_copy (prov) : json_node_new (JSON_NODE_NULL));
    json_builder_end_object (b);
  }
  for (guint i = 0; i < n_tests; i++)
    evaluator_test_set_clear (&tests[i], n_models);
  g_free (tests);
  if (!ok)
    return FALSE;

  g_autoptr (JsonNode) root = json_builder_get_root (b);
  JsonObject *report = json_node_get_object (root);
  if (!mt_report_validate (report, error))
    return FALSE;
  g_autofree char *title = g_strdup_printf ("Evaluation: %s", mt_context_get_node_name (ctx));
  g_autofree char *md = mt_report_to_markdown (report, title);
  g_autofree char *headline = mt_report_headline (report);
  g_autoptr (MtTensor) bars = mt_report_plot_accuracy (report);
  g_autoptr (MtTensor) curves = mt_report_plot_coverage (report);
  return mt_context_save_json (ctx, "report", root, error) &&
         mt_context_save_text (ctx, "table", md, error) &&
         mt_context_save_text (ctx, "headline", headline, error) &&
         mt_context_save_image (ctx, "accuracy", bars, error) &&
         mt_context_save_image (ctx, "coverage", curves, error);
}

static void
evaluator_set_property (GObject *obj, guint id, const GValue *v, GParamSpec *pspec)
{
  MtEvaluator *self = MT_EVALUATOR (obj);
  switch (id) {
  case PROP_BATCH_SIZE: self->batch_size = g_value_get_int (v); break;
  case PROP_COVERAGES:
    g_clear_pointer (&self->coverages, g_variant_unref);
    self->coverages = g_value_dup_variant (v);
    break;
  case PROP_COMBINE: self->combine = g_value_get_boolean (v); break;
  case PROP_VAL_FRACTION: self->val_fraction = g_value_get_double (v); break;
  case PROP_SEED: self->seed = g_value_get_int64 (v); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
evaluator_get_property (GObject *obj, guint id, GValue *v, GParamSpec *pspec)
{
  MtEvaluator *self = MT_EVALUATOR (obj);
  switch (id) {
  case PROP_BATCH_SIZE: g_value_set_int (v, self->batch_size); break;
  case PROP_COVERAGES: g_value_set_variant (v, self->coverages); break;
  case PROP_COMBINE: g_value_set_boolean (v, self->combine); break;
  case PROP_VAL_FRACTION: g_value_set_double (v, self->val_fraction); break;
  case PROP_SEED: g_value_set_int64 (v, self->seed); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
evaluator_finalize (GObject *obj)
{
  g_clear_pointer (&MT_EVALUATOR (obj)->coverages, g_variant_unref);
  G_OBJECT_CLASS (mt_evaluator_parent_class)->finalize (obj);
}

static void
mt_evaluator_class_init (MtEvaluatorClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = evaluator_set_property;
  oc->get_property = evaluator_get_property;
  oc->finalize = evaluator_finalize;
  nc->run = evaluator_run;
  nc->validate = evaluator_validate;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  g_object_class_install_property (oc, PROP_BATCH_SIZE,
    g_param_spec_int ("batch-size", "Batch size", "samples per forward pass", 1, 65536, DEFAULT_BATCH_SIZE, rw));
  g_object_class_install_property (oc, PROP_COVERAGES,
    g_param_spec_variant ("coverages", "Coverages", "expected coverages (percent) for selective classification",
                          G_VARIANT_TYPE ("ad"),
                          g_variant_new_fixed_array (G_VARIANT_TYPE_DOUBLE, evaluator_default_coverages,
                                                     G_N_ELEMENTS (evaluator_default_coverages), sizeof (double)), rw));
  g_object_class_install_property (oc, PROP_COMBINE,
    g_param_spec_boolean ("combine", "Combine", "also a curve whose confidence is softmax(p1 * p2) of the first "
                          "two models (ERM and MaskTune, as in the paper)", DEFAULT_COMBINE, rw));
  g_object_class_install_property (oc, PROP_VAL_FRACTION,
    g_param_spec_double ("val-fraction", "Validation fraction", "part of each test set held out to pick "
                         "thresholds, when no validation sets are given", 0.01, 0.99, DEFAULT_VAL_FRACTION, rw));
  g_object_class_install_property (oc, PROP_SEED,
    g_param_spec_int64 ("seed", "Seed", "seed of the held-out split", 0, G_MAXINT64, DEFAULT_SEED, rw));
  mt_node_class_set_metadata (nc, "2", "Compares models on test sets: accuracy, groups, selective classification");
  mt_node_class_set_uses_backend (nc, TRUE);
  mt_node_class_add_input_list (nc, "models", MT_KIND_MODEL, TRUE, "the models, e.g. [erm, masktune]");
  mt_node_class_add_input_list (nc, "tests", MT_KIND_DATASET, TRUE, "the test sets, e.g. [raw_test, biased_test]");
  mt_node_class_add_input_list (nc, "validation", MT_KIND_DATASET, FALSE,
                                "one per test set, to pick selective-classification thresholds on");
  mt_node_class_add_output (nc, "report", MT_KIND_REPORT, "every figure, with what produced it (JSON)");
  mt_node_class_add_output (nc, "table", MT_KIND_TEXT, "the report's tables (Markdown)");
  mt_node_class_add_output (nc, "headline", MT_KIND_TEXT, "accuracy and worst-group accuracy per model (Markdown)");
  mt_node_class_add_output (nc, "accuracy", MT_KIND_IMAGE, "bar chart: accuracy of each model on each test set");
  mt_node_class_add_output (nc, "coverage", MT_KIND_IMAGE, "selective classification: accuracy against coverage");
}

static void
mt_evaluator_init (MtEvaluator *self)
{
  self->batch_size = DEFAULT_BATCH_SIZE;
  self->combine = DEFAULT_COMBINE;
  self->val_fraction = DEFAULT_VAL_FRACTION;
  self->seed = DEFAULT_SEED;
  self->coverages = g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_DOUBLE, evaluator_default_coverages,
                                                                   G_N_ELEMENTS (evaluator_default_coverages), sizeof (double)));
}
