#include "ml/mt-batches.h"
#include "ml/mt-dataset.h"
#include "ml/mt-staging.h"

struct _MtBatches {
  MtModel *model;
  MtBackend *be;
  MtTensor *labels;      /* the dataset's (host) */
  gint64 n, at;
  int batch_size;
  MtDeviceData *dd;      /* the dataset on the device (borrowed), or NULL: */
  MtLoader *loader;      /* the host reads the batches */
  MtLoader *own_loader;  /* the loader, where not borrowed */
  MtInputSpec input;
  MtStaging xs, ys;      /* the batch in backend memory (x only where gathered) */
};

MtBatches *
mt_batches_new (MtModel *model, MtBundle *data, MtDeviceData *dd, MtLoader *loader, const gint64 *idx, gint64 n,
                int batch_size)
{
  MtBatches *s = g_new0 (MtBatches, 1);
  s->model = model;
  s->be = mt_model_get_backend (model);
  s->labels = mt_bundle_get (data, MT_DATASET_LABELS);
  s->batch_size = MAX (batch_size, 1);
  s->dd = dd;
  if (s->dd) {
    g_autofree gint64 *all = NULL;
    if (!idx) {
      n = mt_bundle_get (data, MT_DATASET_IMAGES)->shape[0];
      idx = all = g_new (gint64, MAX (n, 1));
      for (gint64 i = 0; i < n; i++)
        all[i] = i;
    }
    if (n > 0)
      mt_device_data_start (s->dd, idx, n);
    mt_model_input_spec (model, &s->input);
    mt_staging_device (&s->xs, s->be, (gsize) s->batch_size * s->input.c * s->input.hw * sizeof (float));
    mt_staging_device (&s->ys, s->be, (gsize) s->batch_size * sizeof (gint64));
  } else {
    s->loader = loader ? loader : (s->own_loader = mt_loader_new (data, 0));
    if (!idx)
      n = mt_loader_size (s->loader);
    mt_loader_start (s->loader, idx, n, s->batch_size, NULL, 0);
  }
  s->n = n;
  return s;
}

void
mt_batches_free (MtBatches *s)
{
  if (!s)
    return;
  if (s->own_loader)
    mt_loader_free (s->own_loader);
  mt_staging_clear (&s->xs);
  mt_staging_clear (&s->ys);
  g_free (s);
}

gint64
mt_batches_size (MtBatches *s)
{
  return s->n;
}

gboolean
mt_batches_next (MtBatches *s, int *b, const float **x, const gint64 **y, GError **error)
{
  if (s->dd) {
    if (s->at >= s->n)
      return FALSE;
    *b = (int) MIN (s->batch_size, s->n - s->at);
    mt_device_data_batch (s->dd, &s->input, s->at, *b, s->xs.dev, s->ys.dev);
    *x = s->xs.dev;
    if (y)
      *y = s->ys.dev;
    s->at += *b;
    return TRUE;
  }
  const gint64 *idx;
  const guint8 *px = mt_loader_next (s->loader, b, &idx, error);
  if (!px)
    return FALSE;
  *x = mt_model_load_input (s->model, px, (gsize) *b);
  if (y) {
    gint64 *h = mt_staging_host (&s->ys, s->be, (gsize) *b * sizeof (gint64));
    for (int i = 0; i < *b; i++)
      h[i] = ((const gint64 *) s->labels->data)[idx[i]];
    *y = mt_staging_upload (&s->ys, (gsize) *b * sizeof (gint64));
  }
  s->at += *b;
  return TRUE;
}
