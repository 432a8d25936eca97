#include "formats/mt-idx.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>


static const struct {
  guint8 code;
  MtDType dtype;
} idx_types[] = {
  { 0x08, MT_DTYPE_U8 }, { 0x0C, MT_DTYPE_I32 }, { 0x0D, MT_DTYPE_F32 }, { 0x0E, MT_DTYPE_F64 },
};

/* Reads exactly @len bytes, or says how the file fell short. */
static gboolean
read_exact (gzFile f, void *buf, gsize len, const char *path, const char *what, GError **error)
{
  guint8 *p = buf;
  gsize got = 0;
  while (got < len) {
    unsigned chunk = (unsigned) MIN (len - got, (gsize) 1 << 30);
    int n = gzread (f, p + got, chunk);
    if (n < 0) {
      int zerr = 0;
      const char *msg = gzerror (f, &zerr);
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: corrupt gzip data while reading the %s: %s",
                   path, what, msg);
      return FALSE;
    }
    if (n == 0)
      break;
    got += (gsize) n;
  }
  if (got < len) {
    int zerr = 0;
    const char *msg = gzerror (f, &zerr);
    g_autofree char *why = zerr ? g_strdup_printf (" (gzip: %s)", msg) : g_strdup ("");
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT,
                 "%s: truncated: the %s needs %" G_GSIZE_FORMAT " bytes, only %" G_GSIZE_FORMAT " remain%s",
                 path, what, len, got, why);
    return FALSE;
  }
  return TRUE;
}

typedef struct {
  gint64 plain, gz_isize;
} IdxSize;

typedef struct {
  MtDType dtype;
  int ndim;
  gint64 shape[MT_TENSOR_MAX_DIMS];
  gsize numel;
} IdxHeader;

static gboolean
read_header (gzFile f, const char *path, IdxHeader *h, GError **error)
{
  guint8 magic[4];
  if (!read_exact (f, magic, 4, path, "magic number", error))
    return FALSE;
  if (magic[0] != 0 || magic[1] != 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT,
                 "%s: not an IDX file (magic number %02x %02x %02x %02x; expected 00 00 TYPE DIMS)",
                 path, magic[0], magic[1], magic[2], magic[3]);
    return FALSE;
  }
  gboolean known = FALSE;
  MtDType dtype = MT_DTYPE_U8;
  for (guint i = 0; i < G_N_ELEMENTS (idx_types); i++)
    if (idx_types[i].code == magic[2]) {
      dtype = idx_types[i].dtype;
      known = TRUE;
    }
  if (!known) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT,
                 "%s: unsupported IDX element type 0x%02x (supported: 0x08 ubyte, 0x0C int, 0x0D float, 0x0E double)",
                 path, magic[2]);
    return FALSE;
  }
  int ndim = magic[3];
  if (ndim < 1 || ndim > MT_TENSOR_MAX_DIMS) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: IDX header claims %d dimensions (1 to %d supported)",
                 path, ndim, MT_TENSOR_MAX_DIMS);
    return FALSE;
  }
  guint8 dims_be[4 * MT_TENSOR_MAX_DIMS];
  if (!read_exact (f, dims_be, 4 * (gsize) ndim, path, "dimensions", error))
    return FALSE;
  gsize numel = 1;
  for (int i = 0; i < ndim; i++) {
    guint32 d;
    memcpy (&d, dims_be + 4 * i, 4);
    d = GUINT32_FROM_BE (d);
    /* Refuse sizes no real file has before allocating for them. */
    if (d > G_MAXINT32 || !g_size_checked_mul (&numel, numel, d) || numel > ((gsize) 1 << 32)) {
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: implausible IDX dimensions", path);
      return FALSE;
    }
    h->shape[i] = d;
  }
  h->dtype = dtype;
  h->ndim = ndim;
  h->numel = numel;
  return TRUE;
}

static MtTensor *
read_idx (gzFile f, const char *path, gsize max_bytes, gint64 expect_n, const char *expect_from, IdxSize size,
          GError **error)
{
  IdxHeader h;
  if (!read_header (f, path, &h, error))
    return NULL;
  MtDType dtype = h.dtype;
  int ndim = h.ndim;
  gint64 *shape = h.shape;
  gsize numel = h.numel;
  /* The header is not trusted with memory: its claim is held to a limit and to the
   * other file of the pair before anything is allocated, then the data are inflated
   * straight into the tensor (no second copy), whose pages are touched only as the file
   * fills them, so a short file claiming gigabytes costs only what it holds. */
  gsize nbytes = numel * mt_dtype_size (dtype);
  if (nbytes > max_bytes) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: the IDX header claims %" G_GSIZE_FORMAT " bytes of data, "
                 "more than the limit of %" G_GSIZE_FORMAT " (MT_MAX_INPUT_BYTES)", path, nbytes, max_bytes);
    return NULL;
  }
  if (expect_n >= 0 && shape[0] != expect_n) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s has %" G_GINT64_FORMAT " labels but %s has %" G_GINT64_FORMAT
                 " images", expect_from, expect_n, path, shape[0]);
    return NULL;
  }
  /* What the file holds must be what the header claims: known exactly for a plain file,
   * modulo 2^32 for gzip (its trailer; zlib checks the trailer itself at the end). */
  guint64 total = 4 + 4 * (guint64) ndim + nbytes;
  guint64 held = size.plain >= 0 ? (guint64) size.plain - 4 - 4 * (guint64) ndim : 0;
  if (size.plain >= 0 && held < nbytes) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: truncated: the data needs %" G_GSIZE_FORMAT " bytes, only %"
                 G_GUINT64_FORMAT " remain", path, nbytes, held);
    return NULL;
  }
  if (size.plain >= 0 && held > nbytes) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: data continue past the %" G_GSIZE_FORMAT
                 " elements the header declares", path, numel);
    return NULL;
  }
  if (size.gz_isize >= 0 && (guint32) size.gz_isize != (guint32) total) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: truncated or damaged gzip data: the header claims %"
                 G_GSIZE_FORMAT " bytes of data, the stream's trailer says it holds %u bytes in all", path, nbytes,
                 (guint32) size.gz_isize);
    return NULL;
  }
  g_autoptr (MtTensor) t = mt_tensor_try_alloc (dtype, ndim, shape, error);
  if (!t) {
    g_prefix_error (error, "%s: ", path);
    return NULL;
  }
  if (!read_exact (f, t->data, t->nbytes, path, "data", error))
    return NULL;
  guint8 extra;
  int more = gzread (f, &extra, 1);
  if (more != 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT,
                 more > 0 ? "%s: data continue past the %" G_GSIZE_FORMAT " elements the header declares"
                          : "%s: corrupt gzip data after the %" G_GSIZE_FORMAT " declared elements",
                 path, numel);
    return NULL;
  }
  /* Elements are big-endian on disk. */
  gsize esize = mt_dtype_size (dtype);
  if (esize > 1 && G_BYTE_ORDER == G_LITTLE_ENDIAN) {
    guint8 *p = t->data;
    for (gsize i = 0; i < numel; i++, p += esize)
      for (gsize a = 0, b = esize - 1; a < b; a++, b--) {
        guint8 tmp = p[a];
        p[a] = p[b];
        p[b] = tmp;
      }
  }
  return g_steal_pointer (&t);
}

