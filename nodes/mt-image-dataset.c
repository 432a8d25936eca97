#include "nodes/mt-image-dataset.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"
#include "base/mt-digest-memo.h"
#include "formats/mt-image.h"
#include "ml/mt-dataset.h"
#include "ml/mt-loader.h"
#include "runtime/mt-enum.h"

#include <string.h>
#include <errno.h>
#include <sys/stat.h>

void
mt_image_item_free (gpointer p)
{
  MtImageItem *it = p;
  g_free (it->path);
  g_free (it->relpath);
  g_free (it);
}

MT_DEFINE_ENUM_TYPE (image_load_type, "MtImageLoad",
                     { MT_IMAGE_LOAD_AUTO, "MT_IMAGE_LOAD_AUTO", "auto" },
                     { MT_IMAGE_LOAD_MEMORY, "MT_IMAGE_LOAD_MEMORY", "memory" },
                     { MT_IMAGE_LOAD_STREAM, "MT_IMAGE_LOAD_STREAM", "stream" })

void
mt_image_options_init (MtImageOptions *o)
{
  *o = (MtImageOptions) { MT_IMAGE_DEFAULT_RESIZE, MT_IMAGE_DEFAULT_CROP, MT_IMAGE_DEFAULT_LOAD,
                          MT_IMAGE_DEFAULT_SKIP_BAD };
}

void
mt_image_dataset_install_properties (GObjectClass *oc, MtNodeClass *nc, guint root_id, guint first_id,
                                     const char *root_blurb)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  g_object_class_install_property (oc, root_id, g_param_spec_string ("root", "Root", root_blurb, NULL, rw));
  mt_node_class_mark_path (nc, "root");
  g_object_class_install_property (oc, first_id,
    g_param_spec_int ("resize", "Resize", "resize the shorter side to this many pixels, antialiased bilinear as "
                      "torchvision's Resize (0: as is)", 0, 8192, MT_IMAGE_DEFAULT_RESIZE, rw));
  g_object_class_install_property (oc, first_id + 1,
    g_param_spec_int ("crop", "Crop", "then keep the centre crop x crop pixels, as CenterCrop (0: all)", 0, 8192,
                      MT_IMAGE_DEFAULT_CROP, rw));
  g_object_class_install_property (oc, first_id + 2,
    g_param_spec_enum ("load", "Load", "memory: decode every image once and hold them; stream: the loader decodes "
                       "them batch by batch (memory independent of their number); auto: stream past 1 GiB",
                       image_load_type (), MT_IMAGE_DEFAULT_LOAD, rw));
  g_object_class_install_property (oc, first_id + 3,
    g_param_spec_boolean ("skip-bad", "Skip bad", "leave out (and count) images that cannot be read, instead of "
                          "failing on the first", MT_IMAGE_DEFAULT_SKIP_BAD, rw));
}

gboolean
mt_image_options_set (MtImageOptions *o, guint first_id, guint id, const GValue *v)
{
  switch (id - first_id) {
  case 0: o->resize = g_value_get_int (v); return TRUE;
  case 1: o->crop = g_value_get_int (v); return TRUE;
  case 2: o->load = g_value_get_enum (v); return TRUE;
  case 3: o->skip_bad = g_value_get_boolean (v); return TRUE;
  default: return FALSE;
  }
}

gboolean
mt_image_options_get (const MtImageOptions *o, guint first_id, guint id, GValue *v)
{
  switch (id - first_id) {
  case 0: g_value_set_int (v, o->resize); return TRUE;
  case 1: g_value_set_int (v, o->crop); return TRUE;
  case 2: g_value_set_enum (v, o->load); return TRUE;
  case 3: g_value_set_boolean (v, o->skip_bad); return TRUE;
  default: return FALSE;
  }
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

/* One image through the transforms, as [H, W, 3], of the size of the first (@h x @w, 0: any). */
static MtTensor *
load_one (const MtImageItem *it, const MtImageOptions *o, gint64 h, gint64 w, GError **error)
{
  MtTensor *img = mt_loader_decode (it->path, o->resize, o->crop, error);
  if (img && h > 0 && (img->shape[0] != h || img->shape[1] != w)) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s is %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT ", the first "
                 "image %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT ": give resize and crop to make them one size",
                 it->path, img->shape[0], img->shape[1], h, w);
    g_clear_pointer (&img, mt_tensor_unref);
  }
  return img;
}

