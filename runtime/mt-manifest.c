#include "runtime/mt-manifest.h"
#include "runtime/mt-context-private.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"
#include "base/mt-json.h"
#include "base/mt-name.h"
#include "base/mt-version.h"

#include <string.h>

JsonNode *
mt_manifest_build (MtDag *g, MtDagNode *gn, MtKeyInfo *ki, const char *const *digests,
                   MtContext *ctx, GPtrArray *committed, const char *backend, const char *const *environment,
                   const char *started, double seconds)
{
  g_return_val_if_fail (g != NULL && gn != NULL && ki != NULL && committed != NULL, NULL);
  MtNodeClass *klass = MT_NODE_GET_CLASS (gn->node);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, MT_MANIFEST_FORMAT);
  json_builder_set_member_name (b, "key");
  json_builder_add_string_value (b, ki->key);
  json_builder_set_member_name (b, "key_encoding");
  json_builder_add_string_value (b, MT_KEY_ENCODING);
  json_builder_set_member_name (b, "node");
  json_builder_add_string_value (b, gn->name);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, gn->type_name);
  json_builder_set_member_name (b, "class_version");
  json_builder_add_string_value (b, mt_node_class_get_version (klass));
  json_builder_set_member_name (b, "pipeline");
  json_builder_add_string_value (b, g->path);
  json_builder_set_member_name (b, "properties");
  json_builder_add_value (b, json_node_copy (mt_key_info_props_json (ki)));
  json_builder_set_member_name (b, "key_properties");
  json_builder_begin_object (b);
  g_autoptr (GList) names = g_hash_table_get_keys (ki->props);
  names = g_list_sort (names, (GCompareFunc) g_strcmp0);
  for (GList *l = names; l; l = l->next) {
    json_builder_set_member_name (b, l->data);
    json_builder_add_string_value (b, g_hash_table_lookup (ki->props, l->data));
  }
  json_builder_end_object (b);
  if (ki->fingerprint) {
    json_builder_set_member_name (b, "fingerprint");
    json_builder_add_string_value (b, ki->fingerprint);
  }
  json_builder_set_member_name (b, "inputs");
  json_builder_begin_object (b);
  for (guint i = 0; i < gn->inputs->len; i++) {
    MtDagInput *gi = &g_array_index (gn->inputs, MtDagInput, i);
    if (!gi->src)
      continue;
    MtPortSpec *out = mt_node_class_get_outputs (MT_NODE_GET_CLASS (gi->src->node))->pdata[gi->src_port];
    json_builder_set_member_name (b, gi->name);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "digest");
    json_builder_add_string_value (b, digests[i]);
    json_builder_set_member_name (b, "from");
    g_autofree char *from = g_strdup_printf ("%s.%s", gi->src->name, out->name);
    json_builder_add_string_value (b, from);
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "outputs");
  json_builder_begin_array (b);
  GPtrArray *outs = mt_node_class_get_outputs (klass);
  for (guint i = 0; i < outs->len; i++) {
    MtPortSpec *spec = outs->pdata[i];
    MtCacheOutput *c = committed->pdata[i];
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "port");
    json_builder_add_string_value (b, spec->name);
    json_builder_set_member_name (b, "kind");
    json_builder_add_string_value (b, mt_kind_name (spec->kind));
    json_builder_set_member_name (b, "format");
    json_builder_add_string_value (b, mt_kind_extension (spec->kind));
    json_builder_set_member_name (b, "file");
    json_builder_add_string_value (b, c->file);
    json_builder_set_member_name (b, "digest");
    json_builder_add_string_value (b, c->digest);
    json_builder_set_member_name (b, "size");
    json_builder_add_int_value (b, c->size);
    JsonObject *meta = mt_context_get_output_meta (ctx, spec->name);
    if (meta) {
      g_autoptr (GList) keys = json_object_get_members (meta);
      for (GList *l = keys; l; l = l->next) {
        json_builder_set_member_name (b, l->data);
        json_builder_add_value (b, json_node_copy (json_object_get_member (meta, l->data)));
      }
    }
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "backend");
  json_builder_add_string_value (b, backend ? backend : "cpu");
  if (environment) {
    json_builder_set_member_name (b, "environment");
    json_builder_begin_object (b);
    for (guint i = 0; environment[i]; i++) {
      const char *eq = strchr (environment[i], '=');
      if (!eq)
        continue;
      g_autofree char *key = g_strndup (environment[i], eq - environment[i]);
      json_builder_set_member_name (b, key);
      json_builder_add_string_value (b, eq + 1);
    }
    json_builder_end_object (b);
  }
  json_builder_set_member_name (b, "started");
  json_builder_add_string_value (b, started);
  json_builder_set_member_name (b, "duration");
  json_builder_add_double_value (b, seconds);
  json_builder_set_member_name (b, "masktune_version");
  json_builder_add_string_value (b, MT_VERSION_STRING);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

