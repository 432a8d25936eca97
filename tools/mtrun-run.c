/* mtrun run / status / dot: the commands that take a pipeline file. */
#include "tools/mtrun.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char **sets;
  char **force;
  char *only;
  char *until;
  gboolean dry_run;
  int jobs;
  char *device;
} RunArgs;

static RunArgs args;

static const GOptionEntry pipe_entries[] = {
  { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &args.sets,
    "Override a param (NAME=VALUE) or a node property (NODE.PROPERTY=VALUE)", "NAME=VALUE" },
  G_OPTION_ENTRY_NULL
};

static const GOptionEntry run_entries[] = {
  { "jobs", 'j', 0, G_OPTION_ARG_INT, &args.jobs, "Nodes to run in parallel (default: number of cores)", "N" },
  { "force", 'f', 0, G_OPTION_ARG_STRING_ARRAY, &args.force, "Recompute NODE and everything that depends on it", "NODE" },
  { "only", 0, 0, G_OPTION_ARG_STRING, &args.only, "Run only NODE (its inputs must be cached)", "NODE" },
  { "until", 0, 0, G_OPTION_ARG_STRING, &args.until, "Run NODE and what it depends on, nothing after", "NODE" },
  { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &args.dry_run, "Say what would run and why, run nothing", NULL },
  { "device", 0, 0, G_OPTION_ARG_STRING, &args.device, "auto, cpu or cuda (default auto: the CPU until the CUDA path has run on a GPU; cuda runs it)", "DEVICE" },
  G_OPTION_ENTRY_NULL
};

/* Column widths: at least 14 and 12, wider when a pipeline's names need it. */
static int name_w = 14, type_w = 12;

static void
measure_columns (MtDag *g)
{
  for (guint i = 0; i < g->nodes->len; i++) {
    MtDagNode *n = g->nodes->pdata[i];
    name_w = MAX (name_w, (int) g_utf8_strlen (n->name, -1));
    type_w = MAX (type_w, (int) g_utf8_strlen (n->type_name, -1));
  }
}

/* Parses options and the one FILE.pipe argument; returns the graph or NULL (after printing). */
MtDag *
mtrun_load_pipeline (int *argc, char ***argv, const char *cmd, const char *summary,
                     const GOptionEntry *extra, int *status)
{
  g_autofree char *param = g_strdup_printf ("%s FILE.pipe", cmd);
  g_autoptr (GOptionContext) oc = g_option_context_new ("FILE.pipe");
  g_option_context_set_summary (oc, summary);
  g_option_context_add_main_entries (oc, pipe_entries, NULL);
  if (extra)
    g_option_context_add_main_entries (oc, extra, NULL);
  mtrun_add_common_options (oc);
  g_autoptr (GError) err = NULL;
  if (!mtrun_parse_options (oc, argc, argv, &err)) {
    *status = mtrun_fail (MTRUN_EXIT_USAGE, "%s", err->message);
    return NULL;
  }
  if (*argc != 2) {
    *status = mtrun_fail (MTRUN_EXIT_USAGE, "usage: mtrun %s [OPTION…] (see --help)", param);
    return NULL;
  }
  MtRegistry *reg = mtrun_registry ();
  MtDag *g = mt_graph_load_file ((*argv)[1], reg, (const char *const *) args.sets, &err);
  if (g)
    measure_columns (g);
  if (!g && g_error_matches (err, MT_ERROR, MT_ERROR_IO)) {
    /* Not a .pipe problem: one line, as every mtrun failure. */
    *status = mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);
    return NULL;
  }
  if (!g) {
    fprintf (stderr, "%s\n", err->message);
    guint n = 1, more = 0;
    for (const char *p = err->message; *p; p++)
      n += *p == '\n';
    /* The list stops after the first errors with "… and N more errors". */
    const char *tail = strstr (err->message, "… and ");
    if (tail && sscanf (tail, "… and %u more", &more) == 1)
      n += more - 1;
    *status = mtrun_fail (MTRUN_EXIT_FAILURE, "%s: %u error%s, nothing was run", (*argv)[1], n,
                          n == 1 ? "" : "s");
  }
  return g;
}

