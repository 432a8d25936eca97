#include "ml/mt-loader.h"
#include "ml/mt-dataset.h"
#include "ml/mt-transform.h"
#include "base/mt-error.h"
#include "formats/mt-image.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A batch being filled or ready: the ring holds @depth of them. */
typedef struct {
  gint64 batch;      /* which batch it holds; -1: none */
  gboolean ready;
  guint8 *pixels;
  GError *error;
} Slot;

struct _MtLoader {
  MtBundle *data;
  gint64 n;
  int c, h, w;
  gsize per;
  const guint8 *images;       /* in memory */
  const guint8 *keep;         /* streamed and masked */
  /* streamed */
  gboolean streamed;
  char *root;
  int resize, crop;
  const char **paths;
  const gint64 *sizes;

  /* the pass */
  gint64 *idx, n_pass, n_batches;
  int batch_size;
  MtAugment aug;
  gboolean augment;
  guint64 seed;
  guint8 *sync_pixels;        /* in memory: filled by the caller's thread */
  gint64 next_sync;

  /* streamed: workers fill batches next_out .. next_out + depth - 1 */
  int workers, depth;
  Slot *slots;
  gint64 next_claim, next_out;
  gboolean held;              /* the caller holds batch next_out */
  int busy;
  guint pass;                 /* bumped by every start, so stale fills are dropped */
  gboolean quit;
  GMutex lock;
  GCond cond;
  GThread **threads;
};

MtTensor *
mt_loader_decode (const char *path, int resize, int crop, GError **error)
{
  g_autoptr (MtTensor) img = mt_image_load_rgb (path, error);
  if (!img)
    return NULL;
  g_autoptr (MtTensor) sized = resize > 0 ? mt_transform_resize_shorter (img, resize) : mt_tensor_ref (img);
  if (crop <= 0)
    return g_steal_pointer (&sized);
  g_autoptr (GError) err = NULL;
  MtTensor *out = mt_transform_center_crop (sized, crop, crop, &err);
  if (!out)
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s: %s (set resize to at least %d)", path, err->message, crop);
  return out;
}

/* Sample @i, the @pos-th of the pass, into @dst as uint8 [C, H, W]. */
static gboolean
fill_sample (MtLoader *l, gint64 pos, gint64 i, guint8 *dst, GError **error)
{
  gsize plane = (gsize) l->h * l->w;
  if (!l->streamed) {
    memcpy (dst, l->images + (gsize) i * l->per, l->per);
  } else {
    g_autofree char *path = g_build_filename (l->root, l->paths[i], NULL);
    struct stat st;
    if (stat (path, &st) == 0 && (gint64) st.st_size != l->sizes[i]) {
      g_set_error (error, MT_ERROR, MT_ERROR_IO, "%s changed since the dataset was made (%" G_GINT64_FORMAT
                   " bytes then, %" G_GINT64_FORMAT " now): run its dataset node again", path, l->sizes[i],
                   (gint64) st.st_size);
      return FALSE;
    }
    g_autoptr (MtTensor) img = mt_loader_decode (path, l->resize, l->crop, error);
    if (!img)
      return FALSE;
    if (img->shape[0] != l->h || img->shape[1] != l->w) {
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s is %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " after the "
                   "transforms, the dataset's images %dx%d: give crop to make them one size", path, img->shape[0],
                   img->shape[1], l->h, l->w);
      return FALSE;
    }
    const guint8 *src = img->data;
    for (gsize p = 0; p < plane; p++)
      for (int c = 0; c < l->c; c++)
        dst[c * plane + p] = src[p * 3 + (l->c == 3 ? c : 0)];
  }
  if (l->keep) {
    const guint8 *k = l->keep + (gsize) i * plane;
    for (int c = 0; c < l->c; c++)
      for (gsize p = 0; p < plane; p++)
        if (!k[p])
          dst[c * plane + p] = 0;
  }
  if (l->augment)
    mt_augment_apply (&l->aug, l->seed + 0x9E3779B97F4A7C15ULL * (guint64) (pos + 1), dst, l->c, l->h, l->w);
  return TRUE;
}

static int
batch_len (MtLoader *l, gint64 k)
{
  return (int) MIN ((gint64) l->batch_size, l->n_pass - k * l->batch_size);
}

