/* image_folder: images in torchvision's ImageFolder layout (root/<class>/.../<image>),
 * classes numbered in sorted order as torchvision numbers them. */
#pragma once

#include "runtime/mt-node.h"

G_BEGIN_DECLS

#define MT_TYPE_IMAGE_FOLDER (mt_image_folder_get_type ())
G_DECLARE_FINAL_TYPE (MtImageFolder, mt_image_folder, MT, IMAGE_FOLDER, MtNode)

G_END_DECLS
