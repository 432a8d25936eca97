#include "nodes/mt-image-table.h"
#include "nodes/mt-image-dataset.h"
#include "base/mt-csv.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"

#include <stdlib.h>
#include <string.h>

#define MAX_CSV_BYTES ((gsize) 512 << 20)

enum { PROP_0, PROP_ROOT, PROP_RESIZE, PROP_CROP, PROP_LOAD, PROP_SKIP_BAD, PROP_CSV, PROP_PATH, PROP_LABEL, PROP_GROUP, PROP_SPLIT_COLUMN,
       PROP_SPLIT };

struct _MtImageTable {
  MtNode parent_instance;
  char *root, *csv, *path, *label, *group, *split_column, *split;
  MtImageOptions io;
};

G_DEFINE_FINAL_TYPE (MtImageTable, mt_image_table, MT_TYPE_NODE)

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* A column's values as numbers: themselves when every one is a non-negative integer,
 * else their index among the sorted distinct values (*names, NULL-separated in order). */
static gint64 *
column_codes (GPtrArray *rows, int col, GStrv *names)
{
  gint64 *codes = g_new (gint64, MAX (rows->len, 1));
  gboolean numeric = TRUE;
  for (guint i = 0; i < rows->len && numeric; i++) {
    const char *v = ((char **) rows->pdata[i])[col];
    char *end = NULL;
    gint64 x = g_ascii_strtoll (v, &end, 10);
    numeric = *v && end && !*end && x >= 0 && x < G_MAXINT32;
    codes[i] = x;
  }
  *names = NULL;
  if (numeric)
    return codes;
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) distinct = g_ptr_array_new ();
  for (guint i = 0; i < rows->len; i++) {
    char *v = ((char **) rows->pdata[i])[col];
    if (g_hash_table_add (seen, v))
      g_ptr_array_add (distinct, v);
  }
  g_ptr_array_sort (distinct, cmp_str);
  g_autoptr (GHashTable) index = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint k = 0; k < distinct->len; k++)
    g_hash_table_insert (index, distinct->pdata[k], GUINT_TO_POINTER (k));
  for (guint i = 0; i < rows->len; i++)
    codes[i] = GPOINTER_TO_UINT (g_hash_table_lookup (index, ((char **) rows->pdata[i])[col]));
  GStrv out = g_new0 (char *, distinct->len + 1);
  for (guint k = 0; k < distinct->len; k++)
    out[k] = g_strdup (distinct->pdata[k]);
  *names = out;
  return codes;
}

static GPtrArray *
table_items (MtImageTable *self, GStrv *classes, GError **error)
{
  g_autofree char *csv_path = mt_node_resolve_path (MT_NODE (self), self->csv);
  if (!csv_path) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "image_table needs csv, the file listing the images");
    return NULL;
  }
  g_autofree char *csv_dir = g_path_get_dirname (csv_path);
  g_autofree char *root = self->root && *self->root ? mt_node_resolve_path (MT_NODE (self), self->root)
                                                     : g_strdup (csv_dir);
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!mt_file_read_regular (csv_path, TRUE, MAX_CSV_BYTES, &text, &len, error))
    return NULL;
  g_autoptr (MtCsv) csv = mt_csv_parse (text, len, csv_path, error);
  if (!csv)
    return NULL;
  const char *names[] = { self->path, self->label, self->group, self->split_column };
  int col[4] = { -1, -1, -1, -1 };
  for (guint k = 0; k < 4; k++) {
    if (!names[k] || !*names[k])
      continue;
    if ((col[k] = mt_csv_column (csv, names[k])) < 0) {
      g_autofree char *have = csv->rows->len ? g_strjoinv (", ", csv->rows->pdata[0]) : g_strdup ("(none)");
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: no column '%s' (its columns: %s)", csv_path, names[k], have);
      return NULL;
    }
  }
  if (col[0] < 0 || col[1] < 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "image_table needs its path and label columns named");
    return NULL;
  }
  if (col[3] >= 0 && (!self->split || !*self->split)) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "image_table: split_column is set, say which split (split=...)");
    return NULL;
  }
  int need = MAX (MAX (col[0], col[1]), MAX (col[2], col[3]));
  g_autoptr (GPtrArray) rows = g_ptr_array_new ();
  for (guint r = 1; r < csv->rows->len; r++) {
    char **row = csv->rows->pdata[r];
    if (g_strv_length (row) <= (guint) need) {
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: row %u has %u fields; column '%s' is number %d", csv_path,
                   r + 1, g_strv_length (row), names[0], need + 1);
      return NULL;
    }
    if (col[3] >= 0 && strcmp (row[col[3]], self->split) != 0)
      continue;
    if (!mt_image_path_stays_inside (row[col[0]])) {
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: row %u: '%s' is not a path inside %s", csv_path, r + 1,
                   row[col[0]], root);
      return NULL;
    }
    g_ptr_array_add (rows, row);
  }
  if (rows->len == 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s: no rows%s%s", csv_path, col[3] >= 0 ? " of split " : "",
                 col[3] >= 0 ? self->split : "");
    return NULL;
  }
  g_autofree gint64 *labels = column_codes (rows, col[1], classes);
  GStrv group_names = NULL;
  g_autofree gint64 *groups = col[2] >= 0 ? column_codes (rows, col[2], &group_names) : NULL;
  g_strfreev (group_names);
  GPtrArray *items = g_ptr_array_new_with_free_func (mt_image_item_free);
  for (guint i = 0; i < rows->len; i++) {
    MtImageItem *it = g_new0 (MtImageItem, 1);
    it->relpath = g_strdup (((char **) rows->pdata[i])[col[0]]);
    it->path = g_build_filename (root, it->relpath, NULL);
    it->label = labels[i];
    it->group = groups ? groups[i] : -1;
    g_ptr_array_add (items, it);
  }
  return items;
}

