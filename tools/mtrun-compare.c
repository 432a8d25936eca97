/* mtrun compare: every evaluator report a pipeline has in the cache (its sweep instances
 * and its earlier --set variants), one row per model, with the settings that differ
 * between the rows (read from the reports' provenance) and the headline metrics. */
#include "tools/mtrun.h"
#include "tools/mtrun-table.h"
#include "graph/mt-graph.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static char *sort_by;
static gboolean csv;
static char *only_report;

static const GOptionEntry compare_entries[] = {
  { "sort", 's', 0, G_OPTION_ARG_STRING, &sort_by,
    "Sort by a metric, best first: DATASET (its accuracy) or DATASET.worst (its worst group)", "METRIC" },
  { "csv", 0, 0, G_OPTION_ARG_NONE, &csv, "Comma-separated values", NULL },
  { "report", 'r', 0, G_OPTION_ARG_STRING, &only_report, "Only the evaluator node NAME (its instances too)", "NAME" },
  G_OPTION_ENTRY_NULL
};

typedef struct {
  char *variant;            /* the --set overrides, "" for the file as written */
  char *report;             /* evaluator node */
  char *model;
  GHashTable *settings;     /* column -> text */
  GHashTable *metrics;      /* "DATASET" / "DATASET.worst" -> double (boxed) */
} Row;

static void
row_free (gpointer p)
{
  Row *r = p;
  g_free (r->variant);
  g_free (r->report);
  g_free (r->model);
  g_hash_table_unref (r->settings);
  g_hash_table_unref (r->metrics);
  g_free (r);
}

/* "node[k=1.5]" -> "node"; the instance's params into @settings. */
static char *
base_name (const char *name, GHashTable *settings)
{
  const char *open = strchr (name, '[');
  if (!open)
    return g_strdup (name);
  g_autofree char *inner = g_strndup (open + 1, strlen (open + 1) - 1);
  g_auto (GStrv) parts = g_strsplit (inner, ",", -1);
  for (guint i = 0; settings && parts[i]; i++) {
    char *eq = strchr (parts[i], '=');
    if (eq)
      g_hash_table_insert (settings, g_strndup (parts[i], eq - parts[i]), g_strdup (eq + 1));
  }
  return g_strndup (name, open - name);
}

/* Adds @name's node and what it reads (through the provenance's inputs) to @settings, as
 * "node.property" (node names without their instance) and the swept params. */
static void
collect_settings (GHashTable *nodes, const char *name, GHashTable *settings, GHashTable *seen, guint depth)
{
  JsonObject *rec = g_hash_table_lookup (nodes, name);
  if (!rec || depth > 10000 || !g_hash_table_add (seen, (gpointer) name))
    return;
  g_autofree char *base = base_name (name, settings);
  JsonObject *props = json_object_has_member (rec, "properties") ? json_object_get_object_member (rec, "properties") : NULL;
  g_autoptr (GList) keys = props ? json_object_get_members (props) : NULL;
  for (GList *k = keys; k; k = k->next) {
    JsonNode *v = json_object_get_member (props, k->data);
    /* Strings as written after --set (no quotes), the rest as JSON. */
    g_autofree char *text = JSON_NODE_HOLDS_VALUE (v) && json_node_get_value_type (v) == G_TYPE_STRING
                            ? g_strdup (json_node_get_string (v)) : mt_json_to_string (v, FALSE);
    g_hash_table_insert (settings, g_strdup_printf ("%s.%s", base, (char *) k->data), g_steal_pointer (&text));
  }
  JsonObject *inputs = json_object_has_member (rec, "inputs") ? json_object_get_object_member (rec, "inputs") : NULL;
  g_autoptr (GList) ins = inputs ? json_object_get_members (inputs) : NULL;
  for (GList *k = ins; k; k = k->next) {
    const char *src = json_object_get_string_member_with_default (inputs, k->data, "");
    const char *dot = strrchr (src, '.');
    g_autofree char *node = dot ? g_strndup (src, dot - src) : g_strdup (src);
    JsonObject *up = g_hash_table_lookup (nodes, node);
    if (up)
      collect_settings (nodes, json_object_get_string_member_with_default (up, "name", ""), settings, seen, depth + 1);
  }
}

