#include "base/mt-json.h"
#include "base/mt-error.h"

JsonObject *
mt_json_object (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

JsonArray *
mt_json_array (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
}

const char *
mt_json_string (JsonObject *o, const char *name, const char *def)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING ? json_node_get_string (n) : def;
}

static gboolean
node_number (JsonNode *n, double *out)
{
  if (!n || !JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  GType t = json_node_get_value_type (n);
  if (t != G_TYPE_DOUBLE && t != G_TYPE_INT64)
    return FALSE;
  *out = t == G_TYPE_INT64 ? (double) json_node_get_int (n) : json_node_get_double (n);
  return TRUE;
}

gboolean
mt_json_number (JsonObject *o, const char *name, double *out)
{
  return node_number (o ? json_object_get_member (o, name) : NULL, out);
}

gboolean
mt_json_true (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN && json_node_get_boolean (n);
}

const char *
mt_json_array_string (JsonArray *a, guint i)
{
  JsonNode *n = i < json_array_get_length (a) ? json_array_get_element (a, i) : NULL;
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING ? json_node_get_string (n) : NULL;
}

gboolean
mt_json_array_int (JsonArray *a, guint i, gint64 *out)
{
  JsonNode *n = i < json_array_get_length (a) ? json_array_get_element (a, i) : NULL;
  if (!n || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (n);
  return TRUE;
}

/* The deepest nesting of [ and { outside strings, up to the first byte past the limit. */
static guint
json_depth (const char *data, gsize len, guint limit)
{
  guint depth = 0, deepest = 0;
  gboolean in_string = FALSE;
  for (gsize i = 0; i < len; i++) {
    char c = data[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = FALSE;
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '[' || c == '{') {
      depth++;
      deepest = MAX (deepest, depth);
      if (deepest > limit)
        return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return deepest;
}

JsonNode *
mt_json_parse (const char *data, gsize len, gsize max_bytes, const char *what, GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  if (len > max_bytes) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: %" G_GSIZE_FORMAT " bytes of JSON, more than the %"
                 G_GSIZE_FORMAT " allowed", what, len, max_bytes);
    return NULL;
  }
  if (json_depth (data, len, MT_JSON_MAX_DEPTH) > MT_JSON_MAX_DEPTH) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: JSON nested deeper than %d levels", what, MT_JSON_MAX_DEPTH);
    return NULL;
  }
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) jerr = NULL;
  if (!json_parser_load_from_data (parser, data, (gssize) len, &jerr)) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: %s", what, jerr->message);
    return NULL;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (!root) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: empty JSON", what);
    return NULL;
  }
  return json_node_copy (root);
}