void
mt_cache_output_free (MtCacheOutput *o)
{
  if (!o)
    return;
  g_free (o->port);
  g_free (o->kind);
  g_free (o->digest);
  g_free (o->file);
  g_free (o);
}

void
mt_manifest_free (MtManifest *m)
{
  if (!m)
    return;
  if (m->root)
    json_node_unref (m->root);
  g_free (m->key);
  g_free (m->node);
  g_free (m->type);
  g_free (m->class_version);
  g_free (m->fingerprint);
  g_free (m->started);
  g_free (m->backend);
  g_clear_pointer (&m->environment, g_ptr_array_unref);
  g_clear_pointer (&m->properties, g_hash_table_unref);
  g_clear_pointer (&m->inputs, g_hash_table_unref);
  g_clear_pointer (&m->outputs, g_ptr_array_unref);
  g_free (m);
}


#define MF_FAIL(...) G_STMT_START { \
    g_autofree char *m_ = g_strdup_printf (__VA_ARGS__); \
    g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "%s: bad manifest: %s", what, m_); \
    return NULL; } G_STMT_END

MtManifest *
mt_manifest_parse (const char *json, gsize len, const char *what, GError **error)
{
  g_return_val_if_fail (json != NULL || len == 0, NULL);
  g_autoptr (GError) jerr = NULL;
  g_autoptr (JsonNode) root = mt_json_parse (json, len, MT_MANIFEST_MAX_BYTES, "the file", &jerr);
  if (!root)
    MF_FAIL ("%s", jerr->message);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    MF_FAIL ("not a JSON object");
  JsonObject *o = json_node_get_object (root);
  if (g_strcmp0 (mt_json_string (o, "format", ""), MT_MANIFEST_FORMAT) != 0)
    MF_FAIL ("unknown format");

  g_autoptr (MtManifest) m = g_new0 (MtManifest, 1);
  m->root = json_node_copy (root);
  m->key = g_strdup (mt_json_string (o, "key", NULL));
  m->node = g_strdup (mt_json_string (o, "node", ""));
  m->type = g_strdup (mt_json_string (o, "type", ""));
  m->class_version = g_strdup (mt_json_string (o, "class_version", ""));
  m->fingerprint = g_strdup (mt_json_string (o, "fingerprint", NULL));
  m->started = g_strdup (mt_json_string (o, "started", ""));
  if (!mt_json_number (o, "duration", &m->duration))
    m->duration = 0;
  m->backend = g_strdup (mt_json_string (o, "backend", "cpu"));
  JsonObject *env = mt_json_object (o, "environment");
  if (env) {
    m->environment = g_ptr_array_new_with_free_func (g_free);
    g_autoptr (GList) keys = json_object_get_members (env);
    for (GList *l = keys; l; l = l->next) {
      const char *v = mt_json_string (env, l->data, NULL);
      if (v)
        g_ptr_array_add (m->environment, g_strdup_printf ("%s=%s", (char *) l->data, v));
    }
  }
  if (!mt_sha256_is_valid (m->key))
    MF_FAIL ("no valid key");
  /* Names end up in paths (export) and on terminals: only the language's names pass. */
  if (!mt_name_is_valid_node (m->node))
    MF_FAIL ("the node name is not a name");
  if (!mt_name_is_valid (m->type))
    MF_FAIL ("the node type is not a name");

  m->properties = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  JsonObject *kp = mt_json_object (o, "key_properties");
  if (kp) {
    g_autoptr (GList) names = json_object_get_members (kp);
    for (GList *l = names; l; l = l->next)
      g_hash_table_insert (m->properties, g_strdup (l->data),
                           g_strdup (mt_json_string (kp, l->data, "")));
  }
  m->inputs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  JsonObject *ins = mt_json_object (o, "inputs");
  if (ins) {
    g_autoptr (GList) names = json_object_get_members (ins);
    for (GList *l = names; l; l = l->next) {
      JsonObject *io = mt_json_object (ins, l->data);
      if (io)
        g_hash_table_insert (m->inputs, g_strdup (l->data),
                             g_strdup (mt_json_string (io, "digest", "")));
    }
  }
  m->outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mt_cache_output_free);
  JsonArray *outs = mt_json_array (o, "outputs");
  if (!outs || json_array_get_length (outs) == 0)
    MF_FAIL ("no outputs");
  for (guint i = 0; i < json_array_get_length (outs); i++) {
    JsonNode *on = json_array_get_element (outs, i);
    JsonObject *oo = JSON_NODE_HOLDS_OBJECT (on) ? json_node_get_object (on) : NULL;
    if (!oo)
      MF_FAIL ("output %u is not an object", i);
    MtCacheOutput *out = g_new0 (MtCacheOutput, 1);
    g_ptr_array_add (m->outputs, out);
    out->port = g_strdup (mt_json_string (oo, "port", NULL));
    out->kind = g_strdup (mt_json_string (oo, "kind", ""));
    out->digest = g_strdup (mt_json_string (oo, "digest", NULL));
    out->file = g_strdup (mt_json_string (oo, "file", NULL));
    double size = -1;
    out->size = mt_json_number (oo, "size", &size) && size >= 0 && size < 9e15 && size == (gint64) size ? (gint64) size : -1;
    MtKind kind;
    if (!mt_name_is_valid (out->port) || !mt_kind_from_name (out->kind, &kind) ||
        !mt_sha256_is_valid (out->digest) || out->size < 0)
      MF_FAIL ("output %u is malformed", i);
    for (guint k = 0; k < i; k++)
      if (g_strcmp0 (((MtCacheOutput *) m->outputs->pdata[k])->port, out->port) == 0)
        MF_FAIL ("output '%s' is listed twice", out->port);
    /* The file must be the object named by its digest, with its kind's extension: nothing
     * else in the cache is trusted, and no other path is ever opened. */
    g_autofree char *want = g_strdup_printf ("objects/%.2s/%s.%s", out->digest, out->digest, mt_kind_extension (kind));
    if (g_strcmp0 (out->file, want) != 0)
      MF_FAIL ("output '%s' names the file '%s', not its object", out->port, out->file ? out->file : "(none)");
  }
  return g_steal_pointer (&m);
}

