/* Dataset bundles. Every dataset holds
 *   images   uint8 [N, C, H, W]   (C = 1 grey or 3 RGB)
 *   labels   int64 [N]            the class the model learns
 * or, when it is streamed from image files (too many to hold in memory), instead of images
 *   paths    uint8 [bytes]        the files' paths under its root, each ending in a NUL
 *   sizes    int64 [N]            their sizes in bytes when the dataset was made
 *   keep     uint8 [N, H, W]      (masked datasets) 0 where the loader blacks pixels out
 * and the metadata stream_root, stream_resize, stream_crop and stream_shape ("C,H,W"):
 * ml/mt-loader.h reads both kinds. Every dataset may also hold
 * and a biased dataset also
 *   digits   int64 [N]            the source label before grouping into classes
 *   patched  uint8 [N]            1 where the spurious patch was planted
 *   groups   int64 [N]            class * 2 + patched: the (class, has patch) group */
#pragma once

#include "base/mt-bundle.h"

G_BEGIN_DECLS

#define MT_DATASET_IMAGES  "images"
#define MT_DATASET_LABELS  "labels"
#define MT_DATASET_DIGITS  "digits"
#define MT_DATASET_PATCHED "patched"
#define MT_DATASET_GROUPS  "groups"
#define MT_DATASET_PATHS   "paths"
#define MT_DATASET_SIZES   "sizes"
#define MT_DATASET_KEEP    "keep"

/* Checks the tensors above: names, dtypes, and one length N throughout. */
gboolean  mt_dataset_check       (MtBundle *b, const char *what, GError **error);
gint64    mt_dataset_size        (MtBundle *b);
/* TRUE when @b's images are read from files by the loader rather than held. */
gboolean  mt_dataset_is_streamed (MtBundle *b);
/* [N, C, H, W] of the images the model sees (a checked dataset). */
void      mt_dataset_images_shape (MtBundle *b, gint64 shape[4]);
/* For nodes that rewrite pixels: an error saying @who needs the images in memory. */
gboolean  mt_dataset_require_in_memory (MtBundle *b, const char *who, GError **error);
/* A streamed dataset of @paths (relative to @root, absolute) with @sizes, @labels and
 * optional @groups (int64 [N] each), decoded as @resize and @crop say into c x h x w. */
MtBundle *mt_dataset_new_streamed (const char *root, GPtrArray *paths, MtTensor *sizes, MtTensor *labels,
                                   MtTensor *groups, int resize, int crop, int c, int h, int w);

/* A copy of @data (tensors and metadata) whose images are 0, in every channel, where
 * @keep (uint8 [N, H, W]) is 0: what every mask node outputs. A streamed dataset is not
 * copied: its keep tensor (and with an earlier mask, both) goes with it instead. */
MtBundle *mt_dataset_apply_mask  (MtBundle *data, const MtTensor *keep);

/* Which samples a figure shows. */
typedef enum {
  MT_DATASET_PICK_FIRST,      /* the first ones */
  MT_DATASET_PICK_RANDOM,     /* a seeded uniform sample, in index order */
  MT_DATASET_PICK_PER_GROUP,  /* group by group in turn (labels when there are no groups),
                               * so a 1% group is seen beside the 99% one */
} MtDatasetPick;

/* Up to @count sample indices of @b's @n samples chosen by @how; *n_out says how many. */
gint64   *mt_dataset_pick (MtBundle *b, MtDatasetPick how, guint count, guint64 seed, guint *n_out);

/* A PNG-ready uint8 [H, W, 3] grid of samples @rows[0..n_rows), @columns a row, each
 * image magnified @scale times, framed orange when patched (grey otherwise), with its
 * label and group written under it ("1/3": class 1, group 3). */
MtTensor *mt_dataset_render_grid (MtBundle *b, const gint64 *rows, guint n_rows, guint columns, guint scale,
                                  GError **error);

G_END_DECLS
