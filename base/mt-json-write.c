#include "base/mt-json-write.h"

#include <math.h>
#include <string.h>

#include "base/mt-fileutil.h"
#include "base/mt-number.h"

static void
write_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
    switch (*p) {
    case '"':  g_string_append (out, "\\\""); break;
    case '\\': g_string_append (out, "\\\\"); break;
    case '\n': g_string_append (out, "\\n"); break;
    case '\r': g_string_append (out, "\\r"); break;
    case '\t': g_string_append (out, "\\t"); break;
    case '\b': g_string_append (out, "\\b"); break;
    case '\f': g_string_append (out, "\\f"); break;
    default:
      if (*p < 0x20)
        g_string_append_printf (out, "\\u%04x", *p);
      else
        g_string_append_c (out, (char) *p);
    }
  }
  g_string_append_c (out, '"');
}

static void
write_double (GString *out, double d)
{
  if (!isfinite (d)) {      /* JSON has no NaN or infinity */
    g_string_append (out, "null");
    return;
  }
  g_autofree char *s = mt_number_format (d);
  g_string_append (out, s);
  /* "2.0", not "2": a reader keeps it a floating-point number, as json-glib does. */
  if (!strpbrk (s, ".eE"))
    g_string_append (out, ".0");
}

static void
newline (GString *out, gboolean pretty, int depth)
{
  if (!pretty)
    return;
  g_string_append_c (out, '\n');
  for (int i = 0; i < depth; i++)
    g_string_append (out, "  ");
}

static void write_node (GString *out, JsonNode *node, gboolean pretty, int depth);

static void
write_object (GString *out, JsonObject *o, gboolean pretty, int depth)
{
  g_autoptr (GList) members = json_object_get_members (o);  /* insertion order */
  if (!members) {
    g_string_append (out, "{}");
    return;
  }
  g_string_append_c (out, '{');
  for (GList *l = members; l; l = l->next) {
    newline (out, pretty, depth + 1);
    write_string (out, l->data);
    g_string_append (out, pretty ? ": " : ":");
    write_node (out, json_object_get_member (o, l->data), pretty, depth + 1);
    if (l->next)
      g_string_append_c (out, ',');
  }
  newline (out, pretty, depth);
  g_string_append_c (out, '}');
}

static void
write_array (GString *out, JsonArray *a, gboolean pretty, int depth)
{
  guint n = json_array_get_length (a);
  if (n == 0) {
    g_string_append (out, "[]");
    return;
  }
  g_string_append_c (out, '[');
  for (guint i = 0; i < n; i++) {
    newline (out, pretty, depth + 1);
    write_node (out, json_array_get_element (a, i), pretty, depth + 1);
    if (i + 1 < n)
      g_string_append_c (out, ',');
  }
  newline (out, pretty, depth);
  g_string_append_c (out, ']');
}

static void
write_node (GString *out, JsonNode *node, gboolean pretty, int depth)
{
  switch (node ? json_node_get_node_type (node) : JSON_NODE_NULL) {
  case JSON_NODE_OBJECT:
    write_object (out, json_node_get_object (node), pretty, depth);
    return;
  case JSON_NODE_ARRAY:
    write_array (out, json_node_get_array (node), pretty, depth);
    return;
  case JSON_NODE_NULL:
    g_string_append (out, "null");
    return;
  case JSON_NODE_VALUE:
    break;
  }
  GType t = json_node_get_value_type (node);
  if (t == G_TYPE_INT64)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
  else if (t == G_TYPE_DOUBLE)
    write_double (out, json_node_get_double (node));
  else if (t == G_TYPE_BOOLEAN)
    g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
  else if (t == G_TYPE_STRING)
    write_string (out, json_node_get_string (node));
  else
    g_string_append (out, "null");
}

char *
mt_json_to_string (JsonNode *node, gboolean pretty)
{
  GString *out = g_string_new (NULL);
  write_node (out, node, pretty, 0);
  return g_string_free (out, FALSE);
}

gboolean
mt_json_write_file (JsonNode *node, const char *path, GError **error)
{
  g_autofree char *text = mt_json_to_string (node, TRUE);
  g_autofree char *data = g_strconcat (text, "\n", NULL);
  return mt_file_write_atomic (path, data, strlen (data), error);
}