gsize
mt_idx_max_bytes (void)
{
  const char *env = g_getenv ("MT_MAX_INPUT_BYTES");
  guint64 v = 0;
  if (env && g_ascii_string_to_unsigned (env, 10, 1, G_MAXUINT64, &v, NULL))
    return (gsize) MIN (v, (guint64) G_MAXSIZE);
  return MT_IDX_DEFAULT_MAX_BYTES;
}

/* Opens a regular file (never a FIFO or a device) for gzip-or-plain reading. */
/* What the file says of the bytes the reader will see, to check a header's claim before
 * anything is allocated: a plain file's size, or a gzip stream's ISIZE (its length mod
 * 2^32, from the trailer); -1 where not known. */
static gzFile
idx_open (const char *path, IdxSize *size, GError **error)
{
  goffset fsize = 0;
  int fd = mt_file_open_regular (path, TRUE, &fsize, error);
  if (fd < 0)
    return NULL;
  guint8 magic[2] = { 0, 0 }, trailer[4];
  *size = (IdxSize) { fsize, -1 };
  if (fsize >= 2 && pread (fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    size->plain = -1;
    if (fsize >= 18 && pread (fd, trailer, 4, fsize - 4) == 4)
      size->gz_isize = (gint64) ((guint32) trailer[0] | (guint32) trailer[1] << 8 | (guint32) trailer[2] << 16 |
                                 (guint32) trailer[3] << 24);
  }
  gzFile f = gzdopen (fd, "rb");
  if (!f) {
    close (fd);
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot open %s: out of memory", path);
    return NULL;
  }
  gzbuffer (f, 1 << 17);
  return f;
}

MtTensor *
mt_idx_load_checked (const char *path, gsize max_bytes, gint64 expect_n, const char *expect_from, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  IdxSize size;
  gzFile f = idx_open (path, &size, error);
  if (!f)
    return NULL;
  MtTensor *t = read_idx (f, path, max_bytes, expect_n, expect_from, size, error);
  gzclose (f);
  return t;
}

MtTensor *
mt_idx_load (const char *path, GError **error)
{
  return mt_idx_load_checked (path, mt_idx_max_bytes (), -1, NULL, error);
}

gboolean
mt_idx_save (const MtTensor *t, const char *path, gboolean gzip, GError **error)
{
  guint8 code = 0;
  for (guint i = 0; i < G_N_ELEMENTS (idx_types); i++)
    if (idx_types[i].dtype == t->dtype)
      code = idx_types[i].code;
  if (!code || t->ndim < 1) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "IDX stores uint8, int32, float32 or float64 tensors of 1+ dimensions");
    return FALSE;
  }
  gzFile f = gzopen (path, gzip ? "wb9" : "wbT");
  if (!f) {
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot create %s", path);
    return FALSE;
  }
  GByteArray *buf = g_byte_array_new ();
  guint8 magic[4] = { 0, 0, code, (guint8) t->ndim };
  g_byte_array_append (buf, magic, 4);
  for (int i = 0; i < t->ndim; i++) {
    guint32 d = GUINT32_TO_BE ((guint32) t->shape[i]);
    g_byte_array_append (buf, (guint8 *) &d, 4);
  }
  gsize esize = mt_dtype_size (t->dtype);
  gsize start = buf->len;
  g_byte_array_append (buf, t->data, t->nbytes);
  if (esize > 1 && G_BYTE_ORDER == G_LITTLE_ENDIAN)
    for (guint8 *p = buf->data + start; p < buf->data + buf->len; p += esize)
      for (gsize a = 0, b = esize - 1; a < b; a++, b--) {
        guint8 tmp = p[a];
        p[a] = p[b];
        p[b] = tmp;
      }
  gboolean ok = TRUE;
  for (gsize off = 0; ok && off < buf->len;) {
    unsigned chunk = (unsigned) MIN (buf->len - off, (gsize) 1 << 30);
    int n = gzwrite (f, buf->data + off, chunk);
    ok = n > 0;
    off += n > 0 ? (gsize) n : 0;
  }
  g_byte_array_unref (buf);
  if (gzclose (f) != Z_OK || !ok) {
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot write %s", path);
    return FALSE;
  }
  return TRUE;
}
