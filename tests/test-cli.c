/* mtrun as a user runs it: exit codes, errors, run/rerun, --force/--only/--until,
 * status, dot, cache commands, crash safety (simulated crashes and kill -9), and two
 * concurrent runs on one cache. */
#include "tests/mt-test-util.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *demo =
  "param v = 1.5\n"
  "a = fill(value=$v, shape=[2, 2])\n"
  "b = scale(a, factor=3)\n"
  "p = split(b)\n"
  "c = add(p.hi, b=p.lo)\n"
  "other = fill(value=4)\n";

typedef struct {
  char *dir;
  char *pipe;
  char *log;
  char *cache_env;
  char *log_env;
  const char *env[4];
} Fixture;

static void
fixture_init (Fixture *f, const char *src)
{
  f->dir = mt_test_tmpdir ();
  f->pipe = mt_test_write (f->dir, "demo.pipe", src);
  f->log = g_build_filename (f->dir, "runs.log", NULL);
  f->cache_env = g_strdup_printf ("MT_CACHE_DIR=%s/cache", f->dir);
  f->log_env = g_strdup_printf ("MT_TEST_RUN_LOG=%s", f->log);
  f->env[0] = f->cache_env;
  f->env[1] = f->log_env;
  f->env[2] = NULL;
}

static void
fixture_clear (Fixture *f)
{
  mt_file_remove_tree (f->dir, NULL);
  g_free (f->dir);
  g_free (f->pipe);
  g_free (f->log);
  g_free (f->cache_env);
  g_free (f->log_env);
}

static guint
count (const char *haystack, const char *needle)
{
  guint n = 0;
  for (const char *p = haystack; (p = strstr (p, needle)); p++)
    n++;
  return n;
}

START_TEST (version_help_usage)
{
  g_autofree char *out = NULL, *err = NULL;
  ck_assert_int_eq (mt_test_mtrun (NULL, NULL, &out, NULL, "--version", NULL), 0);
  ck_assert (g_str_has_prefix (out, "mtrun (masktune) " MT_VERSION_STRING));
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (NULL, NULL, &out, NULL, "--help", NULL), 0);
  ck_assert (strstr (out, "status FILE.pipe"));
  ck_assert_int_eq (mt_test_mtrun (NULL, NULL, NULL, &err, "stauts", "x.pipe", NULL), 2);
  ck_assert_msg (strstr (err, "unknown command 'stauts'; did you mean 'status'?"), "%s", err);
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (NULL, NULL, NULL, &err, "run", "--bogus", "x.pipe", NULL), 2);
  ck_assert_msg (strstr (err, "Unknown option --bogus"), "%s", err);
}
END_TEST

START_TEST (parse_errors_exit_nonzero_and_run_nothing)
{
  Fixture f;
  fixture_init (&f, "a = fill(value=1)\nb = scael(a)\nc = scale(a, factr=2)\n");
  g_autofree char *err = NULL;
  int rc = mt_test_mtrun (f.dir, f.env, NULL, &err, "run", f.pipe, NULL);
  ck_assert_int_eq (rc, 1);
  g_autofree char *e1 = g_strdup_printf ("%s:2:5: error: unknown node type 'scael'; did you mean 'scale'?", f.pipe);
  g_autofree char *e2 = g_strdup_printf ("%s:3:14: error: node type 'scale' has no input or property 'factr'; did you mean 'factor'?", f.pipe);
  ck_assert_msg (strstr (err, e1) && strstr (err, e2), "%s", err);
  ck_assert_uint_eq (mt_test_count_lines (f.log, "a"), 0);  /* nothing ran */
  fixture_clear (&f);
}
END_TEST

START_TEST (run_rerun_and_set)
{
  Fixture f;
  fixture_init (&f, demo);
  g_autofree char *out = NULL, *err = NULL;
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, &err, "run", "--json", f.pipe, NULL), 0);
  ck_assert_uint_eq (count (out, "\"state\":\"finished\""), 5);
  ck_assert_msg (strstr (out, "\"event\":\"summary\",\"ok\":true,\"cached\":0,\"ran\":5"), "%s", out);
  g_clear_pointer (&out, g_free);
  /* Plain `mtrun FILE.pipe` is `mtrun run FILE.pipe`. */
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, f.pipe, "--json", NULL), 0);
  ck_assert_uint_eq (count (out, "\"state\":\"cached\""), 5);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "run", "--json", f.pipe, "--set", "b.factor=5", NULL), 0);
  ck_assert_uint_eq (count (out, "\"state\":\"finished\""), 3);  /* b, p, c */
  ck_assert_msg (strstr (out, "\"reason\":\"property 'factor' changed: 3 → 5\""), "%s", out);
  g_clear_pointer (&err, g_free);
  /* Back to factor=3: those results are still in the cache, nothing runs. */
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, &err, "run", f.pipe, NULL), 0);
  ck_assert_msg (strstr (err, "  cached   b              scale\n"), "%s", err);
  ck_assert_msg (strstr (err, "5 nodes: 0 ran, 5 cached, 0 failed"), "%s", err);
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, &err, "run", "-q", f.pipe, NULL), 0);
  ck_assert_str_eq (err, "");
  fixture_clear (&f);
}
END_TEST

