/* JPEG images through libjpeg-turbo: 8-bit grey (1 channel) or RGB (3), row-major HWC.
 * A truncated or corrupt file is an error naming it (libjpeg's warnings included: its
 * "premature end of data" would otherwise give a grey-padded image silently). */
#pragma once

#include "base/mt-tensor.h"

G_BEGIN_DECLS

/* Returns a uint8 [H, W, C] tensor, C = 1 or 3 (CMYK and others are converted to RGB). */
MtTensor *mt_jpeg_load (const char *path, GError **error);
/* @img: uint8 [H, W, C], C = 1 or 3; @quality 1..100. */
gboolean  mt_jpeg_save (const MtTensor *img, const char *path, int quality, GError **error);

G_END_DECLS