/* Decodes every item (in parallel) into @images (uint8 [N, 3, H, W]) when not NULL, or
 * just checks that each can be read; errors[i] says why item i could not. */
static void
decode_all (GPtrArray *items, const MtImageOptions *o, gint64 h, gint64 w, MtTensor *images, GPtrArray *errors)
{
  gsize plane = (gsize) h * w;
  gint64 n = items->len;
#pragma omp parallel for schedule(dynamic, 4)
  for (gint64 i = 0; i < n; i++) {
    GError *err = NULL;
    MtTensor *img = load_one (items->pdata[i], o, h, w, &err);
    if (!img) {
      errors->pdata[i] = err;
      continue;
    }
    if (images) {
      const guint8 *src = img->data;
      guint8 *out = (guint8 *) images->data + (gsize) i * 3 * plane;
      for (gsize p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++)
          out[c * plane + p] = src[p * 3 + c];  /* HWC to CHW */
    }
    mt_tensor_unref (img);
  }
}

/* Without skip_bad the first error in file order (whichever thread met it first); with it,
 * the bad items leave @items (and @images' rows close up). Returns how many were left out. */
static gboolean
drop_bad (GPtrArray *items, GPtrArray *errors, MtTensor *images, gboolean skip_bad, guint *skipped, MtContext *ctx,
          GError **error)
{
  gsize per = images ? images->nbytes / MAX (images->shape[0], 1) : 0;
  guint kept = 0;
  *skipped = 0;
  for (guint i = 0; i < items->len; i++) {
    if (errors->pdata[i]) {
      if (!skip_bad) {
        g_propagate_error (error, g_steal_pointer ((GError **) &errors->pdata[i]));
        return FALSE;
      }
      if (*skipped < 5)
        mt_context_log (ctx, "skipping %s", ((GError *) errors->pdata[i])->message);
      (*skipped)++;
      mt_image_item_free (items->pdata[i]);
      continue;
    }
    if (images && kept != i)
      memmove ((guint8 *) images->data + kept * per, (guint8 *) images->data + i * per, per);
    items->pdata[kept++] = items->pdata[i];
  }
  /* The items left out were freed above: shrink without freeing again. */
  GDestroyNotify f = NULL;
  g_ptr_array_set_free_func (items, f);
  g_ptr_array_set_size (items, kept);
  g_ptr_array_set_free_func (items, mt_image_item_free);
  if (*skipped)
    mt_context_log (ctx, "skipped %u image%s that could not be read (skip_bad)", *skipped, *skipped == 1 ? "" : "s");
  if (kept == 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "none of the images could be read");
    return FALSE;
  }
  return TRUE;
}

