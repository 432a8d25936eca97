#include "base/mt-digest-memo.h"
#include "base/mt-fileutil.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* A line: dev ino size mtime_ns ctime_ns sha256 (tab-separated). */
#define MEMO_FIELDS 6
#define MEMO_MAX_BYTES ((gsize) 256 << 20)
/* A file modified this recently is hashed, not remembered. */
#define MEMO_RACY_NS ((gint64) 2 * G_TIME_SPAN_SECOND * 1000)

typedef struct {
  guint64 dev, ino;
  gint64 size, mtime_ns, ctime_ns;
} Stamp;

struct _MtDigestMemo {
  char *path;
  GMutex lock;
  GHashTable *entries;   /* "dev:ino" -> Entry */
  gboolean dirty;
  guint64 hits, misses;
};

typedef struct {
  Stamp st;
  char digest[65];
} Entry;

static MtDigestMemo *default_memo;

static char *
entry_key (guint64 dev, guint64 ino)
{
  return g_strdup_printf ("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT, dev, ino);
}

static gboolean
is_sha256 (const char *s)
{
  if (strlen (s) != 64)
    return FALSE;
  for (int i = 0; i < 64; i++)
    if (!g_ascii_isxdigit (s[i]) || g_ascii_isupper (s[i]))
      return FALSE;
  return TRUE;
}

/* Adds the valid lines of @text to @table (later lines win). */
static void
parse_into (GHashTable *table, const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    g_auto (GStrv) f = g_strsplit (lines[i], "\t", -1);
    if (g_strv_length (f) != MEMO_FIELDS || !is_sha256 (f[5]))
      continue;
    Entry e = { 0 };
    char *end[5];
    e.st.dev = g_ascii_strtoull (f[0], &end[0], 10);
    e.st.ino = g_ascii_strtoull (f[1], &end[1], 10);
    e.st.size = g_ascii_strtoll (f[2], &end[2], 10);
    e.st.mtime_ns = g_ascii_strtoll (f[3], &end[3], 10);
    e.st.ctime_ns = g_ascii_strtoll (f[4], &end[4], 10);
    gboolean ok = e.st.size >= 0;
    for (int k = 0; k < 5; k++)
      ok &= *end[k] == 0 && end[k] != f[k];
    if (!ok)
      continue;
    memcpy (e.digest, f[5], 65);
    g_hash_table_replace (table, entry_key (e.st.dev, e.st.ino), g_memdup2 (&e, sizeof e));
  }
}

static void
load_file (GHashTable *table, const char *path)
{
  GStatBuf st;
  if (g_lstat (path, &st) != 0 || !S_ISREG (st.st_mode) || (gsize) st.st_size > MEMO_MAX_BYTES)
    return;
  g_autofree char *text = NULL;
  if (g_file_get_contents (path, &text, NULL, NULL))
    parse_into (table, text);
}

MtDigestMemo *
mt_digest_memo_open (const char *path)
{
  MtDigestMemo *m = g_new0 (MtDigestMemo, 1);
  m->path = g_strdup (path);
  g_mutex_init (&m->lock);
  m->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  load_file (m->entries, path);
  return m;
}

void
mt_digest_memo_free (MtDigestMemo *m)
{
  if (!m)
    return;
  if (default_memo == m)
    default_memo = NULL;
  g_hash_table_unref (m->entries);
  g_mutex_clear (&m->lock);
  g_free (m->path);
  g_free (m);
}