static MtDagNode *
find_node (MtDag *g, const char *name, const char *option, int *status)
{
  MtDagNode *n = mt_dag_find (g, name);
  if (!n) {
    g_autofree const char **names = (const char **) g_hash_table_get_keys_as_array (g->by_name, NULL);
    g_autofree char *hint = mt_suggest_hint (name, names);
    *status = mtrun_fail (MTRUN_EXIT_USAGE, "%s %s: the pipeline has no node '%s'%s", option, name, name, hint);
  }
  return n;
}

/* --force closes over dependents: what reads a recomputed node is recomputed too. */
static GHashTable *
forced_set (MtDag *g, int *status)
{
  if (!args.force)
    return NULL;
  GHashTable *set = g_hash_table_new (NULL, NULL);
  for (guint i = 0; args.force[i]; i++) {
    MtDagNode *n = find_node (g, args.force[i], "--force", status);
    if (!n) {
      g_hash_table_unref (set);
      return NULL;
    }
    g_autoptr (GHashTable) d = mt_dag_descendants (g, n);
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init (&it, d);
    while (g_hash_table_iter_next (&it, &k, NULL))
      g_hash_table_add (set, k);
  }
  return set;
}

/* ---- progress display ------------------------------------------------------- */

typedef struct {
  MtDag *g;
  gboolean tty;
  gboolean bar_shown;
  guint cached, ran, failed, skipped;
  double *progress;  /* per node, -1 when not running */
  char **detail;     /* per node, the line beside its bar, or NULL */
  MtCache *cache;
  GString *headlines;  /* the "headline" text outputs of nodes that have one */
} Display;

static void
clear_bar (Display *d)
{
  if (d->bar_shown) {
    fprintf (stderr, "\r\033[K");
    d->bar_shown = FALSE;
  }
}

static void
draw_bar (Display *d)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < d->g->nodes->len; i++) {
    if (d->progress[i] < 0)
      continue;
    MtDagNode *gn = d->g->nodes->pdata[i];
    int filled = (int) (d->progress[i] * 20);
    g_string_append_printf (s, "%s%s [", s->len ? "  " : "", gn->name);
    for (int k = 0; k < 20; k++)
      g_string_append_c (s, k < filled ? '#' : '.');
    g_string_append_printf (s, "] %3.0f%%", d->progress[i] * 100);
    if (d->detail[i])
      g_string_append_printf (s, " %s", d->detail[i]);
  }
  fprintf (stderr, "\r\033[K%s", s->str);
  fflush (stderr);
  d->bar_shown = TRUE;
  g_string_free (s, TRUE);
}

static JsonNode *
outputs_json (MtManifest *m)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  for (guint i = 0; m && i < m->outputs->len; i++) {
    MtCacheOutput *o = m->outputs->pdata[i];
    json_builder_set_member_name (b, o->port);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "file");
    json_builder_add_string_value (b, o->file);
    json_builder_set_member_name (b, "digest");
    json_builder_add_string_value (b, o->digest);
    json_builder_set_member_name (b, "size");
    json_builder_add_int_value (b, o->size);
    json_builder_set_member_name (b, "kind");
    json_builder_add_string_value (b, o->kind);
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static const char *
event_state (MtEventType t)
{
  switch (t) {
  case MT_EVENT_STARTED: return "started";
  case MT_EVENT_CACHED: return "cached";
  case MT_EVENT_FINISHED: return "finished";
  case MT_EVENT_FAILED: return "failed";
  case MT_EVENT_SKIPPED: return "skipped";
  case MT_EVENT_PROGRESS: return "progress";
  case MT_EVENT_LOG: return "log";
  case MT_EVENT_WARNING: return "warning";
  }
  return "?";
}