START_TEST (force_only_until_dry_run)
{
  Fixture f;
  fixture_init (&f, demo);
  g_autofree char *out = NULL, *err = NULL;
  /* --only needs its inputs in the cache. */
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, &err, "run", f.pipe, "--only", "b", NULL), 1);
  ck_assert_msg (strstr (err, "node 'a' (fill) failed: its result is not in the cache"), "%s", err);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "run", "--json", f.pipe, "--until", "p", NULL), 0);
  ck_assert_uint_eq (count (out, "\"state\":\"finished\""), 3);  /* a, b, p */
  ck_assert (!strstr (out, "\"node\":\"c\"") && !strstr (out, "\"node\":\"other\""));
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "run", "--json", f.pipe, "--only", "c", NULL), 0);
  ck_assert_uint_eq (count (out, "\"state\":\"finished\""), 1);
  ck_assert (strstr (out, "\"node\":\"c\",\"type\":\"add\",\"state\":\"finished\""));
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "run", "--dry-run", f.pipe, "--force", "b", NULL), 0);
  ck_assert_msg (strstr (out, "a              fill         cached\n"), "%s", out);
  ck_assert_msg (strstr (out, "other          fill         will run never run\n"), "%s", out);
  ck_assert_msg (strstr (out, "b              scale        will run forced"), "%s", out);
  ck_assert_msg (strstr (out, "c              add          will run forced"), "%s", out);
  g_clear_pointer (&out, g_free);
  ck_assert_uint_eq (mt_test_count_lines (f.log, "b"), 1);  /* dry run ran nothing */
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "run", "--json", f.pipe, "--force", "b", NULL), 0);
  ck_assert_uint_eq (count (out, "\"state\":\"finished\""), 4);  /* b, p, c forced; other never ran */
  ck_assert_uint_eq (count (out, "\"reason\":\"forced\""), 3);
  ck_assert (strstr (out, "\"node\":\"a\",\"type\":\"fill\",\"state\":\"cached\""));
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, &err, "run", f.pipe, "--force", "zz", NULL), 2);
  ck_assert_msg (strstr (err, "--force zz: the pipeline has no node 'zz'"), "%s", err);
  fixture_clear (&f);
}
END_TEST

START_TEST (status_and_dot)
{
  Fixture f;
  fixture_init (&f, demo);
  g_autofree char *out = NULL;
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "status", f.pipe, NULL), 0);
  ck_assert_msg (strstr (out, "a              fill         will run never run"), "%s", out);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, NULL, "run", "-q", f.pipe, NULL), 0);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "status", "--json", f.pipe, "--set", "v=2", NULL), 0);
  ck_assert_msg (strstr (out, "{\"node\":\"a\",\"type\":\"fill\",\"state\":\"run\""), "%s", out);
  ck_assert_msg (strstr (out, "\"reasons\":[\"property 'value' changed: 1.5 → 2\"]"), "%s", out);
  ck_assert_msg (strstr (out, "{\"node\":\"other\",\"type\":\"fill\",\"state\":\"cached\""), "%s", out);
  ck_assert_msg (strstr (out, "\"reasons\":[\"input 'x' will be recomputed by 'a'\"]"), "%s", out);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "dot", f.pipe, NULL), 0);
  ck_assert_msg (strstr (out, "\"p\" -> \"c\" [label=\"hi → a\\n(tensor)\"];"), "%s", out);
  /* Nodes coloured as status sees them: all cached after the run, one stale with --set. */
  ck_assert_uint_eq (count (out, "fillcolor=\"#c8e6c9\"]"), 5 + 1);  /* + the legend's */
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "dot", f.pipe, "--set", "b.factor=4", NULL), 0);
  ck_assert_msg (strstr (out, "\"b\" [label=\"b\\nscale\", fillcolor=\"#ffe0b2\"]") &&
                 strstr (out, "\"other\" [label=\"other\\nfill\", fillcolor=\"#c8e6c9\"]"), "%s", out);
  fixture_clear (&f);
}
END_TEST

START_TEST (cache_commands)
{
  Fixture f;
  fixture_init (&f, demo);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, NULL, "run", "-q", f.pipe, NULL), 0);
  g_autofree char *out = NULL, *err = NULL;
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "ls", NULL), 0);
  ck_assert_msg (strstr (out, "KEY") && strstr (out, " split "), "%s", out);
  ck_assert_uint_eq (count (out, "\n"), 7);  /* header + 5 entries + total */
  ck_assert_msg (strstr (out, "5 entries, ") && strstr (out, " B ") && strstr (out, " demo.pipe "), "%s", out);
  /* Columns line up: each row's SIZE column ends where the header's does. */
  {
    g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
    const char *h = strstr (lines[0], "SIZE");
    ck_assert_ptr_nonnull (h);
    gsize end = (gsize) (h - lines[0]) + 4;
    for (guint i = 1; i <= 5; i++)
      ck_assert_msg (strlen (lines[i]) >= end && lines[i][end - 1] == 'B' && (lines[i][end] == ' ' || !lines[i][end]), "%s", out);
  }
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "ls", "--node", "b", NULL), 0);
  ck_assert_msg (count (out, "\n") == 3 && strstr (out, "1 entry, "), "%s", out);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "ls", "-p", "elsewhere.pipe", NULL), 0);
  ck_assert_msg (count (out, "\n") == 2 && strstr (out, "0 entries, "), "%s", out);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "show", "b", NULL), 0);
  ck_assert_msg (strstr (out, "\"type\": \"scale\"") && strstr (out, "output out: "), "%s", out);
  g_clear_pointer (&out, g_free);

  /* export: ordinary files that our readers (and NumPy) open. */
  g_autofree char *exp = g_build_filename (f.dir, "exported", NULL);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "export", "p", exp, NULL), 0);
  g_autofree char *hi = g_build_filename (exp, "p.hi.npy", NULL);
  g_autofree char *man = g_build_filename (exp, "p.manifest.json", NULL);
  g_autoptr (GError) gerr = NULL;
  g_autoptr (MtTensor) t = mt_npy_load (hi, &gerr);
  ck_assert_msg (t != NULL, "%s", gerr ? gerr->message : "");
  ck_assert_int_eq (mt_tensor_numel (t), 4);
  ck_assert_double_eq_tol (((float *) t->data)[3], 4.5, 1e-6);
  ck_assert (g_file_test (man, G_FILE_TEST_EXISTS));
  g_clear_pointer (&out, g_free);

  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "verify", NULL), 0);
  ck_assert_msg (strstr (out, "5 entries, 6 outputs checked: all good"), "%s", out);
  g_clear_pointer (&out, g_free);

  /* Changing b in the file supersedes b, p, c: gc removes their old entries and objects. */
  g_auto (GStrv) halves = g_strsplit (demo, "factor=3", -1);
  g_autofree char *changed = g_strjoinv ("factor=7", halves);
  g_free (mt_test_write (f.dir, "demo.pipe", changed));
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, NULL, "run", "-q", f.pipe, NULL), 0);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "gc", "--dry-run", NULL), 0);
  ck_assert_uint_eq (count (out, "superseded"), 3);
  ck_assert_msg (strstr (out, "would free"), "%s", out);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "ls", NULL), 0);
  ck_assert_uint_eq (count (out, "\n"), 10);  /* dry run removed nothing */
  /* Two runs of b: the property that tells them apart is shown. */
  ck_assert_msg (strstr (out, "factor=7.0") && strstr (out, "factor=3.0"), "%s", out);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "gc", NULL), 0);
  ck_assert_uint_eq (count (out, "removed"), count (out, "removed"));
  ck_assert_msg (strstr (out, "unreferenced object"), "%s", out);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "ls", NULL), 0);
  ck_assert_uint_eq (count (out, "\n"), 7);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "verify", NULL), 0);
  g_clear_pointer (&out, g_free);
  /* Everything the pipeline needs is still there. */
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "run", "--json", f.pipe, NULL), 0);
  ck_assert_uint_eq (count (out, "\"state\":\"cached\""), 5);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, &err, "cache", "show", "nosuch", NULL), 1);
  ck_assert_msg (strstr (err, "no cache entry for node or key 'nosuch'"), "%s", err);
  fixture_clear (&f);
}
END_TEST

