/* Reliability of real runs: SIGKILL at many points of a MaskTune pipeline and a rerun
 * that ends where an uninterrupted run does; a full disk (a file-size limit) that fails
 * cleanly; four processes on one cache running the same and overlapping pipelines;
 * bad input of every kind getting one clear line and leaving the cache sound. */
#include "tests/mt-test-util.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* MaskTune end to end on a slice of the bundled digits: a few seconds. */
static const char *small =
  "train = mnist(limit=800)\n"
  "test = mnist(split=\"test\", limit=400)\n"
  "biased = biaser(train, conflict_ratio=0.01)\n"
  "raw_test = biaser(test, mode=\"raw\")\n"
  "erm = trainer(biased, epochs=3, batch_size=64, seed=3)\n"
  "cam = xgradcam(erm, biased)\n"
  "masked = masker(biased, cam)\n"
  "ft = finetuner(erm, masked.dataset, state=erm.state)\n"
  "report = evaluator(models=[erm, ft], tests=[raw_test])\n";

typedef struct {
  char *dir;
  char *pipe;
  char *cache;
  char *cache_env;
  const char *env[3];
} Place;

static void
place_init (Place *p, const char *src)
{
  p->dir = mt_test_tmpdir ();
  p->pipe = mt_test_write (p->dir, "r.pipe", src);
  p->cache = g_build_filename (p->dir, "cache", NULL);
  p->cache_env = g_strdup_printf ("MT_CACHE_DIR=%s", p->cache);
  p->env[0] = p->cache_env;
  p->env[1] = NULL;
}

static void
place_clear (Place *p)
{
  mt_file_remove_tree (p->dir, NULL);
  g_free (p->dir);
  g_free (p->pipe);
  g_free (p->cache);
  g_free (p->cache_env);
}

/* Starts mtrun in the background with stdout to @out_path (or nowhere). */
static GPid
spawn_mtrun (Place *p, const char *out_path, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) g_getenv ("MTRUN"));
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_auto (GStrv) envp = g_get_environ ();
  envp = g_environ_setenv (envp, "MT_CACHE_DIR", p->cache, TRUE);
  int out_fd = out_path ? open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
  GPid pid = 0;
  g_autoptr (GError) err = NULL;
  ck_assert_msg (g_spawn_async_with_pipes_and_fds (p->dir, (const char *const *) argv->pdata,
                                                   (const char *const *) envp,
                                                   G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL |
                                                     (out_path ? 0 : G_SPAWN_STDOUT_TO_DEV_NULL),
                                                   NULL, NULL, -1, out_fd, -1, NULL, NULL, 0, &pid,
                                                   NULL, NULL, NULL, &err),
                 "%s", err ? err->message : "");
  if (out_fd >= 0)
    close (out_fd);
  return pid;
}

/* node -> its outputs' digests, from the events of `mtrun run --json`. */
static GHashTable *
outputs_of (const char *json_lines, GHashTable *finished_keys)
{
  GHashTable *map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto (GStrv) lines = g_strsplit (json_lines, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    if (!*lines[i])
      continue;
    g_autoptr (JsonParser) jp = json_parser_new ();
    ck_assert_msg (json_parser_load_from_data (jp, lines[i], -1, NULL), "not JSON: %s", lines[i]);
    JsonObject *o = json_node_get_object (json_parser_get_root (jp));
    const char *state = json_object_get_string_member_with_default (o, "state", "");
    if (strcmp (state, "finished") != 0 && strcmp (state, "cached") != 0)
      continue;
    if (finished_keys && !strcmp (state, "finished")) {
      const char *key = json_object_get_string_member (o, "key");
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (finished_keys, key));
      g_hash_table_insert (finished_keys, g_strdup (key), GUINT_TO_POINTER (n + 1));
    }
    JsonObject *outs = json_object_get_object_member (o, "outputs");
    GString *d = g_string_new (NULL);
    g_autoptr (GList) ports = json_object_get_members (outs);
    ports = g_list_sort (ports, (GCompareFunc) g_strcmp0);
    for (GList *l = ports; l; l = l->next)
      g_string_append_printf (d, "%s=%s ", (char *) l->data,
                              json_object_get_string_member (json_object_get_object_member (outs, l->data), "digest"));
    g_hash_table_insert (map, g_strdup (json_object_get_string_member (o, "node")), g_string_free (d, FALSE));
  }
  return map;
}

static GHashTable *
run_outputs (Place *p)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = mt_test_mtrun (p->dir, p->env, &out, &err, "run", "--json", p->pipe, NULL);
  ck_assert_msg (rc == 0, "run failed (%d): %s", rc, err);
  return outputs_of (out, NULL);
}

