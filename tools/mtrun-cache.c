/* mtrun cache ls | show | export | verify | gc */
#include "tools/mtrun.h"
#include "tools/mtrun-table.h"
#include "base/mt-number.h"

#include <errno.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>

static gboolean gc_dry_run;
static char *pipeline;
static char **cache_sets;
static char *ls_node;

static const GOptionEntry cache_entries[] = {
  { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &gc_dry_run, "gc: list what would be removed, remove nothing", NULL },
  { "pipeline", 'p', 0, G_OPTION_ARG_FILENAME, &pipeline,
    "show, export: NODE of this pipeline's latest run (default: the newest entry of any node so named); "
    "ls: only this pipeline's entries", "FILE" },
  { "node", 0, 0, G_OPTION_ARG_STRING, &ls_node, "ls: only the entries of nodes so named", "NAME" },
  { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &cache_sets,
    "show, export: with -p, the run with these overrides (as given to mtrun run; default: the file as written)",
    "NAME=VALUE" },
  G_OPTION_ENTRY_NULL
};

static int
cmp_started_desc (gconstpointer a, gconstpointer b)
{
  MtManifest *x = *(MtManifest *const *) a, *y = *(MtManifest *const *) b;
  return -g_strcmp0 (x->started, y->started);
}

/* Every readable manifest, newest first; unreadable ones are reported in *bad. */
static GPtrArray *
load_all (MtCache *cache, GPtrArray *bad, GError **error)
{
  g_autoptr (GPtrArray) keys = mt_cache_list_keys (cache, error);
  if (!keys)
    return NULL;
  GPtrArray *all = g_ptr_array_new_with_free_func ((GDestroyNotify) mt_manifest_free);
  for (guint i = 0; i < keys->len; i++) {
    g_autoptr (GError) err = NULL;
    MtManifest *m = mt_cache_lookup (cache, keys->pdata[i], &err);
    if (m)
      g_ptr_array_add (all, m);
    else if (err && bad)
      g_ptr_array_add (bad, g_strdup_printf ("entry %s: %s", (char *) keys->pdata[i], err->message));
  }
  g_ptr_array_sort (all, cmp_started_desc);
  return all;
}

static gint64
entry_size (MtManifest *m)
{
  gint64 s = 0;
  for (guint i = 0; i < m->outputs->len; i++)
    s += ((MtCacheOutput *) m->outputs->pdata[i])->size;
  return s;
}

/* NODE is a node name (its newest entry, or with --pipeline that pipeline's latest run)
 * or a key prefix of at least 6 hex digits. */
static MtManifest *
find_entry (MtCache *cache, GPtrArray *all, const char *what, GError **error)
{
  if (pipeline) {
    g_autofree char *variant = mt_graph_variant_name (pipeline, (const char *const *) cache_sets);
    g_autofree char *key = mt_cache_get_ref (cache, variant, what);
    for (guint i = 0; key && i < all->len; i++)
      if (g_strcmp0 (((MtManifest *) all->pdata[i])->key, key) == 0)
        return all->pdata[i];
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "no cached result of node '%s' of %s%s (run it first)", what,
                 pipeline, cache_sets ? " with these --set values" : " as written");
    return NULL;
  }
  if (cache_sets) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "--set needs -p FILE.pipe: the overrides name a run of a pipeline");
    return NULL;
  }
  MtManifest *by_key = NULL, *by_name = NULL;
  guint key_hits = 0;
  g_autoptr (GPtrArray) pipelines = g_ptr_array_new ();
  for (guint i = 0; i < all->len; i++) {
    MtManifest *m = all->pdata[i];
    if (g_strcmp0 (m->node, what) == 0) {
      const char *pl = mt_json_string (json_node_get_object (m->root), "pipeline", "");
      if (!by_name)
        by_name = m;  /* newest first */
      if (!g_ptr_array_find_with_equal_func (pipelines, pl, g_str_equal, NULL))
        g_ptr_array_add (pipelines, (gpointer) pl);
    }
    if (strlen (what) >= 6 && g_str_has_prefix (m->key, what)) {
      by_key = m;
      key_hits++;
    }
  }
  /* A node of that name in several pipelines: which one is not ours to guess. */
  if (pipelines->len > 1) {
    GString *s = g_string_new (NULL);
    for (guint i = 0; i < pipelines->len; i++) {
      g_autofree char *esc = mtrun_escape (pipelines->pdata[i]);
      g_string_append_printf (s, "%s%s", i ? ", " : "", esc);
    }
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "node '%s' is in the cache for %u pipelines; say which with "
                 "-p FILE.pipe: %s", what, pipelines->len, s->str);
    g_string_free (s, TRUE);
    return NULL;
  }
  if (by_name)
    return by_name;
  if (key_hits == 1)
    return by_key;
  if (key_hits > 1)
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "key prefix '%s' is ambiguous", what);
  else
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "no cache entry for node or key '%s'", what);
  return NULL;
}