/* The rows of one report (JSON as the evaluator writes it). */
static void
add_report_rows (JsonObject *rep, const char *variant, GPtrArray *rows, GPtrArray *datasets)
{
  JsonObject *prov = json_object_has_member (rep, "provenance") ? json_object_get_object_member (rep, "provenance") : NULL;
  JsonObject *self = prov && json_object_has_member (prov, "node") ? json_object_get_object_member (prov, "node") : NULL;
  JsonArray *up = prov && json_object_has_member (prov, "upstream") ? json_object_get_array_member (prov, "upstream") : NULL;
  JsonArray *models = json_object_has_member (rep, "models") ? json_object_get_array_member (rep, "models") : NULL;
  JsonArray *results = json_object_has_member (rep, "results") ? json_object_get_array_member (rep, "results") : NULL;
  if (!self || !models || !results)
    return;
  g_autoptr (GHashTable) nodes = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; up && i < json_array_get_length (up); i++) {
    JsonObject *o = json_array_get_object_element (up, i);
    if (o && json_object_has_member (o, "name"))
      g_hash_table_insert (nodes, (gpointer) json_object_get_string_member (o, "name"), o);
  }
  JsonObject *inputs = json_object_has_member (self, "inputs") ? json_object_get_object_member (self, "inputs") : NULL;
  /* The variant's --set params are settings too. */
  g_auto (GStrv) sets = g_strsplit (variant, "\n", -1);
  for (guint m = 0; m < json_array_get_length (models); m++) {
    Row *r = g_new0 (Row, 1);
    r->variant = g_strdup (variant);
    r->report = g_strdup (json_object_get_string_member_with_default (self, "name", "?"));
    r->model = g_strdup (json_array_get_string_element (models, m));
    r->settings = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    r->metrics = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    for (guint k = 0; sets[k]; k++)
      if (g_str_has_prefix (sets[k], "--set ")) {
        const char *eq = strchr (sets[k], '=');
        g_autofree char *lhs = eq ? g_strndup (sets[k] + 6, eq - sets[k] - 6) : NULL;
        if (lhs && !strchr (lhs, '.') && !strchr (lhs, '['))
          g_hash_table_insert (r->settings, g_steal_pointer (&lhs), g_strdup (eq + 1));
      }
    g_autofree char *port = g_strdup_printf ("models[%u]", m);
    const char *src = inputs ? json_object_get_string_member_with_default (inputs, port, NULL) : NULL;
    if (src) {
      const char *dot = strrchr (src, '.');
      g_autofree char *node = dot ? g_strndup (src, dot - src) : g_strdup (src);
      g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
      collect_settings (nodes, node, r->settings, seen, 0);
    }
    for (guint i = 0; i < json_array_get_length (results); i++) {
      JsonObject *res = json_array_get_object_element (results, i);
      if (!res || g_strcmp0 (json_object_get_string_member_with_default (res, "model", ""), r->model) != 0)
        continue;
      const char *ds = json_object_get_string_member_with_default (res, "dataset", "?");
      gboolean known = FALSE;
      for (guint d = 0; d < datasets->len; d++)
        known |= g_strcmp0 (datasets->pdata[d], ds) == 0;
      if (!known)
        g_ptr_array_add (datasets, g_strdup (ds));
      JsonNode *acc = json_object_get_member (res, "accuracy"), *worst = json_object_get_member (res, "worst_group_accuracy");
      if (acc && JSON_NODE_HOLDS_VALUE (acc))
        g_hash_table_insert (r->metrics, g_strdup (ds), g_memdup2 (&(double) { json_node_get_double (acc) }, sizeof (double)));
      if (worst && JSON_NODE_HOLDS_VALUE (worst))
        g_hash_table_insert (r->metrics, g_strdup_printf ("%s.worst", ds),
                             g_memdup2 (&(double) { json_node_get_double (worst) }, sizeof (double)));
    }
    g_ptr_array_add (rows, r);
  }
}

