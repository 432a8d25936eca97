#include "formats/mt-npy.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"

#include <string.h>

static const char npy_magic[] = "\x93NUMPY";

static const struct {
  MtDType dtype;
  const char *descr;
} npy_descrs[] = {
  { MT_DTYPE_F32, "<f4" }, { MT_DTYPE_F64, "<f8" }, { MT_DTYPE_U8, "|u1" },
  { MT_DTYPE_I32, "<i4" }, { MT_DTYPE_I64, "<i8" }, { MT_DTYPE_BOOL, "|b1" },
};

/* The magic, version, length and padded header dict of @t; the data follows it. */
static GByteArray *
npy_header (const MtTensor *t)
{
  const char *descr = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (npy_descrs); i++)
    if (npy_descrs[i].dtype == t->dtype)
      descr = npy_descrs[i].descr;
  g_assert (descr != NULL);

  GString *dict = g_string_new (NULL);
  g_string_append_printf (dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (int i = 0; i < t->ndim; i++)
    g_string_append_printf (dict, "%" G_GINT64_FORMAT ",%s", t->shape[i],
                            (i + 1 < t->ndim) ? " " : "");
  g_string_append (dict, "), }");

  /* Version 1.0 stores the header length in 2 bytes; 2.0 in 4. Pad so the data
   * starts on a 64-byte boundary, as NumPy itself does. */
  int major = (dict->len + 1 + 10 + 63 < 65536) ? 1 : 2;
  gsize prefix = major == 1 ? 10 : 12;
  gsize total = prefix + dict->len + 1;
  gsize padded = (total + 63) & ~(gsize) 63;
  while (dict->len + 1 + prefix < padded)
    g_string_append_c (dict, ' ');
  g_string_append_c (dict, '\n');

  GByteArray *out = g_byte_array_sized_new (padded);
  g_byte_array_append (out, (const guint8 *) npy_magic, 6);
  guint8 ver[2] = { (guint8) major, 0 };
  g_byte_array_append (out, ver, 2);
  if (major == 1) {
    guint16 hl = GUINT16_TO_LE ((guint16) dict->len);
    g_byte_array_append (out, (guint8 *) &hl, 2);
  } else {
    guint32 hl = GUINT32_TO_LE ((guint32) dict->len);
    g_byte_array_append (out, (guint8 *) &hl, 4);
  }
  g_byte_array_append (out, (guint8 *) dict->str, dict->len);
  g_string_free (dict, TRUE);
  return out;
}

GBytes *
mt_npy_encode (const MtTensor *t)
{
  GByteArray *out = npy_header (t);
  g_byte_array_append (out, t->data, t->nbytes);
  return g_byte_array_free_to_bytes (out);
}

/* Finds 'key': in the header dict and returns a pointer just past the colon. */
static const char *
dict_value (const char *hdr, const char *key)
{
  g_autofree char *pat1 = g_strdup_printf ("'%s'", key);
  g_autofree char *pat2 = g_strdup_printf ("\"%s\"", key);
  const char *p = strstr (hdr, pat1);
  if (!p)
    p = strstr (hdr, pat2);
  if (!p)
    return NULL;
  p += strlen (pat1);
  while (*p == ' ')
    p++;
  if (*p != ':')
    return NULL;
  p++;
  while (*p == ' ')
    p++;
  return p;
}

static MtTensor *
format_error (GError **error, const char *what, const char *msg)
{
  g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: not a valid .npy file: %s", what, msg);
  return NULL;
}

static MtTensor *decode (const guint8 *data, gsize len, const char *what, gboolean mapped, GError **error);

MtTensor *
mt_npy_decode (const guint8 *data, gsize len, const char *what, GError **error)
{
  return decode (data, len, what, FALSE, error);
}