START_TEST (inspect_type)
{
  g_autofree char *out = NULL, *err = NULL;
  ck_assert_int_eq (mt_test_mtrun (NULL, NULL, &out, NULL, "inspect", "delay", NULL), 0);
  ck_assert_msg (strstr (out, "delay — Test: passes x through after a delay"), "%s", out);
  ck_assert_msg (strstr (out, "  ms               how long to take\n"), "%s", out);
  ck_assert_msg (strstr (out, "integer, default 100, 0 .. 600000"), "%s", out);
  ck_assert_msg (strstr (out, "  x                tensor    the tensor"), "%s", out);
  ck_assert_msg (strstr (out, "version:  1 (enters the cache key)"), "%s", out);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (NULL, NULL, &out, NULL, "inspect", "scale", NULL), 0);
  ck_assert_msg (strstr (out, "enum, default \"mul\", one of: mul, div"), "%s", out);
  ck_assert_int_eq (mt_test_mtrun (NULL, NULL, NULL, &err, "inspect", "scal", NULL), 1);
  ck_assert_msg (strstr (err, "unknown node type 'scal'; did you mean 'scale'?"), "%s", err);
}
END_TEST

/* Each fault point stops the process the way a crash would, at a different moment of
 * committing a result. Afterwards the cache must hold nothing a run would trust, and
 * a plain rerun must give the right answer. */
START_TEST (crash_safety_fault_points)
{
  const char *points[] = { "before-object-rename", "before-manifest", "manifest-write", "atomic-write" };
  for (guint i = 0; i < G_N_ELEMENTS (points); i++) {
    Fixture f;
    fixture_init (&f, demo);
    g_autofree char *fault = g_strdup_printf ("MT_FAULT=%s", points[i]);
    const char *env[] = { f.cache_env, f.log_env, fault, NULL };
    g_autofree char *err = NULL, *out = NULL;
    int rc = mt_test_mtrun (f.dir, env, NULL, &err, "run", "-j", "1", f.pipe, NULL);
    ck_assert_msg (rc == 86, "%s: rc %d: %s", points[i], rc, err);
    ck_assert_msg (strstr (err, "simulating a crash"), "%s", err);
    ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "verify", NULL), 0);
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    rc = mt_test_mtrun (f.dir, f.env, &out, &err, "run", "--json", f.pipe, NULL);
    ck_assert_msg (rc == 0, "%s: the rerun exited %d:\n%s\n%s", points[i], rc, out, err);
    ck_assert_msg (strstr (out, "\"ok\":true"), "%s", out);
    g_clear_pointer (&out, g_free);
    ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "verify", NULL), 0);
    ck_assert_msg (strstr (out, "all good"), "%s", out);
    g_autofree char *exp = g_build_filename (f.dir, "exp", NULL);
    ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, NULL, "cache", "export", "c", exp, NULL), 0);
    g_autofree char *cp = g_build_filename (exp, "c.out.npy", NULL);
    g_autoptr (GError) gerr = NULL;
    g_autoptr (MtTensor) c = mt_npy_load (cp, &gerr);
    ck_assert (c != NULL);
    for (int k = 0; k < 4; k++)
      ck_assert_double_eq_tol (((float *) c->data)[k], 4.5, 1e-6);
    /* gc clears what the crash left behind. */
    ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, NULL, "cache", "gc", "-q", NULL), 0);
    ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, NULL, "cache", "verify", NULL), 0);
    fixture_clear (&f);
  }
}
END_TEST