static void
on_event_json (const MtEvent *ev)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, "node");
  json_builder_set_member_name (b, "node");
  json_builder_add_string_value (b, ev->node->name);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, ev->node->type_name);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, event_state (ev->type));
  if (ev->reason) {
    json_builder_set_member_name (b, "reason");
    json_builder_add_string_value (b, ev->reason);
  }
  if (ev->message) {
    json_builder_set_member_name (b, "message");
    json_builder_add_string_value (b, ev->message);
  }
  if (ev->type == MT_EVENT_PROGRESS) {
    json_builder_set_member_name (b, "progress");
    json_builder_add_double_value (b, ev->progress);
  }
  if (ev->type == MT_EVENT_FINISHED) {
    json_builder_set_member_name (b, "seconds");
    json_builder_add_double_value (b, ev->seconds);
    json_builder_set_member_name (b, "start_us");
    json_builder_add_int_value (b, ev->start_us);
    json_builder_set_member_name (b, "end_us");
    json_builder_add_int_value (b, ev->end_us);
  }
  if (ev->manifest) {
    json_builder_set_member_name (b, "key");
    json_builder_add_string_value (b, ev->manifest->key);
    json_builder_set_member_name (b, "outputs");
    json_builder_add_value (b, outputs_json (ev->manifest));
  }
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  mtrun_print_json (root);
}

/* Keeps a node's headline table (the evaluator's) to print once the run is over. */
static void
collect_headline (Display *d, const MtEvent *ev)
{
  if (!ev->manifest)
    return;
  const MtCacheOutput *o = mt_manifest_find_output (ev->manifest, "headline");
  if (!o || g_strcmp0 (o->kind, "text") != 0)
    return;
  g_autofree char *path = mt_cache_output_path (d->cache, o);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return;
  g_string_append_printf (d->headlines, "\n%s (%s):\n\n%s", ev->node->name, ev->node->type_name, text);
}

static void
on_event (const MtEvent *ev, gpointer user_data)
{
  Display *d = user_data;
  guint idx = ev->node->index;
  if (ev->type == MT_EVENT_CACHED || ev->type == MT_EVENT_FINISHED)
    collect_headline (d, ev);
  if (ev->type == MT_EVENT_CACHED)
    d->cached++;
  else if (ev->type == MT_EVENT_FINISHED)
    d->ran++;
  else if (ev->type == MT_EVENT_FAILED)
    d->failed++;
  else if (ev->type == MT_EVENT_SKIPPED)
    d->skipped++;
  if (mtrun_global.json) {
    on_event_json (ev);
    return;
  }
  if (ev->type == MT_EVENT_PROGRESS) {
    d->progress[idx] = ev->progress;
    g_free (d->detail[idx]);
    d->detail[idx] = g_strdup (ev->message);
    if (d->tty && !mtrun_global.quiet)
      draw_bar (d);
    return;
  }
  clear_bar (d);
  const char *name = ev->node->name, *type = ev->node->type_name;
  switch (ev->type) {
  case MT_EVENT_STARTED:
    d->progress[idx] = 0;
    if (!mtrun_global.quiet)
      fprintf (stderr, "  run      %-*s %-*s %s\n", name_w, name, type_w, type, ev->reason);
    break;
  case MT_EVENT_CACHED:
    if (!mtrun_global.quiet)
      fprintf (stderr, "  cached   %-*s %s\n", name_w, name, type);
    break;
  case MT_EVENT_FINISHED:
    d->progress[idx] = -1;
    if (!mtrun_global.quiet)
      fprintf (stderr, "  done     %-*s %-*s %.2f s\n", name_w, name, type_w, type, ev->seconds);
    break;
  case MT_EVENT_FAILED:
    d->progress[idx] = -1;
    fprintf (stderr, "  FAILED   %-*s %-*s %s\n", name_w, name, type_w, type, ev->message);
    break;
  case MT_EVENT_SKIPPED:
    if (!mtrun_global.quiet)
      fprintf (stderr, "  skipped  %-*s %-*s %s\n", name_w, name, type_w, type, ev->reason);
    break;
  case MT_EVENT_LOG:
    if (!mtrun_global.quiet)
      fprintf (stderr, "           %-*s %s\n", name_w, name, ev->message);
    break;
  case MT_EVENT_WARNING:
    fprintf (stderr, "  warning  %-*s %s\n", name_w, name, ev->message);
    break;
  default:
    break;
  }
  if (d->tty && !mtrun_global.quiet) {
    for (guint i = 0; i < d->g->nodes->len; i++)
      if (d->progress[i] >= 0) {
        draw_bar (d);
        break;
      }
  }
}

