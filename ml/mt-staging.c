#include "ml/mt-staging.h"

#include <string.h>

static void
ensure (MtStaging *s, MtBackend *be, gsize bytes)
{
  g_return_if_fail (!s->be || s->be == be);
  s->be = be;
  if (bytes <= s->cap && s->host)
    return;
  mt_staging_clear (s);
  s->be = be;
  s->cap = MAX (bytes, 64);
  if (mt_backend_is_host (be)) {
    s->host = s->dev = be->ops->alloc (be, s->cap);
  } else {
    s->host = g_malloc0 (s->cap);
    s->dev = be->ops->alloc (be, s->cap);
  }
}

void *
mt_staging_host (MtStaging *s, MtBackend *be, gsize bytes)
{
  ensure (s, be, bytes);
  return s->host;
}

void *
mt_staging_device (MtStaging *s, MtBackend *be, gsize bytes)
{
  ensure (s, be, bytes);
  return s->dev;
}

void *
mt_staging_upload (MtStaging *s, gsize bytes)
{
  g_return_val_if_fail (s->be && bytes <= s->cap, NULL);
  if (s->dev != s->host)
    s->be->ops->upload (s->be, s->dev, s->host, bytes);
  return s->dev;
}

void *
mt_staging_download (MtStaging *s, gsize bytes)
{
  g_return_val_if_fail (s->be && bytes <= s->cap, NULL);
  if (s->dev != s->host)
    s->be->ops->download (s->be, s->host, s->dev, bytes);
  return s->host;
}

void
mt_staging_clear (MtStaging *s)
{
  if (!s->be)
    return;
  if (s->dev != s->host)
    g_free (s->host);
  if (s->dev)
    s->be->ops->free (s->be, s->dev);
  *s = (MtStaging) { 0 };
}

const void *
mt_staging_read (MtBackend *be, const void *p, gsize bytes, void **copy)
{
  *copy = NULL;
  if (mt_backend_is_host (be) || !p)
    return p;
  *copy = g_malloc (MAX (bytes, 1));
  be->ops->download (be, *copy, p, bytes);
  return *copy;
}

const void *
mt_staging_put (MtStaging *s, MtBackend *be, const void *src, gsize bytes)
{
  if (mt_backend_is_host (be))
    return src;
  memcpy (mt_staging_host (s, be, bytes), src, bytes);
  return mt_staging_upload (s, bytes);
}