/* @path as the user would type it from here: relative below the current folder. */
static char *
shown_path (const char *path)
{
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *prefix = g_strconcat (cwd, G_DIR_SEPARATOR_S, NULL);
  return mtrun_escape (g_str_has_prefix (path, prefix) ? path + strlen (prefix) : path);
}

/* For each entry, the properties whose values differ among the listed entries of the same
 * node and type ("lr=0.02, epochs=3"): what tells two runs of one node apart. */
static GPtrArray *
differing_properties (GPtrArray *rows)
{
  g_autoptr (GHashTable) groups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                         (GDestroyNotify) g_ptr_array_unref);
  for (guint i = 0; i < rows->len; i++) {
    MtManifest *m = rows->pdata[i];
    g_autofree char *id = g_strdup_printf ("%s\x1f%s", m->node, m->type);
    GPtrArray *grp = g_hash_table_lookup (groups, id);
    if (!grp) {
      grp = g_ptr_array_new ();
      g_hash_table_insert (groups, g_steal_pointer (&id), grp);
    }
    g_ptr_array_add (grp, m);
  }
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < rows->len; i++) {
    MtManifest *m = rows->pdata[i];
    g_autofree char *id = g_strdup_printf ("%s\x1f%s", m->node, m->type);
    GPtrArray *grp = g_hash_table_lookup (groups, id);
    JsonObject *props = mt_json_object (json_node_get_object (m->root), "properties");
    g_autoptr (GList) names = g_hash_table_get_keys (m->properties);
    names = g_list_sort (names, (GCompareFunc) strcmp);
    GString *d = g_string_new (NULL);
    for (GList *l = names; l; l = l->next) {
      const char *v = g_hash_table_lookup (m->properties, l->data);
      gboolean differs = FALSE;
      for (guint k = 0; k < grp->len && !differs; k++)
        differs = g_strcmp0 (v, g_hash_table_lookup (((MtManifest *) grp->pdata[k])->properties, l->data)) != 0;
      if (!differs)
        continue;
      JsonNode *shown = props ? json_object_get_member (props, l->data) : NULL;
      g_autofree char *text = shown ? mt_json_to_string (shown, FALSE) : g_strdup (v);
      g_autofree char *esc = mtrun_escape (text);
      g_autofree char *name = mtrun_escape (l->data);
      g_string_append_printf (d, "%s%s=%s", d->len ? ", " : "", name, esc);
    }
    g_ptr_array_add (out, g_string_free (d, FALSE));
  }
  return out;
}

static int
cmd_ls (MtCache *cache)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) all = load_all (cache, NULL, &err);
  if (!all)
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);
  g_autofree char *want_pipeline = pipeline ? g_canonicalize_filename (pipeline, NULL) : NULL;
  g_autoptr (GPtrArray) rows = g_ptr_array_new ();
  for (guint i = 0; i < all->len; i++) {
    MtManifest *m = all->pdata[i];
    const char *pl = mt_json_string (json_node_get_object (m->root), "pipeline", "");
    if ((want_pipeline && g_strcmp0 (pl, want_pipeline) != 0) || (ls_node && g_strcmp0 (m->node, ls_node) != 0))
      continue;
    g_ptr_array_add (rows, m);
  }
  if (mtrun_global.json) {
    for (guint i = 0; i < rows->len; i++)
      mtrun_print_json (((MtManifest *) rows->pdata[i])->root);
    return 0;
  }
  g_autoptr (GPtrArray) differs = differing_properties (rows);
  const char *header[] = { "KEY", "NODE", "TYPE", "PIPELINE", "STARTED", ">SECONDS", ">SIZE", "MADE ON", "DIFFERS",
                           NULL };
  g_autoptr (MtrunTable) t = mtrun_table_new (header);
  gint64 total = 0;
  for (guint i = 0; i < rows->len; i++) {
    MtManifest *m = rows->pdata[i];
    /* Manifests are untrusted: no byte of one reaches the terminal as a control code. */
    g_autofree char *key = g_strndup (m->key, 12);
    g_autofree char *node = mtrun_escape (m->node);
    g_autofree char *type = mtrun_escape (m->type);
    g_autofree char *pl = shown_path (mt_json_string (json_node_get_object (m->root), "pipeline", ""));
    g_autofree char *start = g_strndup (m->started, 19);
    g_autofree char *when = mtrun_escape (start);
    g_strdelimit (when, "T", ' ');
    g_autofree char *secs = g_strdup_printf ("%.2f", m->duration);
    gint64 bytes = entry_size (m);
    total += bytes;
    g_autofree char *size = mt_number_format_size (bytes);
    g_autofree char *made = mt_manifest_made_on (m);
    g_autofree char *made_on = mtrun_escape (made);
    const char *cells[] = { key, node, type, pl, when, secs, size, made_on, differs->pdata[i], NULL };
    mtrun_table_add (t, cells);
  }
  mtrun_table_print (t, stdout);
  g_autofree char *sum = mt_number_format_size (total);
  printf ("%u entr%s, %s of outputs (an object shared by several entries counts in each)\n", rows->len,
          rows->len == 1 ? "y" : "ies", sum);
  return 0;
}

