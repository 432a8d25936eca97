/* IDX files, the format MNIST and Fashion-MNIST are distributed in: a magic number
 * (two zero bytes, an element type, a dimension count), big-endian 32-bit dimensions,
 * then the elements, big-endian. Files may be gzip-compressed. */
#pragma once

#include "base/mt-tensor.h"

G_BEGIN_DECLS

/* Reads a plain or gzip-compressed IDX file; element types ubyte, int, float and
 * double map to uint8, int32, float32 and float64. Errors name the file. */
MtTensor *mt_idx_load (const char *path, GError **error);
/* Writes @t (uint8, int32, float32 or float64) as IDX, gzip-compressed when @gzip. */
gboolean  mt_idx_save (const MtTensor *t, const char *path, gboolean gzip, GError **error);

G_END_DECLS
