#include "formats/mt-safetensors.h"
#include "base/mt-json.h"
#include "base/mt-json-write.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"

#include <json-glib/json-glib.h>
#include <string.h>

static const struct {
  MtDType dtype;
  const char *name;
} st_dtypes[] = {
  { MT_DTYPE_F32, "F32" }, { MT_DTYPE_F64, "F64" }, { MT_DTYPE_U8, "U8" },
  { MT_DTYPE_I32, "I32" }, { MT_DTYPE_I64, "I64" }, { MT_DTYPE_BOOL, "BOOL" },
};

static const char *
st_dtype_name (MtDType d)
{
  for (guint i = 0; i < G_N_ELEMENTS (st_dtypes); i++)
    if (st_dtypes[i].dtype == d)
      return st_dtypes[i].name;
  g_assert_not_reached ();
}

/* The 8-byte length and the padded JSON header of @b; *data_len: the bytes that follow. */
static GByteArray *
encode_header (MtBundle *b, guint64 *data_len)
{
  g_autofree const char **names = mt_bundle_names (b);
  g_autoptr (JsonBuilder) jb = json_builder_new ();
  json_builder_begin_object (jb);

  GHashTable *meta = mt_bundle_metadata (b);
  if (g_hash_table_size (meta) > 0) {
    g_autofree const char **keys = (const char **) g_hash_table_get_keys_as_array (meta, NULL);
    json_builder_set_member_name (jb, "__metadata__");
    json_builder_begin_object (jb);
    for (guint i = 0; keys[i]; i++) {
      json_builder_set_member_name (jb, keys[i]);
      json_builder_add_string_value (jb, g_hash_table_lookup (meta, keys[i]));
    }
    json_builder_end_object (jb);
  }

  guint64 offset = 0;
  for (guint i = 0; names[i]; i++) {
    MtTensor *t = mt_bundle_get (b, names[i]);
    json_builder_set_member_name (jb, names[i]);
    json_builder_begin_object (jb);
    json_builder_set_member_name (jb, "dtype");
    json_builder_add_string_value (jb, st_dtype_name (t->dtype));
    json_builder_set_member_name (jb, "shape");
    json_builder_begin_array (jb);
    for (int d = 0; d < t->ndim; d++)
      json_builder_add_int_value (jb, t->shape[d]);
    json_builder_end_array (jb);
    json_builder_set_member_name (jb, "data_offsets");
    json_builder_begin_array (jb);
    json_builder_add_int_value (jb, (gint64) offset);
    json_builder_add_int_value (jb, (gint64) (offset + t->nbytes));
    json_builder_end_array (jb);
    json_builder_end_object (jb);
    offset += t->nbytes;
  }
  json_builder_end_object (jb);

  g_autoptr (JsonNode) root = json_builder_get_root (jb);
  g_autofree char *header = mt_json_to_string (root, FALSE);
  gsize hlen = strlen (header);
  /* Pad with spaces so the tensor data is 8-byte aligned, as the reference writer does. */
  gsize padded = (hlen + 7) & ~(gsize) 7;

  GByteArray *out = g_byte_array_sized_new (8 + padded);
  guint64 le = GUINT64_TO_LE ((guint64) padded);
  g_byte_array_append (out, (guint8 *) &le, 8);
  g_byte_array_append (out, (guint8 *) header, hlen);
  for (gsize i = hlen; i < padded; i++)
    g_byte_array_append (out, (const guint8 *) " ", 1);
  *data_len = offset;
  return out;
}

GBytes *
mt_safetensors_encode (MtBundle *b)
{
  guint64 data_len = 0;
  GByteArray *out = encode_header (b, &data_len);
  g_autofree const char **names = mt_bundle_names (b);
  for (guint i = 0; names[i]; i++) {
    MtTensor *t = mt_bundle_get (b, names[i]);
    g_byte_array_append (out, t->data, t->nbytes);
  }
  return g_byte_array_free_to_bytes (out);
}

typedef struct {
  const char *name;
  guint64 begin, end;
} Range;

