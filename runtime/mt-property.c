#include "runtime/mt-property.h"
#include "base/mt-json-write.h"
#include "base/mt-number.h"
#include "runtime/mt-node.h"

char *
mt_property_pipe_name (GParamSpec *pspec)
{
  char *n = g_strdup (pspec->name);
  g_strdelimit (n, "-", '_');
  return n;
}

const char *
mt_property_type_name (GParamSpec *pspec)
{
  GType t = G_PARAM_SPEC_VALUE_TYPE (pspec);
  switch (G_TYPE_FUNDAMENTAL (t)) {
  case G_TYPE_BOOLEAN: return "boolean";
  case G_TYPE_INT: case G_TYPE_UINT: case G_TYPE_LONG: case G_TYPE_ULONG:
  case G_TYPE_INT64: case G_TYPE_UINT64: return "integer";
  case G_TYPE_FLOAT: case G_TYPE_DOUBLE: return "number";
  case G_TYPE_STRING: return mt_param_spec_is_path (pspec) ? "path (relative to the pipeline file's folder)" : "string";
  case G_TYPE_ENUM: return "enum";
  case G_TYPE_VARIANT: {
    GParamSpecVariant *vs = G_PARAM_SPEC_VARIANT (pspec);
    if (g_variant_type_equal (vs->type, G_VARIANT_TYPE ("ax")) || g_variant_type_equal (vs->type, G_VARIANT_TYPE ("ai")))
      return "list of integers";
    if (g_variant_type_equal (vs->type, G_VARIANT_TYPE ("ad")))
      return "list of numbers";
    if (g_variant_type_equal (vs->type, G_VARIANT_TYPE ("as")))
      return "list of strings";
    return "variant";
  }
  default:
    if (t == G_TYPE_STRV)
      return "list of strings";
    return g_type_name (t);
  }
}

static char *
property_format_double (double d)
{
  if (d == G_MAXDOUBLE || d == G_MAXFLOAT)
    return g_strdup ("inf");
  if (d == -G_MAXDOUBLE || d == -G_MAXFLOAT)
    return g_strdup ("-inf");
  return mt_number_format (d);
}

char *
mt_property_describe_range (GParamSpec *pspec)
{
#define INT_RANGE(T, FMT) do { T *s = (T *) pspec; \
    return g_strdup_printf ("%" FMT " .. %" FMT, s->minimum, s->maximum); } while (0)
  if (G_IS_PARAM_SPEC_INT (pspec)) INT_RANGE (GParamSpecInt, "d");
  if (G_IS_PARAM_SPEC_UINT (pspec)) INT_RANGE (GParamSpecUInt, "u");
  if (G_IS_PARAM_SPEC_INT64 (pspec)) INT_RANGE (GParamSpecInt64, G_GINT64_FORMAT);
  if (G_IS_PARAM_SPEC_UINT64 (pspec)) INT_RANGE (GParamSpecUInt64, G_GUINT64_FORMAT);
  if (G_IS_PARAM_SPEC_LONG (pspec)) INT_RANGE (GParamSpecLong, "ld");
  if (G_IS_PARAM_SPEC_ULONG (pspec)) INT_RANGE (GParamSpecULong, "lu");
#undef INT_RANGE
  if (G_IS_PARAM_SPEC_DOUBLE (pspec) || G_IS_PARAM_SPEC_FLOAT (pspec)) {
    double lo, hi;
    if (G_IS_PARAM_SPEC_DOUBLE (pspec)) {
      lo = G_PARAM_SPEC_DOUBLE (pspec)->minimum;
      hi = G_PARAM_SPEC_DOUBLE (pspec)->maximum;
    } else {
      lo = G_PARAM_SPEC_FLOAT (pspec)->minimum;
      hi = G_PARAM_SPEC_FLOAT (pspec)->maximum;
    }
    g_autofree char *a = property_format_double (lo);
    g_autofree char *b = property_format_double (hi);
    return g_strdup_printf ("%s .. %s", a, b);
  }
  if (G_IS_PARAM_SPEC_ENUM (pspec)) {
    GEnumClass *ec = G_PARAM_SPEC_ENUM (pspec)->enum_class;
    GString *s = g_string_new ("one of: ");
    for (guint i = 0; i < ec->n_values; i++)
      g_string_append_printf (s, "%s%s", i ? ", " : "", ec->values[i].value_nick);
    return g_string_free (s, FALSE);
  }
  return NULL;
}

