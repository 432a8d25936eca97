/* The content-addressed cache.
 *
 * Layout under the cache directory:
 *   objects/ab/<sha256>.<ext>  immutable output files, named by their SHA-256
 *   entries/<key>.json         one manifest per node key, written last (atomically)
 *   refs/<variant-id>/<node>   the key of each node's latest run of a pipeline variant (the
 *                             file with one set of --set overrides; for status, gc)
 *   locks/<key>.lock           flock(2) locks, so two processes compute a key once
 *   tmp/                       outputs being written; leftovers of killed runs
 *   resume/<key>/              checkpoints of interrupted runs
 *   lock                       shared flock while running, exclusive for gc
 *
 * A manifest is trusted only after each output's size and digest are checked. */
#pragma once

#include "runtime/mt-manifest.h"
#include "runtime/mt-registry.h"

G_BEGIN_DECLS

typedef struct _MtCache MtCache;

#define MT_CACHE_DIR_NAME ".mtcache"
/* Where a command's cache is, found as git finds .git: $MT_CACHE_DIR when set (an explicit
 * choice, as GIT_DIR is); else the nearest .mtcache directory in the current directory or
 * one above it; else .mtcache beside @pipeline (made on first use) when its folder is
 * writable; else ./.mtcache. *how (static text) says which rule chose it. */
char       *mt_cache_find_dir      (const char *pipeline, const char **how);
MtCache    *mt_cache_open          (const char *dir, GError **error);
void        mt_cache_close         (MtCache *cache);
const char *mt_cache_get_dir       (MtCache *cache);

/* Held for a whole run (shared) or for gc (exclusive, fails at once if busy). */
gboolean    mt_cache_lock_shared    (MtCache *cache, GError **error);
gboolean    mt_cache_lock_exclusive (MtCache *cache, GError **error);

/* Blocks until this process alone may compute @key; returns a fd for unlock. */
int         mt_cache_lock_key      (MtCache *cache, const char *key, GError **error);
void        mt_cache_unlock_key    (int fd);

/* NULL without error when the key has no entry; an unreadable manifest is an error. */
MtManifest *mt_cache_lookup        (MtCache *cache, const char *key, GError **error);
typedef enum {
  MT_CACHE_VERIFY_SIZES,    /* every output exists with its recorded size */
  MT_CACHE_VERIFY_DIGESTS,  /* and its digest: remembered (base/mt-digest-memo.h) while the file is unchanged */
  MT_CACHE_VERIFY_REHASH,   /* and its digest, read again whatever the memo says */
} MtCacheVerify;

/* Checks every output of @m as @how says. */
gboolean    mt_cache_verify        (MtCache *cache, MtManifest *m, MtCacheVerify how, GError **error);
/* Where mtrun keeps the digest memo of this cache. */
char       *mt_cache_digest_memo_path (MtCache *cache);
char       *mt_cache_output_path   (MtCache *cache, const MtCacheOutput *o);

/* A fresh private directory under tmp/ for one node run. */
char       *mt_cache_make_tmp_dir  (MtCache *cache, const char *key, GError **error);
char       *mt_cache_resume_dir    (MtCache *cache, const char *key);
/* Moves a finished file into objects/ under its digest (fsync, rename, read-only). */
gboolean    mt_cache_commit_object (MtCache *cache, const char *path, const char *ext,
                                    char **digest, gint64 *size, char **relpath, GError **error);
/* Writes entries/<key>.json atomically; the key is read from the manifest's "key". */
gboolean    mt_cache_write_manifest (MtCache *cache, JsonNode *manifest, GError **error);
gboolean    mt_cache_remove_entry  (MtCache *cache, const char *key, GError **error);

gboolean    mt_cache_set_ref       (MtCache *cache, const char *pipeline, const char *node,
                                    const char *key, GError **error);
char       *mt_cache_get_ref       (MtCache *cache, const char *pipeline, const char *node);
/* Every node's ref of @pipeline at once: node -> key. */
GHashTable *mt_cache_get_refs      (MtCache *cache, const char *pipeline);

/* Every pipeline variant with refs in the cache (the text mt_graph_variant_name made:
 * the file's path, then one "--set ..." line per override), sorted. */
GPtrArray  *mt_cache_list_variants (MtCache *cache);

/* Every entry's key, sorted. */
GPtrArray  *mt_cache_list_keys     (MtCache *cache, GError **error);
/* Keys named by any ref. */
GHashTable *mt_cache_ref_keys      (MtCache *cache);

/* Called for each item gc removes (or would remove), with why. */
typedef void (*MtCacheGcFunc) (const char *path, const char *why, gpointer user_data);
/* Removes entries no pipeline's latest run uses, unreadable manifests (and, with @reg,
 * those whose outputs are not their node type's), unreferenced objects, anything that is
 * a link where the cache keeps files (the link itself, never what it points at), and
 * leftovers of interrupted runs; with @dry_run only reports them. Holds the
 * exclusive lock (fails at once while a run uses the cache). *bytes and *count: what
 * was (or would be) freed. */
gboolean    mt_cache_gc            (MtCache *cache, MtRegistry *reg, gboolean dry_run, MtCacheGcFunc func, gpointer user_data,
                                    gint64 *bytes, guint *count, GError **error);


G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtCache, mt_cache_close)

G_END_DECLS
