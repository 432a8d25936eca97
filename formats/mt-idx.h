/* IDX files, the format MNIST and Fashion-MNIST are distributed in: a magic number
 * (two zero bytes, an element type, a dimension count), big-endian 32-bit dimensions,
 * then the elements, big-endian. Files may be gzip-compressed. */
#pragma once

#include "base/mt-tensor.h"

G_BEGIN_DECLS

/* Reads a plain or gzip-compressed IDX file; element types ubyte, int, float and
 * double map to uint8, int32, float32 and float64. Errors name the file. */
MtTensor *mt_idx_load (const char *path, GError **error);

/* The most data a header may claim (2 GiB; $MT_MAX_INPUT_BYTES overrides it). */
#define MT_IDX_DEFAULT_MAX_BYTES ((gsize) 2 << 30)
gsize     mt_idx_max_bytes (void);
/* mt_idx_load with the claim held to @max_bytes and, when @expect_n >= 0, the first
 * dimension to @expect_n (the count of the labels file @expect_from), both before
 * anything is allocated. */
MtTensor *mt_idx_load_checked (const char *path, gsize max_bytes, gint64 expect_n, const char *expect_from,
                               GError **error);
/* Writes @t (uint8, int32, float32 or float64) as IDX, gzip-compressed when @gzip. */
gboolean  mt_idx_save (const MtTensor *t, const char *path, gboolean gzip, GError **error);

G_END_DECLS
