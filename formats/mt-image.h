/* An image file of either format users' datasets come in, told apart by its first bytes
 * (not its name): PNG or JPEG. */
#pragma once

#include "base/mt-tensor.h"

G_BEGIN_DECLS

/* A uint8 [H, W, 3] tensor: grey images become three equal channels, an alpha channel
 * is dropped (as PIL's convert("RGB")). */
MtTensor *mt_image_load_rgb (const char *path, GError **error);

G_END_DECLS