static const char *metric_key;

static int
cmp_rows (gconstpointer a, gconstpointer b)
{
  const Row *x = *(Row *const *) a, *y = *(Row *const *) b;
  const double *mx = g_hash_table_lookup (x->metrics, metric_key), *my = g_hash_table_lookup (y->metrics, metric_key);
  if (!mx || !my)
    return (mx == NULL) - (my == NULL);
  return *mx > *my ? -1 : *mx < *my;
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The settings that take two or more values among the rows that have them (a node on
 * only some rows' path, such as the masker of a fine-tuned model beside its ERM model,
 * is not a difference by itself): swept and --set params first, then node.property,
 * each sorted. */
static GPtrArray *
differing_columns (GPtrArray *rows)
{
  g_autoptr (GHashTable) all = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < rows->len; i++) {
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init (&it, ((Row *) rows->pdata[i])->settings);
    while (g_hash_table_iter_next (&it, &k, NULL))
      g_hash_table_add (all, k);
  }
  GPtrArray *params = g_ptr_array_new (), *props = g_ptr_array_new ();
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, all);
  while (g_hash_table_iter_next (&it, &k, NULL)) {
    const char *first = NULL;
    gboolean differs = FALSE;
    for (guint i = 0; i < rows->len && !differs; i++) {
      const char *v = g_hash_table_lookup (((Row *) rows->pdata[i])->settings, k);
      if (v && first)
        differs = strcmp (first, v) != 0;
      else if (v)
        first = v;
    }
    if (differs)
      g_ptr_array_add (strchr (k, '.') ? props : params, k);
  }
  g_ptr_array_sort (params, cmp_str);
  g_ptr_array_sort (props, cmp_str);
  for (guint i = 0; i < props->len; i++)
    g_ptr_array_add (params, props->pdata[i]);
  g_ptr_array_unref (props);
  return params;
}

static char *
csv_cell (const char *s)
{
  if (!s)
    return g_strdup ("");
  if (!strpbrk (s, ",\"\n"))
    return g_strdup (s);
  GString *q = g_string_new ("\"");
  for (const char *c = s; *c; c++) {
    if (*c == '"')
      g_string_append_c (q, '"');
    g_string_append_c (q, *c);
  }
  g_string_append_c (q, '"');
  return g_string_free (q, FALSE);
}

/* Every evaluator report of @pipe's variants in @cache (only @only_report's when not
 * NULL), as rows; returns how many reports. */
static guint
collect_rows (MtCache *cache, const char *pipe, const char *only_report, GPtrArray *rows, GPtrArray *datasets)
{
  g_autofree char *path = mt_graph_variant_name (pipe, NULL);
  g_autoptr (GPtrArray) variants = mt_cache_list_variants (cache);
  g_autoptr (GHashTable) seen_keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint reports = 0;
  for (guint v = 0; v < variants->len; v++) {
    const char *text = variants->pdata[v];
    gsize plen = strlen (path);
    if (strncmp (text, path, plen) != 0 || (text[plen] != 0 && text[plen] != '\n'))
      continue;
    const char *sets = text[plen] ? text + plen + 1 : "";
    g_autoptr (GHashTable) refs = mt_cache_get_refs (cache, text);
    g_autoptr (GPtrArray) names = g_ptr_array_new ();
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init (&it, refs);
    while (g_hash_table_iter_next (&it, &k, NULL))
      g_ptr_array_add (names, k);
    g_ptr_array_sort (names, cmp_str);
    for (guint i = 0; i < names->len; i++) {
      const char *key = g_hash_table_lookup (refs, names->pdata[i]);
      if (g_hash_table_contains (seen_keys, key))
        continue;
      g_autoptr (GError) lerr = NULL;
      MtManifest *m = mt_cache_lookup (cache, key, &lerr);
      if (!m)
        continue;
      g_autofree char *base = base_name (m->node, NULL);
      const MtCacheOutput *o = mt_manifest_find_output (m, "report");
      gboolean wanted = g_strcmp0 (m->type, "evaluator") == 0 && o && (!only_report || g_strcmp0 (base, only_report) == 0);
      if (wanted && mt_cache_verify (cache, m, MT_CACHE_VERIFY_DIGESTS, &lerr)) {
        g_autofree char *rp = mt_cache_output_path (cache, o);
        g_autofree char *json = NULL;
        gsize len = 0;
        if (mt_file_read_regular (rp, FALSE, 256 << 20, &json, &len, &lerr)) {
          g_autoptr (JsonNode) root = mt_json_parse (json, len, G_MAXSIZE, rp, &lerr);
          if (root && JSON_NODE_HOLDS_OBJECT (root)) {
            add_report_rows (json_node_get_object (root), sets, rows, datasets);
            reports++;
          }
        }
        g_hash_table_add (seen_keys, g_strdup (key));
      } else if (wanted && mtrun_global.verbose) {
        fprintf (stderr, "mtrun: skipping %s (%.12s): %s\n", m->node, key, lerr ? lerr->message : "no report");
      }
      mt_manifest_free (m);
    }
  }
  return reports;
}