static int
cmp_range (gconstpointer a, gconstpointer b)
{
  const Range *x = a, *y = b;
  return (x->begin > y->begin) - (x->begin < y->begin);
}

#define ST_FAIL(...) G_STMT_START { \
    g_autofree char *m_ = g_strdup_printf (__VA_ARGS__); \
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: not a valid .safetensors file: %s", what, m_); \
    return NULL; } G_STMT_END

static MtBundle *
decode (const guint8 *data, gsize len, const char *what, gboolean mapped, GError **error);

MtBundle *
mt_safetensors_decode (const guint8 *data, gsize len, const char *what, GError **error)
{
  return decode (data, len, what, FALSE, error);
}

/* @mapped: @data is a file mapping, whose pages are released as tensors are copied out. */
static MtBundle *
decode (const guint8 *data, gsize len, const char *what, gboolean mapped, GError **error)
{
  if (len < 8)
    ST_FAIL ("shorter than its 8-byte header length");
  guint64 hlen;
  memcpy (&hlen, data, 8);
  hlen = GUINT64_FROM_LE (hlen);
  if (hlen > len - 8)
    ST_FAIL ("header length %" G_GUINT64_FORMAT " runs past the end of the file (truncated?)", hlen);
  if (hlen > 100 * 1024 * 1024)
    ST_FAIL ("header of %" G_GUINT64_FORMAT " bytes is too large", hlen);
  if (hlen == 0 || data[8] != '{')
    ST_FAIL ("header does not start with '{'");

  g_autoptr (GError) jerr = NULL;
  g_autoptr (JsonNode) root = mt_json_parse ((const char *) data + 8, hlen, G_MAXSIZE, "header", &jerr);
  if (!root)
    ST_FAIL ("header is not JSON we read: %s", jerr->message);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    ST_FAIL ("header is not a JSON object");
  JsonObject *obj = json_node_get_object (root);

  const guint8 *buf = data + 8 + hlen;
  guint64 buflen = len - 8 - hlen;
  g_autoptr (MtBundle) b = mt_bundle_new ();
  g_autoptr (GArray) ranges = g_array_new (FALSE, FALSE, sizeof (Range));
  g_autoptr (GList) members = json_object_get_members (obj);

  for (GList *l = members; l; l = l->next) {
    const char *name = l->data;
    JsonNode *n = json_object_get_member (obj, name);
    if (g_strcmp0 (name, "__metadata__") == 0) {
      if (!JSON_NODE_HOLDS_OBJECT (n))
        ST_FAIL ("__metadata__ is not an object");
      JsonObject *mo = json_node_get_object (n);
      g_autoptr (GList) mk = json_object_get_members (mo);
      for (GList *k = mk; k; k = k->next) {
        JsonNode *mv = json_object_get_member (mo, k->data);
        if (!JSON_NODE_HOLDS_VALUE (mv) || json_node_get_value_type (mv) != G_TYPE_STRING)
          ST_FAIL ("__metadata__ value '%s' is not a string", (char *) k->data);
        mt_bundle_set_metadata (b, k->data, json_node_get_string (mv));
      }
      continue;
    }
    if (!JSON_NODE_HOLDS_OBJECT (n))
      ST_FAIL ("entry '%s' is not an object", name);
    JsonObject *to = json_node_get_object (n);
    const char *dts = mt_json_string (to, "dtype", NULL);
    JsonArray *shp = mt_json_array (to, "shape");
    JsonArray *offs = mt_json_array (to, "data_offsets");
    if (!dts || !shp || !offs || json_array_get_length (offs) != 2)
      ST_FAIL ("entry '%s' needs dtype, shape and data_offsets [begin, end]", name);
    gboolean known = FALSE;
    MtDType dtype = MT_DTYPE_F32;
    for (guint i = 0; i < G_N_ELEMENTS (st_dtypes); i++)
      if (g_strcmp0 (dts, st_dtypes[i].name) == 0) {
        dtype = st_dtypes[i].dtype;
        known = TRUE;
      }
    if (!known)
      ST_FAIL ("entry '%s' has unsupported dtype '%s'", name, dts);
    guint ndim = json_array_get_length (shp);
    if (ndim > MT_TENSOR_MAX_DIMS)
      ST_FAIL ("entry '%s' has %u dimensions (at most %d)", name, ndim, MT_TENSOR_MAX_DIMS);
    gint64 shape[MT_TENSOR_MAX_DIMS];
    gsize nbytes = mt_dtype_size (dtype);
    for (guint d = 0; d < ndim; d++) {
      if (!mt_json_array_int (shp, d, &shape[d]) || shape[d] < 0 ||
          !g_size_checked_mul (&nbytes, nbytes, (gsize) shape[d]))
        ST_FAIL ("entry '%s' has a bad shape", name);
    }
    gint64 begin = -1, end = -1;
    if (!mt_json_array_int (offs, 0, &begin) || !mt_json_array_int (offs, 1, &end))
      ST_FAIL ("entry '%s' has data_offsets that are not integers", name);
    if (begin < 0 || end < begin || (guint64) end > buflen)
      ST_FAIL ("entry '%s' has data_offsets [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] outside the %" G_GUINT64_FORMAT "-byte data (truncated?)",
               name, begin, end, buflen);
    if ((guint64) (end - begin) != nbytes)
      ST_FAIL ("entry '%s' spans %" G_GINT64_FORMAT " bytes but its dtype and shape need %" G_GSIZE_FORMAT,
               name, end - begin, nbytes);
    g_autoptr (MtTensor) t = mapped ? mt_tensor_try_alloc (dtype, (int) ndim, shape, error)
                                    : mt_tensor_new_from_data (dtype, (int) ndim, shape, buf + begin);
    if (!t)
      return NULL;
    if (mapped)
      mt_file_copy_from_mapping (t->data, buf + begin, t->nbytes);
    mt_bundle_set (b, name, t);
    Range r = { name, (guint64) begin, (guint64) end };
    g_array_append_val (ranges, r);
  }

  /* Like the reference parser: tensors must tile the data buffer, no gaps, no overlaps. */
  g_array_sort (ranges, cmp_range);
  guint64 pos = 0;
  for (guint i = 0; i < ranges->len; i++) {
    Range *r = &g_array_index (ranges, Range, i);
    if (r->begin != pos)
      ST_FAIL ("tensor '%s' starts at byte %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT " (gap or overlap)",
               r->name, r->begin, pos);
    pos = r->end;
  }
  if (pos != buflen)
    ST_FAIL ("%" G_GUINT64_FORMAT " bytes of data follow the last tensor", buflen - pos);
  return g_steal_pointer (&b);
}

