/* PNG images through libpng: 8-bit grey (1 channel), RGB (3) or RGBA (4), row-major HWC. */
#pragma once

#include "base/mt-tensor.h"

G_BEGIN_DECLS

/* @img is a uint8 tensor of shape [H, W, C] with C in {1, 3, 4}. */
gboolean  mt_png_save (const MtTensor *img, const char *path, GError **error);
/* Returns a uint8 [H, W, C] tensor. */
MtTensor *mt_png_load (const char *path, GError **error);

G_END_DECLS
