#include "runtime/mt-node.h"
#include "base/mt-error.h"

#include <string.h>

typedef struct {
  char *name;
  char *base_dir;
} MtNodePrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (MtNode, mt_node, G_TYPE_OBJECT)

/* Per-class port tables live in type qdata, so subclasses inherit their parent's. */
typedef struct {
  char *version;
  char *description;
  GPtrArray *inputs;
  GPtrArray *outputs;
  gboolean uses_backend;
} ClassInfo;

static GQuark class_info_quark;
static GQuark path_quark;
static GMutex class_info_lock;

static void
port_spec_free (gpointer p)
{
  MtPortSpec *s = p;
  g_free (s->name);
  g_free (s->blurb);
  g_free (s);
}

static void
copy_ports (GPtrArray *dst, GPtrArray *src)
{
  for (guint i = 0; i < src->len; i++) {
    MtPortSpec *s = g_memdup2 (src->pdata[i], sizeof (MtPortSpec));
    s->name = g_strdup (s->name);
    s->blurb = g_strdup (s->blurb);
    g_ptr_array_add (dst, s);
  }
}

static ClassInfo *
class_info (MtNodeClass *klass)
{
  GType type = G_TYPE_FROM_CLASS (klass);
  g_mutex_lock (&class_info_lock);
  ClassInfo *info = g_type_get_qdata (type, class_info_quark);
  if (!info) {
    info = g_new0 (ClassInfo, 1);
    info->inputs = g_ptr_array_new_with_free_func (port_spec_free);
    info->outputs = g_ptr_array_new_with_free_func (port_spec_free);
    GType parent = g_type_parent (type);
    ClassInfo *pinfo = parent ? g_type_get_qdata (parent, class_info_quark) : NULL;
    if (pinfo) {
      info->version = g_strdup (pinfo->version);
      info->description = g_strdup (pinfo->description);
      info->uses_backend = pinfo->uses_backend;
      copy_ports (info->inputs, pinfo->inputs);
      copy_ports (info->outputs, pinfo->outputs);
    }
    g_type_set_qdata (type, class_info_quark, info);
  }
  g_mutex_unlock (&class_info_lock);
  return info;
}

static void
mt_node_finalize (GObject *object)
{
  MtNodePrivate *priv = mt_node_get_instance_private (MT_NODE (object));
  g_free (priv->name);
  g_free (priv->base_dir);
  G_OBJECT_CLASS (mt_node_parent_class)->finalize (object);
}

static void
mt_node_class_init (MtNodeClass *klass)
{
  class_info_quark = g_quark_from_static_string ("mt-node-class-info");
  path_quark = g_quark_from_static_string ("mt-node-path-property");
  G_OBJECT_CLASS (klass)->finalize = mt_node_finalize;
}

static void
mt_node_init (MtNode *self)
{
}

void
mt_node_class_set_metadata (MtNodeClass *klass, const char *version, const char *description)
{
  g_return_if_fail (klass != NULL);
  ClassInfo *info = class_info (klass);
  g_free (info->version);
  g_free (info->description);
  info->version = g_strdup (version);
  info->description = g_strdup (description);
}

void
mt_node_class_set_uses_backend (MtNodeClass *klass, gboolean uses)
{
  g_return_if_fail (klass != NULL);
  class_info (klass)->uses_backend = uses;
}

gboolean
mt_node_class_get_uses_backend (MtNodeClass *klass)
{
  g_return_val_if_fail (klass != NULL, FALSE);
  return class_info (klass)->uses_backend;
}

static void
add_port (GPtrArray *ports, const char *name, MtKind kind, gboolean required, gboolean list,
          const char *blurb)
{
  MtPortSpec *s = g_new0 (MtPortSpec, 1);
  s->name = g_strdup (name);
  s->kind = kind;
  s->required = required;
  s->list = list;
  s->blurb = g_strdup (blurb ? blurb : "");
  g_ptr_array_add (ports, s);
}

void
mt_node_class_add_input (MtNodeClass *klass, const char *name, MtKind kind, gboolean required,
                         const char *blurb)
{
  g_return_if_fail (klass != NULL && name != NULL);
  add_port (class_info (klass)->inputs, name, kind, required, FALSE, blurb);
}

void
mt_node_class_add_input_list (MtNodeClass *klass, const char *name, MtKind kind, gboolean required,
                              const char *blurb)
{
  g_return_if_fail (klass != NULL && name != NULL);
  add_port (class_info (klass)->inputs, name, kind, required, TRUE, blurb);
}

void
mt_node_class_add_output (MtNodeClass *klass, const char *name, MtKind kind, const char *blurb)
{
  g_return_if_fail (klass != NULL && name != NULL);
  add_port (class_info (klass)->outputs, name, kind, TRUE, FALSE, blurb);
}

const char *
mt_node_class_get_version (MtNodeClass *klass)
{
  g_return_val_if_fail (klass != NULL, NULL);
  const char *v = class_info (klass)->version;
  return v ? v : "0";
}

const char *
mt_node_class_get_description (MtNodeClass *klass)
{
  g_return_val_if_fail (klass != NULL, NULL);
  const char *d = class_info (klass)->description;
  return d ? d : "";
}

GPtrArray *
mt_node_class_get_inputs (MtNodeClass *klass)
{
  g_return_val_if_fail (klass != NULL, NULL);
  return class_info (klass)->inputs;
}