static gboolean
fill_batch (MtLoader *l, gint64 k, guint8 *pixels, GError **error)
{
  int b = batch_len (l, k);
  for (int s = 0; s < b; s++) {
    gint64 pos = k * l->batch_size + s;
    if (!fill_sample (l, pos, l->idx[pos], pixels + (gsize) s * l->per, error))
      return FALSE;
  }
  return TRUE;
}

static gpointer
worker_main (gpointer user_data)
{
  MtLoader *l = user_data;
  g_mutex_lock (&l->lock);
  for (;;) {
    while (!l->quit && !(l->next_claim < l->n_batches && l->next_claim < l->next_out + l->depth))
      g_cond_wait (&l->cond, &l->lock);
    if (l->quit)
      break;
    gint64 k = l->next_claim++;
    guint pass = l->pass;
    Slot *slot = &l->slots[k % l->depth];
    slot->batch = k;
    slot->ready = FALSE;
    g_clear_error (&slot->error);
    l->busy++;
    g_mutex_unlock (&l->lock);
    GError *err = NULL;
    fill_batch (l, k, slot->pixels, &err);
    g_mutex_lock (&l->lock);
    l->busy--;
    if (pass == l->pass) {
      slot->error = err;
      slot->ready = TRUE;
    } else {
      g_clear_error (&err);
    }
    g_cond_broadcast (&l->cond);
  }
  g_mutex_unlock (&l->lock);
  return NULL;
}

MtLoader *
mt_loader_new (MtBundle *data, int workers)
{
  MtLoader *l = g_new0 (MtLoader, 1);
  l->data = mt_bundle_ref (data);
  gint64 shape[4];
  mt_dataset_images_shape (data, shape);
  l->n = shape[0];
  l->c = (int) shape[1];
  l->h = (int) shape[2];
  l->w = (int) shape[3];
  l->per = (gsize) l->c * l->h * l->w;
  l->streamed = mt_dataset_is_streamed (data);
  g_mutex_init (&l->lock);
  g_cond_init (&l->cond);
  if (!l->streamed) {
    l->images = mt_bundle_get (data, MT_DATASET_IMAGES)->data;
    return l;
  }
  MtTensor *keep = mt_bundle_get (data, MT_DATASET_KEEP);
  l->keep = keep ? keep->data : NULL;
  l->root = g_strdup (mt_bundle_get_metadata (data, "stream_root"));
  const char *rs = mt_bundle_get_metadata (data, "stream_resize"), *cs = mt_bundle_get_metadata (data, "stream_crop");
  l->resize = rs ? atoi (rs) : 0;
  l->crop = cs ? atoi (cs) : 0;
  l->sizes = mt_bundle_get (data, MT_DATASET_SIZES)->data;
  l->paths = g_new (const char *, MAX (l->n, 1));
  MtTensor *pt = mt_bundle_get (data, MT_DATASET_PATHS);
  const char *p = pt->data;
  for (gint64 i = 0; i < l->n; i++, p += strlen (p) + 1)
    l->paths[i] = p;
  l->workers = workers > 0 ? workers : (int) CLAMP (g_get_num_processors (), 1, 4);
  l->depth = 2 * l->workers;
  return l;
}

/* Stops the workers' current fills and forgets the pass. */
static void
drop_pass (MtLoader *l)
{
  g_mutex_lock (&l->lock);
  l->pass++;
  l->n_batches = 0;
  l->next_claim = l->next_out = 0;
  l->held = FALSE;
  while (l->busy > 0)
    g_cond_wait (&l->cond, &l->lock);
  for (int s = 0; l->slots && s < l->depth; s++) {
    l->slots[s].batch = -1;
    l->slots[s].ready = FALSE;
    g_clear_error (&l->slots[s].error);
  }
  g_mutex_unlock (&l->lock);
}

void
mt_loader_free (MtLoader *l)
{
  if (!l)
    return;
  if (l->threads) {
    drop_pass (l);
    g_mutex_lock (&l->lock);
    l->quit = TRUE;
    g_cond_broadcast (&l->cond);
    g_mutex_unlock (&l->lock);
    for (int t = 0; t < l->workers; t++)
      g_thread_join (l->threads[t]);
    g_free (l->threads);
  }
  for (int s = 0; l->slots && s < l->depth; s++) {
    g_free (l->slots[s].pixels);
    g_clear_error (&l->slots[s].error);
  }
  g_free (l->slots);
  g_free (l->sync_pixels);
  g_free (l->idx);
  g_free (l->paths);
  g_free (l->root);
  g_mutex_clear (&l->lock);
  g_cond_clear (&l->cond);
  mt_bundle_unref (l->data);
  g_free (l);
}

