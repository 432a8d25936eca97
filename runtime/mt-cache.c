#include "mt-cache.h"
#include "mt-json.h"
#include "mt-error.h"
#include "mt-fault.h"
#include "mt-fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

struct _MtCache {
  char *dir;
  int lock_fd;
};

static const char *const subdirs[] = { "objects", "entries", "refs", "locks", "tmp", "resume" };

char *
mt_cache_default_dir (void)
{
  const char *env = g_getenv ("MT_CACHE_DIR");
  return g_strdup (env && *env ? env : ".mtcache");
}

MtCache *
mt_cache_open (const char *dir, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (subdirs); i++) {
    g_autofree char *p = g_build_filename (dir, subdirs[i], NULL);
    if (g_mkdir_with_parents (p, 0755) != 0) {
      int e = errno;
      g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "cannot create cache directory %s: %s", p, g_strerror (e));
      return NULL;
    }
  }
  MtCache *c = g_new0 (MtCache, 1);
  c->dir = g_strdup (dir);
  c->lock_fd = -1;
  return c;
}

void
mt_cache_close (MtCache *c)
{
  if (!c)
    return;
  if (c->lock_fd >= 0)
    close (c->lock_fd);  /* releases the flock */
  g_free (c->dir);
  g_free (c);
}

const char *
mt_cache_get_dir (MtCache *c)
{
  return c->dir;
}

static gboolean
lock_cache (MtCache *c, int op, GError **error)
{
  if (c->lock_fd < 0) {
    g_autofree char *p = g_build_filename (c->dir, "lock", NULL);
    c->lock_fd = g_open (p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (c->lock_fd < 0) {
      int e = errno;
      g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "cannot open %s: %s", p, g_strerror (e));
      return FALSE;
    }
  }
  while (flock (c->lock_fd, op) != 0) {
    if (errno == EINTR)
      continue;
    int e = errno;
    if (e == EWOULDBLOCK)
      g_set_error (error, MT_ERROR, MT_ERROR_CACHE,
                   "the cache %s is in use by a running mtrun; try again when it has finished", c->dir);
    else
      g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "cannot lock the cache %s: %s", c->dir, g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

gboolean
mt_cache_lock_shared (MtCache *c, GError **error)
{
  return lock_cache (c, LOCK_SH, error);
}

gboolean
mt_cache_lock_exclusive (MtCache *c, GError **error)
{
  return lock_cache (c, LOCK_EX | LOCK_NB, error);
}

int
mt_cache_lock_key (MtCache *c, const char *key, GError **error)
{
  g_autofree char *name = g_strconcat (key, ".lock", NULL);
  g_autofree char *p = g_build_filename (c->dir, "locks", name, NULL);
  int fd = g_open (p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "cannot open %s: %s", p, g_strerror (e));
    return -1;
  }
  while (flock (fd, LOCK_EX) != 0) {
    if (errno == EINTR)
      continue;
    int e = errno;
    close (fd);
    g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "cannot lock %s: %s", p, g_strerror (e));
    return -1;
  }
  return fd;
}

void
mt_cache_unlock_key (int fd)
{
  if (fd >= 0)
    close (fd);
}

static char *
entry_path (MtCache *c, const char *key)
{
  g_autofree char *name = g_strconcat (key, ".json", NULL);
  return g_build_filename (c->dir, "entries", name, NULL);
}

static void
output_free (gpointer p)
{
  MtCacheOutput *o = p;
  g_free (o->port);
  g_free (o->kind);
  g_free (o->digest);
  g_free (o->file);
  g_free (o);
}

void
mt_manifest_free (MtManifest *m)
{
  if (!m)
    return;
  if (m->root)
    json_node_unref (m->root);
  g_free (m->key);
  g_free (m->node);
  g_free (m->type);
  g_free (m->class_version);
  g_free (m->fingerprint);
  g_free (m->started);
  g_clear_pointer (&m->properties, g_hash_table_unref);
  g_clear_pointer (&m->inputs, g_hash_table_unref);
  g_clear_pointer (&m->outputs, g_ptr_array_unref);
  g_free (m);
}