static GPid
spawn_mtrun (Fixture *f, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) g_getenv ("MTRUN"));
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_auto (GStrv) envp = g_get_environ ();
  envp = g_environ_setenv (envp, "MT_PLUGIN_PATH", g_getenv ("MT_TEST_PLUGIN_DIR"), TRUE);
  g_autofree char *cache = g_build_filename (f->dir, "cache", NULL);
  envp = g_environ_setenv (envp, "MT_CACHE_DIR", cache, TRUE);
  envp = g_environ_setenv (envp, "MT_TEST_RUN_LOG", f->log, TRUE);
  GPid pid = 0;
  g_autoptr (GError) err = NULL;
  /* libtool's wrapper execs the real binary, so the pid is mtrun's own. */
  ck_assert_msg (g_spawn_async (f->dir, (char **) argv->pdata, envp,
                                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                                NULL, NULL, &pid, &err), "%s", err ? err->message : "");
  return pid;
}

START_TEST (kill_9_mid_run)
{
  Fixture f;
  fixture_init (&f, "a = fill(value=2)\nslow = delay(a, ms=4000)\nafter = scale(slow)\n");
  const char *args[] = { "run", f.pipe, NULL };
  GPid pid = spawn_mtrun (&f, args);
  /* Wait until the slow node is under way, then kill without warning. */
  for (int i = 0; i < 200 && mt_test_count_lines (f.log, "slow") == 0; i++)
    g_usleep (25000);
  ck_assert_uint_eq (mt_test_count_lines (f.log, "slow"), 1);
  g_usleep (200000);
  kill (pid, SIGKILL);
  int status = mt_test_wait_pid (pid);
  ck_assert (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);

  g_autofree char *out = NULL;
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "verify", NULL), 0);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "run", "--json", f.pipe, "--set", "slow.ms=10", NULL), 0);
  ck_assert_msg (strstr (out, "\"ok\":true,\"cached\":1,\"ran\":2"), "%s", out);
  fixture_clear (&f);
}
END_TEST

START_TEST (two_concurrent_runs_share_one_cache)
{
  Fixture f;
  fixture_init (&f, "a = fill(value=3)\nd1 = delay(a, ms=800)\nd2 = delay(a, ms=600)\nj = add(d1, b=d2)\n");
  const char *args[] = { "run", "-q", f.pipe, NULL };
  GPid p1 = spawn_mtrun (&f, args);
  GPid p2 = spawn_mtrun (&f, args);
  int s1 = mt_test_wait_pid (p1), s2 = mt_test_wait_pid (p2);
  ck_assert_msg (WIFEXITED (s1) && WEXITSTATUS (s1) == 0, "first run failed");
  ck_assert_msg (WIFEXITED (s2) && WEXITSTATUS (s2) == 0, "second run failed");
  /* Per-key locks: each node was computed once, the other process reused it. */
  const char *nodes[] = { "a", "d1", "d2", "j" };
  for (guint i = 0; i < G_N_ELEMENTS (nodes); i++)
    ck_assert_msg (mt_test_count_lines (f.log, nodes[i]) == 1, "%s ran %u times", nodes[i],
                   mt_test_count_lines (f.log, nodes[i]));
  g_autofree char *out = NULL;
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "verify", NULL), 0);
  ck_assert_msg (strstr (out, "4 entries, 4 outputs checked: all good"), "%s", out);
  fixture_clear (&f);
}
END_TEST

START_TEST (gc_refuses_while_a_run_holds_the_cache)
{
  Fixture f;
  fixture_init (&f, "a = fill(value=2)\nslow = delay(a, ms=1500)\n");
  const char *args[] = { "run", f.pipe, NULL };
  GPid pid = spawn_mtrun (&f, args);
  for (int i = 0; i < 200 && mt_test_count_lines (f.log, "slow") == 0; i++)
    g_usleep (25000);
  g_autofree char *err = NULL;
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, &err, "cache", "gc", NULL), 1);
  ck_assert_msg (strstr (err, "is in use by a running mtrun"), "%s", err);
  int status = mt_test_wait_pid (pid);
  ck_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, NULL, "cache", "gc", "-q", NULL), 0);
  fixture_clear (&f);
}
END_TEST

/* The summary counts every node (skipped ones too); messages name a node once; a missing
 * .pipe file is one mtrun line. */
