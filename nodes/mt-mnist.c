#include "config.h"
#include "nodes/mt-mnist.h"
#include "ml/mt-dataset.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"
#include "formats/mt-idx.h"

#include <string.h>

struct _MtMnist {
  MtNode parent_instance;
  char *root;
  MtSplit split;
  int limit;
};

G_DEFINE_FINAL_TYPE (MtMnist, mt_mnist, MT_TYPE_NODE)

#define DEFAULT_SPLIT MT_SPLIT_TRAIN
#define DEFAULT_LIMIT 0

enum { PROP_0, PROP_ROOT, PROP_SPLIT, PROP_LIMIT };

GType
mt_split_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { MT_SPLIT_TRAIN, "MT_SPLIT_TRAIN", "train" },
    { MT_SPLIT_TEST, "MT_SPLIT_TEST", "test" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("MtSplit", values));
  return type;
}

char *
mt_mnist_bundled_root (void)
{
  const char *env = g_getenv ("MT_DATA_DIR");
  if (env && *env)
    return g_build_filename (env, "mnist", NULL);
  char *installed = g_build_filename (MT_DATADIR, "mnist", NULL);
  if (g_file_test (installed, G_FILE_TEST_IS_DIR))
    return installed;
  g_free (installed);
  return g_build_filename (MT_SRC_DATADIR, "mnist", NULL);
}

/* The names the MNIST and Fashion-MNIST distributions use, plain or gzipped. */
static char *
mnist_find_one (const char *root, const char *prefix, const char *kind)
{
  const char *seps[] = { "-", "." };
  const char *exts[] = { "", ".gz" };
  int dims = g_str_equal (kind, "images") ? 3 : 1;
  for (guint s = 0; s < G_N_ELEMENTS (seps); s++)
    for (guint e = 0; e < G_N_ELEMENTS (exts); e++) {
      g_autofree char *name = g_strdup_printf ("%s-%s%sidx%d-ubyte%s", prefix, kind, seps[s], dims, exts[e]);
      char *p = g_build_filename (root, name, NULL);
      if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
        return p;
      g_free (p);
    }
  return NULL;
}

gboolean
mt_mnist_find_files (const char *root, MtSplit split, char **images, char **labels, GError **error)
{
  const char *prefix = split == MT_SPLIT_TRAIN ? "train" : "t10k";
  if (!g_file_test (root, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "mnist root %s is not a directory", root);
    return FALSE;
  }
  *images = mnist_find_one (root, prefix, "images");
  *labels = mnist_find_one (root, prefix, "labels");
  if (!*images || !*labels) {
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "no %s %s file in %s (expected %s-%s-idx%d-ubyte or the same with .gz)",
                 split == MT_SPLIT_TRAIN ? "training" : "test", *images ? "labels" : "images", root,
                 prefix, *images ? "labels" : "images", *images ? 1 : 3);
    g_clear_pointer (images, g_free);
    g_clear_pointer (labels, g_free);
    return FALSE;
  }
  return TRUE;
}

static char *
mnist_root_of (MtMnist *self)
{
  return self->root && *self->root ? mt_node_resolve_path (MT_NODE (self), self->root) : mt_mnist_bundled_root ();
}

/* The files' bytes decide the key: a new copy of the data reruns what depends on it. */
static char *
mnist_fingerprint (MtNode *node, GError **error)
{
  MtMnist *self = MT_MNIST (node);
  g_autofree char *root = mnist_root_of (self);
  g_autofree char *images = NULL, *labels = NULL;
  if (!mt_mnist_find_files (root, self->split, &images, &labels, error))
    return NULL;
  g_autofree char *di = mt_file_sha256 (images, NULL, error);
  if (!di)
    return NULL;
  g_autofree char *dl = mt_file_sha256 (labels, NULL, error);
  if (!dl)
    return NULL;
  return g_strdup_printf ("images=%s labels=%s", di, dl);
}

