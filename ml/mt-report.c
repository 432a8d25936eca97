#include "ml/mt-report.h"
#include "base/mt-error.h"
#include "ml/mt-plot.h"

#include <math.h>

/* ---- reading -------------------------------------------------------------------------- */

static double
number_or_nan (JsonNode *n)
{
  if (!n || JSON_NODE_HOLDS_NULL (n))
    return NAN;
  return json_node_get_double (n);
}

static double
member_number (JsonObject *o, const char *name)
{
  return number_or_nan (json_object_get_member (o, name));
}

static JsonObject *
find_result (JsonObject *report, const char *model, const char *dataset)
{
  JsonArray *rs = json_object_get_array_member (report, "results");
  for (guint i = 0; i < json_array_get_length (rs); i++) {
    JsonObject *r = json_array_get_object_element (rs, i);
    if (g_strcmp0 (json_object_get_string_member (r, "model"), model) == 0 &&
        g_strcmp0 (json_object_get_string_member (r, "dataset"), dataset) == 0)
      return r;
  }
  return NULL;
}

/* "87.3" for 0.873; an em dash where undefined. */
static char *
percent (double v)
{
  return isnan (v) ? g_strdup ("—") : g_strdup_printf ("%.1f", v * 100);
}

static const char *
dataset_name (JsonObject *report, guint i)
{
  JsonObject *d = json_array_get_object_element (json_object_get_array_member (report, "datasets"), i);
  return json_object_get_string_member (d, "name");
}

static gboolean
dataset_has_groups (JsonObject *report, guint i)
{
  JsonObject *d = json_array_get_object_element (json_object_get_array_member (report, "datasets"), i);
  return json_object_get_boolean_member (d, "groups");
}

static char *
group_name (int g)
{
  return g_strdup_printf ("class %d, %s", g / 2, g % 2 ? "patch" : "no patch");
}

/* ---- validation ----------------------------------------------------------------------- */

typedef struct {
  GError **error;
  const char *where;
} Check;

static gboolean
fail (Check *c, const char *what)
{
  g_set_error (c->error, MT_ERROR, MT_ERROR_FORMAT, "report: %s%s%s", c->where ? c->where : "",
               c->where ? ": " : "", what);
  return FALSE;
}

static gboolean
has (Check *c, JsonObject *o, const char *name, JsonNodeType type)
{
  JsonNode *n = json_object_get_member (o, name);
  if (!n) {
    g_autofree char *m = g_strdup_printf ("missing member '%s'", name);
    return fail (c, m);
  }
  if (JSON_NODE_TYPE (n) != type) {
    g_autofree char *m = g_strdup_printf ("member '%s' is not %s", name,
                                          type == JSON_NODE_ARRAY ? "an array" :
                                          type == JSON_NODE_OBJECT ? "an object" : "a value");
    return fail (c, m);
  }
  return TRUE;
}

static gboolean
has_string (Check *c, JsonObject *o, const char *name)
{
  if (!has (c, o, name, JSON_NODE_VALUE))
    return FALSE;
  if (json_node_get_value_type (json_object_get_member (o, name)) != G_TYPE_STRING) {
    g_autofree char *m = g_strdup_printf ("member '%s' is not a string", name);
    return fail (c, m);
  }
  return TRUE;
}

