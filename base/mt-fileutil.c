#include "base/mt-fileutil.h"
#include "base/mt-error.h"
#include "base/mt-fault.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

static const char *
file_type_name (mode_t m)
{
  if (S_ISDIR (m)) return "a directory";
  if (S_ISFIFO (m)) return "a FIFO";
  if (S_ISCHR (m)) return "a character device";
  if (S_ISBLK (m)) return "a block device";
  if (S_ISSOCK (m)) return "a socket";
  if (S_ISLNK (m)) return "a symbolic link";
  return "not a regular file";
}

int
mt_file_open_regular (const char *path, gboolean follow, goffset *size, GError **error)
{
  g_return_val_if_fail (path != NULL, -1);
  /* O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked next. */
  int fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (follow ? 0 : O_NOFOLLOW), 0);
  if (fd < 0) {
    int e = errno;
    GStatBuf st;
    if (e == ELOOP && !follow && g_lstat (path, &st) == 0 && S_ISLNK (st.st_mode))
      g_set_error (error, MT_ERROR, MT_ERROR_IO, "%s is a symbolic link: not followed", path);
    else
      g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot open %s: %s", path, g_strerror (e));
    return -1;
  }
  struct stat st;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "%s is %s, not a regular file", path, file_type_name (st.st_mode));
    close (fd);
    return -1;
  }
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);
  if (size)
    *size = st.st_size;
  return fd;
}

gboolean
mt_file_write_parts (const char *path, const void *const *parts, const gsize *lens, guint n, GError **error)
{
  int fd = g_open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot create %s: %s", path, g_strerror (e));
    return FALSE;
  }
  for (guint i = 0; i < n; i++)
    if (!mt_fd_write_all (fd, parts[i], lens[i], path, error)) {
      close (fd);
      return FALSE;
    }
  if (close (fd) != 0) {
    int e = errno;
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot write %s: %s", path, g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

void
mt_file_copy_from_mapping (void *dst, const void *src, gsize n)
{
  const gsize stretch = (gsize) 16 << 20;
  const guintptr page = (guintptr) sysconf (_SC_PAGESIZE);
  for (gsize done = 0; done < n;) {
    gsize k = MIN (stretch, n - done);
    memcpy ((guint8 *) dst + done, (const guint8 *) src + done, k);
    /* The whole pages of [src + done, src + done + k): never one the next copy needs. */
    guintptr lo = ((guintptr) src + done + page - 1) & ~(page - 1);
    guintptr hi = ((guintptr) src + done + k) & ~(page - 1);
    if (done + k == n)
      hi = ((guintptr) src + n) & ~(page - 1);
    if (hi > lo)
      madvise ((void *) lo, hi - lo, MADV_DONTNEED);
    done += k;
  }
}

GMappedFile *
mt_file_map_regular (const char *path, GError **error)
{
  int fd = mt_file_open_regular (path, TRUE, NULL, error);
  if (fd < 0)
    return NULL;
  GMappedFile *mf = g_mapped_file_new_from_fd (fd, FALSE, error);
  close (fd);
  return mf;
}

gboolean
mt_file_read_regular (const char *path, gboolean follow, gsize max_bytes, char **data, gsize *len, GError **error)
{
  g_return_val_if_fail (path != NULL && data != NULL, FALSE);
  goffset size = 0;
  int fd = mt_file_open_regular (path, follow, &size, error);
  if (fd < 0)
    return FALSE;
  if ((guint64) size > max_bytes) {
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "%s: %" G_GINT64_FORMAT " bytes, more than the %" G_GSIZE_FORMAT
                 " expected", path, (gint64) size, max_bytes);
    close (fd);
    return FALSE;
  }
  /* Read no more than the size seen, plus one byte to notice a file that grew. */
  char *buf = g_malloc ((gsize) size + 2);
  gsize got = 0;
  while (got <= (gsize) size) {
    gssize n = read (fd, buf + got, (gsize) size + 1 - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot read %s: %s", path, g_strerror (e));
      close (fd);
      g_free (buf);
      return FALSE;
    }
    if (n == 0)
      break;
    got += n;
  }
  close (fd);
  if (got > (gsize) size) {
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "%s changed while it was read", path);
    g_free (buf);
    return FALSE;
  }
  buf[got] = 0;
  *data = buf;
  if (len)
    *len = got;
  return TRUE;
}