static gboolean
is_hex_digest (const char *s)
{
  if (!s || strlen (s) != 64)
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isxdigit (*s) || g_ascii_isupper (*s))
      return FALSE;
  return TRUE;
}

#define MF_FAIL(...) G_STMT_START { \
    g_autofree char *m_ = g_strdup_printf (__VA_ARGS__); \
    g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "%s: bad manifest: %s", what, m_); \
    return NULL; } G_STMT_END

MtManifest *
mt_manifest_parse (const char *json, gsize len, const char *what, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) jerr = NULL;
  if (!json_parser_load_from_data (parser, json, (gssize) len, &jerr))
    MF_FAIL ("%s", jerr->message);
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    MF_FAIL ("not a JSON object");
  JsonObject *o = json_node_get_object (root);
  if (g_strcmp0 (mt_json_string (o, "format", ""), "masktune-manifest-1") != 0)
    MF_FAIL ("unknown format");

  g_autoptr (MtManifest) m = g_new0 (MtManifest, 1);
  m->root = json_node_copy (root);
  m->key = g_strdup (mt_json_string (o, "key", NULL));
  m->node = g_strdup (mt_json_string (o, "node", ""));
  m->type = g_strdup (mt_json_string (o, "type", ""));
  m->class_version = g_strdup (mt_json_string (o, "class_version", ""));
  m->fingerprint = g_strdup (mt_json_string (o, "fingerprint", NULL));
  m->started = g_strdup (mt_json_string (o, "started", ""));
  if (!mt_json_number (o, "duration", &m->duration))
    m->duration = 0;
  if (!is_hex_digest (m->key))
    MF_FAIL ("no valid key");

  m->properties = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  JsonObject *kp = mt_json_object (o, "key_properties");
  if (kp) {
    g_autoptr (GList) names = json_object_get_members (kp);
    for (GList *l = names; l; l = l->next)
      g_hash_table_insert (m->properties, g_strdup (l->data),
                           g_strdup (mt_json_string (kp, l->data, "")));
  }
  m->inputs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  JsonObject *ins = mt_json_object (o, "inputs");
  if (ins) {
    g_autoptr (GList) names = json_object_get_members (ins);
    for (GList *l = names; l; l = l->next) {
      JsonObject *io = mt_json_object (ins, l->data);
      if (io)
        g_hash_table_insert (m->inputs, g_strdup (l->data),
                             g_strdup (mt_json_string (io, "digest", "")));
    }
  }
  m->outputs = g_ptr_array_new_with_free_func (output_free);
  JsonArray *outs = mt_json_array (o, "outputs");
  if (!outs)
    MF_FAIL ("no outputs");
  for (guint i = 0; i < json_array_get_length (outs); i++) {
    JsonNode *on = json_array_get_element (outs, i);
    JsonObject *oo = JSON_NODE_HOLDS_OBJECT (on) ? json_node_get_object (on) : NULL;
    if (!oo)
      MF_FAIL ("output %u is not an object", i);
    MtCacheOutput *out = g_new0 (MtCacheOutput, 1);
    g_ptr_array_add (m->outputs, out);
    out->port = g_strdup (mt_json_string (oo, "port", NULL));
    out->kind = g_strdup (mt_json_string (oo, "kind", ""));
    out->digest = g_strdup (mt_json_string (oo, "digest", NULL));
    out->file = g_strdup (mt_json_string (oo, "file", NULL));
    double size = -1;
    out->size = mt_json_number (oo, "size", &size) && size >= 0 && size < 9e15 && size == (gint64) size ? (gint64) size : -1;
    /* The file must be the object named by its digest: nothing else in the cache is trusted. */
    if (!out->port || !is_hex_digest (out->digest) || !out->file || out->size < 0 ||
        !g_str_has_prefix (out->file, "objects/") || strstr (out->file, "..") ||
        !strstr (out->file, out->digest))
      MF_FAIL ("output %u is malformed", i);
  }
  return g_steal_pointer (&m);
}

