#include "runtime/mt-context-private.h"
#include "base/mt-json-write.h"
#include "base/mt-error.h"
#include "base/mt-json.h"
#include "formats/mt-npy.h"
#include "formats/mt-png.h"
#include "formats/mt-safetensors.h"

#include <glib/gstdio.h>

struct _MtContext {
  MtDagNode *gn;
  GPtrArray *input_paths;   /* char*, NULL where unbound */
  char *tmp_dir;
  char *resume_dir;
  GHashTable *written;      /* port -> path */
  GHashTable *meta;         /* port -> JsonObject* describing the content */
  GCancellable *cancellable;
  char *backend;
  JsonNode *provenance;
  MtContextProgressFunc progress;
  MtContextLogFunc log;
  gpointer user_data;
};

MtContext *
mt_context_new (MtDagNode *gn, const char *const *input_paths, const char *tmp_dir,
                const char *resume_dir, GCancellable *cancellable)
{
  MtContext *ctx = g_new0 (MtContext, 1);
  ctx->gn = gn;
  ctx->input_paths = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < gn->inputs->len; i++)
    g_ptr_array_add (ctx->input_paths, g_strdup (input_paths ? input_paths[i] : NULL));
  ctx->tmp_dir = g_strdup (tmp_dir);
  ctx->resume_dir = g_strdup (resume_dir);
  ctx->written = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  ctx->meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) json_object_unref);
  ctx->cancellable = cancellable ? g_object_ref (cancellable) : g_cancellable_new ();
  return ctx;
}

void
mt_context_free (MtContext *ctx)
{
  if (!ctx)
    return;
  g_ptr_array_unref (ctx->input_paths);
  g_free (ctx->tmp_dir);
  g_free (ctx->resume_dir);
  g_hash_table_unref (ctx->written);
  g_hash_table_unref (ctx->meta);
  g_object_unref (ctx->cancellable);
  g_clear_pointer (&ctx->provenance, json_node_unref);
  g_free (ctx->backend);
  g_free (ctx);
}

void
mt_context_set_callbacks (MtContext *ctx, MtContextProgressFunc progress, MtContextLogFunc log,
                          gpointer user_data)
{
  g_return_if_fail (ctx != NULL);
  ctx->progress = progress;
  ctx->log = log;
  ctx->user_data = user_data;
}

const char *
mt_context_get_output_file (MtContext *ctx, const char *port)
{
  g_return_val_if_fail (ctx != NULL && port != NULL, NULL);
  return g_hash_table_lookup (ctx->written, port);
}

JsonObject *
mt_context_get_output_meta (MtContext *ctx, const char *port)
{
  g_return_val_if_fail (ctx != NULL && port != NULL, NULL);
  return g_hash_table_lookup (ctx->meta, port);
}

static JsonObject *
tensor_meta (const MtTensor *t)
{
  JsonObject *o = json_object_new ();
  json_object_set_string_member (o, "dtype", mt_dtype_name (t->dtype));
  JsonArray *shape = json_array_new ();
  for (int i = 0; i < t->ndim; i++)
    json_array_add_int_element (shape, t->shape[i]);
  json_object_set_array_member (o, "shape", shape);
  return o;
}

static MtNodeClass *
node_class (MtContext *ctx)
{
  return MT_NODE_GET_CLASS (ctx->gn->node);
}

/* The index of the binding of item @item of input @port (0 for a plain port), or -1. */
static int
find_binding (MtContext *ctx, const char *port, guint item)
{
  int idx = -1;
  if (!mt_node_class_find_input (node_class (ctx), port, &idx))
    return -1;
  for (guint i = 0; i < ctx->gn->inputs->len; i++) {
    MtDagInput *gi = &g_array_index (ctx->gn->inputs, MtDagInput, i);
    if (gi->port == idx && gi->item == (int) item)
      return (int) i;
  }
  return -1;
}

static const char *
input_path (MtContext *ctx, const char *port, guint item, GError **error)
{
  const MtPortSpec *spec = mt_node_class_find_input (node_class (ctx), port, NULL);
  if (!spec) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "node '%s' has no input port '%s'", ctx->gn->name, port);
    return NULL;
  }
  int b = find_binding (ctx, port, item);
  const char *p = b >= 0 ? ctx->input_paths->pdata[b] : NULL;
  if (!p) {
    if (spec->list)
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "input '%s' of node '%s' has no item %u", port,
                   ctx->gn->name, item);
    else
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "input '%s' of node '%s' is not bound", port, ctx->gn->name);
    return NULL;
  }
  return p;
}

