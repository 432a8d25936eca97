#include "runtime/mt-plugin-scan.h"
#include "runtime/mt-registry-private.h"
#include "base/mt-error.h"
#include "base/mt-json-write.h"
#include "base/mt-fileutil.h"
#include "base/mt-json.h"
#include "base/mt-version.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define SCAN_MARK "MT-PLUGIN-SCAN "
#define SCAN_FORMAT "masktune-plugin-registry-1"

const char *
mt_plugin_scan_default_file (void)
{
  static char *path;
  if (!path) {
    const char *env = g_getenv ("MT_PLUGIN_REGISTRY");
    path = env && *env ? g_strdup (env)
                       : g_strdup_printf ("%s/masktune/plugin-registry-abi%d.json", g_get_user_cache_dir (),
                                          MT_PLUGIN_ABI_VERSION);
  }
  return path;
}

void
mt_registry_set_scanner (MtRegistry *reg, const char *scanner, const char *registry_file)
{
  g_return_if_fail (reg != NULL);
  MtPluginScanState *s = mt_registry_scan_state (reg);
  g_free (s->scanner);
  g_free (s->file);
  g_clear_pointer (&s->db, json_object_unref);
  s->scanner = g_strdup (scanner);
  s->file = g_strdup (registry_file ? registry_file : mt_plugin_scan_default_file ());
}

/* The remembered scans; a missing or unreadable file is an empty one. */
static JsonObject *
scan_db (MtPluginScanState *s)
{
  if (s->db)
    return s->db;
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr (JsonNode) root = NULL;
  if (mt_file_read_regular (s->file, TRUE, 16 << 20, &text, &len, NULL))
    root = mt_json_parse (text, len, 16 << 20, s->file, NULL);
  JsonObject *o = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  JsonObject *plugins = o && g_strcmp0 (mt_json_string (o, "format", ""), SCAN_FORMAT) == 0
    ? mt_json_object (o, "plugins") : NULL;
  s->db = plugins ? json_object_ref (plugins) : json_object_new ();
  return s->db;
}

static void
scan_db_save (MtPluginScanState *s)
{
  g_autoptr (JsonObject) top = json_object_new ();
  json_object_set_string_member (top, "format", SCAN_FORMAT);
  json_object_set_object_member (top, "plugins", json_object_ref (scan_db (s)));
  g_autoptr (JsonNode) n = json_node_init_object (json_node_alloc (), top);
  g_autofree char *text = mt_json_to_string (n, TRUE);
  g_autofree char *dir = g_path_get_dirname (s->file);
  g_mkdir_with_parents (dir, 0755);
  /* A registry that cannot be written only costs a scan next time. */
  mt_file_write_atomic (s->file, text, strlen (text), NULL);
}

