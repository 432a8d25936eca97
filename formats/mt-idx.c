#include "formats/mt-idx.h"
#include "base/mt-error.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>

/* Data up to this size are read straight into the tensor. */
#define IDX_DIRECT_READ ((gsize) 64 << 20)

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

static MtTensor *
read_idx (gzFile f, const char *path, GError **error)
{
  guint8 magic[4];
  if (!read_exact (f, magic, 4, path, "magic number", error))
    return NULL;
  if (magic[0] != 0 || magic[1] != 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT,
                 "%s: not an IDX file (magic number %02x %02x %02x %02x; expected 00 00 TYPE DIMS)",
                 path, magic[0], magic[1], magic[2], magic[3]);
    return NULL;
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
    return NULL;
  }
  int ndim = magic[3];
  if (ndim < 1 || ndim > MT_TENSOR_MAX_DIMS) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: IDX header claims %d dimensions (1 to %d supported)",
                 path, ndim, MT_TENSOR_MAX_DIMS);
    return NULL;
  }
  guint8 dims_be[4 * MT_TENSOR_MAX_DIMS];
  if (!read_exact (f, dims_be, 4 * (gsize) ndim, path, "dimensions", error))
    return NULL;
  gint64 shape[MT_TENSOR_MAX_DIMS];
  gsize numel = 1;
  for (int i = 0; i < ndim; i++) {
    guint32 d;
    memcpy (&d, dims_be + 4 * i, 4);
    d = GUINT32_FROM_BE (d);
    /* Refuse sizes no real file has before allocating for them. */
    if (d > G_MAXINT32 || !g_size_checked_mul (&numel, numel, d) || numel > ((gsize) 1 << 32)) {
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: implausible IDX dimensions", path);
      return NULL;
    }
    shape[i] = d;
  }
  /* The header is not trusted with memory: past a size any real file reaches quickly,
   * the data are read in chunks, so a short file claiming terabytes costs only what
   * it holds before the truncation is reported. */
  gsize nbytes = numel * mt_dtype_size (dtype);
  if (nbytes > G_MAXUINT32) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: implausible IDX dimensions (%" G_GSIZE_FORMAT
                 " bytes of data)", path, nbytes);
    return NULL;
  }
  g_autoptr (MtTensor) t = NULL;
  if (nbytes <= IDX_DIRECT_READ) {
    t = mt_tensor_new (dtype, ndim, shape);
    if (!read_exact (f, t->data, t->nbytes, path, "data", error))
      return NULL;
  } else {
    g_autoptr (GByteArray) buf = g_byte_array_new ();
    while (buf->len < nbytes) {
      gsize chunk = MIN (nbytes - buf->len, (gsize) IDX_DIRECT_READ);
      guint old_len = buf->len;
      g_byte_array_set_size (buf, old_len + (guint) chunk);
      g_autoptr (GError) short_read = NULL;
      if (!read_exact (f, buf->data + old_len, chunk, path, "data", &short_read)) {
        g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: truncated: the data need %" G_GSIZE_FORMAT
                     " bytes, the file holds fewer than %u", path, nbytes, buf->len);
        return NULL;
      }
    }
    t = mt_tensor_new_from_data (dtype, ndim, shape, buf->data);
  }
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

MtTensor *
mt_idx_load (const char *path, GError **error)
{
  gzFile f = gzopen (path, "rb");
  if (!f) {
    int e = errno;
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot open %s: %s", path, g_strerror (e ? e : ENOMEM));
    return NULL;
  }
  gzbuffer (f, 1 << 17);
  MtTensor *t = read_idx (f, path, error);
  gzclose (f);
  return t;
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
