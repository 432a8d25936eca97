/* The masks of heat maps held by the host, computed on a backend (its mask_maps op): on
 * the CPU in place, on a device chunk by chunk, the maps uploaded and only the masks
 * downloaded. The masker's pass, and the benchmarks'. */
#pragma once

#include "ml/mt-backend.h"

G_BEGIN_DECLS

/* Heat maps per chunk of a device's memory: 64 MiB of them, so that a device holds one
 * chunk's maps and masks, never a whole dataset's. */
#define MT_MASK_PASS_CHUNK_BYTES ((gint64) 64 << 20)

/* @rule's masks of the @n finite maps @heat [n, len] into @keep [n, len] (1: kept). A
 * map's mask is the same bytes on every backend. FALSE with @error when the backend
 * failed. */
gboolean mt_mask_pass (MtBackend *be, const MtMaskRule *rule, const float *heat, gint64 n, int len, guint8 *keep,
                       GError **error);

G_END_DECLS
