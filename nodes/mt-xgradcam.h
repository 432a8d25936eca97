/* xgradcam: saliency maps of a model on a dataset (XGradCAM by default; Grad-CAM,
 * Grad-CAM++ and LayerCAM by `method`), one float32 map per sample at input size. */
#pragma once

#include "runtime/mt-node.h"

G_BEGIN_DECLS

#define MT_TYPE_XGRADCAM (mt_xgradcam_get_type ())
G_DECLARE_FINAL_TYPE (MtXgradcam, mt_xgradcam, MT, XGRADCAM, MtNode)

G_END_DECLS
