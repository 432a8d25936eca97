/* predict: a model's outputs on a dataset, as plain arrays (logits, predictions,
 * confidences), to inspect or compare outside masktune. */
#pragma once

#include "runtime/mt-node.h"

G_BEGIN_DECLS

#define MT_TYPE_PREDICT (mt_predict_get_type ())
G_DECLARE_FINAL_TYPE (MtPredict, mt_predict, MT, PREDICT, MtNode)

G_END_DECLS