static char *
image_table_fingerprint (MtNode *node, GError **error)
{
  g_auto (GStrv) classes = NULL;
  g_autoptr (GPtrArray) items = table_items (MT_IMAGE_TABLE (node), &classes, error);
  return items ? mt_image_dataset_fingerprint (items, error) : NULL;
}

static gboolean
image_table_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtImageTable *self = MT_IMAGE_TABLE (node);
  g_auto (GStrv) classes = NULL;
  g_autoptr (GPtrArray) items = table_items (self, &classes, error);
  if (!items)
    return FALSE;
  g_autoptr (MtBundle) b = mt_image_dataset_build (items, &self->io, ctx, error);
  if (!b)
    return FALSE;
  gint64 top = 0;
  for (guint i = 0; i < items->len; i++)
    top = MAX (top, ((MtImageItem *) items->pdata[i])->label);
  g_autofree char *nc = g_strdup_printf ("%" G_GINT64_FORMAT, classes ? (gint64) g_strv_length (classes) : top + 1);
  mt_bundle_set_metadata (b, "num_classes", nc);
  if (classes) {
    g_autofree char *joined = g_strjoinv ("\n", classes);
    mt_bundle_set_metadata (b, "classes", joined);
  }
  mt_context_log (ctx, "%u images from %s, %s classes", items->len, self->csv, nc);
  return mt_context_save_bundle (ctx, "dataset", b, error);
}

#define STRING_PROPS(X) X (CSV, csv) X (PATH, path) X (LABEL, label) X (GROUP, group) \
  X (SPLIT_COLUMN, split_column) X (SPLIT, split) X (ROOT, root)

static void
image_table_set_property (GObject *obj, guint id, const GValue *v, GParamSpec *pspec)
{
  MtImageTable *self = MT_IMAGE_TABLE (obj);
  switch (id) {
#define SET(ID, field) case PROP_##ID: g_free (self->field); self->field = g_value_dup_string (v); break;
  STRING_PROPS (SET)
#undef SET
  default:
    if (!mt_image_options_set (&self->io, PROP_RESIZE, id, v))
      G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
image_table_get_property (GObject *obj, guint id, GValue *v, GParamSpec *pspec)
{
  MtImageTable *self = MT_IMAGE_TABLE (obj);
  switch (id) {
#define GET(ID, field) case PROP_##ID: g_value_set_string (v, self->field); break;
  STRING_PROPS (GET)
#undef GET
  default:
    if (!mt_image_options_get (&self->io, PROP_RESIZE, id, v))
      G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
image_table_finalize (GObject *obj)
{
  MtImageTable *self = MT_IMAGE_TABLE (obj);
#define FREE(ID, field) g_free (self->field);
  STRING_PROPS (FREE)
#undef FREE
  G_OBJECT_CLASS (mt_image_table_parent_class)->finalize (obj);
}

static void
mt_image_table_class_init (MtImageTableClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = image_table_set_property;
  oc->get_property = image_table_get_property;
  oc->finalize = image_table_finalize;
  nc->run = image_table_run;
  nc->fingerprint = image_table_fingerprint;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  mt_image_dataset_install_properties (oc, nc, PROP_ROOT, PROP_RESIZE,
                                       "the folder the paths are relative to (none: the CSV file's)");
  g_object_class_install_property (oc, PROP_CSV, g_param_spec_string ("csv", "CSV", "the CSV file, with a header", NULL, rw));
  mt_node_class_mark_path (nc, "csv");
  g_object_class_install_property (oc, PROP_PATH,
    g_param_spec_string ("path", "Path column", "the column of image paths", "path", rw));
  g_object_class_install_property (oc, PROP_LABEL,
    g_param_spec_string ("label", "Label column", "the column of labels: integers from 0, or names (numbered in "
                         "sorted order)", "label", rw));
  g_object_class_install_property (oc, PROP_GROUP,
    g_param_spec_string ("group", "Group column", "the column of groups for per-group accuracy (empty: none)", "", rw));
  g_object_class_install_property (oc, PROP_SPLIT_COLUMN,
    g_param_spec_string ("split-column", "Split column", "the column that says which split a row is in (empty: all "
                         "rows)", "", rw));
  g_object_class_install_property (oc, PROP_SPLIT,
    g_param_spec_string ("split", "Split", "the rows whose split column holds this value", "", rw));
  mt_node_class_set_metadata (nc, "1", "Reads PNG/JPEG images listed in a CSV file, with labels and groups");
  mt_node_class_add_output (nc, "dataset", MT_KIND_DATASET, "RGB images, labels, groups when a group column is named");
}

static void
mt_image_table_init (MtImageTable *self)
{
  self->path = g_strdup ("path");
  self->label = g_strdup ("label");
  self->group = g_strdup ("");
  self->split_column = g_strdup ("");
  self->split = g_strdup ("");
  mt_image_options_init (&self->io);
}
