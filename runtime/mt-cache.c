#include "runtime/mt-cache.h"
#include "base/mt-digest-memo.h"
#include "base/mt-json-write.h"
#include "base/mt-json.h"
#include "base/mt-error.h"
#include "base/mt-fault.h"
#include "base/mt-fileutil.h"
#include "base/mt-name.h"

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

static const char *const subdirs[] = { "objects", "entries", "refs", "locks", "tmp", "resume", "state" };

/* refs/<pipeline>/: one file per node, named after it, holding its key; the pipeline's own
 * path is in a file whose name no node can have. */
#define PIPELINE_FILE ".pipeline"
#define REF_MAX_BYTES 256

/* The kind of a name in the cache, links not followed. */
static gboolean
cache_is (const char *path, mode_t type)
{
  GStatBuf st;
  return g_lstat (path, &st) == 0 && (st.st_mode & S_IFMT) == type;
}

/* The nearest DIR/.mtcache that is a directory, from @start up to the root. */
static char *
find_upward (const char *start)
{
  g_autofree char *dir = g_canonicalize_filename (start, NULL);
  for (;;) {
    g_autofree char *c = g_build_filename (dir, MT_CACHE_DIR_NAME, NULL);
    if (g_file_test (c, G_FILE_TEST_IS_DIR))
      return g_steal_pointer (&c);
    g_autofree char *up = g_path_get_dirname (dir);
    if (strcmp (up, dir) == 0)
      return NULL;
    g_free (dir);
    dir = g_steal_pointer (&up);
  }
}

char *
mt_cache_find_dir (const char *pipeline, const char **how)
{
  const char *dummy;
  if (!how)
    how = &dummy;
  const char *env = g_getenv ("MT_CACHE_DIR");
  if (env && *env) {
    *how = "from MT_CACHE_DIR";
    return g_strdup (env);
  }
  g_autofree char *cwd = g_get_current_dir ();
  char *found = find_upward (cwd);
  if (found) {
    *how = "the nearest " MT_CACHE_DIR_NAME " at or above the current directory";
    return found;
  }
  if (pipeline) {
    g_autofree char *abs = g_canonicalize_filename (pipeline, NULL);
    g_autofree char *dir = g_path_get_dirname (abs);
    /* An installed example (/usr/share/masktune/pipelines) is read-only: not there. */
    if (access (dir, W_OK) == 0) {
      *how = "beside the pipeline";
      return g_build_filename (dir, MT_CACHE_DIR_NAME, NULL);
    }
  }
  *how = pipeline ? "in the current directory: the pipeline's folder is read-only" : "in the current directory";
  return g_build_filename (cwd, MT_CACHE_DIR_NAME, NULL);
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
    /* A cache may be shared or copied: its folders must be its own, not links elsewhere. */
    GStatBuf st;
    if (g_lstat (p, &st) != 0 || !S_ISDIR (st.st_mode)) {
      g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "cache directory %s is not a directory (a symbolic link?): "
                   "refusing to use the cache", p);
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


MtManifest *
mt_cache_lookup (MtCache *c, const char *key, GError **error)
{
  g_autofree char *p = entry_path (c, key);
  g_autofree char *data = NULL;
  gsize len = 0;
  GStatBuf st;
  if (g_lstat (p, &st) != 0 && errno == ENOENT)
    return NULL;
  if (!mt_file_read_regular (p, FALSE, MT_MANIFEST_MAX_BYTES, &data, &len, error))
    return NULL;
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

gboolean
mt_cache_verify (MtCache *c, MtManifest *m, MtCacheVerify how, GError **error)
{
  for (guint i = 0; i < m->outputs->len; i++) {
    MtCacheOutput *o = m->outputs->pdata[i];
    g_autofree char *p = mt_cache_output_path (c, o);
    g_autofree char *sub = g_path_get_dirname (p);
    GStatBuf st, dst;
    if (g_lstat (sub, &dst) != 0 || !S_ISDIR (dst.st_mode) || g_lstat (p, &st) != 0) {
      g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "output '%s' (%s) is missing", o->port, o->file);
      return FALSE;
    }
    if (!S_ISREG (st.st_mode)) {
      g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "output '%s' (%s) is not a regular file", o->port, o->file);
      return FALSE;
    }
    if (st.st_size != o->size) {
      g_set_error (error, MT_ERROR, MT_ERROR_CACHE,
                   "output '%s' (%s) is %" G_GINT64_FORMAT " bytes, the manifest says %" G_GINT64_FORMAT,
                   o->port, o->file, (gint64) st.st_size, o->size);
      return FALSE;
    }
    if (how != MT_CACHE_VERIFY_SIZES) {
      g_autofree char *d = how == MT_CACHE_VERIFY_REHASH ? mt_file_sha256_full (p, FALSE, NULL, error)
                                                         : mt_digest_memo_sha256 (NULL, p, FALSE, NULL, error);
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
mt_cache_digest_memo_path (MtCache *c)
{
  return g_build_filename (c->dir, "state", "digests.tsv", NULL);
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
  /* Never write through a link someone left where a folder of objects belongs. */
  if (g_file_test (dir, G_FILE_TEST_IS_SYMLINK) || (g_file_test (dir, G_FILE_TEST_EXISTS) && !cache_is (dir, S_IFDIR)))
    g_unlink (dir);
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
  mt_digest_memo_learn (NULL, dst, d);  /* the next run need not read it again */
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
  g_autofree char *data = mt_json_to_string (manifest, TRUE);
  gsize len = strlen (data);
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
  g_autofree char *pf = g_build_filename (dir, PIPELINE_FILE, NULL);
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
  if (!mt_name_is_valid_node (node) || !mt_file_read_regular (p, FALSE, REF_MAX_BYTES, &data, NULL, NULL))
    return NULL;
  g_strchomp (data);
  if (!mt_sha256_is_valid (data)) {
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

/* The names in @dir (relative to the cache), sorted; empty when it cannot be read. The one
 * directory walk of the cache: entries, refs, objects and the scratch folders. */
static GPtrArray *
cache_names (const char *dir, GError **error)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, error);
  if (!d)
    return NULL;
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (d)))
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, cmp_str);
  return names;
}