/* A number, or null when @nullable; fractions must lie in [0, 1]. */
static gboolean
has_number (Check *c, JsonObject *o, const char *name, gboolean nullable, gboolean fraction)
{
  JsonNode *n = json_object_get_member (o, name);
  if (n && nullable && JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (!has (c, o, name, JSON_NODE_VALUE))
    return FALSE;
  GType t = json_node_get_value_type (n);
  if (t != G_TYPE_DOUBLE && t != G_TYPE_INT64) {
    g_autofree char *m = g_strdup_printf ("member '%s' is not a number", name);
    return fail (c, m);
  }
  double v = json_node_get_double (n);
  if (fraction && !(v >= 0 && v <= 1)) {
    g_autofree char *m = g_strdup_printf ("member '%s' = %g is not a fraction in [0, 1]", name, v);
    return fail (c, m);
  }
  return TRUE;
}

gboolean
mt_report_validate (JsonObject *report, GError **error)
{
  Check c = { error, NULL };
  if (!has_string (&c, report, "schema"))
    return FALSE;
  if (g_strcmp0 (json_object_get_string_member (report, "schema"), MT_REPORT_SCHEMA) != 0)
    return fail (&c, "schema is not " MT_REPORT_SCHEMA);
  if (!has (&c, report, "models", JSON_NODE_ARRAY) || !has (&c, report, "datasets", JSON_NODE_ARRAY) ||
      !has (&c, report, "results", JSON_NODE_ARRAY) || !has (&c, report, "selective", JSON_NODE_OBJECT))
    return FALSE;
  JsonArray *models = json_object_get_array_member (report, "models");
  JsonArray *datasets = json_object_get_array_member (report, "datasets");
  for (guint i = 0; i < json_array_get_length (models); i++) {
    JsonNode *n = json_array_get_element (models, i);
    if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
      return fail (&c, "models holds something other than names");
  }
  for (guint i = 0; i < json_array_get_length (datasets); i++) {
    JsonNode *n = json_array_get_element (datasets, i);
    c.where = "datasets";
    if (!JSON_NODE_HOLDS_OBJECT (n))
      return fail (&c, "an entry is not an object");
    JsonObject *d = json_node_get_object (n);
    if (!has_string (&c, d, "name") || !has_number (&c, d, "n", FALSE, FALSE) ||
        !has (&c, d, "groups", JSON_NODE_VALUE))
      return FALSE;
  }
  JsonArray *results = json_object_get_array_member (report, "results");
  if (json_array_get_length (results) != json_array_get_length (models) * json_array_get_length (datasets)) {
    c.where = NULL;
    return fail (&c, "results does not hold one entry per model and dataset");
  }
  for (guint i = 0; i < json_array_get_length (results); i++) {
    JsonNode *n = json_array_get_element (results, i);
    c.where = "results";
    if (!JSON_NODE_HOLDS_OBJECT (n))
      return fail (&c, "an entry is not an object");
    JsonObject *r = json_node_get_object (n);
    if (!has_string (&c, r, "model") || !has_string (&c, r, "dataset") || !has_number (&c, r, "n", FALSE, FALSE) ||
        !has_number (&c, r, "accuracy", FALSE, TRUE) || !has_number (&c, r, "loss", TRUE, FALSE) ||
        !has_number (&c, r, "worst_group_accuracy", TRUE, TRUE) ||
        !has (&c, r, "class_accuracy", JSON_NODE_ARRAY) || !has (&c, r, "class_count", JSON_NODE_ARRAY) ||
        !has (&c, r, "group_accuracy", JSON_NODE_ARRAY) || !has (&c, r, "group_count", JSON_NODE_ARRAY) ||
        !has (&c, r, "confusion", JSON_NODE_ARRAY))
      return FALSE;
    guint classes = json_array_get_length (json_object_get_array_member (r, "class_accuracy"));
    JsonArray *conf = json_object_get_array_member (r, "confusion");
    if (json_array_get_length (conf) != classes)
      return fail (&c, "the confusion matrix does not have a row per class");
    for (guint k = 0; k < classes; k++) {
      JsonNode *row = json_array_get_element (conf, k);
      if (!JSON_NODE_HOLDS_ARRAY (row) || json_array_get_length (json_node_get_array (row)) != classes)
        return fail (&c, "the confusion matrix is not square");
    }
  }
  JsonObject *sel = json_object_get_object_member (report, "selective");
  c.where = "selective";
  if (!has (&c, sel, "coverages", JSON_NODE_ARRAY) || !has (&c, sel, "curves", JSON_NODE_ARRAY))
    return FALSE;
  JsonArray *curves = json_object_get_array_member (sel, "curves");
  for (guint i = 0; i < json_array_get_length (curves); i++) {
    JsonNode *n = json_array_get_element (curves, i);
    if (!JSON_NODE_HOLDS_OBJECT (n))
      return fail (&c, "a curve is not an object");
    JsonObject *cv = json_node_get_object (n);
    if (!has_string (&c, cv, "label") || !has_string (&c, cv, "dataset") || !has_string (&c, cv, "confidence") ||
        !has (&c, cv, "points", JSON_NODE_ARRAY) || !has (&c, cv, "validation", JSON_NODE_OBJECT))
      return FALSE;
    JsonArray *pts = json_object_get_array_member (cv, "points");
    for (guint k = 0; k < json_array_get_length (pts); k++) {
      JsonNode *pn = json_array_get_element (pts, k);
      if (!JSON_NODE_HOLDS_OBJECT (pn))
        return fail (&c, "a point is not an object");
      JsonObject *p = json_node_get_object (pn);
      if (!has_number (&c, p, "expected_coverage", FALSE, FALSE) || !has_number (&c, p, "coverage", FALSE, TRUE) ||
          !has_number (&c, p, "accuracy", TRUE, TRUE) || !has_number (&c, p, "threshold", TRUE, FALSE))
        return FALSE;
    }
  }
  return TRUE;
}

/* ---- Markdown ------------------------------------------------------------------------- */

/* A Markdown table's header, a column at a time: the names row and the rule row that
 * right-aligns numeric columns. */
typedef struct {
  GString *names, *rule;
} Header;

static Header
header_new (void)
{
  return (Header) { g_string_new ("|"), g_string_new ("|") };
}

static void
header_add (Header *h, gboolean numeric, const char *name)
{
  g_string_append_printf (h->names, " %s |", name);
  g_string_append (h->rule, numeric ? "---:|" : "---|");
}

/* header_add, taking @name. */
static void
header_take (Header *h, gboolean numeric, char *name)
{
  header_add (h, numeric, name);
  g_free (name);
}

static void
header_end (Header *h, GString *s)
{
  g_string_append_printf (s, "%s\n%s\n", h->names->str, h->rule->str);
  g_string_free (h->names, TRUE);
  g_string_free (h->rule, TRUE);
}

char *
mt_report_headline (JsonObject *report)
{
  JsonArray *models = json_object_get_array_member (report, "models");
  guint nd = json_array_get_length (json_object_get_array_member (report, "datasets"));
  Header h = header_new ();
  header_add (&h, FALSE, "model");
  for (guint d = 0; d < nd; d++) {
    header_take (&h, TRUE, g_strdup_printf ("%s acc %%", dataset_name (report, d)));
    if (dataset_has_groups (report, d))
      header_take (&h, TRUE, g_strdup_printf ("%s worst group %%", dataset_name (report, d)));
  }
  GString *s = g_string_new (NULL);
  header_end (&h, s);
  for (guint m = 0; m < json_array_get_length (models); m++) {
    const char *model = json_array_get_string_element (models, m);
    g_string_append_printf (s, "| %s |", model);
    for (guint d = 0; d < nd; d++) {
      JsonObject *r = find_result (report, model, dataset_name (report, d));
      g_autofree char *acc = percent (member_number (r, "accuracy"));
      g_string_append_printf (s, " %s |", acc);
      if (dataset_has_groups (report, d)) {
        g_autofree char *w = percent (member_number (r, "worst_group_accuracy"));
        g_string_append_printf (s, " %s |", w);
      }
    }
    g_string_append_c (s, '\n');
  }
  return g_string_free (s, FALSE);
}

static void
append_groups (GString *s, JsonObject *report)
{
  JsonArray *models = json_object_get_array_member (report, "models");
  guint nd = json_array_get_length (json_object_get_array_member (report, "datasets"));
  for (guint d = 0; d < nd; d++) {
    if (!dataset_has_groups (report, d))
      continue;
    const char *ds = dataset_name (report, d);
    JsonObject *first = find_result (report, json_array_get_string_element (models, 0), ds);
    JsonArray *counts = json_object_get_array_member (first, "group_count");
    guint ng = json_array_get_length (counts);
    g_string_append_printf (s, "\n### Groups of %s (accuracy %%; samples in brackets)\n\n", ds);
    Header h = header_new ();
    header_add (&h, FALSE, "model");
    for (guint g = 0; g < ng; g++) {
      if (json_array_get_int_element (counts, g) == 0)
        continue;  /* a group this set does not have */
      g_autofree char *gn = group_name ((int) g);
      header_take (&h, TRUE, g_strdup_printf ("%s (%" G_GINT64_FORMAT ")", gn, json_array_get_int_element (counts, g)));
    }
    header_add (&h, FALSE, "worst group");
    header_end (&h, s);
    for (guint m = 0; m < json_array_get_length (models); m++) {
      const char *model = json_array_get_string_element (models, m);
      JsonObject *r = find_result (report, model, ds);
      JsonArray *ga = json_object_get_array_member (r, "group_accuracy");
      g_string_append_printf (s, "| %s |", model);
      for (guint g = 0; g < ng; g++) {
        if (json_array_get_int_element (counts, g) == 0)
          continue;
        g_autofree char *v = percent (number_or_nan (json_array_get_element (ga, g)));
        g_string_append_printf (s, " %s |", v);
      }
      JsonNode *wg = json_object_get_member (r, "worst_group");
      g_autofree char *wn = wg && !JSON_NODE_HOLDS_NULL (wg) ? group_name ((int) json_node_get_int (wg)) : g_strdup ("—");
      g_string_append_printf (s, " %s |\n", wn);
    }
  }
}

static void
append_details (GString *s, JsonObject *report)
{
  JsonArray *results = json_object_get_array_member (report, "results");
  g_string_append (s, "\n## Per model and test set\n\n");
  const char *cols[] = { "model", "test set", "n", "accuracy %", "loss", "per class %", "confusion (rows: true class)" };
  const gboolean numeric[] = { FALSE, FALSE, TRUE, TRUE, TRUE, FALSE, FALSE };
  Header h = header_new ();
  for (guint i = 0; i < G_N_ELEMENTS (cols); i++)
    header_add (&h, numeric[i], cols[i]);
  header_end (&h, s);
  for (guint i = 0; i < json_array_get_length (results); i++) {
    JsonObject *r = json_array_get_object_element (results, i);
    g_autofree char *acc = percent (member_number (r, "accuracy"));
    GString *pc = g_string_new (NULL), *cm = g_string_new (NULL);
    JsonArray *ca = json_object_get_array_member (r, "class_accuracy");
    for (guint c = 0; c < json_array_get_length (ca); c++) {
      g_autofree char *v = percent (number_or_nan (json_array_get_element (ca, c)));
      g_string_append_printf (pc, "%s%u: %s", c ? ", " : "", c, v);
    }
    JsonArray *conf = json_object_get_array_member (r, "confusion");
    for (guint row = 0; row < json_array_get_length (conf); row++) {
      JsonArray *ra = json_array_get_array_element (conf, row);
      g_string_append (cm, row ? " / " : "");
      for (guint c = 0; c < json_array_get_length (ra); c++)
        g_string_append_printf (cm, "%s%" G_GINT64_FORMAT, c ? " " : "", json_array_get_int_element (ra, c));
    }
    g_string_append_printf (s, "| %s | %s | %" G_GINT64_FORMAT " | %s | %.4f | %s | %s |\n",
                            json_object_get_string_member (r, "model"), json_object_get_string_member (r, "dataset"),
                            json_object_get_int_member (r, "n"), acc, member_number (r, "loss"), pc->str, cm->str);
    g_string_free (pc, TRUE);
    g_string_free (cm, TRUE);
  }
}

static void
append_selective (GString *s, JsonObject *report)
{
  JsonObject *sel = json_object_get_object_member (report, "selective");
  JsonArray *covs = json_object_get_array_member (sel, "coverages");
  JsonArray *curves = json_object_get_array_member (sel, "curves");
  if (json_array_get_length (curves) == 0)
    return;
  g_string_append (s, "\n## Selective classification\n\n"
                   "Accuracy % on the covered test samples (achieved coverage % in brackets) for each "
                   "expected coverage; thresholds picked on the validation samples named below. "
                   "\"a × b\" is MaskTune's combined confidence, max softmax(p_a · p_b).\n\n");
  guint nc = json_array_get_length (covs);
  Header h = header_new ();
  header_add (&h, FALSE, "confidence");
  header_add (&h, FALSE, "test set");
  for (guint i = 0; i < nc; i++)
    header_take (&h, TRUE, g_strdup_printf ("%g%%", json_node_get_double (json_array_get_element (covs, i))));
  header_end (&h, s);
  for (guint i = 0; i < json_array_get_length (curves); i++) {
    JsonObject *cv = json_array_get_object_element (curves, i);
    JsonArray *pts = json_object_get_array_member (cv, "points");
    g_string_append_printf (s, "| %s | %s |", json_object_get_string_member (cv, "label"),
                            json_object_get_string_member (cv, "dataset"));
    for (guint k = 0; k < json_array_get_length (pts); k++) {
      JsonObject *p = json_array_get_object_element (pts, k);
      g_autofree char *a = percent (member_number (p, "accuracy"));
      g_autofree char *c = percent (member_number (p, "coverage"));
      g_string_append_printf (s, " %s (%s) |", a, c);
    }
    g_string_append_c (s, '\n');
  }
  g_string_append (s, "\nValidation samples:");
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < json_array_get_length (curves); i++) {
    JsonObject *cv = json_array_get_object_element (curves, i);
    const char *ds = json_object_get_string_member (cv, "dataset");
    if (!g_hash_table_add (seen, (gpointer) ds))
      continue;
    JsonObject *v = json_object_get_object_member (cv, "validation");
    g_string_append_printf (s, " %s: %s (%" G_GINT64_FORMAT " samples; %" G_GINT64_FORMAT " left to test).", ds,
                            json_object_get_string_member (v, "source"), json_object_get_int_member (v, "n"),
                            json_object_get_int_member (v, "n_test"));
  }
  g_string_append_c (s, '\n');
}