gboolean
mt_digest_memo_save (MtDigestMemo *m, GError **error)
{
  g_mutex_lock (&m->lock);
  gboolean dirty = m->dirty;
  g_mutex_unlock (&m->lock);
  if (!dirty)
    return TRUE;
  /* What others saved since, then ours over it. */
  g_autoptr (GHashTable) merged = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  load_file (merged, m->path);
  g_mutex_lock (&m->lock);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, m->entries);
  while (g_hash_table_iter_next (&it, &k, &v))
    g_hash_table_replace (merged, g_strdup (k), g_memdup2 (v, sizeof (Entry)));
  m->dirty = FALSE;
  g_mutex_unlock (&m->lock);
  GString *out = g_string_new ("");
  g_hash_table_iter_init (&it, merged);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    Entry *e = v;
    g_string_append_printf (out, "%" G_GUINT64_FORMAT "\t%" G_GUINT64_FORMAT "\t%" G_GINT64_FORMAT "\t%" G_GINT64_FORMAT
                            "\t%" G_GINT64_FORMAT "\t%s\n", e->st.dev, e->st.ino, e->st.size, e->st.mtime_ns,
                            e->st.ctime_ns, e->digest);
  }
  g_autofree char *dir = g_path_get_dirname (m->path);
  gboolean ok = g_mkdir_with_parents (dir, 0755) == 0 && mt_file_write_atomic (m->path, out->str, out->len, error);
  if (!ok && error && !*error)
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "cannot create %s: %s", dir, g_strerror (errno));
  g_string_free (out, TRUE);
  return ok;
}

void
mt_digest_memo_stats (MtDigestMemo *m, guint64 *hits, guint64 *misses)
{
  g_mutex_lock (&m->lock);
  *hits = m->hits;
  *misses = m->misses;
  g_mutex_unlock (&m->lock);
}

void
mt_digest_memo_set_default (MtDigestMemo *memo)
{
  default_memo = memo;
}

MtDigestMemo *
mt_digest_memo_get_default (void)
{
  return default_memo;
}

static gboolean
stamp_of (const char *path, gboolean follow, Stamp *s)
{
  struct stat st;
  if ((follow ? stat (path, &st) : lstat (path, &st)) != 0 || !S_ISREG (st.st_mode))
    return FALSE;
  *s = (Stamp) { (guint64) st.st_dev, (guint64) st.st_ino, (gint64) st.st_size,
                 (gint64) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
                 (gint64) st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec };
  return TRUE;
}

char *
mt_digest_memo_sha256 (MtDigestMemo *m, const char *path, gboolean follow, goffset *size, GError **error)
{
  if (!m)
    m = default_memo;
  Stamp before;
  if (!m || !stamp_of (path, follow, &before))
    return mt_file_sha256_full (path, follow, size, error);  /* its error names what is wrong */
  g_autofree char *key = entry_key (before.dev, before.ino);
  g_mutex_lock (&m->lock);
  Entry *e = g_hash_table_lookup (m->entries, key);
  if (e && memcmp (&e->st, &before, sizeof before) == 0) {
    m->hits++;
    char *d = g_strdup (e->digest);
    g_mutex_unlock (&m->lock);
    if (size)
      *size = before.size;
    return d;
  }
  m->misses++;
  g_mutex_unlock (&m->lock);
  char *d = mt_file_sha256_full (path, follow, size, error);
  Stamp after;
  struct timespec now;
  clock_gettime (CLOCK_REALTIME, &now);
  gint64 now_ns = (gint64) now.tv_sec * 1000000000 + now.tv_nsec;
  /* Remembered only when the file did not change while it was read, and not just now. */
  if (d && stamp_of (path, follow, &after) && memcmp (&after, &before, sizeof before) == 0 &&
      now_ns - MAX (after.mtime_ns, after.ctime_ns) > MEMO_RACY_NS) {
    Entry ne = { after, { 0 } };
    memcpy (ne.digest, d, 65);
    g_mutex_lock (&m->lock);
    g_hash_table_replace (m->entries, g_steal_pointer (&key), g_memdup2 (&ne, sizeof ne));
    m->dirty = TRUE;
    g_mutex_unlock (&m->lock);
  }
  return d;
}

void
mt_digest_memo_learn (MtDigestMemo *m, const char *path, const char *digest)
{
  if (!m)
    m = default_memo;
  Stamp st;
  if (!m || !digest || strlen (digest) != 64 || !stamp_of (path, FALSE, &st))
    return;
  Entry ne = { st, { 0 } };
  memcpy (ne.digest, digest, 65);
  g_mutex_lock (&m->lock);
  g_hash_table_replace (m->entries, entry_key (st.dev, st.ino), g_memdup2 (&ne, sizeof ne));
  m->dirty = TRUE;
  g_mutex_unlock (&m->lock);
}
