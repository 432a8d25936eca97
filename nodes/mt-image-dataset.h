/* What the image dataset nodes share: a list of image files with labels (and groups)
 * decoded, transformed (resize the shorter side, centre crop) and packed as a dataset,
 * and the fingerprint of the files that makes their bytes the cache key. */
#pragma once

#include "base/mt-bundle.h"
#include "runtime/mt-node.h"

G_BEGIN_DECLS

typedef struct {
  char *path;      /* absolute */
  char *relpath;   /* as the dataset names it (enters the fingerprint) */
  gint64 label;
  gint64 group;    /* -1: none */
} MtImageItem;

void      mt_image_item_free (gpointer item);
/* TRUE when @rel, a path a dataset's list gives, stays inside its root: relative, no "..". */
gboolean  mt_image_path_stays_inside (const char *rel);

#define MT_IMAGE_DEFAULT_RESIZE 0
#define MT_IMAGE_DEFAULT_CROP 0
/* The properties every image dataset node has: root (a path), resize, crop. */
void      mt_image_dataset_install_properties (GObjectClass *oc, MtNodeClass *nc, guint root_id, guint resize_id,
                                               guint crop_id, const char *root_blurb);
/* uint8 [N, 3, H, W] images (grey made RGB), labels, groups when every item has one; each
 * image resized (shorter side = @resize, 0: as is) then centre-cropped (@crop x @crop, 0:
 * none); all must end the same size. A file that cannot be read fails it, named. */
MtBundle *mt_image_dataset_load (GPtrArray *items, int resize, int crop, GError **error);
/* SHA-256 over every item's relative path, size, content digest, label and group. */
char     *mt_image_dataset_fingerprint (GPtrArray *items, GError **error);

G_END_DECLS
