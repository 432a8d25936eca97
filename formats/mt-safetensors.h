/* The .safetensors format: an 8-byte little-endian header length, a JSON header naming
 * each tensor's dtype, shape and byte range, then the tensors' bytes, back to back. */
#pragma once

#include "base/mt-bundle.h"

G_BEGIN_DECLS

GBytes   *mt_safetensors_encode (MtBundle *b);
MtBundle *mt_safetensors_decode (const guint8 *data, gsize len, const char *what, GError **error);

gboolean  mt_safetensors_save (MtBundle *b, const char *path, GError **error);
MtBundle *mt_safetensors_load (const char *path, GError **error);

G_END_DECLS
