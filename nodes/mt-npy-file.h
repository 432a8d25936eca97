/* npy_file: a source node that reads one tensor from a user's .npy file. */
#pragma once

#include "runtime/mt-node.h"

G_BEGIN_DECLS

#define MT_TYPE_NPY_FILE (mt_npy_file_get_type ())
G_DECLARE_FINAL_TYPE (MtNpyFile, mt_npy_file, MT, NPY_FILE, MtNode)

G_END_DECLS
