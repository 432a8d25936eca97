/* One pass over a dataset's samples, batch by batch, as a model takes them: its input
 * floats and the labels, in the model's backend memory. From a dataset held on the
 * device (ml/mt-device-data.h) each batch is gathered there; else the host's loader reads
 * it and it is uploaded (on the CPU: nothing is copied). For passes without augmentation:
 * evaluation, prediction, saliency. */
#pragma once

#include "ml/mt-device-data.h"
#include "ml/mt-loader.h"
#include "ml/mt-model.h"
#include "base/mt-bundle.h"

G_BEGIN_DECLS

typedef struct _MtBatches MtBatches;

/* A pass of @model over samples @idx[0..n) of @data (a checked dataset; @idx NULL: all,
 * in order, and @n is ignored) in batches of @batch_size, gathered from @dd (@data on the
 * model's backend) or, where @dd is NULL, read by @loader (@data's; NULL: one of the
 * pass's own). Both are borrowed, and their pass is restarted: a trainer's validation
 * reuses the training's, whose decoding threads a streamed dataset keeps. */
MtBatches *mt_batches_new  (MtModel *model, MtBundle *data, MtDeviceData *dd, MtLoader *loader, const gint64 *idx,
                            gint64 n, int batch_size);
void       mt_batches_free (MtBatches *s);
/* The samples in the pass. */
gint64     mt_batches_size (MtBatches *s);
/* The next batch: TRUE with its size in *@b, the input [b, C, H, W] in *@x and, when @y is
 * not NULL, the labels in *@y (backend memory, valid until the next call); FALSE at the
 * end of the pass, or with @error when an image could not be read. */
gboolean   mt_batches_next (MtBatches *s, int *b, const float **x, const gint64 **y, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtBatches, mt_batches_free)

G_END_DECLS
