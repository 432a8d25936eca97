/* evaluator: compares models on test sets. For each model x test set: accuracy, per class,
 * per group (class x has-patch), worst group, confusion matrix and loss; selective
 * classification curves (each model's softmax confidence, and MaskTune's combined
 * confidence of its first two models); a JSON report, Markdown tables and PNG charts. */
#pragma once

#include "runtime/mt-node.h"

G_BEGIN_DECLS

#define MT_TYPE_EVALUATOR (mt_evaluator_get_type ())
G_DECLARE_FINAL_TYPE (MtEvaluator, mt_evaluator, MT, EVALUATOR, MtNode)

G_END_DECLS