/* ---- status ------------------------------------------------------------------ */

/* For a cached node: how what made it differs from this machine (NULL: it does not, or
 * the entry does not say). Its results are used as they are, not made again (mt-manifest.h). */
static char *
made_elsewhere (MtCache *cache, MtPlanItem *it, const char *backend, const char *const *environment)
{
  if (it->state != MT_PLAN_CACHED || !it->key)
    return NULL;
  g_autoptr (MtManifest) m = mt_cache_lookup (cache, it->key, NULL);
  return m ? mt_manifest_made_elsewhere (m, backend, environment) : NULL;
}

static void
print_plan (MtPlan *plan, MtCache *cache, gboolean json)
{
  const char *backend = mt_device_resolve (MT_DEVICE_CHOICE_AUTO, NULL, NULL);
  g_auto (GStrv) environment = mt_backend_environment (backend ? backend : "cpu");
  for (guint i = 0; i < plan->items->len; i++) {
    MtPlanItem *it = plan->items->pdata[i];
    g_autofree char *elsewhere = made_elsewhere (cache, it, backend ? backend : "cpu",
                                                 (const char *const *) environment);
    if (json) {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "node");
      json_builder_add_string_value (b, it->node->name);
      json_builder_set_member_name (b, "type");
      json_builder_add_string_value (b, it->node->type_name);
      json_builder_set_member_name (b, "state");
      json_builder_add_string_value (b, mt_plan_state_name (it->state));
      json_builder_set_member_name (b, "key");
      if (it->key)
        json_builder_add_string_value (b, it->key);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "reasons");
      json_builder_begin_array (b);
      for (guint k = 0; k < it->reasons->len; k++)
        json_builder_add_string_value (b, it->reasons->pdata[k]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "made_elsewhere");
      if (elsewhere)
        json_builder_add_string_value (b, elsewhere);
      else
        json_builder_add_null_value (b);
      json_builder_end_object (b);
      g_autoptr (JsonNode) root = json_builder_get_root (b);
      mtrun_print_json (root);
      continue;
    }
    const char *state = it->state == MT_PLAN_CACHED ? "cached" : it->state == MT_PLAN_RUN ? "will run" : "error";
    g_autoptr (GString) line = g_string_new (NULL);
    g_string_printf (line, "%-*s %-*s %-9s", name_w, it->node->name, type_w, it->node->type_name, state);
    for (guint k = 0; k < it->reasons->len; k++)
      g_string_append_printf (line, "%s%s", k ? "; " : "", (char *) it->reasons->pdata[k]);
    if (elsewhere) {
      g_autofree char *shown = mtrun_escape (elsewhere);  /* from an untrusted manifest */
      g_string_append_printf (line, "made elsewhere: %s", shown);
    }
    printf ("%s\n", g_strchomp (line->str));
  }
}

/* A plan with a node that cannot run (its source file is not there, say) fails. */
static int
plan_status (MtPlan *plan)
{
  for (guint i = 0; i < plan->items->len; i++)
    if (((MtPlanItem *) plan->items->pdata[i])->state == MT_PLAN_ERROR)
      return MTRUN_EXIT_FAILURE;
  return 0;
}