static gboolean
mnist_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtMnist *self = MT_MNIST (node);
  g_autofree char *root = mnist_root_of (self);
  g_autofree char *ipath = NULL, *lpath = NULL;
  if (!mt_mnist_find_files (root, self->split, &ipath, &lpath, error))
    return FALSE;
  /* The labels' count bounds the images' claim before a byte of them is allocated. */
  g_autoptr (MtTensor) labels = mt_idx_load (lpath, error);
  if (!labels)
    return FALSE;
  g_autoptr (MtTensor) images = mt_idx_load_checked (ipath, mt_idx_max_bytes (), labels->ndim == 1 ? labels->shape[0] : -1,
                                                     lpath, error);
  if (!images)
    return FALSE;
  mt_context_progress (ctx, 0.8);
  if (images->dtype != MT_DTYPE_U8 || images->ndim != 3) {
    g_autofree char *s = mt_tensor_shape_string (images);
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: expected unsigned bytes N x rows x cols, found %s %s",
                 ipath, mt_dtype_name (images->dtype), s);
    return FALSE;
  }
  if (labels->dtype != MT_DTYPE_U8 || labels->ndim != 1) {
    g_autofree char *s = mt_tensor_shape_string (labels);
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: expected unsigned bytes N, found %s %s", lpath,
                 mt_dtype_name (labels->dtype), s);
    return FALSE;
  }
  if (labels->shape[0] != images->shape[0]) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s has %" G_GINT64_FORMAT " labels but %s has %" G_GINT64_FORMAT " images",
                 lpath, labels->shape[0], ipath, images->shape[0]);
    return FALSE;
  }
  gint64 n = images->shape[0];
  if (self->limit > 0)
    n = MIN (n, (gint64) self->limit);
  const guint8 *lab = labels->data;
  for (gint64 i = 0; i < n; i++)
    if (lab[i] > 9) {
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: label %u of sample %" G_GINT64_FORMAT " is not a class 0-9",
                   lpath, lab[i], i);
      return FALSE;
    }
  gint64 ishape[] = { n, 1, images->shape[1], images->shape[2] }, lshape[] = { n };
  g_autoptr (MtTensor) out_images = mt_tensor_new_from_data (MT_DTYPE_U8, 4, ishape, images->data);
  g_autoptr (MtTensor) out_labels = mt_tensor_new (MT_DTYPE_I64, 1, lshape);
  for (gint64 i = 0; i < n; i++)
    ((gint64 *) out_labels->data)[i] = lab[i];
  g_autoptr (MtBundle) b = mt_bundle_new ();
  mt_bundle_set (b, MT_DATASET_IMAGES, out_images);
  mt_bundle_set (b, MT_DATASET_LABELS, out_labels);
  /* The root as written: the same data read from another folder gives the same bytes. */
  mt_bundle_set_metadata (b, "source", self->root && *self->root ? self->root : root);
  mt_bundle_set_metadata (b, "split", self->split == MT_SPLIT_TRAIN ? "train" : "test");
  mt_context_log (ctx, "%" G_GINT64_FORMAT " images of %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " from %s",
                  n, images->shape[1], images->shape[2], root);
  return mt_context_save_bundle (ctx, "dataset", b, error);
}

static void
mnist_set_property (GObject *obj, guint id, const GValue *value, GParamSpec *pspec)
{
  MtMnist *self = MT_MNIST (obj);
  switch (id) {
  case PROP_ROOT:
    g_free (self->root);
    self->root = g_value_dup_string (value);
    break;
  case PROP_SPLIT: self->split = g_value_get_enum (value); break;
  case PROP_LIMIT: self->limit = g_value_get_int (value); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
mnist_get_property (GObject *obj, guint id, GValue *value, GParamSpec *pspec)
{
  MtMnist *self = MT_MNIST (obj);
  switch (id) {
  case PROP_ROOT: g_value_set_string (value, self->root); break;
  case PROP_SPLIT: g_value_set_enum (value, self->split); break;
  case PROP_LIMIT: g_value_set_int (value, self->limit); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
mnist_finalize (GObject *obj)
{
  g_free (MT_MNIST (obj)->root);
  G_OBJECT_CLASS (mt_mnist_parent_class)->finalize (obj);
}

static void
mt_mnist_class_init (MtMnistClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = mnist_set_property;
  oc->get_property = mnist_get_property;
  oc->finalize = mnist_finalize;
  nc->run = mnist_run;
  nc->fingerprint = mnist_fingerprint;
  g_object_class_install_property (oc, PROP_ROOT,
    g_param_spec_string ("root", "Root", "directory with the IDX files (none: the bundled MNIST digits)",
                         NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  mt_node_class_mark_path (nc, "root");
  g_object_class_install_property (oc, PROP_SPLIT,
    g_param_spec_enum ("split", "Split", "which split to read", MT_TYPE_SPLIT, DEFAULT_SPLIT,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_LIMIT,
    g_param_spec_int ("limit", "Limit", "read only the first N samples (0: all)", 0, G_MAXINT, DEFAULT_LIMIT,
                      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  mt_node_class_set_metadata (nc, "1", "Reads MNIST-format IDX files (MNIST, Fashion-MNIST)");
  mt_node_class_add_output (nc, "dataset", MT_KIND_DATASET, "grey images uint8 N x 1 x 28 x 28, labels 0-9");
}

static void
mt_mnist_init (MtMnist *self)
{
  self->split = DEFAULT_SPLIT;
  self->limit = DEFAULT_LIMIT;
}