gboolean
mt_manifest_matches_class (MtManifest *m, MtNodeClass *klass, GError **error)
{
  g_return_val_if_fail (m != NULL && klass != NULL, FALSE);
  GPtrArray *outs = mt_node_class_get_outputs (klass);
  gboolean ok = outs->len == m->outputs->len;
  for (guint i = 0; ok && i < outs->len; i++) {
    MtPortSpec *spec = outs->pdata[i];
    const MtCacheOutput *o = mt_manifest_find_output (m, spec->name);
    ok = o && g_strcmp0 (o->kind, mt_kind_name (spec->kind)) == 0;
  }
  if (!ok) {
    GString *want = g_string_new (NULL), *got = g_string_new (NULL);
    for (guint i = 0; i < outs->len; i++)
      g_string_append_printf (want, "%s%s", i ? ", " : "", ((MtPortSpec *) outs->pdata[i])->name);
    for (guint i = 0; i < m->outputs->len; i++)
      g_string_append_printf (got, "%s%s", i ? ", " : "", ((MtCacheOutput *) m->outputs->pdata[i])->port);
    g_set_error (error, MT_ERROR, MT_ERROR_CACHE, "its outputs (%s) are not those of %s (%s)", got->str,
                 m->type, want->str);
    g_string_free (want, TRUE);
    g_string_free (got, TRUE);
  }
  return ok;
}

const MtCacheOutput *
mt_manifest_find_output (MtManifest *m, const char *port)
{
  for (guint i = 0; i < m->outputs->len; i++) {
    MtCacheOutput *o = m->outputs->pdata[i];
    if (g_strcmp0 (o->port, port) == 0)
      return o;
  }
  return NULL;
}

/* The value of @key in @n "key=value" lines, or NULL. */
static const char *
env_value (const char *const *lines, guint n, const char *key)
{
  gsize kl = strlen (key);
  for (guint i = 0; i < n; i++)
    if (strncmp (lines[i], key, kl) == 0 && lines[i][kl] == '=')
      return lines[i] + kl + 1;
  return NULL;
}

char *
mt_manifest_made_elsewhere (MtManifest *m, const char *backend, const char *const *environment)
{
  if (!m->environment)
    return NULL;
  g_autoptr (GString) s = g_string_new (NULL);
  if (g_strcmp0 (m->backend, backend) != 0)
    g_string_append_printf (s, "backend %s (here %s)", m->backend, backend);
  const char *const *mine = (const char *const *) m->environment->pdata;
  for (guint i = 0; environment && environment[i]; i++) {
    const char *eq = strchr (environment[i], '=');
    if (!eq)
      continue;
    g_autofree char *key = g_strndup (environment[i], eq - environment[i]);
    const char *theirs = env_value (mine, m->environment->len, key);
    if (g_strcmp0 (theirs, eq + 1) != 0)
      g_string_append_printf (s, "%s%s %s (here %s)", s->len ? "; " : "", key, theirs ? theirs : "not recorded",
                              eq + 1);
  }
  return s->len ? g_string_free (g_steal_pointer (&s), FALSE) : NULL;
}

char *
mt_manifest_made_on (MtManifest *m)
{
  const char *const *env = m->environment ? (const char *const *) m->environment->pdata : NULL;
  guint n = m->environment ? m->environment->len : 0;
  const char *threads = env_value (env, n, "threads"), *device = env_value (env, n, "device");
  if (g_strcmp0 (m->backend, "cpu") == 0 && threads)
    return g_strdup_printf ("cpu, %s thread%s", threads, g_strcmp0 (threads, "1") == 0 ? "" : "s");
  if (device)
    return g_strdup_printf ("%s, %s", m->backend, device);
  return g_strdup (m->backend);
}
