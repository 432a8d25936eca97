/* mtrun: run MaskTune pipelines (.pipe files) and manage their cache. */
#include "config.h"
#include "tools/mtrun.h"

#include <signal.h>

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

MtrunGlobal mtrun_global;

static const GOptionEntry common_entries[] = {
  { "cache-dir", 'C', 0, G_OPTION_ARG_FILENAME, &mtrun_global.cache_dir,
    "Cache directory (default: $MT_CACHE_DIR, else the nearest .mtcache here or above, else one beside the pipeline)", "DIR" },
  { "plugin-path", 'P', 0, G_OPTION_ARG_FILENAME_ARRAY, &mtrun_global.plugin_paths,
    "Also load plugins from DIR (repeatable; see also $MT_PLUGIN_PATH)", "DIR" },
  { "quiet", 'q', 0, G_OPTION_ARG_NONE, &mtrun_global.quiet, "Print only errors", NULL },
  { "verbose", 'v', 0, G_OPTION_ARG_NONE, &mtrun_global.verbose, "Also say which backend and cache are used, and why", NULL },
  { "json", 0, 0, G_OPTION_ARG_NONE, &mtrun_global.json, "Machine-readable output: one JSON object per line", NULL },
  { "paranoid", 0, 0, G_OPTION_ARG_NONE, &mtrun_global.paranoid,
    "Read every file again to check its digest, instead of trusting the digests remembered for unchanged files", NULL },
  G_OPTION_ENTRY_NULL
};

void
mtrun_add_common_options (GOptionContext *oc)
{
  /* In the main group, so that `mtrun run --help` shows them (a group hid them under
   * --help-common). */
  g_option_context_add_main_entries (oc, common_entries, NULL);
}

static const char *mtrun_argv0 = "mtrun";
static gboolean mtrun_finished;

MtRegistry *
mtrun_registry (void)
{
  MtRegistry *reg = mt_registry_get_default ();
  /* Plugins are loaded here only after a scan in a child process went well: this very
   * program, run as `mtrun __scan-plugin PATH`. */
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  mt_registry_set_scanner (reg, self ? self : mtrun_argv0, NULL);
  mt_registry_load_path (reg, g_getenv ("MT_PLUGIN_PATH"));
  for (guint i = 0; mtrun_global.plugin_paths && mtrun_global.plugin_paths[i]; i++)
    mt_registry_load_path (reg, mtrun_global.plugin_paths[i]);
  mt_registry_load_path (reg, MT_PLUGINDIR);
  return reg;
}

MtCache *
mtrun_open_cache (const char *pipeline, GError **error)
{
  const char *how = "from -C";
  g_autofree char *dir = mtrun_global.cache_dir ? g_strdup (mtrun_global.cache_dir)
                                                : mt_cache_find_dir (pipeline, &how);
  if (mtrun_global.verbose && !mtrun_global.json)
    fprintf (stderr, "mtrun: cache %s (%s)\n", dir, how);
  MtCache *cache = mt_cache_open (dir, error);
  /* Digests of unchanged files (cache objects, datasets' images) are remembered beside
   * the cache, so that a cached rerun reads no file it already checked. */
  if (cache && !mtrun_global.paranoid && !mt_digest_memo_get_default ()) {
    g_autofree char *memo = mt_cache_digest_memo_path (cache);
    mt_digest_memo_set_default (mt_digest_memo_open (memo));
  }
  return cache;
}

/* Saves what the digest memo learned; a memo that cannot be written costs only speed. */
static void
mtrun_save_digest_memo (void)
{
  MtDigestMemo *memo = mt_digest_memo_get_default ();
  if (!memo)
    return;
  g_autoptr (GError) err = NULL;
  if (!mt_digest_memo_save (memo, &err) && mtrun_global.verbose)
    fprintf (stderr, "mtrun: digest memo not saved: %s\n", err->message);
  if (mtrun_global.verbose) {
    guint64 hits = 0, misses = 0;
    mt_digest_memo_stats (memo, &hits, &misses);
    if (hits + misses)
      fprintf (stderr, "mtrun: digests: %" G_GUINT64_FORMAT " remembered, %" G_GUINT64_FORMAT " computed\n", hits, misses);
  }
  mt_digest_memo_free (memo);
}

void
mtrun_print_json (JsonNode *node)
{
  g_autofree char *s = mt_json_to_string (node, FALSE);
  printf ("%s\n", s);
  fflush (stdout);
}


/* mtrun never exits 0 without having done what it was asked: whatever calls exit()
 * before main returns (a plugin, say) turns into a failure with a line saying so. */