gboolean
mt_context_has_input (MtContext *ctx, const char *port)
{
  g_return_val_if_fail (ctx != NULL && port != NULL, FALSE);
  int b = find_binding (ctx, port, 0);
  return b >= 0 && ctx->input_paths->pdata[b];
}

guint
mt_context_get_n_inputs (MtContext *ctx, const char *port)
{
  g_return_val_if_fail (ctx != NULL && port != NULL, 0);
  int idx = -1;
  if (!mt_node_class_find_input (node_class (ctx), port, &idx))
    return 0;
  /* A list's bindings are its items 0 .. n-1, all bound. */
  guint n = 0;
  for (guint i = 0; i < ctx->gn->inputs->len; i++)
    n += g_array_index (ctx->gn->inputs, MtDagInput, i).port == idx && ctx->input_paths->pdata[i];
  return n;
}

const char *
mt_context_get_input_source (MtContext *ctx, const char *port, guint item)
{
  g_return_val_if_fail (ctx != NULL && port != NULL, NULL);
  int b = find_binding (ctx, port, item);
  if (b < 0)
    return NULL;
  MtDagInput *gi = &g_array_index (ctx->gn->inputs, MtDagInput, b);
  return gi->src ? gi->src->name : NULL;
}

const char *
mt_context_get_input_path (MtContext *ctx, const char *port)
{
  g_return_val_if_fail (ctx != NULL && port != NULL, NULL);
  return input_path (ctx, port, 0, NULL);
}

MtTensor *
mt_context_load_tensor (MtContext *ctx, const char *port, GError **error)
{
  g_return_val_if_fail (ctx != NULL && port != NULL, NULL);
  return mt_context_load_tensor_at (ctx, port, 0, error);
}

MtBundle *
mt_context_load_bundle (MtContext *ctx, const char *port, GError **error)
{
  g_return_val_if_fail (ctx != NULL && port != NULL, NULL);
  return mt_context_load_bundle_at (ctx, port, 0, error);
}

JsonNode *
mt_context_load_json (MtContext *ctx, const char *port, GError **error)
{
  g_return_val_if_fail (ctx != NULL && port != NULL, NULL);
  return mt_context_load_json_at (ctx, port, 0, error);
}

MtTensor *
mt_context_load_tensor_at (MtContext *ctx, const char *port, guint item, GError **error)
{
  g_return_val_if_fail (ctx != NULL && port != NULL, NULL);
  const char *p = input_path (ctx, port, item, error);
  return p ? mt_npy_load (p, error) : NULL;
}

MtBundle *
mt_context_load_bundle_at (MtContext *ctx, const char *port, guint item, GError **error)
{
  g_return_val_if_fail (ctx != NULL && port != NULL, NULL);
  const char *p = input_path (ctx, port, item, error);
  return p ? mt_safetensors_load (p, error) : NULL;
}

JsonNode *
mt_context_load_json_at (MtContext *ctx, const char *port, guint item, GError **error)
{
  g_return_val_if_fail (ctx != NULL && port != NULL, NULL);
  const char *p = input_path (ctx, port, item, error);
  if (!p)
    return NULL;
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (p, &text, &len, error))
    return NULL;
  return mt_json_parse (text, len, G_MAXSIZE, p, error);
}

/* Checks that @port is an output taking @ext files not yet written; returns its path. */
static char *
output_path (MtContext *ctx, const char *port, const char *ext, GError **error)
{
  const MtPortSpec *spec = mt_node_class_find_output (node_class (ctx), port, NULL);
  if (!spec) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "node '%s' has no output port '%s'", ctx->gn->name, port);
    return NULL;
  }
  if (g_strcmp0 (mt_kind_extension (spec->kind), ext) != 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "output '%s' of node '%s' is a %s, stored as .%s, not .%s",
                 port, ctx->gn->name, mt_kind_name (spec->kind), mt_kind_extension (spec->kind), ext);
    return NULL;
  }
  if (g_hash_table_contains (ctx->written, port)) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "output '%s' of node '%s' was already saved", port, ctx->gn->name);
    return NULL;
  }
  g_autofree char *name = g_strconcat (port, ".", ext, NULL);
  return g_build_filename (ctx->tmp_dir, name, NULL);
}