char *
mt_property_canonical (const GValue *value)
{
  GType t = G_VALUE_TYPE (value);
  switch (G_TYPE_FUNDAMENTAL (t)) {
  case G_TYPE_BOOLEAN: return g_strdup (g_value_get_boolean (value) ? "b:true" : "b:false");
  case G_TYPE_INT: return g_strdup_printf ("i:%d", g_value_get_int (value));
  case G_TYPE_UINT: return g_strdup_printf ("i:%u", g_value_get_uint (value));
  case G_TYPE_LONG: return g_strdup_printf ("i:%ld", g_value_get_long (value));
  case G_TYPE_ULONG: return g_strdup_printf ("i:%lu", g_value_get_ulong (value));
  case G_TYPE_INT64: return g_strdup_printf ("i:%" G_GINT64_FORMAT, g_value_get_int64 (value));
  case G_TYPE_UINT64: return g_strdup_printf ("i:%" G_GUINT64_FORMAT, g_value_get_uint64 (value));
  /* %a is exact: no two doubles share a text, and no double has two. */
  case G_TYPE_FLOAT: return g_strdup_printf ("f:%a", (double) g_value_get_float (value));
  case G_TYPE_DOUBLE: return g_strdup_printf ("f:%a", g_value_get_double (value));
  case G_TYPE_STRING: {
    const char *s = g_value_get_string (value);
    if (!s)
      return g_strdup ("null");
    g_autofree char *e = g_strescape (s, NULL);
    return g_strdup_printf ("s:\"%s\"", e);
  }
  case G_TYPE_ENUM: {
    GEnumClass *ec = g_type_class_ref (t);
    GEnumValue *ev = g_enum_get_value (ec, g_value_get_enum (value));
    char *r = g_strdup_printf ("e:%s", ev ? ev->value_nick : "?");
    g_type_class_unref (ec);
    return r;
  }
  case G_TYPE_VARIANT: {
    GVariant *v = g_value_get_variant (value);
    if (!v)
      return g_strdup ("null");
    g_autofree char *p = g_variant_print (v, TRUE);
    return g_strdup_printf ("v:%s", p);
  }
  default:
    if (t == G_TYPE_STRV) {
      GStrv sv = g_value_get_boxed (value);
      GString *s = g_string_new ("l:[");
      for (guint i = 0; sv && sv[i]; i++) {
        g_autofree char *e = g_strescape (sv[i], NULL);
        g_string_append_printf (s, "%s\"%s\"", i ? "," : "", e);
      }
      g_string_append_c (s, ']');
      return g_string_free (s, FALSE);
    }
    return g_strdup_printf ("?:%s", g_type_name (t));
  }
}

JsonNode *
mt_property_to_json (const GValue *value)
{
  GType t = G_VALUE_TYPE (value);
  JsonNode *n = json_node_new (JSON_NODE_VALUE);
  switch (G_TYPE_FUNDAMENTAL (t)) {
  case G_TYPE_BOOLEAN: json_node_set_boolean (n, g_value_get_boolean (value)); break;
  case G_TYPE_INT: json_node_set_int (n, g_value_get_int (value)); break;
  case G_TYPE_UINT: json_node_set_int (n, g_value_get_uint (value)); break;
  case G_TYPE_LONG: json_node_set_int (n, g_value_get_long (value)); break;
  case G_TYPE_ULONG: json_node_set_int (n, (gint64) g_value_get_ulong (value)); break;
  case G_TYPE_INT64: json_node_set_int (n, g_value_get_int64 (value)); break;
  case G_TYPE_UINT64: json_node_set_int (n, (gint64) g_value_get_uint64 (value)); break;
  case G_TYPE_FLOAT: json_node_set_double (n, g_value_get_float (value)); break;
  case G_TYPE_DOUBLE: json_node_set_double (n, g_value_get_double (value)); break;
  case G_TYPE_STRING:
    if (g_value_get_string (value))
      json_node_set_string (n, g_value_get_string (value));
    else
      json_node_init_null (n);
    break;
  case G_TYPE_ENUM: {
    GEnumClass *ec = g_type_class_ref (t);
    GEnumValue *ev = g_enum_get_value (ec, g_value_get_enum (value));
    json_node_set_string (n, ev ? ev->value_nick : "?");
    g_type_class_unref (ec);
    break;
  }
  case G_TYPE_VARIANT: {
    GVariant *v = g_value_get_variant (value);
    json_node_unref (n);
    return v ? json_gvariant_serialize (v) : json_node_new (JSON_NODE_NULL);
  }
  default:
    if (t == G_TYPE_STRV) {
      GStrv sv = g_value_get_boxed (value);
      JsonArray *a = json_array_new ();
      for (guint i = 0; sv && sv[i]; i++)
        json_array_add_string_element (a, sv[i]);
      json_node_init_array (n, a);
      json_array_unref (a);
    } else {
      json_node_init_null (n);
    }
  }
  return n;
}

char *
mt_property_to_display (const GValue *value)
{
  GType t = G_VALUE_TYPE (value);
  switch (G_TYPE_FUNDAMENTAL (t)) {
  case G_TYPE_FLOAT: case G_TYPE_DOUBLE: {
    double d = G_TYPE_FUNDAMENTAL (t) == G_TYPE_FLOAT ? g_value_get_float (value) : g_value_get_double (value);
    return property_format_double (d);
  }
  case G_TYPE_STRING: {
    const char *s = g_value_get_string (value);
    if (!s)
      return g_strdup ("(none)");
    g_autofree char *e = g_strescape (s, NULL);
    return g_strdup_printf ("\"%s\"", e);
  }
  case G_TYPE_ENUM: {
    g_autofree char *c = mt_property_canonical (value);
    return g_strdup_printf ("\"%s\"", c + 2);
  }
  case G_TYPE_VARIANT: {
    GVariant *v = g_value_get_variant (value);
    return v ? g_variant_print (v, FALSE) : g_strdup ("[]");
  }
  default: {
    g_autoptr (JsonNode) n = mt_property_to_json (value);
    return mt_json_to_string (n, FALSE);
  }
  }
}