char *
mt_report_to_markdown (JsonObject *report, const char *title)
{
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "# %s\n\n## Accuracy and worst-group accuracy (%%)\n\n", title);
  g_autofree char *head = mt_report_headline (report);
  g_string_append (s, head);
  append_groups (s, report);
  append_details (s, report);
  append_selective (s, report);
  JsonNode *prov = json_object_get_member (report, "provenance");
  if (prov && JSON_NODE_HOLDS_OBJECT (prov)) {
    JsonObject *p = json_node_get_object (prov);
    g_string_append_printf (s, "\nProduced by masktune %s from %s (cache key %.12s).\n",
                            json_object_get_string_member_with_default (p, "masktune_version", "?"),
                            json_object_get_string_member_with_default (p, "pipeline", "?"),
                            json_object_get_string_member_with_default (p, "key", "?"));
  }
  return g_string_free (s, FALSE);
}

/* ---- charts --------------------------------------------------------------------------- */

MtTensor *
mt_report_plot_accuracy (JsonObject *report)
{
  JsonArray *models = json_object_get_array_member (report, "models");
  guint nm = json_array_get_length (models);
  guint nd = json_array_get_length (json_object_get_array_member (report, "datasets"));
  g_autofree const char **groups = g_new0 (const char *, nd + 1);
  g_autofree const char **series = g_new0 (const char *, nm + 1);
  g_autofree double *values = g_new0 (double, MAX (nd * nm, 1));
  for (guint m = 0; m < nm; m++)
    series[m] = json_array_get_string_element (models, m);
  for (guint d = 0; d < nd; d++) {
    groups[d] = dataset_name (report, d);
    for (guint m = 0; m < nm; m++)
      values[d * nm + m] = member_number (find_result (report, series[m], groups[d]), "accuracy");
  }
  if (nm <= 6 || nm <= nd)
    return mt_plot_bars ("Accuracy by model and test set", "accuracy", nd, groups, nm, series, values);
  /* Many models (a sweep): a cluster per model and a colour per test set reads better
   * than more colours than the palette has. */
  g_autofree double *by_model = g_new0 (double, nd * nm);
  for (guint d = 0; d < nd; d++)
    for (guint m = 0; m < nm; m++)
      by_model[m * nd + d] = values[d * nm + m];
  return mt_plot_bars ("Accuracy by model and test set", "accuracy", nm, series, nd, groups, by_model);
}