static void
assert_same_outputs (GHashTable *a, GHashTable *b, const char *what)
{
  ck_assert_uint_eq (g_hash_table_size (a), g_hash_table_size (b));
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, a);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    const char *other = g_hash_table_lookup (b, k);
    ck_assert_msg (other && !strcmp (v, other), "%s: node %s differs:\n  %s\n  %s", what, (char *) k,
                   (char *) v, other ? other : "(missing)");
  }
}

static void
assert_cache_sound (Place *p)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = mt_test_mtrun (p->dir, p->env, &out, &err, "cache", "verify", NULL);
  ck_assert_msg (rc == 0 && strstr (out, "all good"), "cache verify (%d): %s%s", rc, out, err);
}

START_TEST (sigkill_anywhere_then_rerun_gives_the_same_results)
{
  /* The reference: one uninterrupted run, timed. */
  Place ref;
  place_init (&ref, small);
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (GHashTable) want = run_outputs (&ref);
  double total = (g_get_monotonic_time () - t0) / 1e6;
  ck_assert_uint_eq (g_hash_table_size (want), 9);

  /* Killed at points spread over a run, each on a fresh cache so that every point is
   * reached from the start. The points are events of the run itself (its --json
   * stream), not times, so they fall the same however loaded the machine is: as the
   * k-th node starts (loading, biasing, training, saliency, masking, fine-tuning,
   * evaluation; a cache write is under way around each start), and in the middle of
   * training, right after an epoch's checkpoint. After each kill the cache verifies, and
   * a rerun (resuming what was committed) gives the uninterrupted run's bytes. */
  const struct {
    const char *event;
    guint nth;
  } points[] = {
    { "\"state\":\"started\"", 1 }, { "\"state\":\"started\"", 3 }, { "\"state\":\"started\"", 5 },
    { "epoch 1/3", 1 }, { "epoch 2/3", 1 }, { "\"state\":\"started\"", 6 }, { "\"state\":\"started\"", 7 },
    { "\"state\":\"started\"", 8 }, { "\"state\":\"started\"", 9 },
  };
  guint killed = 0;
  for (guint i = 0; i < G_N_ELEMENTS (points); i++) {
    Place p;
    place_init (&p, small);
    g_autofree char *events = g_build_filename (p.dir, "events.json", NULL);
    const char *args[] = { "run", "--json", p.pipe, NULL };
    GPid pid = spawn_mtrun (&p, events, args);
    gboolean reached = FALSE;
    for (int t = 0; t < 12000 && !reached; t++) {
      g_autofree char *text = NULL;
      guint seen = 0;
      if (g_file_get_contents (events, &text, NULL, NULL))
        for (const char *q = text; (q = strstr (q, points[i].event)); q++)
          seen++;
      reached = seen >= points[i].nth;
      if (!reached)
        g_usleep (2000);
    }
    ck_assert_msg (reached, "point %u (%s #%u) never came", i, points[i].event, points[i].nth);
    kill (pid, SIGKILL);
    int status = mt_test_wait_pid (pid);
    killed += WIFSIGNALED (status);
    assert_cache_sound (&p);
    g_autoptr (GHashTable) got = run_outputs (&p);
    assert_same_outputs (want, got, "after a kill");
    assert_cache_sound (&p);
    place_clear (&p);
  }
  printf ("kill -9: %u of %zu runs killed (an uninterrupted run takes %.1f s)\n", killed, G_N_ELEMENTS (points), total);
  ck_assert_uint_eq (killed, G_N_ELEMENTS (points));
  place_clear (&ref);
}
END_TEST

static void
limit_file_size (gpointer data)
{
  struct rlimit rl = { GPOINTER_TO_SIZE (data), GPOINTER_TO_SIZE (data) };
  setrlimit (RLIMIT_FSIZE, &rl);
}

START_TEST (full_disk_fails_cleanly)
{
  Place p;
  place_init (&p, small);
  /* A file-size limit stands in for a full disk: writes past it fail with EFBIG. */
  const char *argv[] = { g_getenv ("MTRUN"), "run", "-j", "1", p.pipe, NULL };
  g_auto (GStrv) envp = g_get_environ ();
  envp = g_environ_setenv (envp, "MT_CACHE_DIR", p.cache, TRUE);
  g_autofree char *out = NULL, *err = NULL;
  int status = 0;
  ck_assert (g_spawn_sync (p.dir, (char **) argv, envp, G_SPAWN_DEFAULT, limit_file_size,
                           GSIZE_TO_POINTER (200 * 1024), &out, &err, &status, NULL));
  ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 1, "status %d: %s", status, err);
  ck_assert_msg (strstr (err, "File too large"), "%s", err);
  g_auto (GStrv) lines = g_strsplit (g_strstrip (err), "\n", -1);
  ck_assert_msg (g_str_has_prefix (lines[g_strv_length (lines) - 1], "mtrun: node '"), "%s", err);
  assert_cache_sound (&p);
  /* The node that hit the limit left no entry; with room, the run completes. */
  g_autofree char *ls = NULL;
  ck_assert_int_eq (mt_test_mtrun (p.dir, p.env, &ls, NULL, "cache", "ls", NULL), 0);
  ck_assert_msg (!strstr (ls, "  train "), "%s", ls);
  g_autoptr (GHashTable) got = run_outputs (&p);
  ck_assert_uint_eq (g_hash_table_size (got), 9);
  assert_cache_sound (&p);
  place_clear (&p);
}
END_TEST