MtManifest *
mt_cache_lookup (MtCache *c, const char *key, GError **error)
{
  g_autofree char *p = entry_path (c, key);
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) err = NULL;
  if (!g_file_get_contents (p, &data, &len, &err)) {
    if (g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return NULL;
    g_propagate_error (error, g_steal_pointer (&err));
    return NULL;
  }
  MtManifest *m = mt_manifest_parse (data, len, p, error);
  if (m && g_strcmp0 (m->key, key) != 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "%s: manifest is for another key", p);
    mt_manifest_free (m);
    return NULL;
  }
  return m;
}

char *
mt_cache_output_path (MtCache *c, const MtCacheOutput *o)
{
  return g_build_filename (c->dir, o->file, NULL);
}

const MtCacheOutput *
mt_manifest_find_output (MtManifest *m, const char *port)
{
  for (guint i = 0; i < m->outputs->len; i++) {
    MtCacheOutput *o = m->outputs->pdata[i];
    if (g_strcmp0 (o->port, port) == 0)
      return o;
  }
  return NULL;
}

gboolean
mt_cache_verify (MtCache *c, MtManifest *m, gboolean full, GError **error)
{
  for (guint i = 0; i < m->outputs->len; i++) {
    MtCacheOutput *o = m->outputs->pdata[i];
    g_autofree char *p = mt_cache_output_path (c, o);
    GStatBuf st;
    if (g_stat (p, &st) != 0) {
      g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "output '%s' (%s) is missing", o->port, o->file);
      return FALSE;
    }
    if (st.st_size != o->size) {
      g_set_error (error, MT_ERROR, MT_ERROR_CACHE,
                   "output '%s' (%s) is %" G_GINT64_FORMAT " bytes, the manifest says %" G_GINT64_FORMAT,
                   o->port, o->file, (gint64) st.st_size, o->size);
      return FALSE;
    }
    if (full) {
      g_autofree char *d = mt_file_sha256 (p, NULL, error);
      if (!d)
        return FALSE;
      if (g_strcmp0 (d, o->digest) != 0) {
        g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "output '%s' (%s) does not match its digest",
                     o->port, o->file);
        return FALSE;
      }
    }
  }
  return TRUE;
}

char *
mt_cache_make_tmp_dir (MtCache *c, const char *key, GError **error)
{
  g_autofree char *tmpl = g_strdup_printf ("%.16s-%d-XXXXXX", key, (int) getpid ());
  char *p = g_build_filename (c->dir, "tmp", tmpl, NULL);
  if (!g_mkdtemp (p)) {
    int e = errno;
    g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "cannot create %s: %s", p, g_strerror (e));
    g_free (p);
    return NULL;
  }
  return p;
}

char *
mt_cache_resume_dir (MtCache *c, const char *key)
{
  return g_build_filename (c->dir, "resume", key, NULL);
}

gboolean
mt_cache_commit_object (MtCache *c, const char *path, const char *ext, char **digest,
                        gint64 *size, char **relpath, GError **error)
{
  /* The bytes must be on disk before a manifest can point at them. */
  if (!mt_file_sync (path, error))
    return FALSE;
  goffset sz = 0;
  g_autofree char *d = mt_file_sha256 (path, &sz, error);
  if (!d)
    return FALSE;
  g_autofree char *name = g_strconcat (d, ".", ext, NULL);
  g_autofree char *sub = g_strndup (d, 2);
  g_autofree char *dir = g_build_filename (c->dir, "objects", sub, NULL);
  if (g_mkdir_with_parents (dir, 0755) != 0) {
    int e = errno;
    g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "cannot create %s: %s", dir, g_strerror (e));
    return FALSE;
  }
  g_autofree char *dst = g_build_filename (dir, name, NULL);
  /* Objects are read-only so that nobody edits one in place by accident. */
  g_chmod (path, 0444);
  mt_fault_point ("before-object-rename");
  if (g_rename (path, dst) != 0) {
    int e = errno;
    g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "cannot move %s to %s: %s", path, dst, g_strerror (e));
    return FALSE;
  }
  if (!mt_file_sync (dir, error))
    return FALSE;
  *digest = g_steal_pointer (&d);
  *size = sz;
  *relpath = g_build_filename ("objects", sub, name, NULL);
  return TRUE;
}

