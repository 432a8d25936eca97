/* resize: a dataset's images resized (shorter side, antialiased bilinear as torchvision's
 * Resize) and optionally centre-cropped; labels and groups carried over. */
#pragma once

#include "runtime/mt-node.h"

G_BEGIN_DECLS

#define MT_TYPE_RESIZE (mt_resize_get_type ())
G_DECLARE_FINAL_TYPE (MtResize, mt_resize, MT, RESIZE, MtNode)

G_END_DECLS