gboolean
mt_safetensors_save (MtBundle *b, const char *path, GError **error)
{
  /* Written tensor by tensor from where they are: no copy of the whole file in memory. */
  guint64 data_len = 0;
  g_autoptr (GByteArray) head = encode_header (b, &data_len);
  g_autofree const char **names = mt_bundle_names (b);
  g_autoptr (GPtrArray) parts = g_ptr_array_new ();
  g_autoptr (GArray) lens = g_array_new (FALSE, FALSE, sizeof (gsize));
  gsize head_len = head->len;
  g_ptr_array_add (parts, head->data);
  g_array_append_val (lens, head_len);
  for (guint i = 0; names[i]; i++) {
    MtTensor *t = mt_bundle_get (b, names[i]);
    gsize len = t->nbytes;
    g_ptr_array_add (parts, t->data);
    g_array_append_val (lens, len);
  }
  return mt_file_write_parts (path, (const void *const *) parts->pdata, (const gsize *) lens->data, parts->len, error);
}

MtBundle *
mt_safetensors_load (const char *path, GError **error)
{
  g_autoptr (GMappedFile) mf = mt_file_map_regular (path, error);
  if (!mf)
    return NULL;
  return decode ((const guint8 *) g_mapped_file_get_contents (mf), g_mapped_file_get_length (mf), path, TRUE, error);
}