/* Runs the scanner on @path: its last SCAN_MARK line on success, else why it failed. */
static char *
scan_run (MtPluginScanState *s, const char *path, char **why)
{
  const char *argv[] = { s->scanner, "__scan-plugin", path, NULL };
  GPid pid;
  int out_fd = -1;
  g_autoptr (GError) err = NULL;
  /* Under AddressSanitizer a crash would end the scanner with ASan's exit status; let it
   * die of its signal instead, so the reason is the same in every build. */
  g_auto (GStrv) envp = g_get_environ ();
  const char *asan = g_environ_getenv (envp, "ASAN_OPTIONS");
  g_autofree char *asan_opts = g_strdup_printf ("%s%shandle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_abort=0",
                                                asan ? asan : "", asan && *asan ? ":" : "");
  envp = g_environ_setenv (envp, "ASAN_OPTIONS", asan_opts, TRUE);
  if (!g_spawn_async_with_pipes (NULL, (char **) argv, envp, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL,
                                 NULL, NULL, &pid, NULL, &out_fd, NULL, &err)) {
    *why = g_strdup_printf ("could not start the plugin scanner %s: %s", s->scanner, err->message);
    return NULL;
  }
  GString *out = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + (gint64) MT_PLUGIN_SCAN_TIMEOUT_S * G_USEC_PER_SEC;
  gboolean timed_out = FALSE;
  for (;;) {
    gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
    if (left <= 0) {
      timed_out = TRUE;
      break;
    }
    struct pollfd pfd = { out_fd, POLLIN, 0 };
    int r = poll (&pfd, 1, (int) MIN (left, 1000));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      continue;
    char buf[4096];
    gssize n = read (out_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    if (out->len < (1 << 20))
      g_string_append_len (out, buf, n);
  }
  close (out_fd);
  if (timed_out)
    kill (pid, SIGKILL);
  int status = 0;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  g_spawn_close_pid (pid);
  g_autofree char *text = g_string_free (out, FALSE);
  if (timed_out) {
    *why = g_strdup_printf ("hung while loading (killed after %d s)", MT_PLUGIN_SCAN_TIMEOUT_S);
    return NULL;
  }
  if (WIFSIGNALED (status)) {
    *why = g_strdup_printf ("crashed while loading: signal %d (%s)", WTERMSIG (status), g_strsignal (WTERMSIG (status)));
    return NULL;
  }
  const char *mark = g_strrstr (text, SCAN_MARK);
  if (!mark) {
    *why = g_strdup_printf ("exited (status %d) while loading, before its nodes were registered: does it call exit()?",
                            WIFEXITED (status) ? WEXITSTATUS (status) : -1);
    return NULL;
  }
  const char *end = strchr (mark, '\n');
  return g_strndup (mark + strlen (SCAN_MARK), end ? (gsize) (end - mark - strlen (SCAN_MARK)) : strlen (mark));
}

/* Runs under the registry's lock (from the loader). A plugin whose node types or GTypes are already registered (the same plugin installed
 * twice, say) would make GObject complain and the registry refuse it half-loaded: it is
 * rejected before it is loaded, naming the file that has them. */
static gboolean
scan_conflicts (MtRegistry *reg, JsonObject *e, char **why)
{
  JsonArray *types = mt_json_array (e, "types"), *gtypes = mt_json_array (e, "gtypes");
  for (guint i = 0; types && i < json_array_get_length (types); i++) {
    const char *t = mt_json_array_string (types, i);
    if (t && mt_registry_lookup_locked (reg, t)) {
      *why = g_strdup_printf ("it registers node type '%s', which %s already registers", t,
                              mt_registry_get_origin (reg, t));
      return TRUE;
    }
  }
  for (guint i = 0; gtypes && i < json_array_get_length (gtypes); i++) {
    const char *t = mt_json_array_string (gtypes, i);
    if (t && g_type_from_name (t)) {
      g_autofree const char **names = mt_registry_list (reg);
      const char *by = "another plugin";
      for (guint k = 0; names[k]; k++)
        if (g_strcmp0 (g_type_name (mt_registry_lookup_locked (reg, names[k])), t) == 0)
          by = mt_registry_get_origin (reg, names[k]);
      *why = g_strdup_printf ("its type %s is already registered by %s", t, by);
      return TRUE;
    }
  }
  return FALSE;
}

gboolean
mt_plugin_scan_check (MtRegistry *reg, const char *path, char **why)
{
  MtPluginScanState *s = mt_registry_scan_state (reg);
  if (!s->scanner)
    return TRUE;
  GStatBuf st;
  if (g_stat (path, &st) != 0) {
    *why = g_strdup_printf ("cannot read it: %s", g_strerror (errno));
    return FALSE;
  }
  gint64 mtime = (gint64) st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;  /* exact in a JSON double */
  JsonObject *db = scan_db (s);
  JsonObject *e = mt_json_object (db, path);
  double size = -1, mt = -1, abi = -1;
  if (e && mt_json_number (e, "size", &size) && mt_json_number (e, "mtime_us", &mt) && mt_json_number (e, "abi", &abi) &&
      size == (double) st.st_size && mt == (double) mtime && abi == MT_PLUGIN_ABI_VERSION) {
    if (mt_json_true (e, "ok"))
      return !scan_conflicts (reg, e, why);
    *why = g_strdup (mt_json_string (e, "reason", "rejected when it was scanned"));
    return FALSE;
  }
  g_autofree char *reason = NULL;
  g_autofree char *line = scan_run (s, path, &reason);
  /* The answer is parsed once: whether it loaded, and the names it registers. */
  g_autoptr (JsonNode) answer = line ? mt_json_parse (line, strlen (line), 1 << 20, "the scanner's answer", NULL) : NULL;
  JsonObject *ro = answer && JSON_NODE_HOLDS_OBJECT (answer) ? json_node_get_object (answer) : NULL;
  gboolean ok = mt_json_true (ro, "ok");
  if (line && !ok)
    reason = g_strdup (ro ? mt_json_string (ro, "reason", "rejected by the scanner") : "the scanner's answer is garbled");
  JsonObject *ne = json_object_new ();
  const char *lists[] = { "types", "gtypes" };
  for (guint k = 0; ok && k < G_N_ELEMENTS (lists); k++) {
    JsonArray *a = mt_json_array (ro, lists[k]);
    if (a)
      json_object_set_array_member (ne, lists[k], json_array_ref (a));
  }
  json_object_set_int_member (ne, "size", st.st_size);
  json_object_set_int_member (ne, "mtime_us", mtime);
  json_object_set_int_member (ne, "abi", MT_PLUGIN_ABI_VERSION);
  json_object_set_boolean_member (ne, "ok", ok);
  if (!ok)
    json_object_set_string_member (ne, "reason", reason);
  json_object_set_object_member (db, path, ne);
  scan_db_save (s);
  if (!ok)
    *why = g_steal_pointer (&reason);
  return ok && !scan_conflicts (reg, ne, why);
}

int
mt_plugin_scan_child (const char *path)
{
  g_return_val_if_fail (path != NULL, 2);
  MtRegistry *reg = mt_registry_new ();
  g_autoptr (GError) err = NULL;
  gboolean ok = mt_registry_load_plugin (reg, path, &err);
  g_autoptr (JsonObject) o = json_object_new ();
  json_object_set_boolean_member (o, "ok", ok);
  if (ok) {
    JsonArray *types = json_array_new (), *gtypes = json_array_new ();
    g_autofree const char **names = mt_registry_list (reg);
    for (guint i = 0; names[i]; i++) {
      json_array_add_string_element (types, names[i]);
      json_array_add_string_element (gtypes, g_type_name (mt_registry_lookup (reg, names[i])));
    }
    json_object_set_array_member (o, "types", types);
    json_object_set_array_member (o, "gtypes", gtypes);
  } else {
    GPtrArray *rej = mt_registry_get_rejected (reg);
    json_object_set_string_member (o, "reason", rej->len ? ((MtPluginRejection *) rej->pdata[0])->reason : err->message);
  }
  g_autoptr (JsonNode) n = json_node_init_object (json_node_alloc (), o);
  g_autofree char *text = mt_json_to_string (n, FALSE);
  fflush (stdout);
  printf ("\n" SCAN_MARK "%s\n", text);
  fflush (stdout);
  /* The plugin stays loaded: leave without running its destructors or ours. */
  _exit (0);
}