START_TEST (summary_and_messages)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *pipe = mt_test_write (dir, "f.pipe", "d = mnist(root=\"/nonexistent\")\nb = biaser(d)\ne = trainer(b)\n");
  g_autofree char *cenv = g_strdup_printf ("MT_CACHE_DIR=%s/cache", dir);
  const char *env[] = { cenv, NULL };
  g_autofree char *err = NULL;
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, NULL), 1);
  ck_assert_msg (strstr (err, "3 nodes: 0 ran, 0 cached, 1 failed, 2 skipped in "), "%s", err);
  ck_assert_msg (strstr (err, "mtrun: node 'd' (mnist) failed: mnist root /nonexistent is not a directory"), "%s", err);
  ck_assert_msg (!strstr (err, "failed: node 'd'"), "%s", err);
  g_clear_pointer (&err, g_free);
  g_autofree char *missing = g_build_filename (dir, "nope.pipe", NULL);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, &err, "run", missing, NULL), 1);
  g_autofree char *want = g_strdup_printf ("mtrun: cannot read %s: No such file or directory\n", missing);
  ck_assert_str_eq (err, want);
  /* status --exit-code: 1 while something would run, 0 once all is cached. */
  g_autofree char *ok_pipe = mt_test_write (dir, "ok.pipe", "d = mnist(limit=20)\n");
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, NULL, "status", ok_pipe, NULL), 0);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, NULL, "status", "--exit-code", ok_pipe, NULL), 1);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, NULL, "run", "-q", ok_pipe, NULL), 0);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, NULL, "status", "--exit-code", ok_pipe, NULL), 0);
  /* inspect --json is JSON, for programs. */
  g_autofree char *js = NULL;
  ck_assert_int_eq (mt_test_mtrun (dir, env, &js, NULL, "inspect", "--json", "masker", NULL), 0);
  g_autoptr (JsonParser) jp = json_parser_new ();
  ck_assert_msg (json_parser_load_from_data (jp, js, -1, NULL), "not JSON: %s", js);
  JsonObject *jo = json_node_get_object (json_parser_get_root (jp));
  ck_assert_str_eq (json_object_get_string_member (jo, "name"), "masker");
  JsonArray *props = json_object_get_array_member (jo, "properties");
  gboolean saw_k = FALSE;
  for (guint i = 0; i < json_array_get_length (props); i++) {
    JsonObject *po = json_array_get_object_element (props, i);
    if (g_strcmp0 (json_object_get_string_member (po, "name"), "k") == 0)
      saw_k = json_object_get_double_member (po, "default") == 2.0;
  }
  ck_assert (saw_k);
  /* A node name in two pipelines: export without -p lists them instead of guessing. */
  g_autofree char *sub = g_build_filename (dir, "other", NULL);
  g_mkdir_with_parents (sub, 0755);
  g_autofree char *ok2 = mt_test_write (sub, "ok.pipe", "d = mnist(limit=30)\n");
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, NULL, "run", "-q", ok2, NULL), 0);
  g_autofree char *edir = g_build_filename (dir, "exported", NULL);
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, &err, "cache", "export", "d", edir, NULL), 1);
  ck_assert_msg (strstr (err, "node 'd' is in the cache for 2 pipelines; say which with -p FILE.pipe: ") &&
                 strstr (err, "other/ok.pipe"), "%s", err);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, NULL, "cache", "export", "-q", "-p", ok2, "d", edir, NULL), 0);
  /* --help shows the options every command takes, and is a success. */
  g_autofree char *out = NULL;
  ck_assert_int_eq (mt_test_mtrun (dir, env, &out, NULL, "run", "--help", NULL), 0);
  ck_assert_msg (strstr (out, "-C, --cache-dir=DIR") && strstr (out, "-P, --plugin-path=DIR") &&
                 strstr (out, "-q, --quiet") && strstr (out, "-v, --verbose") && strstr (out, "--json"), "%s", out);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

/* A .mtcache in @dir or a folder above it, which discovery would find first. */
static gboolean
cache_above (const char *dir)
{
  g_autofree char *d = g_strdup (dir);
  for (;;) {
    g_autofree char *c = g_build_filename (d, ".mtcache", NULL);
    if (g_file_test (c, G_FILE_TEST_IS_DIR))
      return TRUE;
    g_autofree char *up = g_path_get_dirname (d);
    if (strcmp (up, d) == 0)
      return FALSE;
    g_free (d);
    d = g_steal_pointer (&up);
  }
}

/* Relative paths in a .pipe are relative to its folder, wherever mtrun starts; the cache
 * is found as git finds .git. */
START_TEST (paths_and_cache_discovery)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *proj = g_build_filename (dir, "proj", NULL);
  g_autofree char *data = g_build_filename (proj, "data", NULL);
  g_autofree char *sub = g_build_filename (proj, "sub", NULL);
  g_autofree char *elsewhere = g_build_filename (dir, "elsewhere", NULL);
  g_mkdir_with_parents (data, 0755);
  g_mkdir_with_parents (sub, 0755);
  g_mkdir_with_parents (elsewhere, 0755);
  const char *names[] = { "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree char *from = g_build_filename (g_getenv ("MT_SRCDIR"), "data", "mnist", names[i], NULL);
    g_autofree char *to = g_build_filename (data, names[i], NULL);
    g_autofree char *bytes = NULL;
    gsize len = 0;
    ck_assert (g_file_get_contents (from, &bytes, &len, NULL));
    ck_assert (g_file_set_contents (to, bytes, (gssize) len, NULL));
  }
  g_autofree char *pipe = mt_test_write (proj, "p.pipe", "d = mnist(root=\"data\", split=\"test\", limit=20)\n");
  const char *env[] = { NULL };
  g_autofree char *err = NULL;
  ck_assert_msg (mt_test_mtrun (elsewhere, env, NULL, &err, "run", "-v", "../proj/p.pipe", NULL) == 0, "%s", err);
  g_autofree char *beside = g_build_filename (proj, ".mtcache", NULL);
  if (!cache_above (dir)) {
    g_autofree char *want = g_strdup_printf ("mtrun: cache %s (beside the pipeline)", beside);
    ck_assert_msg (strstr (err, want), "%s", err);
    ck_assert (g_file_test (beside, G_FILE_TEST_IS_DIR));
    /* From a folder below, the nearest .mtcache above is found, and the result is cached. */
    g_autofree char *out = NULL;
    g_clear_pointer (&err, g_free);
    ck_assert_int_eq (mt_test_mtrun (sub, env, &out, &err, "status", "-v", "../p.pipe", NULL), 0);
    g_autofree char *want2 = g_strdup_printf ("mtrun: cache %s (the nearest .mtcache at or above the current directory)",
                                              beside);
    ck_assert_msg (strstr (err, want2), "%s", err);
    ck_assert_msg (strstr (out, "cached"), "%s", out);
  } else {
    fprintf (stderr, "paths_and_cache_discovery: a .mtcache above %s; discovery from there not checked\n", dir);
  }
  /* MT_CACHE_DIR and -C are explicit choices and win. */
  g_autofree char *envc = g_strdup_printf ("MT_CACHE_DIR=%s/envcache", dir);
  const char *env2[] = { envc, NULL };
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (sub, env2, NULL, &err, "status", "-v", "../p.pipe", NULL), 0);
  ck_assert_msg (strstr (err, "/envcache (from MT_CACHE_DIR)"), "%s", err);
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (sub, env2, NULL, &err, "status", "-v", "-C", "c2", "../p.pipe", NULL), 0);
  ck_assert_msg (strstr (err, "mtrun: cache c2 (from -C)"), "%s", err);
  /* The same file run from its own folder reads the same data. */
  ck_assert_int_eq (mt_test_mtrun (proj, env2, NULL, NULL, "run", "-q", "p.pipe", NULL), 0);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

