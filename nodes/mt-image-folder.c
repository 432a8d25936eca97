#include "nodes/mt-image-folder.h"
#include "nodes/mt-image-dataset.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"
#include "ml/mt-dataset.h"

#include <string.h>

enum { PROP_0, PROP_ROOT, PROP_RESIZE, PROP_CROP, PROP_LOAD, PROP_SKIP_BAD };

static gboolean
is_image_name (const char *name)
{
  g_autofree char *low = g_ascii_strdown (name, -1);
  return g_str_has_suffix (low, ".png") || g_str_has_suffix (low, ".jpg") || g_str_has_suffix (low, ".jpeg");
}

static int
cmp_item (gconstpointer a, gconstpointer b)
{
  const MtImageItem *x = *(MtImageItem *const *) a, *y = *(MtImageItem *const *) b;
  return strcmp (x->relpath, y->relpath);
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Every PNG/JPEG under @dir (recursively, links followed once), relative to @root. */
static gboolean
collect (const char *root, const char *rel, gint64 label, GPtrArray *items, guint depth, GError **error)
{
  g_autofree char *dir = g_build_filename (root, rel, NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, error);
  if (!d)
    return FALSE;
  if (depth > 32) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s: folders nested deeper than 32 (a link loop?)", dir);
    return FALSE;
  }
  const char *name;
  while ((name = g_dir_read_name (d))) {
    g_autofree char *r = g_build_filename (rel, name, NULL);
    g_autofree char *p = g_build_filename (root, r, NULL);
    if (g_file_test (p, G_FILE_TEST_IS_DIR)) {
      if (!collect (root, r, label, items, depth + 1, error))
        return FALSE;
    } else if (is_image_name (name)) {
      MtImageItem *it = g_new0 (MtImageItem, 1);
      it->path = g_steal_pointer (&p);
      it->relpath = g_steal_pointer (&r);
      it->label = label;
      it->group = -1;
      g_ptr_array_add (items, it);
    }
  }
  return TRUE;
}

/* ---- image_folder ------------------------------------------------------------------- */

struct _MtImageFolder {
  MtNode parent_instance;
  char *root;
  MtImageOptions io;
};

G_DEFINE_FINAL_TYPE (MtImageFolder, mt_image_folder, MT_TYPE_NODE)

/* The items and the sorted class names, as torchvision's ImageFolder finds them. */
static GPtrArray *
folder_items (MtImageFolder *self, GStrv *classes_out, GError **error)
{
  g_autofree char *root = mt_node_resolve_path (MT_NODE (self), self->root);
  if (!root || !g_file_test (root, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "image_folder root %s is not a folder", root ? root : "(none)");
    return NULL;
  }
  g_autoptr (GDir) d = g_dir_open (root, 0, error);
  if (!d)
    return NULL;
  g_autoptr (GPtrArray) classes = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (d))) {
    g_autofree char *p = g_build_filename (root, name, NULL);
    if (g_file_test (p, G_FILE_TEST_IS_DIR))
      g_ptr_array_add (classes, g_strdup (name));
  }
  g_ptr_array_sort (classes, cmp_str);
  if (classes->len < 2) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s: %u class folder%s; ImageFolder wants one folder per class",
                 root, classes->len, classes->len == 1 ? "" : "s");
    return NULL;
  }
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (mt_image_item_free);
  for (guint c = 0; c < classes->len; c++) {
    guint before = items->len;
    if (!collect (root, classes->pdata[c], c, items, 0, error))
      return NULL;
    if (items->len == before) {
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s/%s: no PNG or JPEG image in the class folder", root,
                   (char *) classes->pdata[c]);
      return NULL;
    }
  }
  g_ptr_array_sort (items, cmp_item);  /* class folders sort first, then their files */
  g_ptr_array_add (classes, NULL);
  *classes_out = (GStrv) g_ptr_array_steal (classes, NULL);
  return g_steal_pointer (&items);
}

static char *
image_folder_fingerprint (MtNode *node, GError **error)
{
  g_auto (GStrv) classes = NULL;
  g_autoptr (GPtrArray) items = folder_items (MT_IMAGE_FOLDER (node), &classes, error);
  return items ? mt_image_dataset_fingerprint (items, error) : NULL;
}

static gboolean
image_folder_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtImageFolder *self = MT_IMAGE_FOLDER (node);
  g_auto (GStrv) classes = NULL;
  g_autoptr (GPtrArray) items = folder_items (self, &classes, error);
  if (!items)
    return FALSE;
  g_autoptr (MtBundle) b = mt_image_dataset_build (items, &self->io, ctx, error);
  if (!b)
    return FALSE;
  g_autofree char *nc = g_strdup_printf ("%u", g_strv_length (classes));
  g_autofree char *names = g_strjoinv ("\n", classes);
  mt_bundle_set_metadata (b, "num_classes", nc);
  mt_bundle_set_metadata (b, "classes", names);
  mt_bundle_set_metadata (b, "source", self->root);
  gint64 shape[4];
  mt_dataset_images_shape (b, shape);
  mt_context_log (ctx, "%u images of %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " in %s classes", items->len,
                  shape[2], shape[3], nc);
  return mt_context_save_bundle (ctx, "dataset", b, error);
}

static void
image_folder_set_property (GObject *obj, guint id, const GValue *v, GParamSpec *pspec)
{
  MtImageFolder *self = MT_IMAGE_FOLDER (obj);
  switch (id) {
  case PROP_ROOT: g_free (self->root); self->root = g_value_dup_string (v); break;
  default:
    if (!mt_image_options_set (&self->io, PROP_RESIZE, id, v))
      G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
image_folder_get_property (GObject *obj, guint id, GValue *v, GParamSpec *pspec)
{
  MtImageFolder *self = MT_IMAGE_FOLDER (obj);
  switch (id) {
  case PROP_ROOT: g_value_set_string (v, self->root); break;
  default:
    if (!mt_image_options_get (&self->io, PROP_RESIZE, id, v))
      G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
image_folder_finalize (GObject *obj)
{
  g_free (MT_IMAGE_FOLDER (obj)->root);
  G_OBJECT_CLASS (mt_image_folder_parent_class)->finalize (obj);
}

static void
mt_image_folder_class_init (MtImageFolderClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = image_folder_set_property;
  oc->get_property = image_folder_get_property;
  oc->finalize = image_folder_finalize;
  nc->run = image_folder_run;
  nc->fingerprint = image_folder_fingerprint;
  mt_image_dataset_install_properties (oc, nc, PROP_ROOT, PROP_RESIZE,
                                       "the folder holding one folder per class");
  mt_node_class_set_metadata (nc, "1", "Reads PNG/JPEG images in torchvision's ImageFolder layout");
  mt_node_class_add_output (nc, "dataset", MT_KIND_DATASET, "RGB images uint8 N x 3 x H x W, labels by class folder");
}

static void
mt_image_folder_init (MtImageFolder *self)
{
  mt_image_options_init (&self->io);
}

