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

static int
describe (MtRegistry *reg, const char *name)
{
  GType type = mt_registry_lookup (reg, name);
  if (!type) {
    g_autofree const char **names = mt_registry_list (reg);
    g_autofree char *hint = mt_suggest_hint (name, names);
    return mtrun_fail (MTRUN_EXIT_FAILURE, "unknown node type '%s'%s", name, hint);
  }
  MtNodeClass *klass = g_type_class_ref (type);
  printf ("%s — %s\n\n", name, mt_node_class_get_description (klass));
  printf ("  class:    %s\n", g_type_name (type));
  printf ("  version:  %s (enters the cache key)\n", mt_node_class_get_version (klass));
  printf ("  origin:   %s\n", mt_registry_get_origin (reg, name));
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
