/* trainer and finetuner: train a model with SGD (ERM), or continue training one for a
 * few epochs on new data (MaskTune's fine-tuning on the masked dataset). */
#pragma once

#include "runtime/mt-node.h"

G_BEGIN_DECLS

#define MT_TYPE_TRAINER (mt_trainer_get_type ())
G_DECLARE_FINAL_TYPE (MtTrainer, mt_trainer, MT, TRAINER, MtNode)

#define MT_TYPE_FINETUNER (mt_finetuner_get_type ())
G_DECLARE_FINAL_TYPE (MtFinetuner, mt_finetuner, MT, FINETUNER, MtNode)

G_END_DECLS
