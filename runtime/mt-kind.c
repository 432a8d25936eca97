#include "runtime/mt-kind.h"

static const GEnumValue kind_values[] = {
  { MT_KIND_TENSOR, "MT_KIND_TENSOR", "tensor" },
  { MT_KIND_DATASET, "MT_KIND_DATASET", "dataset" },
  { MT_KIND_MODEL, "MT_KIND_MODEL", "model" },
  { MT_KIND_SALIENCY, "MT_KIND_SALIENCY", "saliency" },
  { MT_KIND_MASK, "MT_KIND_MASK", "mask" },
  { MT_KIND_REPORT, "MT_KIND_REPORT", "report" },
  { MT_KIND_IMAGE, "MT_KIND_IMAGE", "image" },
  { MT_KIND_STATE, "MT_KIND_STATE", "state" },
  { MT_KIND_TEXT, "MT_KIND_TEXT", "text" },
  { 0, NULL, NULL },
};

static const char *const kind_ext[] = {
  [MT_KIND_TENSOR] = "npy", [MT_KIND_DATASET] = "safetensors", [MT_KIND_MODEL] = "safetensors",
  [MT_KIND_SALIENCY] = "npy", [MT_KIND_MASK] = "npy", [MT_KIND_REPORT] = "json",
  [MT_KIND_IMAGE] = "png", [MT_KIND_STATE] = "safetensors", [MT_KIND_TEXT] = "md",
};

static const char *const kind_description[] = {
  [MT_KIND_TENSOR] = "one tensor",
  [MT_KIND_DATASET] = "images (uint8 N x C x H x W), labels and groups, as named tensors",
  [MT_KIND_MODEL] = "a model's weights and buffers, named as its PyTorch state_dict",
  [MT_KIND_SALIENCY] = "float32 heat maps N x H x W, larger = more salient",
  [MT_KIND_MASK] = "uint8 N x H x W per sample: 1 = pixel kept, 0 = pixel masked (zeroed)",
  [MT_KIND_REPORT] = "figures as JSON",
  [MT_KIND_IMAGE] = "a picture",
  [MT_KIND_STATE] = "optimizer state and other training buffers",
  [MT_KIND_TEXT] = "a document for people, in Markdown",
};

const char *
mt_kind_description (MtKind kind)
{
  g_return_val_if_fail (kind <= MT_KIND_TEXT, "invalid");
  return kind_description[kind];
}

GType
mt_kind_get_type (void)
{
  static gsize type = 0;
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static (g_intern_static_string ("MtKind"), kind_values);
    g_once_init_leave (&type, t);
  }
  return type;
}

const char *
mt_kind_name (MtKind kind)
{
  g_return_val_if_fail (kind <= MT_KIND_TEXT, "invalid");
  return kind_values[kind].value_nick;
}

const char *
mt_kind_extension (MtKind kind)
{
  g_return_val_if_fail (kind <= MT_KIND_TEXT, "bin");
  return kind_ext[kind];
}

gboolean
mt_kind_from_name (const char *name, MtKind *out)
{
  for (guint i = 0; kind_values[i].value_nick; i++)
    if (g_strcmp0 (name, kind_values[i].value_nick) == 0) {
      *out = (MtKind) kind_values[i].value;
      return TRUE;
    }
  return FALSE;
}
