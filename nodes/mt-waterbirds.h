/* waterbirds: the Waterbirds dataset as distributed (metadata.csv: img_id, img_filename,
 * y, split, place, place_filename; split 0/1/2 = train/val/test), groups = 2 y + place. */
#pragma once

#include "runtime/mt-node.h"

G_BEGIN_DECLS

#define MT_TYPE_WATERBIRDS (mt_waterbirds_get_type ())
G_DECLARE_FINAL_TYPE (MtWaterbirds, mt_waterbirds, MT, WATERBIRDS, MtNode)

G_END_DECLS