static gboolean
record (MtContext *ctx, const char *port, char *path, gboolean ok)
{
  if (ok)
    g_hash_table_insert (ctx->written, g_strdup (port), path);
  else {
    g_unlink (path);
    g_free (path);
  }
  return ok;
}

gboolean
mt_context_save_tensor (MtContext *ctx, const char *port, const MtTensor *t, GError **error)
{
  g_return_val_if_fail (ctx != NULL && port != NULL && t != NULL, FALSE);
  char *p = output_path (ctx, port, "npy", error);
  if (!p || !record (ctx, port, p, mt_npy_save (t, p, error)))
    return FALSE;
  g_hash_table_insert (ctx->meta, g_strdup (port), tensor_meta (t));
  return TRUE;
}

gboolean
mt_context_save_bundle (MtContext *ctx, const char *port, MtBundle *b, GError **error)
{
  g_return_val_if_fail (ctx != NULL && port != NULL && b != NULL, FALSE);
  char *p = output_path (ctx, port, "safetensors", error);
  if (!p || !record (ctx, port, p, mt_safetensors_save (b, p, error)))
    return FALSE;
  JsonObject *tensors = json_object_new ();
  g_autofree const char **names = mt_bundle_names (b);
  for (guint i = 0; names[i]; i++)
    json_object_set_object_member (tensors, names[i], tensor_meta (mt_bundle_get (b, names[i])));
  JsonObject *o = json_object_new ();
  json_object_set_object_member (o, "tensors", tensors);
  g_hash_table_insert (ctx->meta, g_strdup (port), o);
  return TRUE;
}

gboolean
mt_context_save_json (MtContext *ctx, const char *port, JsonNode *node, GError **error)
{
  g_return_val_if_fail (ctx != NULL && port != NULL, FALSE);
  char *p = output_path (ctx, port, "json", error);
  if (!p)
    return FALSE;
  return record (ctx, port, p, mt_json_write_file (node, p, error));
}

gboolean
mt_context_save_text (MtContext *ctx, const char *port, const char *text, GError **error)
{
  g_return_val_if_fail (ctx != NULL && port != NULL, FALSE);
  char *p = output_path (ctx, port, "md", error);
  return p && record (ctx, port, p, g_file_set_contents (p, text, -1, error));
}

gboolean
mt_context_save_image (MtContext *ctx, const char *port, const MtTensor *hwc, GError **error)
{
  g_return_val_if_fail (ctx != NULL && port != NULL, FALSE);
  char *p = output_path (ctx, port, "png", error);
  if (!p || !record (ctx, port, p, mt_png_save (hwc, p, error)))
    return FALSE;
  g_hash_table_insert (ctx->meta, g_strdup (port), tensor_meta (hwc));
  return TRUE;
}

const char *
mt_context_get_resume_dir (MtContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  g_mkdir_with_parents (ctx->resume_dir, 0755);
  return ctx->resume_dir;
}

void
mt_context_set_provenance (MtContext *ctx, JsonNode *provenance)
{
  g_return_if_fail (ctx != NULL);
  g_clear_pointer (&ctx->provenance, json_node_unref);
  ctx->provenance = provenance;
}

JsonNode *
mt_context_get_provenance (MtContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  return ctx->provenance;
}

const char *
mt_context_get_node_name (MtContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  return ctx->gn->name;
}

void
mt_context_set_backend (MtContext *ctx, const char *backend)
{
  g_free (ctx->backend);
  ctx->backend = g_strdup (backend);
}

const char *
mt_context_get_backend (MtContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  return ctx->backend ? ctx->backend : "cpu";
}

GCancellable *
mt_context_get_cancellable (MtContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  return ctx->cancellable;
}

void
mt_context_progress (MtContext *ctx, double fraction)
{
  mt_context_progress_detail (ctx, fraction, NULL);
}

void
mt_context_progress_detail (MtContext *ctx, double fraction, const char *detail)
{
  g_return_if_fail (ctx != NULL);
  if (ctx->progress)
    ctx->progress (ctx, CLAMP (fraction, 0.0, 1.0), detail, ctx->user_data);
}

void
mt_context_log (MtContext *ctx, const char *format, ...)
{
  g_return_if_fail (ctx != NULL);
  va_list ap;
  va_start (ap, format);
  g_autofree char *msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (ctx->log)
    ctx->log (ctx, msg, ctx->user_data);
}