int
mtrun_cmd_compare (int argc, char **argv)
{
  g_autoptr (GOptionContext) oc = g_option_context_new ("FILE.pipe");
  g_option_context_set_summary (oc,
    "Compares every evaluator report of a pipeline still in the cache (its sweep instances\n"
    "and earlier --set variants): one row per model, the settings that differ between the\n"
    "rows and each test set's accuracy and worst-group accuracy (%).");
  g_option_context_add_main_entries (oc, compare_entries, NULL);
  mtrun_add_common_options (oc);
  g_autoptr (GError) err = NULL;
  if (!mtrun_parse_options (oc, &argc, &argv, &err))
    return mtrun_fail (MTRUN_EXIT_USAGE, "%s", err->message);
  if (argc != 2)
    return mtrun_fail (MTRUN_EXIT_USAGE, "usage: mtrun compare FILE.pipe [--sort METRIC] [--json|--csv]");
  if (csv && mtrun_global.json)
    return mtrun_fail (MTRUN_EXIT_USAGE, "--csv and --json cannot be combined");
  const char *pipe = argv[1];
  if (!g_file_test (pipe, G_FILE_TEST_IS_REGULAR))
    return mtrun_fail (MTRUN_EXIT_FAILURE, "cannot read %s: %s", pipe, g_strerror (ENOENT));
  g_autoptr (MtCache) cache = mtrun_open_cache (pipe, &err);
  if (!cache)
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);

  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (row_free);
  g_autoptr (GPtrArray) datasets = g_ptr_array_new_with_free_func (g_free);
  guint reports = collect_rows (cache, pipe, only_report, rows, datasets);
  if (rows->len == 0)
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s: no evaluator report in the cache (run the pipeline first)", pipe);
  if (sort_by) {
    metric_key = sort_by;
    gboolean known = FALSE;
    for (guint i = 0; i < rows->len && !known; i++)
      known = g_hash_table_contains (((Row *) rows->pdata[i])->metrics, sort_by);
    if (!known) {
      GString *names = g_string_new ("");
      for (guint d = 0; d < datasets->len; d++)
        g_string_append_printf (names, "%s%s, %s.worst", d ? ", " : "", (char *) datasets->pdata[d],
                                (char *) datasets->pdata[d]);
      int st = mtrun_fail (MTRUN_EXIT_USAGE, "--sort %s: no such metric (there are: %s)", sort_by, names->str);
      g_string_free (names, TRUE);
      return st;
    }
    g_ptr_array_sort (rows, cmp_rows);  /* stable: ties keep their order */
  }

  g_autoptr (GPtrArray) cols = differing_columns (rows);
  gboolean several_variants = FALSE, several_reports = FALSE;
  for (guint i = 1; i < rows->len; i++) {
    several_variants |= g_strcmp0 (((Row *) rows->pdata[i])->variant, ((Row *) rows->pdata[0])->variant) != 0;
    several_reports |= g_strcmp0 (((Row *) rows->pdata[i])->report, ((Row *) rows->pdata[0])->report) != 0;
  }
  if (mtrun_global.json) {
    for (guint i = 0; i < rows->len; i++) {
      Row *r = rows->pdata[i];
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "report");
      json_builder_add_string_value (b, r->report);
      json_builder_set_member_name (b, "variant");
      json_builder_add_string_value (b, r->variant);
      json_builder_set_member_name (b, "model");
      json_builder_add_string_value (b, r->model);
      json_builder_set_member_name (b, "settings");
      json_builder_begin_object (b);
      for (guint c = 0; c < cols->len; c++) {
        json_builder_set_member_name (b, cols->pdata[c]);
        const char *v = g_hash_table_lookup (r->settings, cols->pdata[c]);
        if (v)
          json_builder_add_string_value (b, v);
        else
          json_builder_add_null_value (b);
      }
      json_builder_end_object (b);
      json_builder_set_member_name (b, "metrics");
      json_builder_begin_object (b);
      for (guint d = 0; d < datasets->len; d++)
        for (int w = 0; w < 2; w++) {
          g_autofree char *key = w ? g_strdup_printf ("%s.worst", (char *) datasets->pdata[d]) : g_strdup (datasets->pdata[d]);
          const double *x = g_hash_table_lookup (r->metrics, key);
          json_builder_set_member_name (b, key);
          if (x)
            json_builder_add_double_value (b, *x);
          else
            json_builder_add_null_value (b);
        }
      json_builder_end_object (b);
      json_builder_end_object (b);
      g_autoptr (JsonNode) node = json_builder_get_root (b);
      mtrun_print_json (node);
    }
    return 0;
  }

  g_autoptr (GPtrArray) header = g_ptr_array_new_with_free_func (g_free);
  if (several_variants)
    g_ptr_array_add (header, g_strdup ("variant"));
  if (several_reports)
    g_ptr_array_add (header, g_strdup ("report"));
  g_ptr_array_add (header, g_strdup ("model"));
  for (guint c = 0; c < cols->len; c++)
    g_ptr_array_add (header, g_strdup (cols->pdata[c]));
  for (guint d = 0; d < datasets->len; d++) {
    g_ptr_array_add (header, g_strdup_printf (">%s acc %%", (char *) datasets->pdata[d]));
    g_ptr_array_add (header, g_strdup_printf (">%s worst %%", (char *) datasets->pdata[d]));
  }
  g_autoptr (MtrunTable) t = NULL;
  if (!csv) {
    g_ptr_array_add (header, NULL);
    t = mtrun_table_new ((const char *const *) header->pdata);
    g_ptr_array_set_size (header, header->len - 1);
  } else {
    for (guint h = 0; h < header->len; h++) {
      const char *title = header->pdata[h];
      g_autofree char *cell = csv_cell (title[0] == '>' ? title + 1 : title);
      printf ("%s%s", h ? "," : "", cell);
    }
    printf ("\n");
  }
  for (guint i = 0; i < rows->len; i++) {
    Row *r = rows->pdata[i];
    g_autoptr (GPtrArray) cells = g_ptr_array_new_with_free_func (g_free);
    if (several_variants) {
      g_autofree char *v = g_strdup (*r->variant ? r->variant : "(as written)");
      g_strdelimit (v, "\n", ' ');
      g_ptr_array_add (cells, g_steal_pointer (&v));
    }
    if (several_reports)
      g_ptr_array_add (cells, g_strdup (r->report));
    g_ptr_array_add (cells, g_strdup (r->model));
    for (guint c = 0; c < cols->len; c++) {
      const char *v = g_hash_table_lookup (r->settings, cols->pdata[c]);
      g_ptr_array_add (cells, g_strdup (v ? (*v || csv ? v : "\"\"") : (csv ? "" : "-")));
    }
    for (guint d = 0; d < datasets->len; d++)
      for (int w = 0; w < 2; w++) {
        g_autofree char *key = w ? g_strdup_printf ("%s.worst", (char *) datasets->pdata[d]) : g_strdup (datasets->pdata[d]);
        const double *x = g_hash_table_lookup (r->metrics, key);
        g_ptr_array_add (cells, x ? g_strdup_printf (csv ? "%.4f" : "%.1f", csv ? 100 * *x : 100 * *x) : g_strdup (csv ? "" : "-"));
      }
    if (csv) {
      for (guint c = 0; c < cells->len; c++) {
        g_autofree char *cell = csv_cell (cells->pdata[c]);
        printf ("%s%s", c ? "," : "", cell);
      }
      printf ("\n");
    } else {
      g_ptr_array_add (cells, NULL);
      mtrun_table_add (t, (const char *const *) cells->pdata);
    }
  }
  if (t)
    mtrun_table_print (t, stdout);
  if (!csv && !mtrun_global.quiet && !mtrun_global.json)
    fprintf (stderr, "%u model%s from %u report%s\n", rows->len, rows->len == 1 ? "" : "s", reports,
             reports == 1 ? "" : "s");
  return 0;
}