/* A --set experiment keeps its own refs: gc keeps both runs, status of the file as written
 * stays "cached", and show/export pick the file's run unless given the same --set. */
START_TEST (set_variants_keep_their_own_refs)
{
  Fixture f;
  fixture_init (&f, "param v = 2\na = fill(value=$v, shape=[2])\n");
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, NULL, "run", "-q", f.pipe, NULL), 0);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, NULL, "run", "-q", f.pipe, "--set", "v=1.5", NULL), 0);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, NULL, "cache", "gc", "-q", NULL), 0);
  g_autofree char *out = NULL;
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "status", "--exit-code", f.pipe, NULL), 0);
  ck_assert_msg (strstr (out, "cached") && !strstr (out, "changed"), "%s", out);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "status", "--exit-code", f.pipe, "--set", "v=1.5", NULL), 0);
  g_clear_pointer (&out, g_free);
  /* A third value: status compares with the run of the file as written. */
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "status", f.pipe, "--set", "v=4", NULL), 0);
  ck_assert_msg (strstr (out, "property 'value' changed: 2 → 4") || strstr (out, "never run"), "%s", out);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "show", "--json", "-p", f.pipe, "a", NULL), 0);
  ck_assert_msg (strstr (out, "\"value\":2.0"), "%s", out);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "show", "--json", "-p", f.pipe, "--set", "v=1.5",
                                   "a", NULL), 0);
  ck_assert_msg (strstr (out, "\"value\":1.5"), "%s", out);
  g_autofree char *err = NULL;
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, &err, "cache", "show", "--set", "v=1.5", "a", NULL), 1);
  ck_assert_msg (strstr (err, "--set needs -p FILE.pipe"), "%s", err);
  fixture_clear (&f);
}
END_TEST

/* tests/demo.pipe, the runtime demo the README points at, runs as its comment says. */
/* A cached rerun trusts the digests of unchanged objects (the memo beside the cache, which
 * a run fills with the objects it writes) instead of reading them again; --paranoid reads them; `cache verify` always does, so
 * it finds an object changed behind the memo's back (same size, times put back). */
START_TEST (digest_memo_spares_rereading)
{
  Fixture f;
  fixture_init (&f, demo);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, NULL, "run", "-q", f.pipe, NULL), 0);
  /* The run remembered the objects it wrote: already the first rerun, right after it,
   * reads none of them: six outputs (split has two). */
  g_autofree char *err = NULL;
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, &err, "run", "-v", f.pipe, NULL), 0);
  ck_assert_msg (strstr (err, "digests: 6 remembered, 0 computed") && strstr (err, "5 cached"), "%s", err);
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, &err, "run", "-v", "--paranoid", f.pipe, NULL), 0);
  ck_assert_msg (!strstr (err, "digests:") && strstr (err, "5 cached"), "%s", err);

  /* A damaged memo is ignored, line by line. */
  g_autofree char *memo = g_build_filename (f.dir, "cache", "state", "digests.tsv", NULL);
  g_autofree char *text = NULL;
  ck_assert (g_file_get_contents (memo, &text, NULL, NULL));
  g_autofree char *damaged = g_strconcat ("garbage\t1\n\t\t\t\t\t\n", text, "1\t2\t-3\t4\t5\tzz\n", NULL);
  ck_assert (g_file_set_contents (memo, damaged, -1, NULL));
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, &err, "run", "-v", f.pipe, NULL), 0);
  ck_assert_msg (strstr (err, "digests: 6 remembered, 0 computed"), "%s", err);

  /* One object changed in place, its size and times kept. */
  g_autofree char *objects = g_build_filename (f.dir, "cache", "objects", NULL);
  g_autoptr (GDir) d = g_dir_open (objects, 0, NULL);
  const char *sub = g_dir_read_name (d);
  g_autofree char *subdir = g_build_filename (objects, sub, NULL);
  g_autoptr (GDir) d2 = g_dir_open (subdir, 0, NULL);
  g_autofree char *obj = g_build_filename (subdir, g_dir_read_name (d2), NULL);
  GStatBuf st;
  ck_assert (g_stat (obj, &st) == 0);
  g_autofree char *bytes = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (obj, &bytes, &len, NULL) && len > 0);
  bytes[len - 1] ^= 1;
  ck_assert (g_chmod (obj, 0644) == 0);
  FILE *fp = fopen (obj, "r+b");
  ck_assert (fp && fwrite (bytes, 1, len, fp) == len && fclose (fp) == 0);
  struct timespec times[2] = { st.st_atim, st.st_mtim };
  ck_assert (utimensat (AT_FDCWD, obj, times, 0) == 0);
  g_autofree char *out = NULL;
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "verify", NULL), 1);
  ck_assert_msg (strstr (out, "CORRUPT") && strstr (out, "does not match its digest"), "%s", out);
  fixture_clear (&f);
}
END_TEST

/* A sweep's instances run, are named in --only, status, cache show and export, and share
 * their upstream node. */
