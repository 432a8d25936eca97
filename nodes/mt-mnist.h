/* mnist: reads an MNIST-format dataset (IDX files, gzip-compressed or not) from a
 * directory with the standard file names; with no root, the bundled MNIST digits. */
#pragma once

#include "runtime/mt-node.h"

G_BEGIN_DECLS

#define MT_TYPE_MNIST (mt_mnist_get_type ())
G_DECLARE_FINAL_TYPE (MtMnist, mt_mnist, MT, MNIST, MtNode)

typedef enum {
  MT_SPLIT_TRAIN,
  MT_SPLIT_TEST,
} MtSplit;

#define MT_TYPE_SPLIT (mt_split_get_type ())
GType mt_split_get_type (void);

/* The directory of the bundled digits: $MT_DATA_DIR/mnist, the installed copy, or
 * the source tree's data/mnist. */
char *mt_mnist_bundled_root (void);

/* Finds the images and labels files of @split in @root; errors name what is missing. */
gboolean mt_mnist_find_files (const char *root, MtSplit split, char **images, char **labels, GError **error);

G_END_DECLS
