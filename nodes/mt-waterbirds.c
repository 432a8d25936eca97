#include "nodes/mt-waterbirds.h"
#include "nodes/mt-image-dataset.h"
#include "base/mt-csv.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"
#include "runtime/mt-enum.h"

#include <string.h>

#define MAX_CSV_BYTES ((gsize) 512 << 20)

enum { PROP_0, PROP_ROOT, PROP_RESIZE, PROP_CROP, PROP_LOAD, PROP_SKIP_BAD, PROP_SPLIT };

typedef enum { MT_WB_TRAIN, MT_WB_VAL, MT_WB_TEST } MtWbSplit;

MT_DEFINE_ENUM_TYPE (waterbirds_split_type, "MtWaterbirdsSplit",
                     { MT_WB_TRAIN, "MT_WB_TRAIN", "train" }, { MT_WB_VAL, "MT_WB_VAL", "val" },
                     { MT_WB_TEST, "MT_WB_TEST", "test" })

struct _MtWaterbirds {
  MtNode parent_instance;
  char *root;
  MtImageOptions io;
  MtWbSplit split;
};

G_DEFINE_FINAL_TYPE (MtWaterbirds, mt_waterbirds, MT_TYPE_NODE)

/* @s as a whole non-negative integer, or -1. */
static gint64
parse_int (const char *s)
{
  char *end = NULL;
  gint64 v = g_ascii_strtoll (s, &end, 10);
  return *s && end && !*end && v >= 0 ? v : -1;
}

static GPtrArray *
waterbirds_items (MtWaterbirds *self, GError **error)
{
  g_autofree char *root = mt_node_resolve_path (MT_NODE (self), self->root);
  g_autofree char *csv_path = root ? g_build_filename (root, "metadata.csv", NULL) : NULL;
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!csv_path || !mt_file_read_regular (csv_path, TRUE, MAX_CSV_BYTES, &text, &len, error)) {
    if (!csv_path)
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "waterbirds needs root, the folder with metadata.csv");
    else
      g_prefix_error (error, "waterbirds: ");
    return NULL;
  }
  g_autoptr (MtCsv) csv = mt_csv_parse (text, len, csv_path, error);
  if (!csv)
    return NULL;
  const char *need[] = { "img_filename", "y", "split", "place" };
  int col[4];
  for (guint k = 0; k < 4; k++)
    if ((col[k] = mt_csv_column (csv, need[k])) < 0) {
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: no column '%s' (Waterbirds' metadata.csv has img_id, "
                   "img_filename, y, split, place, place_filename)", csv_path, need[k]);
      return NULL;
    }
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (mt_image_item_free);
  for (guint r = 1; r < csv->rows->len; r++) {
    char **row = csv->rows->pdata[r];
    guint nf = g_strv_length (row);
    if (nf <= (guint) MAX (MAX (col[0], col[1]), MAX (col[2], col[3]))) {
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: row %u has %u fields, fewer than the header's", csv_path,
                   r + 1, nf);
      return NULL;
    }
    gint64 y = parse_int (row[col[1]]), split = parse_int (row[col[2]]), place = parse_int (row[col[3]]);
    if (y < 0 || y > 1 || split < 0 || split > 2 || place < 0 || place > 1) {
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: row %u: y, split and place must be 0/1, 0/1/2 and 0/1 "
                   "(got '%s', '%s', '%s')", csv_path, r + 1, row[col[1]], row[col[2]], row[col[3]]);
      return NULL;
    }
    if (split != (gint64) self->split)
      continue;
    if (!mt_image_path_stays_inside (row[col[0]])) {
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: row %u: img_filename '%s' leaves the dataset's folder",
                   csv_path, r + 1, row[col[0]]);
      return NULL;
    }
    MtImageItem *it = g_new0 (MtImageItem, 1);
    it->relpath = g_strdup (row[col[0]]);
    it->path = g_build_filename (root, it->relpath, NULL);
    it->label = y;
    it->group = 2 * y + place;  /* as the official code: y * n_places + place */
    g_ptr_array_add (items, it);
  }
  if (items->len == 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s: no rows of split %d", csv_path, (int) self->split);
    return NULL;
  }
  return g_steal_pointer (&items);
}