START_TEST (sweep_instances)
{
  Fixture f;
  fixture_init (&f, "param k in [1.5, 2]\na = fill(value=1, shape=[2, 2])\nb = scale(a, factor=$k)\n");
  g_autofree char *out = NULL, *err = NULL;
  ck_assert_msg (mt_test_mtrun (f.dir, f.env, &out, &err, "run", "--json", f.pipe, NULL) == 0, "%s", err);
  ck_assert_msg (strstr (out, "\"event\":\"summary\",\"ok\":true,\"cached\":0,\"ran\":3"), "%s", out);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "status", f.pipe, NULL), 0);
  ck_assert_msg (strstr (out, "b[k=1.5]") && strstr (out, "b[k=2]"), "%s", out);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  ck_assert_msg (mt_test_mtrun (f.dir, f.env, &out, &err, "run", "--json", f.pipe, "--only", "b[k=2]", "--force", "b[k=2]",
                                NULL) == 0, "%s", err);
  ck_assert_msg (strstr (out, "\"ran\":1"), "%s", out);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "cache", "show", "-p", f.pipe, "b[k=1.5]", NULL), 0);
  ck_assert_msg (strstr (out, "\"factor\" : 1.5") || strstr (out, "\"factor\": 1.5"), "%s", out);
  g_autofree char *dir = g_build_filename (f.dir, "exported", NULL);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, NULL, "cache", "export", "-q", "-p", f.pipe, "b[k=2]", dir, NULL), 0);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name = d ? g_dir_read_name (d) : NULL;
  ck_assert_msg (name && g_str_has_prefix (name, "b[k=2]."), "%s", name ? name : "(nothing exported)");
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, &err, "run", f.pipe, "--only", "b[k=3]", NULL), 2);
  ck_assert_msg (strstr (err, "b[k=3]"), "%s", err);
  fixture_clear (&f);
}
END_TEST

/* mtrun compare: one row per model of every evaluator report, with the settings that
 * differ (a swept lr, a --set variant's params) and the metrics, sortable, as CSV and JSON. */
START_TEST (compare_reports)
{
  Fixture f;
  fixture_init (&f,
    "param lr in [0.01, 0.05]\n"
    "param n = 400\n"
    "train = mnist(limit=$n)\ntest = mnist(split=\"test\", limit=300)\n"
    "biased = biaser(train, conflict_ratio=0.05)\nbiased_test = biaser(test, conflict_ratio=1.0)\n"
    "m = trainer(biased, epochs=1, batch_size=64, lr=$lr)\n"
    "report = evaluator(models=[m[*]], tests=[biased_test])\n");
  g_autofree char *out = NULL, *err = NULL;
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, &err, "compare", f.pipe, NULL), 1);
  ck_assert_msg (strstr (err, "no evaluator report in the cache (run the pipeline first)"), "%s", err);
  g_clear_pointer (&err, g_free);
  ck_assert_msg (mt_test_mtrun (f.dir, f.env, NULL, &err, "run", "-q", f.pipe, NULL) == 0, "%s", err);
  g_clear_pointer (&err, g_free);
  ck_assert_msg (mt_test_mtrun (f.dir, f.env, NULL, &err, "run", "-q", f.pipe, "--set", "n=300", NULL) == 0, "%s", err);
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, &err, "compare", f.pipe, NULL), 0);
  ck_assert_msg (strstr (err, "4 models from 2 reports"), "%s", err);
  /* Columns: the variant, the model, the swept lr and n, and nothing that is the same
   * everywhere. */
  ck_assert_msg (strstr (out, "variant") && strstr (out, "lr ") && strstr (out, "train.limit") && strstr (out, "m[lr=0.05]") &&
                 strstr (out, "--set n=300") && strstr (out, "biased_test worst %") && !strstr (out, "m.epochs"),
                 "%s", out);
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "compare", f.pipe, "--csv", "--sort", "biased_test", NULL), 0);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  ck_assert_uint_eq (g_strv_length (lines), 6);  /* header, 4 rows, the empty end */
  g_auto (GStrv) head = g_strsplit (lines[0], ",", -1);
  guint acc_col = 0;
  while (head[acc_col] && strcmp (head[acc_col], "biased_test acc %") != 0)
    acc_col++;
  ck_assert_msg (head[acc_col], "%s", lines[0]);
  double prev = 1e9;
  for (int i = 1; i <= 4; i++) {
    g_auto (GStrv) cells = g_strsplit (lines[i], ",", -1);
    double v = g_ascii_strtod (cells[acc_col], NULL);
    ck_assert_msg (v <= prev, "not sorted: %s", out);
    prev = v;
  }
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, &out, NULL, "compare", f.pipe, "--json", NULL), 0);
  ck_assert_uint_eq (count (out, "\"metrics\":{\"biased_test\":"), 4);
  ck_assert_uint_eq (count (out, "\"settings\":{\"lr\":\"0.05\""), 2);
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (f.dir, f.env, NULL, &err, "compare", f.pipe, "--sort", "nope", NULL), 2);
  ck_assert_msg (strstr (err, "--sort nope: no such metric (there are: biased_test, biased_test.worst)"), "%s", err);
  fixture_clear (&f);
}
END_TEST

/* A node that runs models records what made its outputs (device, threads, threading,
 * oneDNN) in its manifest; one of plain code does not. Neither enters the key: with
 * another thread count the entries are still used, and status says how they were made. */
