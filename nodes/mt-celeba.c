#include "nodes/mt-celeba.h"
#include "nodes/mt-image-dataset.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"
#include "runtime/mt-enum.h"

#include <stdlib.h>
#include <string.h>

#define MAX_LIST_BYTES ((gsize) 256 << 20)
#define DEFAULT_TARGET "Blond_Hair"
#define DEFAULT_CONFOUNDER "Male"
#define DEFAULT_LIMIT 0

typedef enum { MT_CELEBA_TRAIN, MT_CELEBA_VAL, MT_CELEBA_TEST } MtCelebaSplit;

MT_DEFINE_ENUM_TYPE (celeba_split_type, "MtCelebaSplit",
                     { MT_CELEBA_TRAIN, "MT_CELEBA_TRAIN", "train" }, { MT_CELEBA_VAL, "MT_CELEBA_VAL", "val" },
                     { MT_CELEBA_TEST, "MT_CELEBA_TEST", "test" })

enum { PROP_0, PROP_ROOT, PROP_RESIZE, PROP_CROP, PROP_LOAD, PROP_SKIP_BAD, PROP_SPLIT, PROP_TARGET, PROP_CONFOUNDER, PROP_LIMIT };

struct _MtCeleba {
  MtNode parent_instance;
  char *root, *target, *confounder;
  MtImageOptions io;
  int limit;
  MtCelebaSplit split;
};

G_DEFINE_FINAL_TYPE (MtCeleba, mt_celeba, MT_TYPE_NODE)

/* A list file's lines, each split on runs of blanks. */
static GPtrArray *
read_list (const char *root, const char *name, GError **error)
{
  g_autofree char *path = g_build_filename (root, name, NULL);
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!mt_file_read_regular (path, TRUE, MAX_LIST_BYTES, &text, &len, error)) {
    g_prefix_error (error, "celeba: ");
    return NULL;
  }
  GPtrArray *lines = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_auto (GStrv) raw = g_strsplit (text, "\n", -1);
  for (guint i = 0; raw[i]; i++) {
    g_strdelimit (raw[i], "\t\r", ' ');
    g_auto (GStrv) parts = g_strsplit (g_strstrip (raw[i]), " ", -1);
    GPtrArray *f = g_ptr_array_new ();
    for (guint k = 0; parts[k]; k++)
      if (*parts[k])
        g_ptr_array_add (f, g_strdup (parts[k]));
    g_ptr_array_add (f, NULL);
    g_ptr_array_add (lines, g_ptr_array_free (f, FALSE));
  }
  return lines;
}

static int
attr_index (char **names, const char *attr)
{
  for (int i = 0; names && names[i]; i++)
    if (strcmp (names[i], attr) == 0)
      return i;
  return -1;
}

static GPtrArray *
celeba_items (MtCeleba *self, GError **error)
{
  g_autofree char *root = mt_node_resolve_path (MT_NODE (self), self->root);
  if (!root) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "celeba needs root, the folder with img_align_celeba/");
    return NULL;
  }
  g_autoptr (GPtrArray) attrs = read_list (root, "list_attr_celeba.txt", error);
  if (!attrs)
    return NULL;
  g_autoptr (GPtrArray) parts = read_list (root, "list_eval_partition.txt", error);
  if (!parts)
    return NULL;
  /* Line 1: the image count; line 2: the 40 attribute names; then "000001.jpg -1 1 ...". */
  char **names = attrs->len > 1 ? attrs->pdata[1] : NULL;
  int t = attr_index (names, self->target), c = attr_index (names, self->confounder);
  if (t < 0 || c < 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s/list_attr_celeba.txt: no attribute '%s' (its second line names "
                 "them: Blond_Hair, Male, Smiling, ...)", root, t < 0 ? self->target : self->confounder);
    return NULL;
  }
  g_autoptr (GHashTable) split_of = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < parts->len; i++) {
    char **f = parts->pdata[i];
    if (f[0] && f[1])
      g_hash_table_insert (split_of, f[0], f[1]);
  }
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (mt_image_item_free);
  guint ncols = g_strv_length (names);
  for (guint i = 2; i < attrs->len; i++) {
    char **f = attrs->pdata[i];
    if (!f[0])
      continue;
    if (g_strv_length (f) != ncols + 1) {
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s/list_attr_celeba.txt:%u: %u values for %u attributes", root,
                   i + 1, g_strv_length (f) - 1, ncols);
      return NULL;
    }
    const char *sp = g_hash_table_lookup (split_of, f[0]);
    if (!sp) {
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s/list_eval_partition.txt: no split for %s", root, f[0]);
      return NULL;
    }
    if (atoi (sp) != (int) self->split)
      continue;
    const char *tv = f[t + 1], *cv = f[c + 1];
    if ((strcmp (tv, "1") && strcmp (tv, "-1")) || (strcmp (cv, "1") && strcmp (cv, "-1")) ||
        strchr (f[0], '/') || strcmp (f[0], "..") == 0) {
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s/list_attr_celeba.txt:%u: expected a file name and +-1 "
                   "values", root, i + 1);
      return NULL;
    }
    MtImageItem *it = g_new0 (MtImageItem, 1);
    it->relpath = g_build_filename ("img_align_celeba", f[0], NULL);
    it->path = g_build_filename (root, it->relpath, NULL);
    it->label = strcmp (tv, "1") == 0;
    it->group = 2 * (strcmp (cv, "1") == 0) + it->label;
    g_ptr_array_add (items, it);
    if (self->limit > 0 && items->len == (guint) self->limit)
      break;
  }
  if (items->len == 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s: no images in split %d", root, (int) self->split);
    return NULL;
  }
  return g_steal_pointer (&items);
}

