/* Remembered file digests, as DVC's state database: a file's SHA-256 is kept with its
 * (device, inode, size, mtime, ctime), and given again without reading the file while
 * those are unchanged. A file changed within the last seconds is not remembered (its
 * times may not show a second change in the same tick). The memo is a text file, one
 * line per file; a damaged line is ignored, never trusted. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MtDigestMemo MtDigestMemo;

/* The memo kept in @path (none yet, or unreadable: empty). */
MtDigestMemo *mt_digest_memo_open  (const char *path);
void          mt_digest_memo_free  (MtDigestMemo *memo);
/* Writes the memo back (atomically, with what another process added since) when it
 * learned something; TRUE when there was nothing to write. */
gboolean      mt_digest_memo_save  (MtDigestMemo *memo, GError **error);
/* How many digests came from the memo, and how many were computed, since opening. */
void          mt_digest_memo_stats (MtDigestMemo *memo, guint64 *hits, guint64 *misses);

/* The memo the process uses (NULL: none, every digest is computed); owned by the caller. */
void          mt_digest_memo_set_default (MtDigestMemo *memo);
MtDigestMemo *mt_digest_memo_get_default (void);

/* The SHA-256 of @path (links followed when @follow) and its size, from @memo (NULL: the
 * default) when the file is unchanged, else read and remembered. Thread-safe. */
char         *mt_digest_memo_sha256 (MtDigestMemo *memo, const char *path, gboolean follow, goffset *size,
                                     GError **error);

/* Remembers @digest for @path, a file this process has just written, hashed and made
 * read-only, that nobody else writes: a cache object. Unlike mt_digest_memo_sha256 it
 * remembers a file changed just now, so that the first rerun after a run reads none of
 * its outputs again; what it cannot see is a change by someone else within the same
 * timestamp tick (a few milliseconds) that keeps the size, which `cache verify` and
 * --paranoid (full re-hashing) still catch. */
void          mt_digest_memo_learn (MtDigestMemo *memo, const char *path, const char *digest);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtDigestMemo, mt_digest_memo_free)

G_END_DECLS
