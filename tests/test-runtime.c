/* The runtime: cache keys, early cutoff, execution order and parallelism, status
 * reasons, corrupt entries, failures, --only, and source fingerprints. */
#include "tests/mt-test-util.h"

#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

typedef struct {
  GHashTable *keys;      /* node name -> key */
  GHashTable *state;     /* node name -> "cached" | "finished" | "failed" | "skipped" */
  GHashTable *start_us;  /* node name -> gint64* */
  GHashTable *end_us;
  GPtrArray *warnings;
  GPtrArray *order;      /* node names in FINISHED/CACHED order */
} Events;

static void
events_clear (Events *ev)
{
  g_hash_table_unref (ev->keys);
  g_hash_table_unref (ev->state);
  g_hash_table_unref (ev->start_us);
  g_hash_table_unref (ev->end_us);
  g_ptr_array_unref (ev->warnings);
  g_ptr_array_unref (ev->order);
}

static void
on_event (const MtEvent *e, gpointer user_data)
{
  Events *ev = user_data;
  const char *name = e->node->name;
  switch (e->type) {
  case MT_EVENT_FINISHED:
    g_hash_table_insert (ev->start_us, g_strdup (name), g_memdup2 (&e->start_us, sizeof (gint64)));
    g_hash_table_insert (ev->end_us, g_strdup (name), g_memdup2 (&e->end_us, sizeof (gint64)));
    G_GNUC_FALLTHROUGH;
  case MT_EVENT_CACHED:
    g_hash_table_insert (ev->keys, g_strdup (name), g_strdup (e->manifest->key));
    g_hash_table_insert (ev->state, g_strdup (name), g_strdup (e->type == MT_EVENT_CACHED ? "cached" : "finished"));
    g_ptr_array_add (ev->order, g_strdup (name));
    break;
  case MT_EVENT_FAILED:
    g_hash_table_insert (ev->state, g_strdup (name), g_strdup ("failed"));
    break;
  case MT_EVENT_SKIPPED:
    g_hash_table_insert (ev->state, g_strdup (name), g_strdup ("skipped"));
    break;
  case MT_EVENT_WARNING:
    g_ptr_array_add (ev->warnings, g_strdup (e->message));
    break;
  default:
    break;
  }
}

/* Loads @src (with --set @sets) and runs it on the cache in @dir. */
static gboolean
run_pipe (const char *dir, const char *src, const char *const *sets, guint jobs, Events *ev,
          GError **error)
{
  ev->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  ev->state = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  ev->start_us = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  ev->end_us = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  ev->warnings = g_ptr_array_new_with_free_func (g_free);
  ev->order = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *pipe = mt_test_write (dir, "p.pipe", src);
  g_autoptr (MtDag) g = mt_graph_load_file (pipe, mt_test_registry (), sets, error);
  ck_assert_msg (g != NULL, "%s", *error ? (*error)->message : "");
  g_autofree char *cdir = g_build_filename (dir, "cache", NULL);
  g_autoptr (MtCache) cache = mt_cache_open (cdir, error);
  ck_assert (cache != NULL);
  MtRunOptions opts = { .jobs = jobs, .on_event = on_event, .user_data = ev };
  return mt_executor_run (g, cache, &opts, error);
}

static const char *
st (Events *ev, const char *node)
{
  const char *s = g_hash_table_lookup (ev->state, node);
  return s ? s : "none";
}

static const char *chain =
  "param v = 1.5\n"
  "a = fill(value=$v)\n"
  "b = scale(a, factor=3)\n"
  "s = sign(b)\n"
  "c = scale(s, factor=10)\n"
  "other = fill(value=7)\n"
  "o2 = scale(other)\n"
  "j = add(c, b=o2)\n";