static int
cmd_show (MtCache *cache, const char *what)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) all = load_all (cache, NULL, &err);
  MtManifest *m = all ? find_entry (cache, all, what, &err) : NULL;
  if (!m)
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);
  g_autofree char *s = mt_json_to_string (m->root, !mtrun_global.json);
  printf ("%s\n", s);
  if (!mtrun_global.json)
    for (guint i = 0; i < m->outputs->len; i++) {
      g_autofree char *p = mt_cache_output_path (cache, m->outputs->pdata[i]);
      printf ("output %s: %s\n", ((MtCacheOutput *) m->outputs->pdata[i])->port, p);
    }
  return 0;
}

static gboolean
export_preview (const char *src, const char *dir, const char *node, const char *port, GError **error)
{
  g_autoptr (MtBundle) b = mt_safetensors_load (src, error);
  if (!b)
    return FALSE;
  if (!mt_dataset_check (b, src, error))
    return FALSE;
  guint n = 0;
  g_autofree gint64 *rows = mt_dataset_pick (b, MT_DATASET_PICK_PER_GROUP, 64, 0, &n);
  g_autoptr (MtTensor) grid = mt_dataset_render_grid (b, rows, n, 16, 2, error);
  if (!grid)
    return FALSE;
  g_autofree char *name = g_strdup_printf ("%s.%s.png", node, port);
  g_autofree char *dst = g_build_filename (dir, name, NULL);
  /* Written beside and renamed over: a link at @dst is replaced, never written through. */
  g_autofree char *tmp = g_strdup_printf ("%s.tmp-%d-%u", dst, (int) getpid (), g_random_int ());
  if (!mt_png_save (grid, tmp, error) || g_rename (tmp, dst) != 0) {
    if (error && !*error)
      g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot write %s: %s", dst, g_strerror (errno));
    g_unlink (tmp);
    return FALSE;
  }
  if (!mtrun_global.quiet)
    printf ("%s\n", dst);
  return TRUE;
}

static int
cmd_export (MtCache *cache, const char *what, const char *dir)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) all = load_all (cache, NULL, &err);
  MtManifest *m = all ? find_entry (cache, all, what, &err) : NULL;
  if (!m)
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);
  if (!mt_cache_verify (cache, m, MT_CACHE_VERIFY_DIGESTS, &err))
    return mtrun_fail (MTRUN_EXIT_FAILURE, "entry %.12s (%s) is corrupt: %s; rerun its pipeline",
                       m->key, m->node, err->message);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    return mtrun_fail (MTRUN_EXIT_FAILURE, "cannot create %s: %s", dir, g_strerror (errno));
  for (guint i = 0; i < m->outputs->len; i++) {
    MtCacheOutput *o = m->outputs->pdata[i];
    g_autofree char *src = mt_cache_output_path (cache, o);
    /* Only validated parts make the name (mt_manifest_parse checked node, port and kind):
     * it cannot hold a '/', so nothing is written outside DIR. */
    MtKind kind = MT_KIND_TENSOR;
    mt_kind_from_name (o->kind, &kind);
    g_autofree char *name = g_strdup_printf ("%s.%s.%s", m->node, o->port, mt_kind_extension (kind));
    g_autofree char *dst = g_build_filename (dir, name, NULL);
    if (!mt_file_copy (src, dst, &err))
      return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);
    if (!mtrun_global.quiet)
      printf ("%s\n", dst);
    /* A dataset also gets a picture of its first samples, for a quick look. */
    if (g_strcmp0 (o->kind, "dataset") == 0 && !export_preview (src, dir, m->node, o->port, &err))
      return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);
  }
  g_autofree char *mname = g_strdup_printf ("%s.manifest.json", m->node);
  g_autofree char *mdst = g_build_filename (dir, mname, NULL);
  g_autofree char *text = mt_json_to_string (m->root, TRUE);
  if (!mt_file_write_atomic (mdst, text, strlen (text), &err))
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);
  if (!mtrun_global.quiet)
    printf ("%s\n", mdst);
  return 0;
}

