#include "ml/mt-device-data.h"
#include "ml/mt-dataset.h"
#include "ml/mt-staging.h"

struct _MtDeviceData {
  MtBackend *be;
  guint8 *images;       /* backend memory */
  gint64 *labels;
  MtStaging idx;        /* the pass's indices */
};

MtDeviceData *
mt_device_data_new (MtBackend *be, MtBundle *data)
{
  if (mt_backend_is_host (be) || !be->ops->gather_batch || mt_dataset_is_streamed (data))
    return NULL;
  MtTensor *images = mt_bundle_get (data, MT_DATASET_IMAGES);
  MtTensor *labels = mt_bundle_get (data, MT_DATASET_LABELS);
  if (!images || images->dtype != MT_DTYPE_U8 || !labels || images->nbytes > MT_DEVICE_DATA_MAX_BYTES)
    return NULL;
  MtDeviceData *d = g_new0 (MtDeviceData, 1);
  d->be = be;
  d->images = be->ops->alloc (be, images->nbytes);
  d->labels = be->ops->alloc (be, labels->nbytes);
  be->ops->upload (be, d->images, images->data, images->nbytes);
  be->ops->upload (be, d->labels, labels->data, labels->nbytes);
  return d;
}

void
mt_device_data_free (MtDeviceData *d)
{
  if (!d)
    return;
  d->be->ops->free (d->be, d->images);
  d->be->ops->free (d->be, d->labels);
  mt_staging_clear (&d->idx);
  g_free (d);
}

void
mt_device_data_start (MtDeviceData *d, const gint64 *idx, gint64 n)
{
  mt_staging_put (&d->idx, d->be, idx, (gsize) MAX (n, 1) * sizeof (gint64));
}

void
mt_device_data_batch (MtDeviceData *d, const MtInputSpec *s, gint64 first, int n, float *x, gint64 *y)
{
  const gint64 *idx = (const gint64 *) d->idx.dev + first;
  d->be->ops->gather_batch (d->be, s, d->images, d->labels, idx, n, x, y);
}
