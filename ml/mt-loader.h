/* The one way every node reads a dataset's images: batch by batch, in a given order,
 * with a dataset's mask and training augmentations applied on the way. A dataset held
 * in memory is gathered from its images tensor; a streamed one (ml/mt-dataset.h) is
 * decoded from its files by worker threads a few batches ahead, so memory depends on the
 * batch size and the workers, never on the number of images. Both give the same bytes
 * for the same dataset: decode, resize, centre crop, mask, then augment. */
#pragma once

#include "base/mt-bundle.h"
#include "ml/mt-augment.h"

G_BEGIN_DECLS

typedef struct _MtLoader MtLoader;

/* @data must be a checked dataset (mt_dataset_check); @workers: decoding threads for a
 * streamed one (0: as many as the machine has, at most 4). */
MtLoader *mt_loader_new   (MtBundle *data, int workers);
void      mt_loader_free  (MtLoader *l);
gint64    mt_loader_size  (MtLoader *l);
/* The images' [C, H, W]. */
void      mt_loader_shape (MtLoader *l, int *c, int *h, int *w);

/* Starts a pass over samples @idx[0..n) (NULL: all, in order) in batches of @batch_size,
 * augmented by @aug (NULL: not) with draws that depend on @seed and the position in the
 * pass alone. A pass in progress is dropped. */
void      mt_loader_start (MtLoader *l, const gint64 *idx, gint64 n, int batch_size, const MtAugment *aug,
                           guint64 seed);
/* The next batch: uint8 [*b, C, H, W], valid until the next call; *idx_out (when not
 * NULL) the samples it holds. NULL at the end of the pass, or with @error (naming the
 * file) when an image could not be read. */
const guint8 *mt_loader_next (MtLoader *l, int *b, const gint64 **idx_out, GError **error);

/* The images of samples @idx[0..n) (NULL: all) as one uint8 [n, C, H, W] tensor (figures, tests). */
MtTensor *mt_loader_gather (MtBundle *data, const gint64 *idx, gint64 n, GError **error);

/* One image file through resize (the shorter side, 0: none) and centre crop (0: none),
 * as uint8 [H, W, 3]; errors name the file. */
MtTensor *mt_loader_decode (const char *path, int resize, int crop, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtLoader, mt_loader_free)

G_END_DECLS