MtBundle *
mt_image_dataset_build (GPtrArray *items, const MtImageOptions *o, MtContext *ctx, GError **error)
{
  if (items->len == 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "no images to read");
    return NULL;
  }
  /* The first readable image sets the size. */
  g_autoptr (MtTensor) first = NULL;
  for (guint i = 0; !first && i < items->len; i++) {
    GError *err = NULL;
    first = load_one (items->pdata[i], o, 0, 0, &err);
    if (!first && (!o->skip_bad || i + 1 == items->len)) {
      g_propagate_error (error, err);
      return NULL;
    }
    g_clear_error (&err);
  }
  gint64 h = first->shape[0], w = first->shape[1], n = items->len;
  gboolean stream = o->load == MT_IMAGE_LOAD_STREAM ||
                    (o->load == MT_IMAGE_LOAD_AUTO && n * 3 * h * w > MT_IMAGE_STREAM_BYTES);
  g_autoptr (GPtrArray) errors = g_ptr_array_new_full (items->len, (GDestroyNotify) g_error_free);
  g_ptr_array_set_size (errors, items->len);
  g_autoptr (MtTensor) images = NULL;
  guint skipped = 0;
  if (!stream) {
    gint64 shape[] = { n, 3, h, w };
    images = mt_tensor_try_alloc (MT_DTYPE_U8, 4, shape, error);
    if (!images)
      return NULL;
    decode_all (items, o, h, w, images, errors);
  } else if (o->skip_bad) {
    decode_all (items, o, h, w, NULL, errors);  /* to know which to leave out */
  }
  if (!drop_bad (items, errors, images, o->skip_bad, &skipped, ctx, error))
    return NULL;
  if (images && items->len < (guint) n) {
    gint64 shape[] = { items->len, 3, h, w };
    MtTensor *kept = mt_tensor_new_from_data (MT_DTYPE_U8, 4, shape, images->data);
    mt_tensor_unref (images);
    images = kept;
  }
  n = items->len;
  gint64 vshape[] = { n };
  g_autoptr (MtTensor) labels = mt_tensor_new (MT_DTYPE_I64, 1, vshape);
  g_autoptr (MtTensor) groups = mt_tensor_new (MT_DTYPE_I64, 1, vshape);
  gboolean have_groups = TRUE;
  for (guint i = 0; i < items->len; i++) {
    MtImageItem *it = items->pdata[i];
    ((gint64 *) labels->data)[i] = it->label;
    ((gint64 *) groups->data)[i] = it->group;
    have_groups &= it->group >= 0;
  }
  MtBundle *b;
  if (stream) {
    /* Every item's path is root/relpath: the root is what the first one's path adds. */
    const MtImageItem *it0 = items->pdata[0];
    g_autofree char *root = g_strndup (it0->path, strlen (it0->path) - strlen (it0->relpath));
    g_autoptr (GPtrArray) rel = g_ptr_array_new ();
    g_autoptr (MtTensor) sizes = mt_tensor_new (MT_DTYPE_I64, 1, vshape);
    for (guint i = 0; i < items->len; i++) {
      MtImageItem *it = items->pdata[i];
      struct stat st;
      if (stat (it->path, &st) != 0) {
        g_set_error (error, MT_ERROR, MT_ERROR_IO, "%s: %s", it->path, g_strerror (errno));
        return NULL;
      }
      ((gint64 *) sizes->data)[i] = (gint64) st.st_size;
      g_ptr_array_add (rel, it->relpath);
    }
    b = mt_dataset_new_streamed (root, rel, sizes, labels, have_groups ? groups : NULL, o->resize, o->crop, 3,
                                 (int) h, (int) w);
    mt_context_log (ctx, "%" G_GINT64_FORMAT " images of %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT ", streamed from %s "
                    "(%.1f GiB decoded)", n, h, w, root, (double) (n * 3 * h * w) / (1 << 30));
  } else {
    b = mt_bundle_new ();
    mt_bundle_set (b, MT_DATASET_IMAGES, images);
    mt_bundle_set (b, MT_DATASET_LABELS, labels);
    if (have_groups)
      mt_bundle_set (b, MT_DATASET_GROUPS, groups);
  }
  if (skipped) {
    g_autofree char *sk = g_strdup_printf ("%u", skipped);
    mt_bundle_set_metadata (b, "skipped_bad", sk);
  }
  return b;
}

char *
mt_image_dataset_fingerprint (GPtrArray *items, GError **error)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  for (guint i = 0; i < items->len; i++) {
    MtImageItem *it = items->pdata[i];
    goffset size = 0;
    /* Remembered across runs while the file is unchanged; data folders are often links. */
    g_autofree char *digest = mt_digest_memo_sha256 (NULL, it->path, TRUE, &size, error);
    if (!digest)
      return NULL;
    g_autofree char *line = g_strdup_printf ("%s\t%" G_GOFFSET_FORMAT "\t%s\t%" G_GINT64_FORMAT "\t%" G_GINT64_FORMAT "\n",
                                             it->relpath, size, digest, it->label, it->group);
    g_checksum_update (sum, (const guchar *) line, -1);
  }
  return g_strdup_printf ("images=%u sha256=%s", items->len, g_checksum_get_string (sum));
}