static char *
waterbirds_fingerprint (MtNode *node, GError **error)
{
  g_autoptr (GPtrArray) items = waterbirds_items (MT_WATERBIRDS (node), error);
  return items ? mt_image_dataset_fingerprint (items, error) : NULL;
}

static gboolean
waterbirds_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtWaterbirds *self = MT_WATERBIRDS (node);
  g_autoptr (GPtrArray) items = waterbirds_items (self, error);
  if (!items)
    return FALSE;
  g_autoptr (MtBundle) b = mt_image_dataset_build (items, &self->io, ctx, error);
  if (!b)
    return FALSE;
  mt_bundle_set_metadata (b, "num_classes", "2");
  mt_bundle_set_metadata (b, "classes", "landbird\nwaterbird");
  mt_bundle_set_metadata (b, "groups", "landbird on land\nlandbird on water\nwaterbird on land\nwaterbird on water");
  gint64 counts[4] = { 0 };
  for (guint i = 0; i < items->len; i++)
    counts[((MtImageItem *) items->pdata[i])->group]++;
  mt_context_log (ctx, "%u images; groups (y, place): %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                  ", %" G_GINT64_FORMAT, items->len, counts[0], counts[1], counts[2], counts[3]);
  return mt_context_save_bundle (ctx, "dataset", b, error);
}

static void
waterbirds_set_property (GObject *obj, guint id, const GValue *v, GParamSpec *pspec)
{
  MtWaterbirds *self = MT_WATERBIRDS (obj);
  switch (id) {
  case PROP_ROOT: g_free (self->root); self->root = g_value_dup_string (v); break;
  case PROP_SPLIT: self->split = g_value_get_enum (v); break;
  default:
    if (!mt_image_options_set (&self->io, PROP_RESIZE, id, v))
      G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
waterbirds_get_property (GObject *obj, guint id, GValue *v, GParamSpec *pspec)
{
  MtWaterbirds *self = MT_WATERBIRDS (obj);
  switch (id) {
  case PROP_ROOT: g_value_set_string (v, self->root); break;
  case PROP_SPLIT: g_value_set_enum (v, self->split); break;
  default:
    if (!mt_image_options_get (&self->io, PROP_RESIZE, id, v))
      G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
waterbirds_finalize (GObject *obj)
{
  g_free (MT_WATERBIRDS (obj)->root);
  G_OBJECT_CLASS (mt_waterbirds_parent_class)->finalize (obj);
}

static void
mt_waterbirds_class_init (MtWaterbirdsClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = waterbirds_set_property;
  oc->get_property = waterbirds_get_property;
  oc->finalize = waterbirds_finalize;
  nc->run = waterbirds_run;
  nc->fingerprint = waterbirds_fingerprint;
  mt_image_dataset_install_properties (oc, nc, PROP_ROOT, PROP_RESIZE,
                                       "the Waterbirds folder (metadata.csv and the images it names)");
  g_object_class_install_property (oc, PROP_SPLIT,
    g_param_spec_enum ("split", "Split", "metadata.csv's split column: train (0), val (1), test (2)",
                       waterbirds_split_type (), MT_WB_TRAIN, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  mt_node_class_set_metadata (nc, "1", "Reads the Waterbirds dataset as distributed (groups: bird type x place)");
  mt_node_class_add_output (nc, "dataset", MT_KIND_DATASET,
                            "RGB images, labels (0 landbird, 1 waterbird), groups 2 y + place");
}

static void
mt_waterbirds_init (MtWaterbirds *self)
{
  mt_image_options_init (&self->io);
  self->split = MT_WB_TRAIN;
}