static guint
count_files (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  while (d && g_dir_read_name (d))
    n++;
  return n;
}

static int
cmd_verify (MtCache *cache)
{
  g_autoptr (GError) err = NULL;
  if (!mt_cache_lock_shared (cache, &err))
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);
  g_autoptr (GPtrArray) bad = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) all = load_all (cache, bad, &err);
  if (!all)
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);
  guint objects = 0;
  MtRegistry *reg = mtrun_registry ();
  for (guint i = 0; i < all->len; i++) {
    MtManifest *m = all->pdata[i];
    g_autoptr (GError) verr = NULL;
    GType type = mt_registry_lookup (reg, m->type);
    MtNodeClass *klass = type ? g_type_class_ref (type) : NULL;
    gboolean fits = !klass || mt_manifest_matches_class (m, klass, &verr);
    if (klass)
      g_type_class_unref (klass);
    if (!fits || !mt_cache_verify (cache, m, MT_CACHE_VERIFY_REHASH, &verr))
      g_ptr_array_add (bad, g_strdup_printf ("entry %.12s (%s, %s): %s", m->key, m->node, m->type, verr->message));
    objects += m->outputs->len;
  }
  g_autofree char *tmp = g_build_filename (mt_cache_get_dir (cache), "tmp", NULL);
  guint leftovers = count_files (tmp);
  for (guint i = 0; i < bad->len; i++)
    printf ("CORRUPT %s\n", (char *) bad->pdata[i]);
  if (!mtrun_global.quiet)
    printf ("%u entr%s, %u output%s checked: %s%s\n", all->len, all->len == 1 ? "y" : "ies", objects,
            objects == 1 ? "" : "s", bad->len ? "problems found" : "all good",
            leftovers ? " (temporary files of interrupted runs remain; 'mtrun cache gc' removes them)" : "");
  return bad->len ? MTRUN_EXIT_FAILURE : 0;
}

static void
print_gc_item (const char *path, const char *why, gpointer user_data)
{
  if (!mtrun_global.quiet)
    printf ("%s %s (%s)\n", gc_dry_run ? "would remove" : "removed", path, why);
}

static int
cmd_gc (MtCache *cache)
{
  g_autoptr (GError) err = NULL;
  gint64 bytes = 0;
  guint count = 0;
  if (!mt_cache_gc (cache, mtrun_registry (), gc_dry_run, print_gc_item, NULL, &bytes, &count, &err))
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);
  if (!mtrun_global.quiet)
    printf ("%s %u item%s, %.1f MiB\n", gc_dry_run ? "would free" : "freed", count, count == 1 ? "" : "s",
            bytes / 1048576.0);
  return 0;
}

int
mtrun_cmd_cache (int argc, char **argv)
{
  g_autoptr (GOptionContext) oc = g_option_context_new ("ls | show NODE | export NODE DIR | verify | gc");
  g_option_context_set_summary (oc,
    "Inspects and maintains the cache.\n\n"
    "  ls                 list entries, newest first\n"
    "  show NODE          a node's newest manifest (NODE: node name or key prefix)\n"
    "  export NODE DIR    copy a node's outputs to DIR as ordinary files\n"
    "  verify             check every entry's files against their sizes and digests\n"
    "  gc                 remove superseded entries, unreferenced objects, leftovers");
  g_option_context_add_main_entries (oc, cache_entries, NULL);
  mtrun_add_common_options (oc);
  g_autoptr (GError) err = NULL;
  if (!mtrun_parse_options (oc, &argc, &argv, &err))
    return mtrun_fail (MTRUN_EXIT_USAGE, "%s", err->message);
  if (argc < 2)
    return mtrun_fail (MTRUN_EXIT_USAGE, "usage: mtrun cache ls|show|export|verify|gc (see --help)");
  const char *sub = argv[1];
  g_autoptr (MtCache) cache = mtrun_open_cache (pipeline, &err);
  if (!cache)
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);
  if (g_strcmp0 (sub, "ls") == 0 && argc == 2)
    return cmd_ls (cache);
  if (g_strcmp0 (sub, "show") == 0 && argc == 3)
    return cmd_show (cache, argv[2]);
  if (g_strcmp0 (sub, "export") == 0 && argc == 4)
    return cmd_export (cache, argv[2], argv[3]);
  if (g_strcmp0 (sub, "verify") == 0 && argc == 2)
    return cmd_verify (cache);
  if (g_strcmp0 (sub, "gc") == 0 && argc == 2)
    return cmd_gc (cache);
  return mtrun_fail (MTRUN_EXIT_USAGE, "usage: mtrun cache ls | show NODE | export NODE DIR | verify | gc [--dry-run]");
}
