/* masker: hides the most salient pixels of each sample (MaskTune's masking step). */
#pragma once

#include "runtime/mt-node.h"

G_BEGIN_DECLS

#define MT_TYPE_MASKER (mt_masker_get_type ())
G_DECLARE_FINAL_TYPE (MtMasker, mt_masker, MT, MASKER, MtNode)

G_END_DECLS