GHashTable *
mt_report_curve_colours (JsonObject *report, gboolean *truncated)
{
  GHashTable *colour_of = g_hash_table_new (g_str_hash, g_str_equal);
  JsonArray *models = json_object_get_array_member (report, "models");
  JsonArray *curves = json_object_get_array_member (json_object_get_object_member (report, "selective"), "curves");
  guint nm = json_array_get_length (models), next = MIN (nm, MT_PLOT_COLOURS);
  *truncated = FALSE;
  for (guint i = 0; i < json_array_get_length (curves); i++) {
    const char *label = json_object_get_string_member (json_array_get_object_element (curves, i), "label");
    if (g_hash_table_contains (colour_of, label))
      continue;
    guint m = 0;
    while (m < nm && g_strcmp0 (json_array_get_string_element (models, m), label) != 0)
      m++;
    if (m < nm && m < MT_PLOT_COLOURS)
      g_hash_table_insert (colour_of, (gpointer) label, GUINT_TO_POINTER (m));
    else if (m == nm && next < MT_PLOT_COLOURS)
      g_hash_table_insert (colour_of, (gpointer) label, GUINT_TO_POINTER (next++));
    else
      *truncated = TRUE;
  }
  return colour_of;
}

MtTensor *
mt_report_plot_coverage (JsonObject *report)
{
  JsonArray *curves = json_object_get_array_member (json_object_get_object_member (report, "selective"), "curves");
  guint n = json_array_get_length (curves), shown = 0;
  g_autofree MtPlotSeries *series = g_new0 (MtPlotSeries, MAX (n, 1));
  g_autoptr (GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  JsonArray *datasets = json_object_get_array_member (report, "datasets");
  /* Colour by confidence (model or pair), line style by test set; no more confidences
   * than the palette has colours (a sweep's are all in the tables). */
  gboolean truncated = FALSE;
  g_autoptr (GHashTable) colour_of = mt_report_curve_colours (report, &truncated);
  for (guint i = 0; i < n; i++) {
    JsonObject *cv = json_array_get_object_element (curves, i);
    const char *label = json_object_get_string_member (cv, "label");
    if (!g_hash_table_contains (colour_of, label))
      continue;  /* past the palette: in the tables */
    JsonArray *pts = json_object_get_array_member (cv, "points");
    guint np = json_array_get_length (pts);
    double *x = g_new (double, MAX (np, 1)), *y = g_new (double, MAX (np, 1));
    for (guint k = 0; k < np; k++) {
      JsonObject *p = json_array_get_object_element (pts, k);
      x[k] = member_number (p, "coverage");
      y[k] = member_number (p, "accuracy");
    }
    char *name = g_strdup_printf ("%s on %s", label, json_object_get_string_member (cv, "dataset"));
    g_ptr_array_add (owned, x);
    g_ptr_array_add (owned, y);
    g_ptr_array_add (owned, name);
    guint style = 0;
    for (guint d = 0; d < json_array_get_length (datasets); d++)
      if (g_strcmp0 (dataset_name (report, d), json_object_get_string_member (cv, "dataset")) == 0)
        style = d;
    series[shown++] = (MtPlotSeries) { name, np, x, y, GPOINTER_TO_UINT (g_hash_table_lookup (colour_of, label)), style };
  }
  g_autofree char *title = truncated
    ? g_strdup_printf ("Selective classification (the first %d confidences; all in the tables)", MT_PLOT_COLOURS)
    : g_strdup ("Selective classification");
  /* The key: one entry per confidence (colour) and per test set (line style). */
  g_autofree const char **colours = g_new0 (const char *, MT_PLOT_COLOURS + 1);
  guint n_colours = 0;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, colour_of);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    colours[GPOINTER_TO_UINT (v)] = k;  /* a model without a curve leaves a gap: no entry */
    n_colours = MAX (n_colours, GPOINTER_TO_UINT (v) + 1);
  }
  guint nd = json_array_get_length (datasets);
  g_autofree const char **styles = g_new0 (const char *, nd + 1);
  for (guint d = 0; d < nd; d++)
    styles[d] = dataset_name (report, d);
  MtPlotKey key = { n_colours, colours, nd, styles };
  return mt_plot_lines (title, "coverage (test)", "accuracy on covered samples", shown, series, TRUE, &key);
}
