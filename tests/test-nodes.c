/* The generic node test (after GStreamer's tests/check/generic/): every registered node
 * type, built in or from the example plugins, has a version, a one-line description,
 * declared ports with names, kinds and blurbs, properties with a blurb and a default
 * inside their range that a fresh instance actually holds, and `mtrun inspect TYPE`
 * describes it. */
#include "tests/mt-test-util.h"

#include <stdio.h>
#include <string.h>

static MtRegistry *
registry (void)
{
  MtRegistry *reg = mt_registry_get_default ();
  const char *dir = g_getenv ("MT_EXAMPLE_PLUGIN_DIR");
  ck_assert_msg (dir != NULL, "MT_EXAMPLE_PLUGIN_DIR is not set (run through make check)");
  mt_registry_load_path (reg, dir);
  ck_assert_msg (mt_registry_lookup (reg, "threshold_mask") && mt_registry_lookup (reg, "random_mask"),
                 "the example plugins did not load from %s", dir);
  return reg;
}

static gboolean
is_identifier (const char *s)
{
  if (!s || !(g_ascii_isalpha (*s) || *s == '_'))
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isalnum (*s) && *s != '_')
      return FALSE;
  return TRUE;
}

static void
check_ports (const char *type, GPtrArray *ports, const char *what)
{
  for (guint i = 0; i < ports->len; i++) {
    MtPortSpec *p = ports->pdata[i];
    ck_assert_msg (is_identifier (p->name), "%s: %s port '%s' is not a name", type, what, p->name);
    ck_assert_msg (mt_kind_name (p->kind) != NULL, "%s: %s port '%s' has no kind", type, what, p->name);
    ck_assert_msg (p->blurb && *p->blurb && !strchr (p->blurb, '\n'), "%s: %s port '%s' needs a one-line blurb",
                   type, what, p->name);
    for (guint k = 0; k < i; k++)
      ck_assert_msg (g_strcmp0 (((MtPortSpec *) ports->pdata[k])->name, p->name) != 0, "%s: two %s ports '%s'",
                     type, what, p->name);
  }
}

START_TEST (every_node_type)
{
  MtRegistry *reg = registry ();
  g_autofree const char **names = mt_registry_list (reg);
  guint checked = 0;
  for (guint i = 0; names[i]; i++) {
    const char *type = names[i];
    GType gtype = mt_registry_lookup (reg, type);
    MtNodeClass *klass = g_type_class_ref (gtype);
    const char *version = mt_node_class_get_version (klass);
    const char *desc = mt_node_class_get_description (klass);
    ck_assert_msg (version && *version, "%s: no version", type);
    ck_assert_msg (desc && *desc && !strchr (desc, '\n'), "%s: the description must be one line", type);
    ck_assert_msg (mt_node_class_get_outputs (klass)->len > 0, "%s: no outputs", type);
    check_ports (type, mt_node_class_get_inputs (klass), "input");
    check_ports (type, mt_node_class_get_outputs (klass), "output");

    /* Properties: a blurb, a default inside the range, and _init agreeing with it. */
    g_autoptr (MtNode) node = g_object_new (gtype, NULL);
    guint n = 0;
    g_autofree GParamSpec **ps = mt_node_class_list_params (klass, &n);
    for (guint k = 0; k < n; k++) {
      GParamSpec *p = ps[k];
      const char *blurb = g_param_spec_get_blurb (p);
      ck_assert_msg (blurb && *blurb && g_strcmp0 (blurb, p->name) != 0, "%s.%s: no blurb", type, p->name);
      GValue def = G_VALUE_INIT, probe = G_VALUE_INIT, now = G_VALUE_INIT;
      g_value_init (&def, G_PARAM_SPEC_VALUE_TYPE (p));
      g_param_value_set_default (p, &def);
      g_value_init (&probe, G_PARAM_SPEC_VALUE_TYPE (p));
      g_value_copy (&def, &probe);
      ck_assert_msg (!g_param_value_validate (p, &probe), "%s.%s: the default is outside its range", type, p->name);
      g_value_init (&now, G_PARAM_SPEC_VALUE_TYPE (p));
      g_object_get_property (G_OBJECT (node), p->name, &now);
      g_autofree char *a = mt_property_canonical (&def);
      g_autofree char *b = mt_property_canonical (&now);
      ck_assert_msg (g_strcmp0 (a, b) == 0, "%s.%s: a new node holds %s, the GParamSpec's default is %s", type,
                     p->name, b, a);
      g_value_unset (&def);
      g_value_unset (&probe);
      g_value_unset (&now);
    }
    g_type_class_unref (klass);

    /* mtrun describes it. */
    g_autofree char *out = NULL, *err = NULL;
    const char *plugins = g_getenv ("MT_EXAMPLE_PLUGIN_DIR");
    int status = mt_test_mtrun (NULL, NULL, &out, &err, "inspect", "--plugin-path", plugins, type, NULL);
    ck_assert_msg (status == 0, "mtrun inspect %s: exit %d: %s", type, status, err);
    ck_assert_msg (strstr (out, type) && strstr (out, desc), "mtrun inspect %s does not describe it:\n%s", type, out);
    checked++;
  }
  ck_assert_uint_ge (checked, 11);  /* nine built-in nodes and the two example plugins */
  printf ("%u node types checked\n", checked);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("nodes");
  TCase *tc = tcase_create ("generic");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, every_node_type);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}