gboolean
mt_cache_write_manifest (MtCache *c, JsonNode *manifest, GError **error)
{
  JsonObject *o = json_node_get_object (manifest);
  const char *key = json_object_get_string_member (o, "key");
  g_autofree char *p = entry_path (c, key);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, manifest);
  json_generator_set_pretty (gen, TRUE);
  gsize len = 0;
  g_autofree char *data = json_generator_to_data (gen, &len);
  mt_fault_point ("before-manifest");
  if (g_getenv ("MT_FAULT") && mt_fault_active ("manifest-write")) {
    /* Simulate a crash half-way through the manifest's bytes. */
    g_autofree char *tmp = g_strdup_printf ("%s.tmp-%d-crash", p, (int) getpid ());
    g_file_set_contents (tmp, data, len / 2, NULL);
    mt_fault_point ("manifest-write");
  }
  return mt_file_write_atomic (p, data, len, error);
}

gboolean
mt_cache_remove_entry (MtCache *c, const char *key, GError **error)
{
  g_autofree char *p = entry_path (c, key);
  if (g_unlink (p) != 0 && errno != ENOENT) {
    int e = errno;
    g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "cannot remove %s: %s", p, g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

static char *
ref_dir (MtCache *c, const char *pipeline)
{
  g_autofree char *id = g_compute_checksum_for_string (G_CHECKSUM_SHA256, pipeline, -1);
  id[16] = '\0';
  return g_build_filename (c->dir, "refs", id, NULL);
}

gboolean
mt_cache_set_ref (MtCache *c, const char *pipeline, const char *node, const char *key, GError **error)
{
  g_autofree char *dir = ref_dir (c, pipeline);
  if (g_mkdir_with_parents (dir, 0755) != 0) {
    int e = errno;
    g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "cannot create %s: %s", dir, g_strerror (e));
    return FALSE;
  }
  g_autofree char *pf = g_build_filename (dir, "PIPELINE", NULL);
  if (!g_file_test (pf, G_FILE_TEST_EXISTS) &&
      !mt_file_write_atomic (pf, pipeline, strlen (pipeline), error))
    return FALSE;
  g_autofree char *p = g_build_filename (dir, node, NULL);
  g_autofree char *line = g_strconcat (key, "\n", NULL);
  return mt_file_write_atomic (p, line, strlen (line), error);
}

char *
mt_cache_get_ref (MtCache *c, const char *pipeline, const char *node)
{
  g_autofree char *dir = ref_dir (c, pipeline);
  g_autofree char *p = g_build_filename (dir, node, NULL);
  char *data = NULL;
  if (!g_file_get_contents (p, &data, NULL, NULL))
    return NULL;
  g_strchomp (data);
  if (!is_hex_digest (data)) {
    g_free (data);
    return NULL;
  }
  return data;
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
mt_cache_list_keys (MtCache *c, GError **error)
{
  g_autofree char *dir = g_build_filename (c->dir, "entries", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, error);
  if (!d)
    return NULL;
  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (d)))
    if (g_str_has_suffix (name, ".json") && strlen (name) == 64 + 5)
      g_ptr_array_add (keys, g_strndup (name, 64));
  g_ptr_array_sort (keys, cmp_str);
  return keys;
}

GHashTable *
mt_cache_ref_keys (MtCache *c)
{
  GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *dir = g_build_filename (c->dir, "refs", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *pid;
  while (d && (pid = g_dir_read_name (d))) {
    g_autofree char *sub = g_build_filename (dir, pid, NULL);
    g_autoptr (GDir) sd = g_dir_open (sub, 0, NULL);
    const char *node;
    while (sd && (node = g_dir_read_name (sd))) {
      if (g_strcmp0 (node, "PIPELINE") == 0 || strstr (node, ".tmp-"))
        continue;
      g_autofree char *p = g_build_filename (sub, node, NULL);
      char *data = NULL;
      if (g_file_get_contents (p, &data, NULL, NULL)) {
        g_strchomp (data);
        if (is_hex_digest (data))
          g_hash_table_add (set, data);
        else
          g_free (data);
      }
    }
  }
  return set;
}