GPtrArray *
mt_node_class_get_outputs (MtNodeClass *klass)
{
  g_return_val_if_fail (klass != NULL, NULL);
  return class_info (klass)->outputs;
}

static const MtPortSpec *
find_port (GPtrArray *ports, const char *name, int *index)
{
  for (guint i = 0; i < ports->len; i++) {
    MtPortSpec *s = ports->pdata[i];
    if (g_strcmp0 (s->name, name) == 0) {
      if (index)
        *index = (int) i;
      return s;
    }
  }
  return NULL;
}

const MtPortSpec *
mt_node_class_find_input (MtNodeClass *klass, const char *name, int *index)
{
  g_return_val_if_fail (klass != NULL && name != NULL, NULL);
  return find_port (class_info (klass)->inputs, name, index);
}

const MtPortSpec *
mt_node_class_find_output (MtNodeClass *klass, const char *name, int *index)
{
  g_return_val_if_fail (klass != NULL && name != NULL, NULL);
  return find_port (class_info (klass)->outputs, name, index);
}

static int
cmp_pspec (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(GParamSpec *const *) a)->name, (*(GParamSpec *const *) b)->name);
}

GParamSpec **
mt_node_class_list_params (MtNodeClass *klass, guint *n)
{
  g_return_val_if_fail (klass != NULL, NULL);
  guint all = 0;
  GParamSpec **props = g_object_class_list_properties (G_OBJECT_CLASS (klass), &all);
  GParamSpec **out = g_new0 (GParamSpec *, all + 1);
  guint k = 0;
  for (guint i = 0; i < all; i++)
    if ((props[i]->flags & G_PARAM_READWRITE) == G_PARAM_READWRITE &&
        !(props[i]->flags & G_PARAM_DEPRECATED))
      out[k++] = props[i];
  g_free (props);
  qsort (out, k, sizeof (GParamSpec *), cmp_pspec);
  *n = k;
  return out;
}

const char *
mt_node_get_name (MtNode *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  MtNodePrivate *priv = mt_node_get_instance_private (self);
  return priv->name;
}

void
mt_node_set_name (MtNode *self, const char *name)
{
  g_return_if_fail (self != NULL && name != NULL);
  MtNodePrivate *priv = mt_node_get_instance_private (self);
  g_free (priv->name);
  priv->name = g_strdup (name);
}

gboolean
mt_node_run (MtNode *self, MtContext *ctx, GError **error)
{
  g_return_val_if_fail (self != NULL && ctx != NULL, FALSE);
  MtNodeClass *klass = MT_NODE_GET_CLASS (self);
  if (!klass->run) {
    g_set_error (error, MT_ERROR, MT_ERROR_NODE, "node type %s has no run method",
                 G_OBJECT_TYPE_NAME (self));
    return FALSE;
  }
  return klass->run (self, ctx, error);
}

char *
mt_node_fingerprint (MtNode *self, GError **error)
{
  g_return_val_if_fail (self != NULL, NULL);
  MtNodeClass *klass = MT_NODE_GET_CLASS (self);
  return klass->fingerprint ? klass->fingerprint (self, error) : NULL;
}

gboolean
mt_node_validate (MtNode *self, const char **property, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  MtNodeClass *klass = MT_NODE_GET_CLASS (self);
  const char *dummy = NULL;
  if (!klass->validate)
    return TRUE;
  if (!property)
    property = &dummy;
  *property = NULL;
  g_autoptr (GError) err = NULL;
  if (klass->validate (self, property, &err))
    return TRUE;
  if (!err)  /* a plugin that forgot to say why */
    g_set_error (&err, MT_ERROR, MT_ERROR_INVALID, "invalid properties (%s gave no reason)",
                 G_OBJECT_TYPE_NAME (self));
  g_propagate_error (error, g_steal_pointer (&err));
  return FALSE;
}

void
mt_node_class_mark_path (MtNodeClass *klass, const char *property)
{
  g_return_if_fail (klass != NULL && property != NULL);
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_CLASS (klass), property);
  g_return_if_fail (pspec != NULL && G_IS_PARAM_SPEC_STRING (pspec));
  g_param_spec_set_qdata (pspec, path_quark, GINT_TO_POINTER (1));
}

gboolean
mt_param_spec_is_path (GParamSpec *pspec)
{
  return pspec && path_quark && g_param_spec_get_qdata (pspec, path_quark) != NULL;
}

const char *
mt_node_get_base_dir (MtNode *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  MtNodePrivate *priv = mt_node_get_instance_private (self);
  return priv->base_dir;
}

void
mt_node_set_base_dir (MtNode *self, const char *dir)
{
  g_return_if_fail (self != NULL);
  MtNodePrivate *priv = mt_node_get_instance_private (self);
  g_free (priv->base_dir);
  priv->base_dir = g_strdup (dir);
}

char *
mt_node_resolve_path (MtNode *self, const char *path)
{
  g_return_val_if_fail (self != NULL, NULL);
  if (!path || !*path)
    return NULL;
  MtNodePrivate *priv = mt_node_get_instance_private (self);
  if (g_path_is_absolute (path) || !priv->base_dir)
    return g_strdup (path);
  /* Joined, not canonicalised: "../data" must mean what the file system says when a
   * folder on the way is a symbolic link. */
  return g_build_filename (priv->base_dir, path, NULL);
}