START_TEST (four_processes_same_and_overlapping_pipelines)
{
  Place p;
  place_init (&p, small);
  /* A second pipeline sharing the data, ERM model and maps, masking differently. */
  g_autofree char *other_src = g_strdup_printf ("%s%s", small,
    "masked2 = masker(biased, cam, method=\"top_k\", fraction=0.05)\n"
    "ft2 = finetuner(erm, masked2.dataset, state=erm.state)\n"
    "report2 = evaluator(models=[erm, ft2], tests=[raw_test])\n");
  g_autofree char *other = mt_test_write (p.dir, "o.pipe", other_src);
  const char *pipes[] = { p.pipe, other, p.pipe, other };
  GPid pids[4];
  char *outs[4];
  for (guint i = 0; i < 4; i++) {
    outs[i] = g_strdup_printf ("%s/out%u.json", p.dir, i);
    const char *args[] = { "run", "--json", "-j", "2", pipes[i], NULL };
    pids[i] = spawn_mtrun (&p, outs[i], args);
  }
  for (guint i = 0; i < 4; i++) {
    int status = mt_test_wait_pid (pids[i]);
    ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0, "process %u failed", i);
  }
  /* Every key was computed by exactly one process; the others waited and reused it. */
  g_autoptr (GHashTable) finished = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTable *maps[4];
  for (guint i = 0; i < 4; i++) {
    g_autofree char *text = NULL;
    ck_assert (g_file_get_contents (outs[i], &text, NULL, NULL));
    maps[i] = outputs_of (text, finished);
    g_free (outs[i]);
  }
  ck_assert_uint_eq (g_hash_table_size (finished), 12);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, finished);
  while (g_hash_table_iter_next (&it, &k, &v))
    ck_assert_msg (GPOINTER_TO_UINT (v) == 1, "key %s computed %u times", (char *) k, GPOINTER_TO_UINT (v));
  /* Identical results: the same pipeline in two processes, and the shared nodes across. */
  assert_same_outputs (maps[0], maps[2], "same pipeline");
  assert_same_outputs (maps[1], maps[3], "same pipeline");
  g_hash_table_iter_init (&it, maps[0]);
  while (g_hash_table_iter_next (&it, &k, &v))
    ck_assert_str_eq (v, g_hash_table_lookup (maps[1], k));
  for (guint i = 0; i < 4; i++)
    g_hash_table_unref (maps[i]);
  assert_cache_sound (&p);
  place_clear (&p);
}
END_TEST

/* Runs @src (and @set, when given) expecting exit 1 with @message in the last line. */
static void
expect_clear_failure (Place *p, const char *name, const char *src, const char *set, const char *message)
{
  g_autofree char *pipe = mt_test_write (p->dir, name, src);
  g_autofree char *err = NULL;
  int rc = set ? mt_test_mtrun (p->dir, p->env, NULL, &err, "run", pipe, "--set", set, NULL)
               : mt_test_mtrun (p->dir, p->env, NULL, &err, "run", pipe, NULL);
  ck_assert_msg (rc == 1, "%s: exit %d: %s", name, rc, err);
  ck_assert_msg (strstr (err, message), "%s: expected '%s' in:\n%s", name, message, err);
  g_auto (GStrv) lines = g_strsplit (g_strstrip (err), "\n", -1);
  ck_assert_msg (g_str_has_prefix (lines[g_strv_length (lines) - 1], "mtrun: "), "%s: %s", name, err);
  ck_assert_msg (!strstr (err, "CRITICAL") && !strstr (err, "WARNING"), "%s: %s", name, err);
  assert_cache_sound (p);
}