char *
mt_file_sha256_full (const char *path, gboolean follow, goffset *size, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  int fd = mt_file_open_regular (path, follow, NULL, error);
  if (fd < 0)
    return NULL;
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  guchar buf[1 << 16];
  goffset total = 0;
  for (;;) {
    gssize n = read (fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      close (fd);
      g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot read %s: %s", path, g_strerror (e));
      return NULL;
    }
    if (n == 0)
      break;
    g_checksum_update (sum, buf, n);
    total += n;
  }
  close (fd);
  if (size)
    *size = total;
  return g_strdup (g_checksum_get_string (sum));
}

char *
mt_file_sha256 (const char *path, goffset *size, GError **error)
{
  return mt_file_sha256_full (path, TRUE, size, error);
}

gboolean
mt_fd_write_all (int fd, const void *data, gsize len, const char *what, GError **error)
{
  const guint8 *p = data;
  while (len > 0) {
    gssize n = write (fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot write %s: %s", what, g_strerror (e));
      return FALSE;
    }
    p += n;
    len -= n;
  }
  return TRUE;
}

gboolean
mt_file_sync (const char *path, GError **error)
{
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0 || fsync (fd) != 0) {
    int e = errno;
    if (fd >= 0)
      close (fd);
    /* Some filesystems refuse fsync on directories; that is no loss of safety we can fix. */
    if (e == EINVAL || e == EROFS)
      return TRUE;
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot sync %s: %s", path, g_strerror (e));
    return FALSE;
  }
  close (fd);
  return TRUE;
}

gboolean
mt_file_write_atomic (const char *path, const void *data, gsize len, GError **error)
{
  g_autofree char *tmp = g_strdup_printf ("%s.tmp-%d-%u", path, (int) getpid (), g_random_int ());
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = g_open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot create %s: %s", tmp, g_strerror (e));
    return FALSE;
  }
  /* Fault point: a crash after half the bytes must leave only a temp file behind. */
  gsize first = mt_fault_active ("atomic-write") ? len / 2 : len;
  if (!mt_fd_write_all (fd, data, first, tmp, error))
    goto fail;
  mt_fault_point ("atomic-write");
  if (fsync (fd) != 0) {
    int e = errno;
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot sync %s: %s", tmp, g_strerror (e));
    goto fail;
  }
  close (fd);
  fd = -1;
  if (g_rename (tmp, path) != 0) {
    int e = errno;
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot rename %s to %s: %s", tmp, path, g_strerror (e));
    goto fail;
  }
  return mt_file_sync (dir, error);

fail:
  if (fd >= 0)
    close (fd);
  g_unlink (tmp);
  return FALSE;
}

gboolean
mt_file_remove_tree (const char *path, GError **error)
{
  GStatBuf st;
  if (g_lstat (path, &st) != 0)
    return TRUE;
  if (S_ISDIR (st.st_mode)) {
    g_autoptr (GDir) dir = g_dir_open (path, 0, error);
    if (!dir)
      return FALSE;
    const char *name;
    while ((name = g_dir_read_name (dir))) {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (!mt_file_remove_tree (child, error))
        return FALSE;
    }
    if (g_rmdir (path) != 0) {
      int e = errno;
      g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot remove %s: %s", path, g_strerror (e));
      return FALSE;
    }
  } else if (g_unlink (path) != 0) {
    int e = errno;
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot remove %s: %s", path, g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

gboolean
mt_file_copy (const char *src, const char *dst, GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents (src, &data, &len, error))
    return FALSE;
  return mt_file_write_atomic (dst, data, len, error);
}

gboolean
mt_sha256_is_valid (const char *s)
{
  if (!s || strlen (s) != 64)
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isxdigit (*s) || g_ascii_isupper (*s))
      return FALSE;
  return TRUE;
}