START_TEST (manifests_record_the_environment)
{
  Fixture f;
  fixture_init (&f, "train = mnist()\nbiased = biaser(train, conflict_ratio=0.01)\n"
                    "erm = trainer(biased, epochs=1, lr=0.01, seed=0)\n");
  const char *two[] = { f.cache_env, "MT_NUM_THREADS=2", NULL }, *one[] = { f.cache_env, "MT_NUM_THREADS=1", NULL };
  ck_assert_int_eq (mt_test_mtrun (f.dir, two, NULL, NULL, "run", "-q", f.pipe, NULL), 0);
  g_autofree char *js = NULL;
  ck_assert_int_eq (mt_test_mtrun (f.dir, two, &js, NULL, "cache", "ls", "--json", NULL), 0);
  g_auto (GStrv) lines = g_strsplit (js, "\n", -1);
  guint seen = 0;
  for (guint i = 0; lines[i]; i++) {
    if (!*lines[i])
      continue;
    g_autoptr (JsonParser) jp = json_parser_new ();
    ck_assert (json_parser_load_from_data (jp, lines[i], -1, NULL));
    JsonObject *o = json_node_get_object (json_parser_get_root (jp));
    const char *node = json_object_get_string_member (o, "node");
    ck_assert_str_eq (json_object_get_string_member (o, "backend"), "cpu");
    JsonObject *env = json_object_has_member (o, "environment") ? json_object_get_object_member (o, "environment")
                                                                 : NULL;
    if (g_strcmp0 (node, "erm") == 0) {
      ck_assert_msg (env != NULL, "%s", lines[i]);
      ck_assert_str_eq (json_object_get_string_member (env, "threads"), "2");
      ck_assert_str_eq (json_object_get_string_member (env, "threading"), "slices");
      ck_assert (*json_object_get_string_member (env, "device"));
      ck_assert (g_ascii_isdigit (json_object_get_string_member (env, "onednn")[0]));
    } else {
      ck_assert_msg (env == NULL, "%s has an environment: %s", node, lines[i]);
    }
    seen++;
  }
  ck_assert_uint_eq (seen, 3);
  g_autofree char *out = NULL, *out1 = NULL, *ls = NULL, *sj = NULL;
  ck_assert_int_eq (mt_test_mtrun (f.dir, two, &out, NULL, "status", f.pipe, NULL), 0);
  ck_assert_msg (!strstr (out, "made elsewhere"), "%s", out);
  ck_assert_int_eq (mt_test_mtrun (f.dir, one, &out1, NULL, "status", "--exit-code", f.pipe, NULL), 0);
  ck_assert_msg (strstr (out1, "made elsewhere: threads 2 (here 1)") && count (out1, "made elsewhere") == 1, "%s", out1);
  ck_assert_int_eq (mt_test_mtrun (f.dir, one, &sj, NULL, "status", "--json", f.pipe, NULL), 0);
  ck_assert_msg (strstr (sj, "\"made_elsewhere\" : \"threads 2 (here 1)\"") ||
                 strstr (sj, "\"made_elsewhere\":\"threads 2 (here 1)\""), "%s", sj);
  ck_assert_int_eq (mt_test_mtrun (f.dir, one, &ls, NULL, "cache", "ls", NULL), 0);
  ck_assert_msg (strstr (ls, "MADE ON") && strstr (ls, "cpu, 2 threads"), "%s", ls);
  /* One thread runs nothing again: the cached results are used as they are. */
  g_autofree char *err = NULL;
  ck_assert_int_eq (mt_test_mtrun (f.dir, one, NULL, &err, "run", f.pipe, NULL), 0);
  ck_assert_msg (strstr (err, "0 ran, 3 cached"), "%s", err);
  fixture_clear (&f);
}
END_TEST

START_TEST (demo_pipeline_runs)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *pipe = g_build_filename (g_getenv ("MT_SRCDIR"), "tests", "demo.pipe", NULL);
  g_autofree char *cenv = g_strdup_printf ("MT_CACHE_DIR=%s/cache", dir);
  g_autofree char *penv = g_strdup_printf ("MT_PLUGIN_PATH=%s:%s", g_getenv ("MT_TEST_PLUGIN_DIR"),
                                           g_getenv ("MT_EXAMPLE_PLUGIN_DIR"));
  const char *env[] = { cenv, penv, NULL };
  g_autofree char *err = NULL;
  ck_assert_msg (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, "--set", "ms=10", NULL) == 0, "%s", err);
  ck_assert_msg (strstr (err, " 0 failed"), "%s", err);
  g_clear_pointer (&err, g_free);
  /* --set scale=5: the signs are the same bytes, so what reads only them is not rerun. */
  ck_assert_msg (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, "--set", "ms=10", "--set", "scale=5", NULL) == 0,
                 "%s", err);
  ck_assert_msg (strstr (err, "cached   slow_a"), "%s", err);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("cli");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, version_help_usage);
  tcase_add_test (tc, parse_errors_exit_nonzero_and_run_nothing);
  tcase_add_test (tc, run_rerun_and_set);
  tcase_add_test (tc, force_only_until_dry_run);
  tcase_add_test (tc, status_and_dot);
  tcase_add_test (tc, cache_commands);
  tcase_add_test (tc, inspect_type);
  tcase_add_test (tc, crash_safety_fault_points);
  tcase_add_test (tc, kill_9_mid_run);
  tcase_add_test (tc, two_concurrent_runs_share_one_cache);
  tcase_add_test (tc, gc_refuses_while_a_run_holds_the_cache);
  tcase_add_test (tc, summary_and_messages);
  tcase_add_test (tc, paths_and_cache_discovery);
  tcase_add_test (tc, set_variants_keep_their_own_refs);
  tcase_add_test (tc, digest_memo_spares_rereading);
  tcase_add_test (tc, sweep_instances);
  tcase_add_test (tc, compare_reports);
  tcase_add_test (tc, demo_pipeline_runs);
  tcase_add_test (tc, manifests_record_the_environment);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}