gint64
mt_loader_size (MtLoader *l)
{
  return l->n;
}

void
mt_loader_shape (MtLoader *l, int *c, int *h, int *w)
{
  *c = l->c;
  *h = l->h;
  *w = l->w;
}

void
mt_loader_start (MtLoader *l, const gint64 *idx, gint64 n, int batch_size, const MtAugment *aug, guint64 seed)
{
  g_return_if_fail (batch_size > 0);
  if (l->streamed)
    drop_pass (l);
  if (!idx)
    n = l->n;
  g_free (l->idx);
  l->idx = g_new (gint64, MAX (n, 1));
  for (gint64 i = 0; i < n; i++)
    l->idx[i] = idx ? idx[i] : i;
  l->n_pass = n;
  gboolean grow = batch_size > l->batch_size;
  l->batch_size = batch_size;
  l->augment = mt_augment_active (aug);
  if (l->augment)
    l->aug = *aug;
  l->seed = seed;
  l->next_sync = 0;
  if (!l->streamed) {
    if (grow || !l->sync_pixels) {
      g_free (l->sync_pixels);
      l->sync_pixels = g_malloc (MAX ((gsize) batch_size * l->per, 1));
    }
    return;
  }
  if (!l->slots) {
    l->slots = g_new0 (Slot, l->depth);
    for (int s = 0; s < l->depth; s++)
      l->slots[s].batch = -1;
  }
  if (grow || !l->slots[0].pixels)
    for (int s = 0; s < l->depth; s++) {
      g_free (l->slots[s].pixels);
      l->slots[s].pixels = g_malloc (MAX ((gsize) batch_size * l->per, 1));
    }
  if (!l->threads) {
    l->threads = g_new (GThread *, l->workers);
    for (int t = 0; t < l->workers; t++)
      l->threads[t] = g_thread_new ("mt-loader", worker_main, l);
  }
  g_mutex_lock (&l->lock);
  l->n_batches = (n + batch_size - 1) / batch_size;
  g_cond_broadcast (&l->cond);
  g_mutex_unlock (&l->lock);
}

const guint8 *
mt_loader_next (MtLoader *l, int *b, const gint64 **idx_out, GError **error)
{
  if (!l->streamed) {
    gint64 k = l->next_sync;
    if (k * l->batch_size >= l->n_pass)
      return NULL;
    l->next_sync++;
    if (!fill_batch (l, k, l->sync_pixels, error))
      return NULL;
    *b = batch_len (l, k);
    if (idx_out)
      *idx_out = l->idx + k * l->batch_size;
    return l->sync_pixels;
  }
  g_mutex_lock (&l->lock);
  if (l->held) {
    l->next_out++;
    l->held = FALSE;
    g_cond_broadcast (&l->cond);
  }
  gint64 k = l->next_out;
  if (k >= l->n_batches) {
    g_mutex_unlock (&l->lock);
    return NULL;
  }
  Slot *slot = &l->slots[k % l->depth];
  while (!(slot->batch == k && slot->ready))
    g_cond_wait (&l->cond, &l->lock);
  l->held = TRUE;
  GError *err = g_steal_pointer (&slot->error);
  g_mutex_unlock (&l->lock);
  if (err) {
    g_propagate_error (error, err);
    return NULL;
  }
  *b = batch_len (l, k);
  if (idx_out)
    *idx_out = l->idx + k * l->batch_size;
  return slot->pixels;
}

MtTensor *
mt_loader_gather (MtBundle *data, const gint64 *idx, gint64 n, GError **error)
{
  g_autoptr (MtLoader) l = mt_loader_new (data, 0);
  if (!idx)
    n = l->n;
  gint64 shape[] = { n, l->c, l->h, l->w };
  g_autoptr (MtTensor) out = mt_tensor_new (MT_DTYPE_U8, 4, shape);
  mt_loader_start (l, idx, n, (int) MAX (MIN (n, 64), 1), NULL, 0);
  gsize at = 0;
  const guint8 *px;
  int b = 0;
  while ((px = mt_loader_next (l, &b, NULL, error))) {
    memcpy ((guint8 *) out->data + at, px, (gsize) b * l->per);
    at += (gsize) b * l->per;
  }
  if (error && *error)
    return NULL;
  return g_steal_pointer (&out);
}
