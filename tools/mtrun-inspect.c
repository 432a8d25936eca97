/* mtrun inspect [TYPE]: the node types there are, and what each takes. */
#include "tools/mtrun.h"

#include <stdio.h>

static void
print_ports (const char *title, GPtrArray *ports, gboolean inputs)
{
  printf ("\n%s:\n", title);
  if (ports->len == 0)
    printf ("  (none)\n");
  for (guint i = 0; i < ports->len; i++) {
    MtPortSpec *p = ports->pdata[i];
    g_autofree char *kind = p->list ? g_strdup_printf ("[%s]", mt_kind_name (p->kind))
                                    : g_strdup (mt_kind_name (p->kind));
    printf ("  %-16s %-9s %s%s%s\n", p->name, kind, p->blurb,
            p->list ? " (a list: [a, b, ...])" : "", inputs && !p->required ? " (optional)" : "");
  }
}

static JsonNode *
ports_json (GPtrArray *ports, gboolean inputs)
{
  JsonArray *a = json_array_new ();
  for (guint i = 0; i < ports->len; i++) {
    MtPortSpec *p = ports->pdata[i];
    JsonObject *o = json_object_new ();
    json_object_set_string_member (o, "name", p->name);
    json_object_set_string_member (o, "kind", mt_kind_name (p->kind));
    if (inputs) {
      json_object_set_boolean_member (o, "list", p->list);
      json_object_set_boolean_member (o, "required", p->required);
    }
    json_object_set_string_member (o, "blurb", p->blurb ? p->blurb : "");
    json_array_add_object_element (a, o);
  }
  return json_node_init_array (json_node_alloc (), a);
}

/* A node type as JSON: what `inspect TYPE` prints, for programs. */
static JsonNode *
type_json (MtRegistry *reg, const char *name)
{
  GType type = mt_registry_lookup (reg, name);
  MtNodeClass *klass = g_type_class_ref (type);
  JsonObject *o = json_object_new ();
  json_object_set_string_member (o, "name", name);
  json_object_set_string_member (o, "description", mt_node_class_get_description (klass));
  json_object_set_string_member (o, "class", g_type_name (type));
  json_object_set_string_member (o, "version", mt_node_class_get_version (klass));
  json_object_set_string_member (o, "origin", mt_registry_get_origin (reg, name));
  json_object_set_boolean_member (o, "uses_backend", mt_node_class_get_uses_backend (klass));
  json_object_set_member (o, "inputs", ports_json (mt_node_class_get_inputs (klass), TRUE));
  json_object_set_member (o, "outputs", ports_json (mt_node_class_get_outputs (klass), FALSE));
  JsonArray *props = json_array_new ();
  guint n = 0;
  g_autofree GParamSpec **ps = mt_node_class_list_params (klass, &n);
  for (guint i = 0; i < n; i++) {
    JsonObject *po = json_object_new ();
    g_autofree char *pn = mt_property_pipe_name (ps[i]);
    g_autofree char *range = mt_property_describe_range (ps[i]);
    json_object_set_string_member (po, "name", pn);
    json_object_set_string_member (po, "type", mt_property_type_name (ps[i]));
    json_object_set_member (po, "default", mt_property_to_json (g_param_spec_get_default_value (ps[i])));
    if (range)
      json_object_set_string_member (po, "range", range);
    json_object_set_string_member (po, "blurb", g_param_spec_get_blurb (ps[i]));
    json_array_add_object_element (props, po);
  }
  json_object_set_array_member (o, "properties", props);
  g_type_class_unref (klass);
  return json_node_init_object (json_node_alloc (), o);
}

static int
describe (MtRegistry *reg, const char *name)
{
  GType type = mt_registry_lookup (reg, name);
  if (!type) {
    g_autofree const char **names = mt_registry_list (reg);
    g_autofree char *hint = mt_suggest_hint (name, names);
    return mtrun_fail (MTRUN_EXIT_FAILURE, "unknown node type '%s'%s", name, hint);
  }
  if (mtrun_global.json) {
    g_autoptr (JsonNode) j = type_json (reg, name);
    mtrun_print_json (j);
    return 0;
  }
  MtNodeClass *klass = g_type_class_ref (type);
  printf ("%s — %s\n\n", name, mt_node_class_get_description (klass));
  printf ("  class:    %s\n", g_type_name (type));
  printf ("  version:  %s (enters the cache key)\n", mt_node_class_get_version (klass));
  printf ("  origin:   %s\n", mt_registry_get_origin (reg, name));
  printf ("  compute:  %s\n", mt_node_class_get_uses_backend (klass)
                                 ? "the compute backend (its manifests record the device, threads and libraries)"
                                 : "plain code (the same bytes on every machine)");
  print_ports ("Inputs", mt_node_class_get_inputs (klass), TRUE);
  print_ports ("Outputs", mt_node_class_get_outputs (klass), FALSE);
  printf ("\nProperties:\n");
  guint n = 0;
  g_autofree GParamSpec **ps = mt_node_class_list_params (klass, &n);
  if (n == 0)
    printf ("  (none)\n");
  for (guint i = 0; i < n; i++) {
    g_autofree char *pn = mt_property_pipe_name (ps[i]);
    g_autofree char *def = mt_property_to_display (g_param_spec_get_default_value (ps[i]));
    g_autofree char *range = mt_property_describe_range (ps[i]);
    printf ("  %-16s %s\n", pn, g_param_spec_get_blurb (ps[i]));
    printf ("  %-16s   %s, default %s%s%s\n", "", mt_property_type_name (ps[i]), def,
            range ? ", " : "", range ? range : "");
  }
  g_type_class_unref (klass);
  return 0;
}

