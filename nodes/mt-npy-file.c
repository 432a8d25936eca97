#include "nodes/mt-npy-file.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"
#include "formats/mt-npy.h"

struct _MtNpyFile {
  MtNode parent_instance;
  char *path;
};

G_DEFINE_FINAL_TYPE (MtNpyFile, mt_npy_file, MT_TYPE_NODE)

enum { PROP_0, PROP_PATH };

static void
npy_file_set_property (GObject *obj, guint id, const GValue *value, GParamSpec *pspec)
{
  MtNpyFile *self = MT_NPY_FILE (obj);
  switch (id) {
  case PROP_PATH:
    g_free (self->path);
    self->path = g_value_dup_string (value);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
npy_file_get_property (GObject *obj, guint id, GValue *value, GParamSpec *pspec)
{
  MtNpyFile *self = MT_NPY_FILE (obj);
  switch (id) {
  case PROP_PATH:
    g_value_set_string (value, self->path);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static gboolean
npy_file_check_path (MtNpyFile *self, GError **error)
{
  if (!self->path || !*self->path) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "npy_file needs a path");
    return FALSE;
  }
  return TRUE;
}

/* The file's bytes, not its name, decide whether downstream results are still valid. */
static char *
npy_file_fingerprint (MtNode *node, GError **error)
{
  MtNpyFile *self = MT_NPY_FILE (node);
  if (!npy_file_check_path (self, error))
    return NULL;
  g_autofree char *path = mt_node_resolve_path (node, self->path);
  return mt_file_sha256 (path, NULL, error);
}

static gboolean
npy_file_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtNpyFile *self = MT_NPY_FILE (node);
  if (!npy_file_check_path (self, error))
    return FALSE;
  g_autofree char *path = mt_node_resolve_path (node, self->path);
  g_autoptr (MtTensor) t = mt_npy_load (path, error);
  return t && mt_context_save_tensor (ctx, "tensor", t, error);
}

static void
npy_file_finalize (GObject *obj)
{
  g_free (MT_NPY_FILE (obj)->path);
  G_OBJECT_CLASS (mt_npy_file_parent_class)->finalize (obj);
}

static void
mt_npy_file_class_init (MtNpyFileClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = npy_file_set_property;
  oc->get_property = npy_file_get_property;
  oc->finalize = npy_file_finalize;
  nc->run = npy_file_run;
  nc->fingerprint = npy_file_fingerprint;
  g_object_class_install_property (oc, PROP_PATH,
    g_param_spec_string ("path", "Path", "the .npy file to read (its content enters the cache key)",
                         NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  mt_node_class_mark_path (nc, "path");
  mt_node_class_set_metadata (nc, "1", "Reads one tensor from a NumPy .npy file");
  mt_node_class_add_output (nc, "tensor", MT_KIND_TENSOR, "the tensor in the file");
}

static void
mt_npy_file_init (MtNpyFile *self)
{
}