static void
mtrun_exit_guard (void)
{
  if (mtrun_finished)
    return;
  fflush (stdout);
  fprintf (stderr, "mtrun: stopped before finishing (something called exit(): a plugin?)\n");
  _exit (MTRUN_EXIT_FAILURE);
}

char *
mtrun_escape (const char *s)
{
  GString *o = g_string_new (NULL);
  for (; s && *s; s++) {
    guchar c = (guchar) *s;
    if (c < 0x20 || c == 0x7f)
      g_string_append_printf (o, "\\x%02x", c);
    else
      g_string_append_c (o, (char) c);
  }
  return g_string_free (o, FALSE);
}

gboolean
mtrun_parse_options (GOptionContext *oc, int *argc, char ***argv, GError **error)
{
  mtrun_finished = TRUE;  /* --help prints and exits 0: that is what was asked */
  gboolean ok = g_option_context_parse (oc, argc, argv, error);
  mtrun_finished = FALSE;
  return ok;
}

int
mtrun_fail (int status, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  fprintf (stderr, "mtrun: %s\n", msg);
  return status;
}

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage: mtrun COMMAND [OPTION…]\n"
           "\n"
           "Commands:\n"
           "  run FILE.pipe        run a pipeline (also: mtrun FILE.pipe)\n"
           "  status FILE.pipe     which nodes are cached and which will run, and why\n"
           "  dot FILE.pipe        the pipeline as a Graphviz DOT graph\n"
           "  cache ls|show|export|verify|gc   inspect and maintain the cache\n"
           "  inspect [TYPE]       list node types, or describe one\n"
           "  compare FILE.pipe    every evaluator report of a pipeline in the cache, side by side\n"
           "  report FILE.pipe -o DIR   a static HTML page of the pipeline's latest run\n"
           "\n"
           "  --version            print the version\n"
           "  --help               this text; 'mtrun COMMAND --help' for a command's options\n");
}

static int
dispatch (int argc, char **argv)
{
  if (argc < 2) {
    usage (stderr);
    return MTRUN_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (g_strcmp0 (cmd, "--version") == 0 || g_strcmp0 (cmd, "-V") == 0) {
    printf ("mtrun (masktune) %s, plugin ABI %d\n", MT_VERSION_STRING, MT_PLUGIN_ABI_VERSION);
    return 0;
  }
  if (g_strcmp0 (cmd, "--help") == 0 || g_strcmp0 (cmd, "-h") == 0 || g_strcmp0 (cmd, "help") == 0) {
    usage (stdout);
    return 0;
  }
  if (g_strcmp0 (cmd, "__scan-plugin") == 0 && argc == 3)
    return mt_plugin_scan_child (argv[2]);
  if (g_strcmp0 (cmd, "run") == 0)
    return mtrun_cmd_run (argc - 1, argv + 1, FALSE);
  if (g_strcmp0 (cmd, "status") == 0)
    return mtrun_cmd_status (argc - 1, argv + 1);
  if (g_strcmp0 (cmd, "dot") == 0)
    return mtrun_cmd_dot (argc - 1, argv + 1);
  if (g_strcmp0 (cmd, "cache") == 0)
    return mtrun_cmd_cache (argc - 1, argv + 1);
  if (g_strcmp0 (cmd, "inspect") == 0)
    return mtrun_cmd_inspect (argc - 1, argv + 1);
  if (g_strcmp0 (cmd, "compare") == 0)
    return mtrun_cmd_compare (argc - 1, argv + 1);
  if (g_strcmp0 (cmd, "report") == 0)
    return mtrun_cmd_report (argc - 1, argv + 1);
  /* mtrun FILE.pipe [OPTION…] is mtrun run FILE.pipe. */
  if (cmd[0] == '-' || g_str_has_suffix (cmd, ".pipe") || g_file_test (cmd, G_FILE_TEST_IS_REGULAR))
    return mtrun_cmd_run (argc, argv, TRUE);
  const char *cmds[] = { "run", "status", "dot", "cache", "inspect", "compare", "report", NULL };
  g_autofree char *hint = mt_suggest_hint (cmd, cmds);
  return mtrun_fail (MTRUN_EXIT_USAGE, "unknown command '%s'%s (see mtrun --help)", cmd, hint);
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  /* Past a file-size limit a write should fail with EFBIG, reported like a full disk,
   * not kill the process. */
  signal (SIGXFSZ, SIG_IGN);
  mtrun_argv0 = argv[0];
  atexit (mtrun_exit_guard);
  int status = dispatch (argc, argv);
  mtrun_save_digest_memo ();
  mt_plot_release_fonts ();
  mt_backend_release_idle ();  /* before exit: a device's handles go while its driver is up */
  mtrun_finished = TRUE;
  return status;
}
