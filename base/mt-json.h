/* Typed reads of untrusted JSON (manifests, .safetensors headers): a member or element
 * of the wrong type reads as missing, where json-glib's own getters would warn. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Nesting deeper than this is refused before json-glib sees it: its recursive parser
 * would run out of stack on a file of 100,000 '['. Masktune's own files nest < 10 deep. */
#define MT_JSON_MAX_DEPTH 128

/* Parses untrusted JSON: refuses more than @max_bytes and nesting deeper than
 * MT_JSON_MAX_DEPTH, then hands it to json-glib. @what names it in errors. */
JsonNode   *mt_json_parse  (const char *data, gsize len, gsize max_bytes, const char *what, GError **error);

JsonObject *mt_json_object (JsonObject *o, const char *name);
JsonArray  *mt_json_array  (JsonObject *o, const char *name);
const char *mt_json_string (JsonObject *o, const char *name, const char *def);
/* A number (integer or not) in *out; FALSE when absent or not a number. */
gboolean    mt_json_number (JsonObject *o, const char *name, double *out);
/* A boolean member: TRUE only when present, a boolean, and true. */
gboolean    mt_json_true   (JsonObject *o, const char *name);
/* Element @i of @a as a string; NULL when it is not one. */
const char *mt_json_array_string (JsonArray *a, guint i);
/* Element @i of @a as an integer; FALSE when it is not one. */
gboolean    mt_json_array_int (JsonArray *a, guint i, gint64 *out);

G_END_DECLS
