/* A bundle of named tensors plus string metadata: what a .safetensors file holds. */
#pragma once

#include "base/mt-tensor.h"

G_BEGIN_DECLS

typedef struct _MtBundle MtBundle;

#define MT_TYPE_BUNDLE (mt_bundle_get_type ())
GType     mt_bundle_get_type (void);

MtBundle *mt_bundle_new   (void);
MtBundle *mt_bundle_ref   (MtBundle *b);
void      mt_bundle_unref (MtBundle *b);

/* Takes its own reference to @t; replaces a tensor of the same name. */
void      mt_bundle_set   (MtBundle *b, const char *name, MtTensor *t);
MtTensor *mt_bundle_get   (MtBundle *b, const char *name);   /* borrowed, or NULL */
guint     mt_bundle_size  (MtBundle *b);
/* Names in byte order (the order tensors are stored in). Free with g_free, not the strings. */
const char **mt_bundle_names (MtBundle *b);

void        mt_bundle_set_metadata (MtBundle *b, const char *key, const char *value);
const char *mt_bundle_get_metadata (MtBundle *b, const char *key);
GHashTable *mt_bundle_metadata     (MtBundle *b);   /* borrowed: char* -> char* */

/* Nesting one bundle's tensors in another under "PREFIX.name" (a checkpoint holds the
 * weights as "model.*", a training state the best weights as "best.*"). */
void        mt_bundle_add_prefixed  (MtBundle *dst, const char *prefix, MtBundle *src);
/* Replaces every tensor "name" of @dst by @src's "PREFIX.name"; FALSE when one is missing,
 * with its name in *missing (newly allocated) and @dst partly replaced. */
gboolean    mt_bundle_take_prefixed (MtBundle *dst, const char *prefix, MtBundle *src, char **missing);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtBundle, mt_bundle_unref)

G_END_DECLS
