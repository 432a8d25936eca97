/* NumPy .npy files (format versions 1.0, 2.0 and 3.0 read; 1.0 written, or 2.0 when the
 * header needs it), so single tensors open with numpy.load. */
#pragma once

#include "base/mt-tensor.h"

G_BEGIN_DECLS

GBytes   *mt_npy_encode (const MtTensor *t);
MtTensor *mt_npy_decode (const guint8 *data, gsize len, const char *what, GError **error);

gboolean  mt_npy_save (const MtTensor *t, const char *path, GError **error);
MtTensor *mt_npy_load (const char *path, GError **error);

G_END_DECLS