START_TEST (rerun_is_fully_cached)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *log = g_build_filename (dir, "runs.log", NULL);
  g_setenv ("MT_TEST_RUN_LOG", log, TRUE);
  Events e1, e2;
  g_autoptr (GError) err = NULL;
  ck_assert_msg (run_pipe (dir, chain, NULL, 2, &e1, &err), "%s", err ? err->message : "");
  ck_assert_uint_eq (g_hash_table_size (e1.keys), 7);
  ck_assert (run_pipe (dir, chain, NULL, 2, &e2, &err));
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, e2.state);
  while (g_hash_table_iter_next (&it, &k, &v))
    ck_assert_msg (g_strcmp0 (v, "cached") == 0, "%s was %s on rerun", (char *) k, (char *) v);
  g_hash_table_iter_init (&it, e1.keys);
  while (g_hash_table_iter_next (&it, &k, &v))
    ck_assert_str_eq (v, g_hash_table_lookup (e2.keys, k));
  ck_assert_uint_eq (mt_test_count_lines (log, "a"), 1);
  ck_assert_uint_eq (mt_test_count_lines (log, "j"), 1);
  events_clear (&e1);
  events_clear (&e2);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (one_property_changes_that_key_and_descendants)
{
  g_autofree char *dir = mt_test_tmpdir ();
  Events e1, e2;
  g_autoptr (GError) err = NULL;
  ck_assert (run_pipe (dir, chain, NULL, 2, &e1, &err));
  const char *sets[] = { "c.factor=20", NULL };
  ck_assert (run_pipe (dir, chain, sets, 2, &e2, &err));
  const char *same[] = { "a", "b", "s", "other", "o2" };
  const char *changed[] = { "c", "j" };
  for (guint i = 0; i < G_N_ELEMENTS (same); i++) {
    ck_assert_str_eq (g_hash_table_lookup (e1.keys, same[i]), g_hash_table_lookup (e2.keys, same[i]));
    ck_assert_str_eq (st (&e2, same[i]), "cached");
  }
  for (guint i = 0; i < G_N_ELEMENTS (changed); i++) {
    ck_assert_str_ne (g_hash_table_lookup (e1.keys, changed[i]), g_hash_table_lookup (e2.keys, changed[i]));
    ck_assert_str_eq (st (&e2, changed[i]), "finished");
  }
  events_clear (&e1);
  events_clear (&e2);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (early_cutoff)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *log = g_build_filename (dir, "runs.log", NULL);
  g_setenv ("MT_TEST_RUN_LOG", log, TRUE);
  Events e1, e2;
  g_autoptr (GError) err = NULL;
  ck_assert (run_pipe (dir, chain, NULL, 1, &e1, &err));
  /* v 1.5 -> 2.5: a and b change, but sign(b) has the same bytes, so c and j do not rerun. */
  const char *sets[] = { "v=2.5", NULL };
  ck_assert (run_pipe (dir, chain, sets, 1, &e2, &err));
  ck_assert_str_eq (st (&e2, "a"), "finished");
  ck_assert_str_eq (st (&e2, "b"), "finished");
  ck_assert_str_eq (st (&e2, "s"), "finished");
  ck_assert_str_eq (st (&e2, "c"), "cached");
  ck_assert_str_eq (st (&e2, "j"), "cached");
  ck_assert_str_eq (g_hash_table_lookup (e1.keys, "c"), g_hash_table_lookup (e2.keys, "c"));
  ck_assert_uint_eq (mt_test_count_lines (log, "s"), 2);
  ck_assert_uint_eq (mt_test_count_lines (log, "c"), 1);
  events_clear (&e1);
  events_clear (&e2);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

static gint64
us (GHashTable *h, const char *name)
{
  gint64 *p = g_hash_table_lookup (h, name);
  ck_assert_msg (p != NULL, "no time for %s", name);
  return *p;
}

START_TEST (order_and_parallelism)
{
  const char *src =
    "a = fill()\n"
    "d1 = delay(a, ms=300)\n"
    "d2 = delay(a, ms=301)\n"
    "j = add(d1, b=d2)\n";
  for (guint jobs = 1; jobs <= 2; jobs++) {
    g_autofree char *dir = mt_test_tmpdir ();
    Events ev;
    g_autoptr (GError) err = NULL;
    ck_assert (run_pipe (dir, src, NULL, jobs, &ev, &err));
    /* Dependencies first, whatever the parallelism. */
    ck_assert (us (ev.start_us, "d1") >= us (ev.end_us, "a"));
    ck_assert (us (ev.start_us, "d2") >= us (ev.end_us, "a"));
    ck_assert (us (ev.start_us, "j") >= us (ev.end_us, "d1"));
    ck_assert (us (ev.start_us, "j") >= us (ev.end_us, "d2"));
    gboolean overlap = us (ev.start_us, "d1") < us (ev.end_us, "d2") &&
                       us (ev.start_us, "d2") < us (ev.end_us, "d1");
    /* Two independent 300 ms nodes overlap with two threads, never with one. */
    ck_assert_msg (overlap == (jobs == 2), "jobs=%u overlap=%d", jobs, overlap);
    events_clear (&ev);
    mt_file_remove_tree (dir, NULL);
  }
}
END_TEST

static MtPlanItem *
plan_item (MtPlan *plan, const char *name)
{
  for (guint i = 0; i < plan->items->len; i++) {
    MtPlanItem *it = plan->items->pdata[i];
    if (g_strcmp0 (it->node->name, name) == 0)
      return it;
  }
  ck_abort_msg ("no plan item %s", name);
  return NULL;
}

static char *
reasons (MtPlanItem *it)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < it->reasons->len; i++)
    g_string_append_printf (s, "%s%s", i ? "; " : "", (char *) it->reasons->pdata[i]);
  return g_string_free (s, FALSE);
}