GPtrArray *
mt_cache_list_keys (MtCache *c, GError **error)
{
  g_return_val_if_fail (c != NULL, NULL);
  g_autofree char *dir = g_build_filename (c->dir, "entries", NULL);
  g_autoptr (GPtrArray) names = cache_names (dir, error);
  if (!names)
    return NULL;
  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < names->len; i++) {
    const char *name = names->pdata[i];
    g_autofree char *key = g_strndup (name, 64);
    /* Only KEY.json with KEY 64 hex digits: anything else there is a stray, not an entry. */
    if (strlen (name) == 64 + 5 && g_str_has_suffix (name, ".json") && mt_sha256_is_valid (key))
      g_ptr_array_add (keys, g_steal_pointer (&key));
  }
  return keys;
}

GHashTable *
mt_cache_get_refs (MtCache *c, const char *pipeline)
{
  g_return_val_if_fail (c != NULL && pipeline != NULL, NULL);
  GHashTable *refs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autofree char *dir = ref_dir (c, pipeline);
  g_autoptr (GPtrArray) nodes = cache_names (dir, NULL);
  for (guint i = 0; nodes && i < nodes->len; i++) {
    char *key = mt_cache_get_ref (c, pipeline, nodes->pdata[i]);
    if (key)
      g_hash_table_insert (refs, g_strdup (nodes->pdata[i]), key);
  }
  return refs;
}

