/* A whole cache directory from fuzzed bytes: manifests, refs, objects, links and stray
 * files, then everything mtrun does with a cache it did not write (open, list, look up,
 * verify, read refs, plan-style ref reads, gc dry-run and gc). Beside the cache lies a
 * folder with a sentinel file that links in the cache may point at: after every input
 * it must be exactly as it was (nothing written or deleted outside the cache).
 *
 * Input: records separated by NUL bytes; each record is "K PATH\n" then its content.
 *   F  a file holding the content        D  a directory
 *   L  a link: content "OUT", "OUT/sentinel" (the folder outside) or a relative path
 *      inside the cache
 * PATH is relative to the cache, components of [A-Za-z0-9._-] other than "..". */
#include "tests/fuzz/mt-fuzz.h"
#include "tests/mt-internal.h"

#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define SENTINEL "must survive"

static gboolean
safe_path (const char *p)
{
  if (!*p || *p == '/' || strlen (p) > 200)
    return FALSE;
  g_auto (GStrv) parts = g_strsplit (p, "/", 6);
  for (guint i = 0; parts[i]; i++) {
    if (i >= 5 || !*parts[i] || g_strcmp0 (parts[i], "..") == 0 || g_strcmp0 (parts[i], ".") == 0)
      return FALSE;
    for (const char *c = parts[i]; *c; c++)
      if (!g_ascii_isalnum (*c) && *c != '.' && *c != '_' && *c != '-')
        return FALSE;
  }
  return TRUE;
}

static void
build (const char *cache, const char *out, const uint8_t *data, size_t size)
{
  size_t at = 0;
  while (at < size) {
    const uint8_t *end = memchr (data + at, 0, size - at);
    size_t len = end ? (size_t) (end - (data + at)) : size - at;
    g_autofree char *rec = g_strndup ((const char *) data + at, len);
    at += len + 1;
    char *nl = strchr (rec, '\n');
    const char *content = nl ? nl + 1 : "";
    gsize clen = nl ? len - (gsize) (content - rec) : 0;
    if (nl)
      *nl = 0;
    if (strlen (rec) < 3 || rec[1] != ' ' || !safe_path (rec + 2))
      continue;
    g_autofree char *path = g_build_filename (cache, rec + 2, NULL);
    g_autofree char *dir = g_path_get_dirname (path);
    g_mkdir_with_parents (dir, 0755);
    switch (rec[0]) {
    case 'F':
      g_file_set_contents (path, content, (gssize) clen, NULL);
      break;
    case 'D':
      g_mkdir_with_parents (path, 0755);
      break;
    case 'L': {
      g_autofree char *target = NULL;
      if (g_str_has_prefix (content, "OUT"))
        target = g_strdup_printf ("%s%s", out, g_str_has_prefix (content, "OUT/sentinel") ? "/sentinel" : "");
      else if (safe_path (content))
        target = g_strdup (content);
      if (target && symlink (target, path) != 0)
        break;
      break;
    }
    default:
      break;
    }
  }
}

static void
gc_item (const char *path, const char *why, gpointer user_data)
{
  (void) path;
  (void) why;
  (*(guint *) user_data)++;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  mt_fuzz_init ();
  if (size > 1 << 16)
    return 0;
  g_autofree char *top = g_dir_make_tmp ("mt-fuzz-cache-XXXXXX", NULL);
  g_assert (top != NULL);
  g_autofree char *cache = g_build_filename (top, "cache", NULL);
  g_autofree char *out = g_build_filename (top, "outside", NULL);
  g_autofree char *sentinel = g_build_filename (out, "sentinel", NULL);
  g_mkdir_with_parents (out, 0755);
  g_mkdir_with_parents (cache, 0755);
  g_assert (g_file_set_contents (sentinel, SENTINEL, -1, NULL));
  build (cache, out, data, size);

  g_autoptr (GError) err = NULL;
  MtCache *c = mt_cache_open (cache, &err);
  if (c) {
    g_autoptr (GPtrArray) keys = mt_cache_list_keys (c, NULL);
    for (guint i = 0; keys && i < keys->len; i++) {
      g_autoptr (GError) lerr = NULL;
      g_autoptr (MtManifest) m = mt_cache_lookup (c, keys->pdata[i], &lerr);
      if (m) {
        mt_cache_verify (c, m, TRUE, NULL);
        for (guint k = 0; k < m->outputs->len; k++)
          g_free (mt_cache_output_path (c, m->outputs->pdata[k]));
      }
    }
    g_autoptr (GHashTable) live = mt_cache_ref_keys (c);
    g_autoptr (GHashTable) refs = mt_cache_get_refs (c, "/p.pipe");
    guint n_dry = 0, n_real = 0;
    mt_cache_gc (c, mt_registry_get_default (), TRUE, gc_item, &n_dry, NULL, NULL, NULL);
    mt_cache_gc (c, mt_registry_get_default (), FALSE, gc_item, &n_real, NULL, NULL, NULL);
    /* A dry run lists what the real one removes. */
    g_assert_cmpuint (n_dry, ==, n_real);
    mt_cache_close (c);
  }

  /* Nothing outside the cache was touched. */
  g_autofree char *text = NULL;
  g_assert (g_file_get_contents (sentinel, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, SENTINEL);
  g_autoptr (GDir) d = g_dir_open (out, 0, NULL);
  guint n = 0;
  while (d && g_dir_read_name (d))
    n++;
  g_assert_cmpuint (n, ==, 1);
  mt_file_remove_tree (top, NULL);
  return 0;
}
