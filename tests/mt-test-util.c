#include "tests/mt-test-util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

char *
mt_test_tmpdir (void)
{
  g_autoptr (GError) err = NULL;
  char *d = g_dir_make_tmp ("mt-test-XXXXXX", &err);
  ck_assert_msg (d != NULL, "cannot make a temp dir: %s", err ? err->message : "?");
  return d;
}

char *
mt_test_write (const char *dir, const char *name, const char *content)
{
  char *p = g_build_filename (dir, name, NULL);
  g_autoptr (GError) err = NULL;
  ck_assert_msg (g_file_set_contents (p, content, -1, &err), "cannot write %s", p);
  return p;
}

MtRegistry *
mt_test_registry (void)
{
  MtRegistry *reg = mt_registry_get_default ();
  const char *dir = g_getenv ("MT_TEST_PLUGIN_DIR");
  ck_assert_msg (dir != NULL, "MT_TEST_PLUGIN_DIR is not set (run through make check)");
  mt_registry_load_path (reg, dir);
  ck_assert_msg (mt_registry_lookup (reg, "fill") != 0, "the test-node plugin did not load from %s", dir);
  return reg;
}

int
mt_test_mtrun (const char *cwd, const char *const *env, char **out, char **err, ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  va_list ap;
  va_start (ap, err);
  const char *a;
  while ((a = va_arg (ap, const char *)))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  return mt_test_mtrunv (cwd, env, out, err, (const char *const *) args->pdata);
}

int
mt_test_mtrunv (const char *cwd, const char *const *env, char **out, char **err, const char *const *args)
{
  const char *mtrun = g_getenv ("MTRUN");
  ck_assert_msg (mtrun != NULL, "MTRUN is not set (run through make check)");
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) mtrun);
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  g_auto (GStrv) envp = g_get_environ ();
  envp = g_environ_setenv (envp, "MT_PLUGIN_PATH", g_getenv ("MT_TEST_PLUGIN_DIR"), TRUE);
  for (guint i = 0; env && env[i]; i++) {
    g_auto (GStrv) kv = g_strsplit (env[i], "=", 2);
    envp = g_environ_setenv (envp, kv[0], kv[1] ? kv[1] : "", TRUE);
  }
  int status = 0;
  g_autoptr (GError) error = NULL;
  char *o = NULL, *e = NULL;
  gboolean ok = g_spawn_sync (cwd, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL, &o, &e,
                              &status, &error);
  ck_assert_msg (ok, "cannot run mtrun: %s", error ? error->message : "?");
  if (out)
    *out = o;
  else
    g_free (o);
  if (err)
    *err = e;
  else
    g_free (e);
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  return 128 + WTERMSIG (status);
}

int
mt_test_wait_pid (GPid pid)
{
  int status = 0;
  ck_assert (waitpid (pid, &status, 0) == pid);
  return status;
}

guint
mt_test_count_lines (const char *path, const char *line)
{
  g_autofree char *data = NULL;
  if (!g_file_get_contents (path, &data, NULL, NULL))
    return 0;
  g_auto (GStrv) lines = g_strsplit (data, "\n", -1);
  guint n = 0;
  for (guint i = 0; lines[i]; i++)
    n += g_strcmp0 (lines[i], line) == 0;
  return n;
}

static void
release_fonts (void)
{
  mt_plot_release_fonts ();
}

int
mt_test_run_suite (Suite *s)
{
  /* Tests that draw text (charts, panels) in their own process: fontconfig's caches are
   * freed when each forked test exits, so LeakSanitizer and valgrind see a clean exit. */
  atexit (release_fonts);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

double *
mt_test_random (MtRng *rng, gsize n, double scale)
{
  double *a = g_new (double, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    a[i] = (2 * mt_rng_uniform (rng) - 1) * scale;
  return a;
}
