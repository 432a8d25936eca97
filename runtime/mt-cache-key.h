/* Cache keys: SHA-256 over a versioned canonical encoding of a node's type, class
 * version, every property value, optional fingerprint, and its inputs' content digests. */
#pragma once

#include "runtime/mt-dag.h"

G_BEGIN_DECLS

#define MT_KEY_ENCODING "masktune-key-v1"

typedef struct {
  char *key;             /* NULL while some bound input's digest is unknown */
  char *fingerprint;     /* NULL when the class has none */
  GHashTable *props;     /* property name -> canonical text */
  /*< private >*/
  GHashTable *values;    /* property name -> GValue*, for the two views below */
  GPtrArray *names;      /* the names in the class's order (borrowed from props) */
  GHashTable *display;
  JsonNode *props_json;
} MtKeyInfo;

/* @input_digests has one entry per declared input port: the digest of the bound
 * source output, or NULL when unknown yet (or the port is unbound). */
MtKeyInfo *mt_key_compute   (MtDagNode *gn, const char *const *input_digests, GError **error);
void       mt_key_info_free (MtKeyInfo *k);
/* Property @name's value as a .pipe file would write it (made on first use). */
const char *mt_key_info_display (MtKeyInfo *k, const char *name);
/* Property name -> JSON value, for manifests (made on first use; owned by @k). */
JsonNode   *mt_key_info_props_json (MtKeyInfo *k);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtKeyInfo, mt_key_info_free)

G_END_DECLS