char *
mtrun_compare_html (MtCache *cache, const char *pipe)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (row_free);
  g_autoptr (GPtrArray) datasets = g_ptr_array_new_with_free_func (g_free);
  if (collect_rows (cache, pipe, NULL, rows, datasets) == 0 || rows->len == 0)
    return NULL;
  g_autoptr (GPtrArray) cols = differing_columns (rows);
  gboolean variants = FALSE, reports = FALSE;
  for (guint i = 1; i < rows->len; i++) {
    variants |= g_strcmp0 (((Row *) rows->pdata[i])->variant, ((Row *) rows->pdata[0])->variant) != 0;
    reports |= g_strcmp0 (((Row *) rows->pdata[i])->report, ((Row *) rows->pdata[0])->report) != 0;
  }
  GString *h = g_string_new ("<table class=\"compare\">\n<tr>");
  if (variants)
    g_string_append (h, "<th>variant</th>");
  if (reports)
    g_string_append (h, "<th>report</th>");
  g_string_append (h, "<th>model</th>");
  for (guint c = 0; c < cols->len; c++) {
    g_autofree char *e = g_markup_escape_text (cols->pdata[c], -1);
    g_string_append_printf (h, "<th>%s</th>", e);
  }
  for (guint d = 0; d < datasets->len; d++) {
    g_autofree char *e = g_markup_escape_text (datasets->pdata[d], -1);
    g_string_append_printf (h, "<th class=\"num\">%s acc %%</th><th class=\"num\">%s worst %%</th>", e, e);
  }
  g_string_append (h, "</tr>\n");
  for (guint i = 0; i < rows->len; i++) {
    Row *r = rows->pdata[i];
    g_autofree char *v = g_markup_escape_text (*r->variant ? r->variant : "(as written)", -1);
    g_autofree char *rep = g_markup_escape_text (r->report, -1), *model = g_markup_escape_text (r->model, -1);
    g_string_append (h, "<tr>");
    if (variants)
      g_string_append_printf (h, "<td>%s</td>", v);
    if (reports)
      g_string_append_printf (h, "<td>%s</td>", rep);
    g_string_append_printf (h, "<td>%s</td>", model);
    for (guint c = 0; c < cols->len; c++) {
      const char *x = g_hash_table_lookup (r->settings, cols->pdata[c]);
      g_autofree char *e = g_markup_escape_text (x ? x : "-", -1);
      g_string_append_printf (h, "<td>%s</td>", e);
    }
    for (guint d = 0; d < datasets->len; d++)
      for (int w = 0; w < 2; w++) {
        g_autofree char *key = w ? g_strdup_printf ("%s.worst", (char *) datasets->pdata[d]) : g_strdup (datasets->pdata[d]);
        const double *x = g_hash_table_lookup (r->metrics, key);
        if (x)
          g_string_append_printf (h, "<td class=\"num\">%.1f</td>", 100 * *x);
        else
          g_string_append (h, "<td class=\"num\">-</td>");
      }
    g_string_append (h, "</tr>\n");
  }
  g_string_append (h, "</table>\n");
  return g_string_free (h, FALSE);
}
