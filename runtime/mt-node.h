/* MtNode: the abstract base class of every pipeline stage.
 *
 * A node class declares input and output ports (name and kind), its parameters as
 * GObject properties (each GParamSpec gives type, default, range and a one-line
 * description), and a version string that enters the cache key: bump it whenever
 * the node's results would change for the same inputs and properties. */
#pragma once

#include <glib-object.h>

#include "runtime/mt-context.h"
#include "runtime/mt-kind.h"

G_BEGIN_DECLS

#define MT_TYPE_NODE (mt_node_get_type ())
G_DECLARE_DERIVABLE_TYPE (MtNode, mt_node, MT, NODE, GObject)

typedef struct {
  char    *name;
  MtKind   kind;
  gboolean required;   /* inputs only */
  gboolean list;       /* inputs only: takes [a, b, ...], one or more sources */
  char    *blurb;
} MtPortSpec;

struct _MtNodeClass {
  GObjectClass parent_class;

  /* Reads inputs from @ctx and saves every output port; failures go to @error. */
  gboolean (*run) (MtNode *self, MtContext *ctx, GError **error);

  /* Optional: extra cache-key material that properties do not capture, such as the
   * digest of a file a source node reads. Returns a newly allocated string. */
  char    *(*fingerprint) (MtNode *self, GError **error);

  /*< private >*/
  gpointer padding[11];
};

void mt_node_class_set_metadata (MtNodeClass *klass, const char *version, const char *description);
void mt_node_class_add_input    (MtNodeClass *klass, const char *name, MtKind kind,
                                 gboolean required, const char *blurb);
 /* An input written as a list of sources, `models=[erm, masktune]` (a single source is a
 * list of one); read with mt_context_get_n_inputs() and the *_at() loaders. */
void mt_node_class_add_input_list (MtNodeClass *klass, const char *name, MtKind kind,
                                   gboolean required, const char *blurb);
void mt_node_class_add_output   (MtNodeClass *klass, const char *name, MtKind kind, const char *blurb);

const char       *mt_node_class_get_version     (MtNodeClass *klass);
const char       *mt_node_class_get_description (MtNodeClass *klass);
/* Arrays of MtPortSpec*, in declaration order; owned by the class. */
GPtrArray        *mt_node_class_get_inputs      (MtNodeClass *klass);
GPtrArray        *mt_node_class_get_outputs     (MtNodeClass *klass);
const MtPortSpec *mt_node_class_find_input      (MtNodeClass *klass, const char *name, int *index);
const MtPortSpec *mt_node_class_find_output     (MtNodeClass *klass, const char *name, int *index);

/* The properties that parametrise the node (readable and writable, in name order).
 * Free the array with g_free. */
GParamSpec      **mt_node_class_list_params     (MtNodeClass *klass, guint *n);

const char *mt_node_get_name (MtNode *self);
void        mt_node_set_name (MtNode *self, const char *name);
gboolean    mt_node_run      (MtNode *self, MtContext *ctx, GError **error);
/* NULL with no error when the class has no fingerprint. */
char       *mt_node_fingerprint (MtNode *self, GError **error);

G_END_DECLS
