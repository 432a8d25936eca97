/* Image transforms as torchvision applies them to PIL images: resize with an antialiased
 * bilinear filter (PIL's: a triangle kernel widened by the downscale factor, horizontal
 * pass then vertical, each rounded to 8 bits), and centre crop. uint8 [H, W, C]. */
#pragma once

#include "base/mt-tensor.h"

G_BEGIN_DECLS

MtTensor *mt_transform_resize         (const MtTensor *img, int out_h, int out_w);
/* torchvision Resize(size) with an int: the shorter side becomes @size, the aspect kept
 * (the longer side truncated, as torchvision computes it). */
MtTensor *mt_transform_resize_shorter (const MtTensor *img, int size);
/* torchvision CenterCrop: the middle @h x @w (offsets rounded as torchvision rounds them);
 * NULL with @error when the image is smaller. */
MtTensor *mt_transform_center_crop    (const MtTensor *img, int h, int w, GError **error);

G_END_DECLS