int
mtrun_cmd_status (int argc, char **argv)
{
  int status = 0;
  static gboolean exit_code;
  static const GOptionEntry status_entries[] = {
    { "exit-code", 0, 0, G_OPTION_ARG_NONE, &exit_code,
      "Exit with status 1 when any node would run (as git diff --exit-code), for CI", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (MtDag) g = mtrun_load_pipeline (&argc, &argv, "status",
                                         "Shows, per node, whether its result is cached or it will run, and why.",
                                         status_entries, &status);
  if (!g)
    return status;
  g_autoptr (GError) err = NULL;
  g_autoptr (MtCache) cache = mtrun_open_cache (g->path, &err);
  if (!cache)
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);
  g_autoptr (MtPlan) plan = mt_plan_compute (g, cache, NULL);
  print_plan (plan, cache, mtrun_global.json);
  int rc = plan_status (plan);
  for (guint i = 0; exit_code && rc == 0 && i < plan->items->len; i++)
    if (((MtPlanItem *) plan->items->pdata[i])->state == MT_PLAN_RUN)
      rc = MTRUN_EXIT_FAILURE;
  return rc;
}

int
mtrun_cmd_dot (int argc, char **argv)
{
  int status = 0;
  g_autoptr (MtDag) g = mtrun_load_pipeline (&argc, &argv, "dot",
                                         "Prints the pipeline as a Graphviz graph: mtrun dot p.pipe | dot -Tsvg > p.svg",
                                         NULL, &status);
  if (!g)
    return status;
  /* Coloured as status sees the nodes, when their cache can be read. */
  g_autoptr (GError) err = NULL;
  g_autoptr (MtCache) cache = mtrun_open_cache (g->path, &err);
  g_autoptr (MtPlan) plan = cache ? mt_plan_compute (g, cache, NULL) : NULL;
  g_autofree const char **fill = g_new0 (const char *, g->nodes->len + 1);
  static const char *const colour[] = { [MT_PLAN_CACHED] = "#c8e6c9", [MT_PLAN_RUN] = "#ffe0b2",
                                        [MT_PLAN_ERROR] = "#ffcdd2" };
  for (guint i = 0; plan && i < plan->items->len; i++)
    fill[i] = colour[((MtPlanItem *) plan->items->pdata[i])->state];
  const char *legend = plan ? "  subgraph cluster_legend {\n    label=\"state\"; fontname=\"sans-serif\"; style=dashed;\n"
                              "    \" cached\" [fillcolor=\"#c8e6c9\"];\n    \" will run\" [fillcolor=\"#ffe0b2\"];\n"
                              "    \" cached\" -> \" will run\" [style=invis];\n  }\n" : NULL;
  if (!plan && mtrun_global.verbose)
    fprintf (stderr, "mtrun: no cache (%s): nodes not coloured\n", err ? err->message : "");
  g_autofree char *dot = mt_dag_to_dot (g, fill, legend);
  fputs (dot, stdout);
  return 0;
}

int
mtrun_cmd_run (int argc, char **argv, gboolean default_cmd)
{
  int status = 0;
  g_autoptr (MtDag) g = mtrun_load_pipeline (&argc, &argv, "run", "Runs a pipeline, reusing cached results.",
                                         run_entries, &status);
  if (!g)
    return status;
  if (args.jobs < 0)
    return mtrun_fail (MTRUN_EXIT_USAGE, "--jobs must be at least 1");
  if (args.only && args.until)
    return mtrun_fail (MTRUN_EXIT_USAGE, "--only and --until cannot be combined");

  g_autoptr (GHashTable) forced = forced_set (g, &status);
  if (status)
    return status;
  g_autoptr (GHashTable) selected = NULL;
  g_autoptr (GHashTable) lookup_only = NULL;
  if (args.until) {
    MtDagNode *n = find_node (g, args.until, "--until", &status);
    if (!n)
      return status;
    selected = mt_dag_ancestors (g, n);
  } else if (args.only) {
    MtDagNode *n = find_node (g, args.only, "--only", &status);
    if (!n)
      return status;
    lookup_only = mt_dag_ancestors (g, n);
    g_hash_table_remove (lookup_only, n);
    selected = g_hash_table_new (NULL, NULL);
    g_hash_table_add (selected, n);
  }

  g_autoptr (GError) err = NULL;
  g_autoptr (MtCache) cache = mtrun_open_cache (g->path, &err);
  if (!cache)
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);

  if (args.dry_run) {
    g_autoptr (MtPlan) plan = mt_plan_compute (g, cache, forced);
    print_plan (plan, cache, mtrun_global.json);
    return plan_status (plan);
  }
  MtDeviceChoice choice = MT_DEVICE_CHOICE_AUTO;
  if (args.device && !mt_device_choice_from_string (args.device, &choice))
    return mtrun_fail (MTRUN_EXIT_USAGE, "--device %s: expected auto, cpu or cuda", args.device);
  g_autofree char *notice = NULL;
  const char *backend = mt_device_resolve (choice, &notice, &err);
  if (!backend)
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);
  /* Running on the CPU where no GPU is, is no news: said only when asked for. A GPU that
   * auto leaves idle is: said unless -q. */
  gboolean news = notice && choice == MT_DEVICE_CHOICE_AUTO && mt_backend_probe ("cuda", NULL, NULL);
  if (notice && !mtrun_global.json && (mtrun_global.verbose || (news && !mtrun_global.quiet)))
    fprintf (stderr, "mtrun: %s\n", notice);

  /* Shared for the whole run: gc waits for no one, and never runs under us. */
  if (!mt_cache_lock_shared (cache, &err))
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);

  g_autofree double *progress = g_new (double, g->nodes->len);
  for (guint i = 0; i < g->nodes->len; i++)
    progress[i] = -1;
  g_autoptr (GString) headlines = g_string_new (NULL);
  g_autoptr (GPtrArray) detail = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_set_size (detail, g->nodes->len);
  Display d = { .g = g, .tty = isatty (STDERR_FILENO), .progress = progress, .detail = (char **) detail->pdata,
                .cache = cache, .headlines = headlines };
  g_auto (GStrv) environment = mt_backend_environment (backend);
  MtRunOptions opts = {
    .jobs = (guint) args.jobs, .forced = forced, .selected = selected, .lookup_only = lookup_only,
    .backend = backend, .environment = (const char *const *) environment, .on_event = on_event, .user_data = &d,
  };
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = mt_executor_run (g, cache, &opts, &err);
  double secs = (g_get_monotonic_time () - t0) / 1e6;
  clear_bar (&d);
  if (mtrun_global.json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "event");
    json_builder_add_string_value (b, "summary");
    json_builder_set_member_name (b, "ok");
    json_builder_add_boolean_value (b, ok);
    json_builder_set_member_name (b, "cached");
    json_builder_add_int_value (b, d.cached);
    json_builder_set_member_name (b, "ran");
    json_builder_add_int_value (b, d.ran);
    json_builder_set_member_name (b, "failed");
    json_builder_add_int_value (b, d.failed);
    json_builder_set_member_name (b, "skipped");
    json_builder_add_int_value (b, d.skipped);
    json_builder_set_member_name (b, "seconds");
    json_builder_add_double_value (b, secs);
    if (!ok) {
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, err->message);
    }
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    mtrun_print_json (root);
  } else if (!mtrun_global.quiet) {
    guint total = d.cached + d.ran + d.failed + d.skipped;
    g_autofree char *skipped = d.skipped ? g_strdup_printf (", %u skipped", d.skipped) : g_strdup ("");
    fprintf (stderr, "%u node%s: %u ran, %u cached, %u failed%s in %.2f s\n", total,
             total == 1 ? "" : "s", d.ran, d.cached, d.failed, skipped, secs);
  }
  if (!ok)
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);
  if (!mtrun_global.json && !mtrun_global.quiet && headlines->len) {
    fputs (headlines->str, stdout);
    fflush (stdout);
  }
  return 0;
}
