/* image_table: images listed in a CSV file, with a label column, optional group and
 * split columns, paths relative to a root folder. */
#pragma once

#include "runtime/mt-node.h"

G_BEGIN_DECLS

#define MT_TYPE_IMAGE_TABLE (mt_image_table_get_type ())
G_DECLARE_FINAL_TYPE (MtImageTable, mt_image_table, MT, IMAGE_TABLE, MtNode)

G_END_DECLS