START_TEST (bad_input_gets_one_clear_line)
{
  Place p;
  place_init (&p, small);
  /* Something sound in the cache first, which no failure below may damage. */
  g_autofree char *okpipe = mt_test_write (p.dir, "ok.pipe", "d = mnist(limit=50)\nb = biaser(d)\n");
  ck_assert_int_eq (mt_test_mtrun (p.dir, p.env, NULL, NULL, "run", "-q", okpipe, NULL), 0);

  g_autofree char *idx = g_build_filename (p.dir, "idx", NULL);
  g_mkdir (idx, 0755);
  g_autoptr (MtTensor) imgs = mt_tensor_new (MT_DTYPE_U8, 3, (gint64[]) { 4, 28, 28 });
  g_autoptr (MtTensor) labs = mt_tensor_new (MT_DTYPE_U8, 1, (gint64[]) { 4 });
  g_autofree char *ip = g_build_filename (idx, "train-images-idx3-ubyte", NULL);
  g_autofree char *lp = g_build_filename (idx, "train-labels-idx1-ubyte", NULL);
  ck_assert (mt_idx_save (imgs, ip, FALSE, NULL) && mt_idx_save (labs, lp, FALSE, NULL));
  g_autofree char *from_idx = g_strdup_printf ("d = mnist(root=\"%s\")\n", idx);

  expect_clear_failure (&p, "missing.pipe", "d = mnist(root=\"/nonexistent/mnist\")\n", NULL,
                        "/nonexistent/mnist is not a directory");
  /* Wrong magic, then a truncated file. */
  g_autofree char *data = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (ip, &data, &len, NULL));
  data[2] = 0x55;
  ck_assert (g_file_set_contents (ip, data, (gssize) len, NULL));
  expect_clear_failure (&p, "magic.pipe", from_idx, NULL, "unsupported IDX element type 0x55");
  data[2] = 0x08;
  ck_assert (g_file_set_contents (ip, data, (gssize) len - 100, NULL));
  expect_clear_failure (&p, "truncated.pipe", from_idx, NULL, "truncated");
  expect_clear_failure (&p, "binary.pipe", "\x7f" "ELF\x02\x01\x01\x00garbage", NULL, "binary data");
  /* Absurd properties, in the file and from the command line. */
  const char *base = "d = mnist(limit=50)\nb = biaser(d)\n";
  g_autofree char *epochs = g_strconcat (base, "m = trainer(b, epochs=-1)\n", NULL);
  expect_clear_failure (&p, "epochs.pipe", epochs, NULL, "-1 is out of range");
  g_autofree char *bs = g_strconcat (base, "m = trainer(b, batch_size=0)\n", NULL);
  expect_clear_failure (&p, "batch.pipe", bs, NULL, "0 is out of range");
  g_autofree char *lr = g_strconcat (base, "m = trainer(b, lr=1e999)\n", NULL);
  expect_clear_failure (&p, "lr.pipe", lr, NULL, "the number is not finite");
  g_autofree char *plain = g_strconcat (base, "m = trainer(b)\n", NULL);
  expect_clear_failure (&p, "nan.pipe", plain, "m.lr=nan", "--set m.lr=nan: expected a number");
  /* A node type whose plugin did not load. */
  g_autofree char *bad_plugins = g_strdup_printf ("MT_PLUGIN_PATH=%s", g_getenv ("MT_TEST_BAD_PLUGIN_DIR"));
  const char *env[] = { p.cache_env, bad_plugins, NULL };
  g_autofree char *pp = mt_test_write (p.dir, "plugin.pipe", "m = bad_abi_node()\n");
  g_autofree char *err = NULL;
  ck_assert_int_eq (mt_test_mtrun (p.dir, env, NULL, &err, "run", pp, NULL), 1);
  ck_assert_msg (strstr (err, "unknown node type 'bad_abi_node'"), "%s", err);

  /* A cache directory the user cannot write (root can write anywhere: skipped there). */
  if (geteuid () == 0) {
    printf ("SKIP: read-only cache directory (running as root, which ignores permissions)\n");
  } else {
    g_autofree char *entries = g_build_filename (p.cache, "entries", NULL);
    g_autofree char *objects = g_build_filename (p.cache, "objects", NULL);
    g_autofree char *tmp = g_build_filename (p.cache, "tmp", NULL);
    g_chmod (entries, 0555);
    g_chmod (objects, 0555);
    g_chmod (tmp, 0555);
    g_autofree char *more = g_strconcat (base, "m = trainer(b, epochs=1)\n", NULL);
    g_autofree char *mp = mt_test_write (p.dir, "ro.pipe", more);
    g_autofree char *rerr = NULL;
    ck_assert_int_eq (mt_test_mtrun (p.dir, p.env, NULL, &rerr, "run", mp, NULL), 1);
    ck_assert_msg (strstr (rerr, "Permission denied"), "%s", rerr);
    g_chmod (entries, 0755);
    g_chmod (objects, 0755);
    g_chmod (tmp, 0755);
    assert_cache_sound (&p);
  }
  place_clear (&p);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("reliability");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 600);
  tcase_add_test (tc, sigkill_anywhere_then_rerun_gives_the_same_results);
  tcase_add_test (tc, full_disk_fails_cleanly);
  tcase_add_test (tc, four_processes_same_and_overlapping_pipelines);
  tcase_add_test (tc, bad_input_gets_one_clear_line);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}
