/* model_file: a source node that reads a model's weights from a .safetensors file: a
 * PyTorch state_dict (torchvision's pretrained ResNets, saved as the README shows) or a
 * model masktune exported. */
#pragma once

#include "runtime/mt-node.h"

G_BEGIN_DECLS

#define MT_TYPE_MODEL_FILE (mt_model_file_get_type ())
G_DECLARE_FINAL_TYPE (MtModelFile, mt_model_file, MT, MODEL_FILE, MtNode)

G_END_DECLS
