/* celeba: CelebA as distributed (img_align_celeba/, list_attr_celeba.txt with its two
 * header lines and +-1 values, list_eval_partition.txt), one attribute as the label and
 * another as the spurious one: groups = 2 confounder + target, as the official code
 * numbers them. */
#pragma once

#include "runtime/mt-node.h"

G_BEGIN_DECLS

#define MT_TYPE_CELEBA (mt_celeba_get_type ())
G_DECLARE_FINAL_TYPE (MtCeleba, mt_celeba, MT, CELEBA, MtNode)

G_END_DECLS
