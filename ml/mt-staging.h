/* Moving data between host code and a backend's memory (mt-backend.h) without copies
 * where that memory is the host's: on the CPU a staged buffer is one buffer and a view of
 * backend memory is that memory itself, so the CPU path pays nothing for code written
 * for a device. */
#pragma once

#include "ml/mt-backend.h"

G_BEGIN_DECLS

/* A host buffer and its copy in a backend's memory, grown as needed. Zero-initialise. */
typedef struct {
  MtBackend *be;
  void *host;
  void *dev;   /* host itself on a host backend */
  gsize cap;
} MtStaging;

/* The host side, at least @bytes (its contents are kept only when it does not grow). */
void       *mt_staging_host     (MtStaging *s, MtBackend *be, gsize bytes);
/* Copies the host side's first @bytes to the backend's and returns that side. */
void       *mt_staging_upload   (MtStaging *s, gsize bytes);
/* The backend side, at least @bytes, for ops to write into (then mt_staging_download). */
void       *mt_staging_device   (MtStaging *s, MtBackend *be, gsize bytes);
/* Copies the backend side's first @bytes to the host's and returns that side. */
void       *mt_staging_download (MtStaging *s, gsize bytes);
void        mt_staging_clear    (MtStaging *s);

/* @bytes of @be's memory at @p as host code can read them: @p itself on a host backend,
 * else a copy downloaded into *@copy (g_free it). */
const void *mt_staging_read     (MtBackend *be, const void *p, gsize bytes, void **copy);
/* Host @src as @be's ops take it: @src itself on a host backend, else uploaded into
 * @s's backend side. */
const void *mt_staging_put      (MtStaging *s, MtBackend *be, const void *src, gsize bytes);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MtStaging, mt_staging_clear)

G_END_DECLS