static char *
celeba_fingerprint (MtNode *node, GError **error)
{
  g_autoptr (GPtrArray) items = celeba_items (MT_CELEBA (node), error);
  return items ? mt_image_dataset_fingerprint (items, error) : NULL;
}

static gboolean
celeba_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtCeleba *self = MT_CELEBA (node);
  g_autoptr (GPtrArray) items = celeba_items (self, error);
  if (!items)
    return FALSE;
  g_autoptr (MtBundle) b = mt_image_dataset_build (items, &self->io, ctx, error);
  if (!b)
    return FALSE;
  mt_bundle_set_metadata (b, "num_classes", "2");
  g_autofree char *classes = g_strdup_printf ("not %s\n%s", self->target, self->target);
  mt_bundle_set_metadata (b, "classes", classes);
  gint64 counts[4] = { 0 };
  for (guint i = 0; i < items->len; i++)
    counts[((MtImageItem *) items->pdata[i])->group]++;
  mt_context_log (ctx, "%u images; groups (%s, %s): %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                  ", %" G_GINT64_FORMAT, items->len, self->confounder, self->target, counts[0], counts[1], counts[2],
                  counts[3]);
  return mt_context_save_bundle (ctx, "dataset", b, error);
}

static void
celeba_set_property (GObject *obj, guint id, const GValue *v, GParamSpec *pspec)
{
  MtCeleba *self = MT_CELEBA (obj);
  switch (id) {
  case PROP_ROOT: g_free (self->root); self->root = g_value_dup_string (v); break;
  case PROP_TARGET: g_free (self->target); self->target = g_value_dup_string (v); break;
  case PROP_CONFOUNDER: g_free (self->confounder); self->confounder = g_value_dup_string (v); break;
  case PROP_LIMIT: self->limit = g_value_get_int (v); break;
  case PROP_SPLIT: self->split = g_value_get_enum (v); break;
  default:
    if (!mt_image_options_set (&self->io, PROP_RESIZE, id, v))
      G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
celeba_get_property (GObject *obj, guint id, GValue *v, GParamSpec *pspec)
{
  MtCeleba *self = MT_CELEBA (obj);
  switch (id) {
  case PROP_ROOT: g_value_set_string (v, self->root); break;
  case PROP_TARGET: g_value_set_string (v, self->target); break;
  case PROP_CONFOUNDER: g_value_set_string (v, self->confounder); break;
  case PROP_LIMIT: g_value_set_int (v, self->limit); break;
  case PROP_SPLIT: g_value_set_enum (v, self->split); break;
  default:
    if (!mt_image_options_get (&self->io, PROP_RESIZE, id, v))
      G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
celeba_finalize (GObject *obj)
{
  MtCeleba *self = MT_CELEBA (obj);
  g_free (self->root);
  g_free (self->target);
  g_free (self->confounder);
  G_OBJECT_CLASS (mt_celeba_parent_class)->finalize (obj);
}

static void
mt_celeba_class_init (MtCelebaClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = celeba_set_property;
  oc->get_property = celeba_get_property;
  oc->finalize = celeba_finalize;
  nc->run = celeba_run;
  nc->fingerprint = celeba_fingerprint;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  mt_image_dataset_install_properties (oc, nc, PROP_ROOT, PROP_RESIZE,
                                       "the CelebA folder (img_align_celeba/, list_attr_celeba.txt, "
                                       "list_eval_partition.txt)");
  g_object_class_install_property (oc, PROP_SPLIT,
    g_param_spec_enum ("split", "Split", "list_eval_partition.txt's: train (0), val (1), test (2)",
                       celeba_split_type (), MT_CELEBA_TRAIN, rw));
  g_object_class_install_property (oc, PROP_TARGET,
    g_param_spec_string ("target", "Target", "the attribute to predict", DEFAULT_TARGET, rw));
  g_object_class_install_property (oc, PROP_CONFOUNDER,
    g_param_spec_string ("confounder", "Confounder", "the spurious attribute: groups = 2 confounder + target",
                         DEFAULT_CONFOUNDER, rw));
  g_object_class_install_property (oc, PROP_LIMIT,
    g_param_spec_int ("limit", "Limit", "read only the first N images of the split (0: all; the images are held in "
                      "memory)", 0, G_MAXINT, DEFAULT_LIMIT, rw));
  mt_node_class_set_metadata (nc, "1", "Reads CelebA as distributed (label: one attribute, groups: with another)");
  mt_node_class_add_output (nc, "dataset", MT_KIND_DATASET, "RGB images, labels (the target), groups");
}

static void
mt_celeba_init (MtCeleba *self)
{
  self->target = g_strdup (DEFAULT_TARGET);
  self->confounder = g_strdup (DEFAULT_CONFOUNDER);
  mt_image_options_init (&self->io);
  self->split = MT_CELEBA_TRAIN;
  self->limit = DEFAULT_LIMIT;
}
