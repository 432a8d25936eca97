#include "runtime/mt-cache-key.h"
#include "runtime/mt-property.h"
#include "base/mt-number.h"

void
mt_key_info_free (MtKeyInfo *k)
{
  if (!k)
    return;
  g_free (k->key);
  g_free (k->fingerprint);
  g_hash_table_unref (k->props);
  g_hash_table_unref (k->values);
  g_ptr_array_unref (k->names);
  g_clear_pointer (&k->display, g_hash_table_unref);
  if (k->props_json)
    json_node_unref (k->props_json);
  g_free (k);
}

static void
key_value_free (gpointer p)
{
  g_value_unset (p);
  g_free (p);
}

/* One line of the encoding: "NAME\tA" or "NAME\tA\tB". */
static void
key_field (GString *enc, const char *name, const char *a, const char *b)
{
  g_string_append (enc, name);
  g_string_append_c (enc, '\t');
  g_string_append (enc, a);
  if (b) {
    g_string_append_c (enc, '\t');
    g_string_append (enc, b);
  }
  g_string_append_c (enc, '\n');
}

MtKeyInfo *
mt_key_compute (MtDagNode *gn, const char *const *input_digests, GError **error)
{
  MtNodeClass *klass = MT_NODE_GET_CLASS (gn->node);
  g_autoptr (MtKeyInfo) k = g_new0 (MtKeyInfo, 1);
  k->props = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  k->values = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, key_value_free);
  k->names = g_ptr_array_new ();

  g_autoptr (GError) ferr = NULL;
  k->fingerprint = mt_node_fingerprint (gn->node, &ferr);
  if (ferr) {
    /* Callers name the node (a status row, "node 'x' (type) failed: ..."). */
    g_propagate_error (error, g_steal_pointer (&ferr));
    return NULL;
  }

  /* One line per field, fields in a fixed order, names sorted: the same settings always
   * give the same bytes. Values are escaped, so no value can forge a line break. */
  GString *enc = g_string_new (MT_KEY_ENCODING "\n");
  key_field (enc, "type", gn->type_name, NULL);
  key_field (enc, "class_version", mt_node_class_get_version (klass), NULL);
  guint n = 0;
  g_autofree GParamSpec **ps = mt_node_class_list_params (klass, &n);
  for (guint i = 0; i < n; i++) {
    GValue *v = g_new0 (GValue, 1);
    g_value_init (v, G_PARAM_SPEC_VALUE_TYPE (ps[i]));
    g_object_get_property (G_OBJECT (gn->node), ps[i]->name, v);
    char *canon = mt_property_canonical (v);
    char *name = mt_property_pipe_name (ps[i]);
    key_field (enc, "property", name, canon);
    g_hash_table_insert (k->props, name, canon);
    g_hash_table_insert (k->values, name, v);
    g_ptr_array_add (k->names, name);
  }
  if (k->fingerprint) {
    g_autofree char *fp = g_strescape (k->fingerprint, NULL);
    key_field (enc, "fingerprint", fp, NULL);
  }
  gboolean complete = TRUE;
  for (guint i = 0; i < gn->inputs->len; i++) {
    MtDagInput *gi = &g_array_index (gn->inputs, MtDagInput, i);
    const char *d = input_digests ? input_digests[i] : NULL;
    if (gi->src && !d)
      complete = FALSE;
    key_field (enc, "input", gi->name, gi->src ? (d ? d : "?") : "-");
  }
  if (complete)
    k->key = g_compute_checksum_for_string (G_CHECKSUM_SHA256, enc->str, (gssize) enc->len);
  g_string_free (enc, TRUE);
  return g_steal_pointer (&k);
}

const char *
mt_key_info_display (MtKeyInfo *k, const char *name)
{
  g_return_val_if_fail (k != NULL && name != NULL, NULL);
  if (!k->display) {
    k->display = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
    GHashTableIter it;
    gpointer key, v;
    g_hash_table_iter_init (&it, k->values);
    while (g_hash_table_iter_next (&it, &key, &v))
      g_hash_table_insert (k->display, key, mt_property_to_display (v));
  }
  return g_hash_table_lookup (k->display, name);
}

JsonNode *
mt_key_info_props_json (MtKeyInfo *k)
{
  g_return_val_if_fail (k != NULL, NULL);
  if (!k->props_json) {
    JsonObject *pj = json_object_new ();
    for (guint i = 0; i < k->names->len; i++)
      json_object_set_member (pj, k->names->pdata[i],
                              mt_property_to_json (g_hash_table_lookup (k->values, k->names->pdata[i])));
    k->props_json = json_node_init_object (json_node_alloc (), pj);
    json_object_unref (pj);
  }
  return k->props_json;
}