/* Plans point into their graphs: the graphs live until the test's process ends. */
static GPtrArray *graphs;

static MtPlan *
plan_for (const char *dir, const char *src, const char *const *sets, GHashTable *forced_names)
{
  if (!graphs)
    graphs = g_ptr_array_new_with_free_func ((GDestroyNotify) mt_dag_free);
  g_autofree char *pipe = g_build_filename (dir, "p.pipe", NULL);
  ck_assert (g_file_set_contents (pipe, src, -1, NULL));
  g_autoptr (GError) err = NULL;
  MtDag *g = mt_graph_load_file (pipe, mt_test_registry (), sets, &err);
  ck_assert (g != NULL);
  g_autofree char *cdir = g_build_filename (dir, "cache", NULL);
  g_autoptr (MtCache) cache = mt_cache_open (cdir, &err);
  g_autoptr (GHashTable) forced = NULL;
  if (forced_names) {
    forced = g_hash_table_new (NULL, NULL);
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init (&it, forced_names);
    while (g_hash_table_iter_next (&it, &k, NULL))
      g_hash_table_add (forced, mt_dag_find (g, k));
  }
  g_ptr_array_add (graphs, g);
  return mt_plan_compute (g, cache, forced);
}

START_TEST (status_reasons)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autoptr (MtPlan) p0 = plan_for (dir, chain, NULL, NULL);
  ck_assert_int_eq (plan_item (p0, "a")->state, MT_PLAN_RUN);
  g_autofree char *r0 = reasons (plan_item (p0, "a"));
  ck_assert_str_eq (r0, "never run");
  g_autofree char *r0b = reasons (plan_item (p0, "b"));
  ck_assert_str_eq (r0b, "input 'x' will be recomputed by 'a'");

  Events ev;
  g_autoptr (GError) err = NULL;
  ck_assert (run_pipe (dir, chain, NULL, 2, &ev, &err));
  events_clear (&ev);
  g_autoptr (MtPlan) p1 = plan_for (dir, chain, NULL, NULL);
  for (guint i = 0; i < p1->items->len; i++)
    ck_assert_int_eq (((MtPlanItem *) p1->items->pdata[i])->state, MT_PLAN_CACHED);

  const char *sets[] = { "b.factor=4", NULL };
  g_autoptr (MtPlan) p2 = plan_for (dir, chain, sets, NULL);
  ck_assert_int_eq (plan_item (p2, "a")->state, MT_PLAN_CACHED);
  ck_assert_int_eq (plan_item (p2, "other")->state, MT_PLAN_CACHED);
  g_autofree char *r2 = reasons (plan_item (p2, "b"));
  ck_assert_str_eq (r2, "property 'factor' changed: 3 → 4");
  g_autofree char *r2s = reasons (plan_item (p2, "s"));
  ck_assert_str_eq (r2s, "input 'x' will be recomputed by 'b'");
  ck_assert_ptr_null (plan_item (p2, "s")->key);

  g_autoptr (GHashTable) forced = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_add (forced, (gpointer) "other");
  g_autoptr (MtPlan) p3 = plan_for (dir, chain, NULL, forced);
  g_autofree char *r3 = reasons (plan_item (p3, "other"));
  ck_assert_str_eq (r3, "forced");
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (corrupt_entry_is_detected_and_recomputed)
{
  g_autofree char *dir = mt_test_tmpdir ();
  Events e1, e2, e3;
  g_autoptr (GError) err = NULL;
  ck_assert (run_pipe (dir, chain, NULL, 2, &e1, &err));
  /* Flip one byte of b's output: same size, wrong digest. */
  g_autofree char *cdir = g_build_filename (dir, "cache", NULL);
  g_autoptr (MtCache) cache = mt_cache_open (cdir, &err);
  g_autoptr (MtManifest) m = mt_cache_lookup (cache, g_hash_table_lookup (e1.keys, "b"), &err);
  ck_assert (m != NULL);
  g_autofree char *obj = mt_cache_output_path (cache, m->outputs->pdata[0]);
  g_autofree char *data = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (obj, &data, &len, NULL));
  data[len - 1] ^= 0x40;
  g_chmod (obj, 0644);
  ck_assert (g_file_set_contents (obj, data, len, NULL));
  ck_assert (!mt_cache_verify (cache, m, TRUE, &err));
  ck_assert_msg (strstr (err->message, "does not match its digest"), "%s", err->message);
  g_clear_error (&err);

  ck_assert (run_pipe (dir, chain, NULL, 2, &e2, &err));
  ck_assert_uint_eq (e2.warnings->len, 1);
  ck_assert_msg (strstr (e2.warnings->pdata[0], "corrupt"), "%s", (char *) e2.warnings->pdata[0]);
  ck_assert_str_eq (st (&e2, "b"), "finished");
  ck_assert_str_eq (st (&e2, "s"), "cached");  /* same bytes again: downstream untouched */
  ck_assert (mt_cache_verify (cache, m, TRUE, &err));
  /* A truncated object is caught by its size. */
  ck_assert (truncate (obj, 10) == 0);
  ck_assert (run_pipe (dir, chain, NULL, 2, &e3, &err));
  ck_assert_uint_eq (e3.warnings->len, 1);
  ck_assert_msg (strstr (e3.warnings->pdata[0], "bytes, the manifest says"), "%s", (char *) e3.warnings->pdata[0]);
  events_clear (&e1);
  events_clear (&e2);
  events_clear (&e3);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (failure_skips_dependents)
{
  g_autofree char *dir = mt_test_tmpdir ();
  const char *src = "a = fill()\nbad = delay(a, ms=0, fail=true)\nafter = scale(bad)\n";
  Events ev;
  g_autoptr (GError) err = NULL;
  ck_assert (!run_pipe (dir, src, NULL, 2, &ev, &err));
  ck_assert_msg (strstr (err->message, "node 'bad' (delay) failed: failing as asked"), "%s", err->message);
  ck_assert_str_eq (st (&ev, "bad"), "failed");
  ck_assert_str_eq (st (&ev, "after"), "skipped");
  g_autofree char *cdir = g_build_filename (dir, "cache", NULL);
  g_autoptr (MtCache) cache = mt_cache_open (cdir, &err);
  g_autoptr (GPtrArray) keys = mt_cache_list_keys (cache, &err);
  ck_assert_uint_eq (keys->len, 1);  /* only a's entry: nothing of the failed node */
  events_clear (&ev);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (fingerprint_of_source_file)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *npy = g_build_filename (dir, "in.npy", NULL);
  gint64 shape[] = { 3 };
  g_autoptr (MtTensor) t = mt_tensor_new (MT_DTYPE_F32, 1, shape);
  ((float *) t->data)[0] = 1;
  g_autoptr (GError) err = NULL;
  ck_assert (mt_npy_save (t, npy, &err));
  g_autofree char *src = g_strdup_printf ("x = npy_file(path=\"%s\")\ny = scale(x)\n", npy);
  Events e1, e2;
  ck_assert (run_pipe (dir, src, NULL, 1, &e1, &err));
  ((float *) t->data)[0] = 2;
  ck_assert (mt_npy_save (t, npy, &err));
  g_autoptr (MtPlan) plan = plan_for (dir, src, NULL, NULL);
  g_autofree char *r = reasons (plan_item (plan, "x"));
  ck_assert_str_eq (r, "its source data changed");
  ck_assert (run_pipe (dir, src, NULL, 1, &e2, &err));
  ck_assert_str_eq (st (&e2, "x"), "finished");
  ck_assert_str_eq (st (&e2, "y"), "finished");
  events_clear (&e1);
  events_clear (&e2);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (manifest_contents)
{
  g_autofree char *dir = mt_test_tmpdir ();
  Events ev;
  g_autoptr (GError) err = NULL;
  ck_assert (run_pipe (dir, "d = toy_data(n=4)\nm = toy_model(d)\n", NULL, 1, &ev, &err));
  g_autofree char *cdir = g_build_filename (dir, "cache", NULL);
  g_autoptr (MtCache) cache = mt_cache_open (cdir, &err);
  g_autoptr (MtManifest) m = mt_cache_lookup (cache, g_hash_table_lookup (ev.keys, "m"), &err);
  JsonObject *o = json_node_get_object (m->root);
  ck_assert_str_eq (json_object_get_string_member (o, "node"), "m");
  ck_assert_str_eq (json_object_get_string_member (o, "type"), "toy_model");
  ck_assert_str_eq (json_object_get_string_member (o, "backend"), "cpu");
  ck_assert_str_eq (json_object_get_string_member (o, "masktune_version"), MT_VERSION_STRING);
  ck_assert (json_object_has_member (o, "started") && json_object_has_member (o, "duration"));
  JsonObject *in = json_object_get_object_member (json_object_get_object_member (o, "inputs"), "dataset");
  ck_assert_str_eq (json_object_get_string_member (in, "from"), "d.dataset");
  MtCacheOutput *out = m->outputs->pdata[0];
  ck_assert_str_eq (out->kind, "model");
  ck_assert (g_str_has_suffix (out->file, ".safetensors"));
  JsonObject *oo = json_array_get_object_element (json_object_get_array_member (o, "outputs"), 0);
  JsonObject *w = json_object_get_object_member (json_object_get_object_member (oo, "tensors"), "weight");
  ck_assert_str_eq (json_object_get_string_member (w, "dtype"), "float32");
  /* The input digest recorded is the digest of d's output file. */
  g_autoptr (MtManifest) md = mt_cache_lookup (cache, g_hash_table_lookup (ev.keys, "d"), &err);
  ck_assert_str_eq (json_object_get_string_member (in, "digest"), ((MtCacheOutput *) md->outputs->pdata[0])->digest);
  g_autofree char *p = mt_cache_output_path (cache, out);
  g_autofree char *d = mt_file_sha256 (p, NULL, &err);
  ck_assert_str_eq (d, out->digest);
  events_clear (&ev);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("runtime");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, rerun_is_fully_cached);
  tcase_add_test (tc, one_property_changes_that_key_and_descendants);
  tcase_add_test (tc, early_cutoff);
  tcase_add_test (tc, order_and_parallelism);
  tcase_add_test (tc, status_reasons);
  tcase_add_test (tc, corrupt_entry_is_detected_and_recomputed);
  tcase_add_test (tc, failure_skips_dependents);
  tcase_add_test (tc, fingerprint_of_source_file);
  tcase_add_test (tc, manifest_contents);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}
