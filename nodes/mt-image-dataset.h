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

typedef enum {
  MT_IMAGE_LOAD_AUTO,     /* in memory up to MT_IMAGE_STREAM_BYTES of decoded images, else streamed */
  MT_IMAGE_LOAD_MEMORY,
  MT_IMAGE_LOAD_STREAM,
} MtImageLoad;

#define MT_IMAGE_STREAM_BYTES ((gint64) 1 << 30)

/* How a node reads its images: resize, crop, load and skip_bad. */
typedef struct {
  int resize, crop;
  MtImageLoad load;
  gboolean skip_bad;
} MtImageOptions;

#define MT_IMAGE_DEFAULT_RESIZE 0
#define MT_IMAGE_DEFAULT_CROP 0
#define MT_IMAGE_DEFAULT_LOAD MT_IMAGE_LOAD_AUTO
#define MT_IMAGE_DEFAULT_SKIP_BAD FALSE
void      mt_image_options_init (MtImageOptions *o);

/* The properties every image dataset node has: root (a path), and the options above
 * with ids @first_id .. @first_id + 3 (resize, crop, load, skip_bad). */
void      mt_image_dataset_install_properties (GObjectClass *oc, MtNodeClass *nc, guint root_id, guint first_id,
                                               const char *root_blurb);
/* Property @id of the options (ids as installed above); FALSE when it is none of them. */
gboolean  mt_image_options_set (MtImageOptions *o, guint first_id, guint id, const GValue *v);
gboolean  mt_image_options_get (const MtImageOptions *o, guint first_id, guint id, GValue *v);

/* The dataset of @items: uint8 [N, 3, H, W] images held in memory, or (load="stream", or
 * "auto" past MT_IMAGE_STREAM_BYTES) a streamed dataset the loader decodes batch by batch;
 * labels, groups when every item has one. Each image is resized (shorter side = resize, 0:
 * as is) then centre-cropped (crop x crop, 0: none); all must end the same size. A file
 * that cannot be read fails it, named, unless skip_bad: then it is left out of @items and
 * counted ("skipped_bad" in the metadata, and a line in the log). */
MtBundle *mt_image_dataset_build (GPtrArray *items, const MtImageOptions *o, MtContext *ctx, GError **error);
/* SHA-256 over every item's relative path, size, content digest, label and group. */
char     *mt_image_dataset_fingerprint (GPtrArray *items, GError **error);

G_END_DECLS
