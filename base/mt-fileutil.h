/* File helpers the cache and the format writers share: digests, durable writes. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* SHA-256 of a regular file's bytes as 64 lowercase hex digits; sets *size when
 * non-NULL. A FIFO, device or directory is an error, never read (or waited on). */
char    *mt_file_sha256 (const char *path, goffset *size, GError **error);
/* The same; with @follow FALSE a symbolic link is an error too (the cache's own files). */
char    *mt_file_sha256_full (const char *path, gboolean follow, goffset *size, GError **error);
/* Opens a regular file for reading (never blocking on a FIFO); -1 with @error otherwise.
 * *size: its size. */
int      mt_file_open_regular (const char *path, gboolean follow, goffset *size, GError **error);
/* Writes @n pieces one after the other as @path (created or truncated, mode 0644): a file
 * made of large buffers without first joining them in memory. */
gboolean mt_file_write_parts (const char *path, const void *const *parts, const gsize *lens, guint n, GError **error);
/* Copies @n bytes from @src, which lies in a read-only file mapping, to @dst, telling the
 * kernel after each stretch that the source pages are not needed again: a file loaded
 * into memory is then not held twice (mapped and copied) at its peak. Only for mapped
 * files: on ordinary memory it would discard the contents. */
void     mt_file_copy_from_mapping (void *dst, const void *src, gsize n);
/* Maps a regular file read-only (a FIFO or a device would block or never end). */
GMappedFile *mt_file_map_regular (const char *path, GError **error);
/* Reads a whole regular file of at most @max_bytes (NUL-terminated). */
gboolean mt_file_read_regular (const char *path, gboolean follow, gsize max_bytes, char **data, gsize *len,
                               GError **error);
/* TRUE when @s is 64 lowercase hex digits, as digests and cache keys are written. */
gboolean mt_sha256_is_valid (const char *s);

/* Writes @len bytes to @path through a temporary file, fsync, rename and a
 * directory fsync, so readers see the old file or the whole new one. */
gboolean mt_file_write_atomic (const char *path, const void *data, gsize len, GError **error);

/* fsync a file or directory by path. */
gboolean mt_file_sync (const char *path, GError **error);

/* Full write(2) loop with EINTR handling. */
gboolean mt_fd_write_all (int fd, const void *data, gsize len, const char *what, GError **error);

/* Recursively removes a directory tree (rm -rf); missing is not an error. */
gboolean mt_file_remove_tree (const char *path, GError **error);

/* Copy @src to @dst (dst is replaced atomically). */
gboolean mt_file_copy (const char *src, const char *dst, GError **error);

G_END_DECLS
