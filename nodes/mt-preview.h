/* preview: a PNG grid of a dataset's first samples, with labels and groups. */
#pragma once

#include "runtime/mt-node.h"

G_BEGIN_DECLS

#define MT_TYPE_PREVIEW (mt_preview_get_type ())
G_DECLARE_FINAL_TYPE (MtPreview, mt_preview, MT, PREVIEW, MtNode)

G_END_DECLS
