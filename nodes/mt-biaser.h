/* biaser: builds a dataset with a planted shortcut, as in the MaskTune paper: labels
 * are grouped into classes, grey images become RGB, and a coloured patch marks most
 * of class 0 and few of the other classes. */
#pragma once

#include "runtime/mt-node.h"

G_BEGIN_DECLS

#define MT_TYPE_BIASER (mt_biaser_get_type ())
G_DECLARE_FINAL_TYPE (MtBiaser, mt_biaser, MT, BIASER, MtNode)

typedef enum { MT_PATCH_SQUARE, MT_PATCH_BACKGROUND, MT_PATCH_FOREGROUND, MT_PATCH_TEXTURE } MtPatchKind;
typedef enum { MT_POS_TOP_LEFT, MT_POS_TOP_RIGHT, MT_POS_BOTTOM_LEFT, MT_POS_BOTTOM_RIGHT, MT_POS_CENTER } MtPatchPosition;
typedef enum { MT_BIAS_MODE_BIASED, MT_BIAS_MODE_RAW } MtBiasMode;
typedef enum { MT_SELECT_FIRST, MT_SELECT_RANDOM } MtSelection;

/* How many of @n samples get the patch for a fraction @fraction: round half up. */
gint64 mt_biaser_patched_count (gint64 n, double fraction);

G_END_DECLS