/* @mapped: @data is a file mapping, whose pages are released as the data is copied out. */
static MtTensor *
decode (const guint8 *data, gsize len, const char *what, gboolean mapped, GError **error)
{
  if (len < 10 || memcmp (data, npy_magic, 6) != 0)
    return format_error (error, what, "bad magic (expected \\x93NUMPY)");
  int major = data[6];
  gsize hlen, off;
  if (major == 1) {
    hlen = data[8] | (data[9] << 8);
    off = 10;
  } else if (major == 2 || major == 3) {
    if (len < 12)
      return format_error (error, what, "truncated header");
    hlen = (gsize) data[8] | ((gsize) data[9] << 8) | ((gsize) data[10] << 16) | ((gsize) data[11] << 24);
    off = 12;
  } else {
    return format_error (error, what, "unsupported format version");
  }
  if (hlen > len - off)
    return format_error (error, what, "truncated header");
  g_autofree char *hdr = g_strndup ((const char *) data + off, hlen);
  off += hlen;
  /* Each key once: a header naming one twice means two things, and we do not guess. */
  const char *keys[] = { "descr", "fortran_order", "shape" };
  for (guint k = 0; k < G_N_ELEMENTS (keys); k++) {
    guint seen = 0;
    for (int quote = 0; quote < 2; quote++) {
      g_autofree char *pat = g_strdup_printf (quote ? "\"%s\"" : "'%s'", keys[k]);
      for (const char *p = strstr (hdr, pat); p; p = strstr (p + 1, pat))
        seen++;
    }
    if (seen > 1) {
      g_autofree char *msg = g_strdup_printf ("header names '%s' %u times", keys[k], seen);
      return format_error (error, what, msg);
    }
  }

  const char *v = dict_value (hdr, "descr");
  if (!v || (*v != '\'' && *v != '"'))
    return format_error (error, what, "header has no 'descr'");
  char quote = *v++;
  const char *end = strchr (v, quote);
  if (!end)
    return format_error (error, what, "unterminated 'descr'");
  g_autofree char *descr = g_strndup (v, end - v);
  gboolean found = FALSE;
  MtDType dtype = MT_DTYPE_F32;
  for (guint i = 0; i < G_N_ELEMENTS (npy_descrs); i++) {
    /* '<u1' and '|u1' mean the same for single bytes. */
    if (g_strcmp0 (descr, npy_descrs[i].descr) == 0 ||
        (descr[0] == '<' && npy_descrs[i].descr[0] == '|' && g_strcmp0 (descr + 1, npy_descrs[i].descr + 1) == 0)) {
      dtype = npy_descrs[i].dtype;
      found = TRUE;
    }
  }
  if (!found) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: unsupported .npy dtype '%s'", what, descr);
    return NULL;
  }

  v = dict_value (hdr, "fortran_order");
  if (!v)
    return format_error (error, what, "header has no 'fortran_order'");
  if (g_str_has_prefix (v, "True")) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: Fortran-ordered .npy arrays are not supported", what);
    return NULL;
  }

  v = dict_value (hdr, "shape");
  if (!v || *v != '(')
    return format_error (error, what, "header has no 'shape' tuple");
  v++;
  gint64 shape[MT_TENSOR_MAX_DIMS];
  int ndim = 0;
  for (;;) {
    while (*v == ' ' || *v == ',')
      v++;
    if (*v == ')')
      break;
    char *e = NULL;
    gint64 d = g_ascii_strtoll (v, &e, 10);
    if (e == v || d < 0)
      return format_error (error, what, "bad 'shape'");
    if (ndim == MT_TENSOR_MAX_DIMS)
      return format_error (error, what, "too many dimensions");
    shape[ndim++] = d;
    v = e;
  }

  gsize numel = 1, nbytes;
  for (int i = 0; i < ndim; i++)
    if (!g_size_checked_mul (&numel, numel, (gsize) shape[i]))
      return format_error (error, what, "shape overflows");
  if (!g_size_checked_mul (&nbytes, numel, mt_dtype_size (dtype)))
    return format_error (error, what, "shape overflows");
  if (len - off != nbytes) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT,
                 "%s: .npy data is %" G_GSIZE_FORMAT " bytes, its header promises %" G_GSIZE_FORMAT "%s",
                 what, len - off, nbytes, len - off < nbytes ? " (truncated file)" : "");
    return NULL;
  }
  if (!mapped)
    return mt_tensor_new_from_data (dtype, ndim, shape, data + off);
  MtTensor *t = mt_tensor_try_alloc (dtype, ndim, shape, error);
  if (t)
    mt_file_copy_from_mapping (t->data, data + off, t->nbytes);
  return t;
}

gboolean
mt_npy_save (const MtTensor *t, const char *path, GError **error)
{
  /* The header, then the data from where it is: no copy of the whole file in memory. */
  g_autoptr (GByteArray) head = npy_header (t);
  const void *parts[] = { head->data, t->data };
  const gsize lens[] = { head->len, t->nbytes };
  return mt_file_write_parts (path, parts, lens, 2, error);
}

MtTensor *
mt_npy_load (const char *path, GError **error)
{
  g_autoptr (GMappedFile) mf = mt_file_map_regular (path, error);
  if (!mf)
    return NULL;
  return decode ((const guint8 *) g_mapped_file_get_contents (mf), g_mapped_file_get_length (mf), path, TRUE, error);
}