GPtrArray *
mt_cache_list_variants (MtCache *c)
{
  g_return_val_if_fail (c != NULL, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *dir = g_build_filename (c->dir, "refs", NULL);
  g_autoptr (GPtrArray) ids = cache_names (dir, NULL);
  for (guint i = 0; ids && i < ids->len; i++) {
    g_autofree char *pf = g_build_filename (dir, ids->pdata[i], PIPELINE_FILE, NULL);
    char *text = NULL;
    /* Only a variant whose refs are where its own text puts them: a copied or stray
     * folder is not one. */
    if (!mt_file_read_regular (pf, FALSE, 1 << 20, &text, NULL, NULL))
      continue;
    g_autofree char *expect = ref_dir (c, text);
    g_autofree char *here = g_build_filename (dir, ids->pdata[i], NULL);
    if (g_strcmp0 (expect, here) == 0 && g_utf8_validate (text, -1, NULL))
      g_ptr_array_add (out, text);
    else
      g_free (text);
  }
  g_ptr_array_sort (out, cmp_str);
  return out;
}

GHashTable *
mt_cache_ref_keys (MtCache *c)
{
  g_return_val_if_fail (c != NULL, NULL);
  GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *dir = g_build_filename (c->dir, "refs", NULL);
  g_autoptr (GPtrArray) pids = cache_names (dir, NULL);
  for (guint i = 0; pids && i < pids->len; i++) {
    g_autofree char *sub = g_build_filename (dir, pids->pdata[i], NULL);
    g_autoptr (GPtrArray) nodes = cache_names (sub, NULL);
    for (guint k = 0; nodes && k < nodes->len; k++) {
      const char *node = nodes->pdata[k];
      if (!mt_name_is_valid_node (node))
        continue;  /* the pipeline's own file, temporaries, strays */
      g_autofree char *p = g_build_filename (sub, node, NULL);
      char *data = NULL;
      if (mt_file_read_regular (p, FALSE, REF_MAX_BYTES, &data, NULL, NULL)) {
        g_strchomp (data);
        if (mt_sha256_is_valid (data))
          g_hash_table_add (set, data);
        else
          g_free (data);
      }
    }
  }
  return set;
}

typedef struct {
  gboolean dry_run;
  MtCacheGcFunc func;
  gpointer user_data;
  gint64 bytes;
  guint count;
} CacheGc;

/* What @path takes on disk, links not followed (a link counts nothing). */
static gint64
cache_tree_size (const char *path)
{
  GStatBuf st;
  if (g_lstat (path, &st) != 0)
    return 0;
  if (S_ISREG (st.st_mode))
    return st.st_size;
  if (!S_ISDIR (st.st_mode))
    return 0;
  gint64 total = 0;
  g_autoptr (GPtrArray) names = cache_names (path, NULL);
  for (guint i = 0; names && i < names->len; i++) {
    g_autofree char *child = g_build_filename (path, names->pdata[i], NULL);
    total += cache_tree_size (child);
  }
  return total;
}

/* Removes @path (a file, a tree, or a link itself: never what it points at) unless
 * dry-run; counts it and its size. */
static void
cache_gc_drop (CacheGc *gc, const char *path, const char *why)
{
  gc->bytes += cache_tree_size (path);
  gc->count++;
  if (gc->func)
    gc->func (path, why, gc->user_data);
  if (!gc->dry_run)
    mt_file_remove_tree (path, NULL);
}


gboolean
mt_cache_gc (MtCache *c, MtRegistry *reg, gboolean dry_run, MtCacheGcFunc func, gpointer user_data,
             gint64 *bytes, guint *count, GError **error)
{
  g_return_val_if_fail (c != NULL, FALSE);
  /* Exclusive: no run may be half-way through referencing an object we delete. */
  if (!mt_cache_lock_exclusive (c, error))
    return FALSE;
  CacheGc gc = { dry_run, func, user_data, 0, 0 };

  /* 1. Entries that no pipeline's latest run uses any more, and unreadable ones. */
  g_autoptr (GHashTable) live = mt_cache_ref_keys (c);
  g_autoptr (GPtrArray) keys = mt_cache_list_keys (c, error);
  if (!keys)
    return FALSE;
  g_autoptr (GHashTable) used = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < keys->len; i++) {
    const char *key = keys->pdata[i];
    g_autofree char *p = entry_path (c, key);
    g_autoptr (MtManifest) m = mt_cache_lookup (c, key, NULL);
    GType type = m && reg ? mt_registry_lookup (reg, m->type) : 0;
    gboolean fits = TRUE;
    if (type) {
      MtNodeClass *klass = g_type_class_ref (type);
      fits = mt_manifest_matches_class (m, klass, NULL);
      g_type_class_unref (klass);
    }
    if (!m) {
      cache_gc_drop (&gc, p, "unreadable manifest");
    } else if (!fits) {
      cache_gc_drop (&gc, p, "its outputs are not those of its node type");
    } else if (!g_hash_table_contains (live, key)) {
      cache_gc_drop (&gc, p, "superseded: no pipeline's latest run uses it");
    } else {
      for (guint k = 0; k < m->outputs->len; k++)
        g_hash_table_add (used, g_strdup (((MtCacheOutput *) m->outputs->pdata[k])->file));
    }
  }
  /* 2. Objects no remaining entry refers to; anything in objects/ that is not a folder of
   * regular files (a link above all) is removed as it is, never followed. */
  g_autofree char *objdir = g_build_filename (c->dir, "objects", NULL);
  g_autoptr (GPtrArray) subs = cache_names (objdir, NULL);
  for (guint i = 0; subs && i < subs->len; i++) {
    g_autofree char *sp = g_build_filename (objdir, subs->pdata[i], NULL);
    if (!cache_is (sp, S_IFDIR)) {
      cache_gc_drop (&gc, sp, "not a folder of objects (a link or a stray file): removed, never followed");
      continue;
    }
    g_autoptr (GPtrArray) files = cache_names (sp, NULL);
    for (guint k = 0; files && k < files->len; k++) {
      g_autofree char *rel = g_build_filename ("objects", subs->pdata[i], files->pdata[k], NULL);
      g_autofree char *p = g_build_filename (c->dir, rel, NULL);
      if (!cache_is (p, S_IFREG))
        cache_gc_drop (&gc, p, "not an object (a link or a folder): removed, never followed");
      else if (!g_hash_table_contains (used, rel))
        cache_gc_drop (&gc, p, "unreferenced object");
    }
  }
  /* 3. Leftovers of interrupted runs: temp files, lock files, checkpoints (no run is under
   * way: gc holds the cache exclusively), stray manifest temps. */
  const struct { const char *dir, *why; } scratch[] = {
    { "tmp", "left by an interrupted run" },
    { "locks", "unused lock file" },
    { "resume", "checkpoint of an interrupted run" },
  };
  for (guint s = 0; s < G_N_ELEMENTS (scratch); s++) {
    g_autofree char *sp = g_build_filename (c->dir, scratch[s].dir, NULL);
    g_autoptr (GPtrArray) files = cache_names (sp, NULL);
    for (guint k = 0; files && k < files->len; k++) {
      g_autofree char *p = g_build_filename (sp, files->pdata[k], NULL);
      cache_gc_drop (&gc, p, scratch[s].why);
    }
  }
  g_autofree char *ed = g_build_filename (c->dir, "entries", NULL);
  g_autoptr (GPtrArray) entries = cache_names (ed, NULL);
  for (guint k = 0; entries && k < entries->len; k++)
    if (strstr (entries->pdata[k], ".tmp-")) {
      g_autofree char *p = g_build_filename (ed, entries->pdata[k], NULL);
      cache_gc_drop (&gc, p, "half-written manifest of an interrupted run");
    }
  if (bytes)
    *bytes = gc.bytes;
  if (count)
    *count = gc.count;
  return TRUE;
}