int
mtrun_cmd_inspect (int argc, char **argv)
{
  g_autoptr (GOptionContext) oc = g_option_context_new ("[TYPE]");
  g_option_context_set_summary (oc, "Lists node types, or describes TYPE: ports, properties, defaults, ranges.");
  mtrun_add_common_options (oc);
  g_autoptr (GError) err = NULL;
  if (!mtrun_parse_options (oc, &argc, &argv, &err))
    return mtrun_fail (MTRUN_EXIT_USAGE, "%s", err->message);
  MtRegistry *reg = mtrun_registry ();
  if (argc == 2)
    return describe (reg, argv[1]);
  if (argc > 2)
    return mtrun_fail (MTRUN_EXIT_USAGE, "usage: mtrun inspect [TYPE]");

  g_autofree const char **names = mt_registry_list (reg);
  if (mtrun_global.json) {
    JsonObject *o = json_object_new ();
    JsonArray *types = json_array_new (), *kinds = json_array_new (), *loaded = json_array_new (),
              *rejected = json_array_new ();
    for (guint i = 0; names[i]; i++)
      json_array_add_element (types, type_json (reg, names[i]));
    for (MtKind k = MT_KIND_TENSOR; k <= MT_KIND_TEXT; k++) {
      JsonObject *ko = json_object_new ();
      json_object_set_string_member (ko, "name", mt_kind_name (k));
      json_object_set_string_member (ko, "extension", mt_kind_extension (k));
      json_object_set_string_member (ko, "description", mt_kind_description (k));
      json_array_add_object_element (kinds, ko);
    }
    GPtrArray *pl = mt_registry_get_plugins (reg);
    for (guint i = 0; i < pl->len; i++)
      json_array_add_string_element (loaded, pl->pdata[i]);
    GPtrArray *rj = mt_registry_get_rejected (reg);
    for (guint i = 0; i < rj->len; i++) {
      JsonObject *ro = json_object_new ();
      json_object_set_string_member (ro, "path", ((MtPluginRejection *) rj->pdata[i])->path);
      json_object_set_string_member (ro, "reason", ((MtPluginRejection *) rj->pdata[i])->reason);
      json_array_add_object_element (rejected, ro);
    }
    json_object_set_array_member (o, "node_types", types);
    json_object_set_array_member (o, "kinds", kinds);
    json_object_set_array_member (o, "plugins", loaded);
    json_object_set_array_member (o, "rejected", rejected);
    g_autoptr (JsonNode) root = json_node_init_object (json_node_alloc (), o);
    mtrun_print_json (root);
    return 0;
  }
  printf ("Node types:\n");
  for (guint i = 0; names[i]; i++) {
    GType type = mt_registry_lookup (reg, names[i]);
    MtNodeClass *klass = g_type_class_ref (type);
    const char *origin = mt_registry_get_origin (reg, names[i]);
    g_autofree char *base = g_strcmp0 (origin, "built-in") == 0 ? g_strdup (origin) : g_path_get_basename (origin);
    printf ("  %-16s %-52s [%s]\n", names[i], mt_node_class_get_description (klass), base);
    g_type_class_unref (klass);
  }
  printf ("\nKinds of value (how nodes pass them, and what each holds):\n");
  for (MtKind k = MT_KIND_TENSOR; k <= MT_KIND_TEXT; k++)
    printf ("  %-9s .%-12s %s\n", mt_kind_name (k), mt_kind_extension (k), mt_kind_description (k));
  GPtrArray *plugins = mt_registry_get_plugins (reg);
  printf ("\nPlugins loaded: %u\n", plugins->len);
  for (guint i = 0; i < plugins->len; i++)
    printf ("  %s\n", (char *) plugins->pdata[i]);
  GPtrArray *rejected = mt_registry_get_rejected (reg);
  if (rejected->len) {
    printf ("\nPlugins rejected: %u\n", rejected->len);
    for (guint i = 0; i < rejected->len; i++) {
      MtPluginRejection *r = rejected->pdata[i];
      printf ("  %s: %s\n", r->path, r->reason);
    }
  }
  return 0;
}
