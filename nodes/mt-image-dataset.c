#include "nodes/mt-image-dataset.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"
#include "formats/mt-image.h"
#include "ml/mt-dataset.h"
#include "ml/mt-transform.h"

#include <string.h>

void
mt_image_item_free (gpointer p)
{
  MtImageItem *it = p;
  g_free (it->path);
  g_free (it->relpath);
  g_free (it);
}

void
mt_image_dataset_install_properties (GObjectClass *oc, MtNodeClass *nc, guint root_id, guint resize_id, guint crop_id,
                                     const char *root_blurb)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  g_object_class_install_property (oc, root_id, g_param_spec_string ("root", "Root", root_blurb, NULL, rw));
  mt_node_class_mark_path (nc, "root");
  g_object_class_install_property (oc, resize_id,
    g_param_spec_int ("resize", "Resize", "resize the shorter side to this many pixels, antialiased bilinear as "
                      "torchvision's Resize (0: as is)", 0, 8192, MT_IMAGE_DEFAULT_RESIZE, rw));
  g_object_class_install_property (oc, crop_id,
    g_param_spec_int ("crop", "Crop", "then keep the centre crop x crop pixels, as CenterCrop (0: all)", 0, 8192,
                      MT_IMAGE_DEFAULT_CROP, rw));
}

gboolean
mt_image_path_stays_inside (const char *rel)
{
  if (!*rel || g_path_is_absolute (rel))
    return FALSE;
  g_auto (GStrv) parts = g_strsplit (rel, "/", -1);
  for (guint i = 0; parts[i]; i++)
    if (strcmp (parts[i], "..") == 0)
      return FALSE;
  return TRUE;
}

/* One image through the transforms, as [H, W, 3]. */
static MtTensor *
load_one (const MtImageItem *it, int resize, int crop, GError **error)
{
  g_autoptr (MtTensor) img = mt_image_load_rgb (it->path, error);
  if (!img)
    return NULL;
  g_autoptr (MtTensor) sized = resize > 0 ? mt_transform_resize_shorter (img, resize) : mt_tensor_ref (img);
  if (crop <= 0)
    return g_steal_pointer (&sized);
  g_autoptr (GError) err = NULL;
  MtTensor *out = mt_transform_center_crop (sized, crop, crop, &err);
  if (!out)
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s: %s (set resize to at least %d)", it->path, err->message, crop);
  return out;
}

MtBundle *
mt_image_dataset_load (GPtrArray *items, int resize, int crop, GError **error)
{
  if (items->len == 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "no images to read");
    return NULL;
  }
  /* The first image sets the size; the others are decoded in parallel, into their rows. */
  g_autoptr (MtTensor) first = load_one (items->pdata[0], resize, crop, error);
  if (!first)
    return NULL;
  gint64 h = first->shape[0], w = first->shape[1], n = items->len;
  gint64 shape[] = { n, 3, h, w }, vshape[] = { n };
  g_autoptr (MtTensor) images = mt_tensor_try_alloc (MT_DTYPE_U8, 4, shape, error);
  if (!images)
    return NULL;
  g_autoptr (MtTensor) labels = mt_tensor_new (MT_DTYPE_I64, 1, vshape);
  g_autoptr (MtTensor) groups = mt_tensor_new (MT_DTYPE_I64, 1, vshape);
  gboolean have_groups = TRUE;
  g_autoptr (GPtrArray) errors = g_ptr_array_new_full (items->len, (GDestroyNotify) g_error_free);
  g_ptr_array_set_size (errors, items->len);
  guint8 *dst = images->data;
  gsize plane = (gsize) h * w;
#pragma omp parallel for schedule(dynamic, 4)
  for (gint64 i = 0; i < n; i++) {
    MtImageItem *it = items->pdata[i];
    GError *err = NULL;
    MtTensor *img = i == 0 ? mt_tensor_ref (first) : load_one (it, resize, crop, &err);
    if (img && (img->shape[0] != h || img->shape[1] != w)) {
      g_set_error (&err, MT_ERROR, MT_ERROR_INVALID, "%s is %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT ", the first "
                   "image %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT ": give resize and crop to make them one size",
                   it->path, img->shape[0], img->shape[1], h, w);
      g_clear_pointer (&img, mt_tensor_unref);
    }
    if (!img) {
      errors->pdata[i] = err;
      continue;
    }
    const guint8 *src = img->data;
    guint8 *out = dst + (gsize) i * 3 * plane;
    for (gsize p = 0; p < plane; p++)
      for (int c = 0; c < 3; c++)
        out[c * plane + p] = src[p * 3 + c];  /* HWC to CHW */
    mt_tensor_unref (img);
  }
  for (guint i = 0; i < items->len; i++) {
    if (errors->pdata[i]) {  /* the first in file order, whichever thread met it first */
      g_propagate_error (error, g_steal_pointer ((GError **) &errors->pdata[i]));
      return NULL;
    }
    MtImageItem *it = items->pdata[i];
    ((gint64 *) labels->data)[i] = it->label;
    ((gint64 *) groups->data)[i] = it->group;
    have_groups &= it->group >= 0;
  }
  MtBundle *b = mt_bundle_new ();
  mt_bundle_set (b, MT_DATASET_IMAGES, images);
  mt_bundle_set (b, MT_DATASET_LABELS, labels);
  if (have_groups)
    mt_bundle_set (b, MT_DATASET_GROUPS, groups);
  return b;
}

char *
mt_image_dataset_fingerprint (GPtrArray *items, GError **error)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  for (guint i = 0; i < items->len; i++) {
    MtImageItem *it = items->pdata[i];
    goffset size = 0;
    g_autofree char *digest = mt_file_sha256_full (it->path, TRUE, &size, error);  /* data folders are often links */
    if (!digest)
      return NULL;
    g_autofree char *line = g_strdup_printf ("%s\t%" G_GOFFSET_FORMAT "\t%s\t%" G_GINT64_FORMAT "\t%" G_GINT64_FORMAT "\n",
                                             it->relpath, size, digest, it->label, it->group);
    g_checksum_update (sum, (const guchar *) line, -1);
  }
  return g_strdup_printf ("images=%u sha256=%s", items->len, g_checksum_get_string (sum));
}
