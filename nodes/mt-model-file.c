#include "nodes/mt-model-file.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"
#include "base/mt-suggest.h"
#include "formats/mt-safetensors.h"
#include "ml/mt-model.h"
#include "runtime/mt-enum.h"

typedef enum { MT_NORMALIZE_AUTO, MT_NORMALIZE_IMAGENET, MT_NORMALIZE_NONE } MtNormalize;

MT_DEFINE_ENUM_TYPE (model_file_normalize_type, "MtModelNormalize",
                     { MT_NORMALIZE_AUTO, "MT_NORMALIZE_AUTO", "auto" },
                     { MT_NORMALIZE_IMAGENET, "MT_NORMALIZE_IMAGENET", "imagenet" },
                     { MT_NORMALIZE_NONE, "MT_NORMALIZE_NONE", "none" })

struct _MtModelFile {
  MtNode parent_instance;
  char *path;
  char *arch;
  MtNormalize normalize;
};

G_DEFINE_FINAL_TYPE (MtModelFile, mt_model_file, MT_TYPE_NODE)

#define DEFAULT_ARCH ""
#define DEFAULT_NORMALIZE MT_NORMALIZE_AUTO

enum { PROP_0, PROP_PATH, PROP_ARCH, PROP_NORMALIZE };

static gboolean
model_file_validate (MtNode *node, const char **property, GError **error)
{
  MtModelFile *self = MT_MODEL_FILE (node);
  if (!self->path || !*self->path) {
    *property = "path";
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "model_file needs a path");
    return FALSE;
  }
  if (self->arch && *self->arch && !mt_arch_lookup (self->arch)) {
    g_autofree char *hint = mt_suggest_hint (self->arch, (const char **) mt_arch_names ());
    g_autofree char *all = g_strjoinv (", ", (char **) mt_arch_names ());
    *property = "arch";
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "unknown arch '%s'%s (known: %s)", self->arch, hint, all);
    return FALSE;
  }
  return TRUE;
}

/* The file's bytes decide the key, as for every source node. */
static char *
model_file_fingerprint (MtNode *node, GError **error)
{
  MtModelFile *self = MT_MODEL_FILE (node);
  g_autofree char *path = mt_node_resolve_path (node, self->path);
  if (!path) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "model_file needs a path");
    return NULL;
  }
  return mt_file_sha256 (path, NULL, error);
}

static gboolean
model_file_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtModelFile *self = MT_MODEL_FILE (node);
  g_autofree char *path = mt_node_resolve_path (node, self->path);
  g_autoptr (MtBundle) b = mt_safetensors_load (path, error);
  if (!b)
    return FALSE;
  const char *own = mt_bundle_get_metadata (b, "arch");
  const char *arch_name = self->arch && *self->arch ? self->arch : own;
  const MtArch *arch = arch_name ? mt_arch_lookup (arch_name) : NULL;
  if (!arch) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s: say which architecture these weights are for: "
                 "model_file(path=..., arch=\"resnet50\")", path);
    return FALSE;
  }
  if (own && g_strcmp0 (own, arch->name) != 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s holds %s weights, not %s", path, own, arch->name);
    return FALSE;
  }
  g_autoptr (MtModel) m = own ? mt_model_from_bundle (b, path, error)
                              : mt_model_from_state_dict (b, arch, 0, 0, 0, path, error);
  if (!m)
    return FALSE;
  /* A plain state_dict of an ImageNet ResNet was trained on ImageNet-normalised input. */
  gboolean imagenet = self->normalize == MT_NORMALIZE_IMAGENET ||
                      (self->normalize == MT_NORMALIZE_AUTO && !own && arch->init == MT_INIT_TORCHVISION);
  if (imagenet) {
    const double mean[3] = MT_IMAGENET_MEAN, std[3] = MT_IMAGENET_STD;
    mt_model_set_normalization (m, mean, std);
  } else if (self->normalize == MT_NORMALIZE_NONE) {
    const double mean[3] = { 0, 0, 0 }, std[3] = { 1, 1, 1 };
    mt_model_set_normalization (m, mean, std);
  }
  mt_context_log (ctx, "%s: %s, %d classes%s", path, arch->name, mt_model_num_classes (m),
                  mt_model_is_normalized (m) ? ", ImageNet-normalised input" : "");
  g_autoptr (MtBundle) out = mt_model_to_bundle (m);
  mt_bundle_set_metadata (out, "source", path);
  return mt_context_save_bundle (ctx, "model", out, error);
}

static void
model_file_set_property (GObject *obj, guint id, const GValue *value, GParamSpec *pspec)
{
  MtModelFile *self = MT_MODEL_FILE (obj);
  switch (id) {
  case PROP_PATH:
    g_free (self->path);
    self->path = g_value_dup_string (value);
    break;
  case PROP_ARCH:
    g_free (self->arch);
    self->arch = g_value_dup_string (value);
    break;
  case PROP_NORMALIZE: self->normalize = g_value_get_enum (value); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
model_file_get_property (GObject *obj, guint id, GValue *value, GParamSpec *pspec)
{
  MtModelFile *self = MT_MODEL_FILE (obj);
  switch (id) {
  case PROP_PATH: g_value_set_string (value, self->path); break;
  case PROP_ARCH: g_value_set_string (value, self->arch); break;
  case PROP_NORMALIZE: g_value_set_enum (value, self->normalize); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
model_file_finalize (GObject *obj)
{
  MtModelFile *self = MT_MODEL_FILE (obj);
  g_free (self->path);
  g_free (self->arch);
  G_OBJECT_CLASS (mt_model_file_parent_class)->finalize (obj);
}

static void
mt_model_file_class_init (MtModelFileClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = model_file_set_property;
  oc->get_property = model_file_get_property;
  oc->finalize = model_file_finalize;
  nc->run = model_file_run;
  nc->fingerprint = model_file_fingerprint;
  nc->validate = model_file_validate;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  g_object_class_install_property (oc, PROP_PATH,
    g_param_spec_string ("path", "Path", "the .safetensors file (its content enters the cache key)", NULL, rw));
  mt_node_class_mark_path (nc, "path");
  g_object_class_install_property (oc, PROP_ARCH,
    g_param_spec_string ("arch", "Architecture", "what the weights are for (resnet18/34/50, resnet20/32/56, "
                         "small_cnn); empty: the file's own metadata", DEFAULT_ARCH, rw));
  g_object_class_install_property (oc, PROP_NORMALIZE,
    g_param_spec_enum ("normalize", "Normalize", "the input transform: auto (ImageNet mean/std for a torchvision "
                       "ResNet state_dict, else the file's), imagenet, or none (pixel / 255)",
                       model_file_normalize_type (), DEFAULT_NORMALIZE, rw));
  mt_node_class_set_metadata (nc, "1", "Reads model weights: a PyTorch state_dict (.safetensors) or a masktune model");
  mt_node_class_add_output (nc, "model", MT_KIND_MODEL, "the weights, with masktune's metadata");
}

static void
mt_model_file_init (MtModelFile *self)
{
  self->arch = g_strdup (DEFAULT_ARCH);
  self->normalize = DEFAULT_NORMALIZE;
}
