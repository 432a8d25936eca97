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

  /* Optional: checks the property values together once the pipeline is built, before
   * anything runs (a list element out of range, a class_map of the wrong length). On a
   * bad value returns FALSE, sets *property to the name of the property at fault (a
   * static string: the GParamSpec's name) and @error to what is wrong with it; mtrun
   * reports it at FILE:LINE:COL of that property. */
  gboolean (*validate)    (MtNode *self, const char **property, GError **error);

  /*< private >*/
  gpointer padding[10];
};

void mt_node_class_set_metadata (MtNodeClass *klass, const char *version, const char *description);
/* Declares that the node runs models on the compute backend (training, saliency,
 * prediction): its results then depend, in their last bits, on the backend, the device,
 * the thread count and the libraries, which its manifests record ("environment"). Nodes
 * of plain code (data, masks, previews) give the same bytes everywhere. */
void     mt_node_class_set_uses_backend (MtNodeClass *klass, gboolean uses);
gboolean mt_node_class_get_uses_backend (MtNodeClass *klass);
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

/* Marks the string property @property as a file or folder path: a relative value is
 * relative to the folder of the pipeline file that sets it (wherever mtrun is started),
 * read with mt_node_resolve_path(). The value as written enters the cache key. */
void     mt_node_class_mark_path (MtNodeClass *klass, const char *property);
gboolean mt_param_spec_is_path   (GParamSpec *pspec);

const char *mt_node_get_name (MtNode *self);
void        mt_node_set_name (MtNode *self, const char *name);
gboolean    mt_node_run      (MtNode *self, MtContext *ctx, GError **error);
/* TRUE when the class has no validate method or its values are fine. */
gboolean    mt_node_validate (MtNode *self, const char **property, GError **error);

/* The folder relative paths are resolved against (the pipeline file's); NULL: the
 * current directory. */
const char *mt_node_get_base_dir (MtNode *self);
void        mt_node_set_base_dir (MtNode *self, const char *dir);
/* @path as a path to open: unchanged when absolute, empty or NULL (then NULL), else
 * inside the base folder. Free with g_free. */
char       *mt_node_resolve_path (MtNode *self, const char *path);
/* NULL with no error when the class has no fingerprint. */
char       *mt_node_fingerprint (MtNode *self, GError **error);

G_END_DECLS
