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
  g_hash_table_unref (k->display);
  if (k->props_json)
    json_node_unref (k->props_json);
  g_free (k);
}

MtKeyInfo *
mt_key_compute (MtDagNode *gn, const char *const *input_digests, GError **error)
{
  MtNodeClass *klass = MT_NODE_GET_CLASS (gn->node);
  g_autoptr (MtKeyInfo) k = g_new0 (MtKeyInfo, 1);
  k->props = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  k->display = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (JsonObject) pj = json_object_new ();

  g_autoptr (GError) ferr = NULL;
  k->fingerprint = mt_node_fingerprint (gn->node, &ferr);
  if (ferr) {
    g_set_error (error, ferr->domain, ferr->code, "node '%s': %s", gn->name, ferr->message);
    return NULL;
  }

  /* One line per field, fields in a fixed order, names sorted: the same settings always
   * give the same bytes. Values are escaped, so no value can forge a line break. */
  GString *enc = g_string_new (MT_KEY_ENCODING "\n");
  g_string_append_printf (enc, "type\t%s\n", gn->type_name);
  g_string_append_printf (enc, "class_version\t%s\n", mt_node_class_get_version (klass));
  guint n = 0;
  g_autofree GParamSpec **ps = mt_node_class_list_params (klass, &n);
  for (guint i = 0; i < n; i++) {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, G_PARAM_SPEC_VALUE_TYPE (ps[i]));
    g_object_get_property (G_OBJECT (gn->node), ps[i]->name, &v);
    char *canon = mt_property_canonical (&v);
    char *name = mt_property_pipe_name (ps[i]);
    g_string_append_printf (enc, "property\t%s\t%s\n", name, canon);
    g_hash_table_insert (k->display, g_strdup (name), mt_property_to_display (&v));
    json_object_set_member (pj, name, mt_property_to_json (&v));
    g_hash_table_insert (k->props, name, canon);
    g_value_unset (&v);
  }
  if (k->fingerprint) {
    g_autofree char *fp = g_strescape (k->fingerprint, NULL);
    g_string_append_printf (enc, "fingerprint\t%s\n", fp);
  }
  gboolean complete = TRUE;
  for (guint i = 0; i < gn->inputs->len; i++) {
    MtDagInput *gi = &g_array_index (gn->inputs, MtDagInput, i);
    const char *d = input_digests ? input_digests[i] : NULL;
    if (gi->src && !d)
      complete = FALSE;
    g_string_append_printf (enc, "input\t%s\t%s\n", gi->name, gi->src ? (d ? d : "?") : "-");
  }
  if (complete)
    k->key = g_compute_checksum_for_string (G_CHECKSUM_SHA256, enc->str, (gssize) enc->len);
  g_string_free (enc, TRUE);
  k->props_json = json_node_init_object (json_node_alloc (), pj);
  return g_steal_pointer (&k);
}
