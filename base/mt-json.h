/* Typed reads of untrusted JSON (manifests, .safetensors headers): a member or element
 * of the wrong type reads as missing, where json-glib's own getters would warn. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

JsonObject *mt_json_object (JsonObject *o, const char *name);
JsonArray  *mt_json_array  (JsonObject *o, const char *name);
const char *mt_json_string (JsonObject *o, const char *name, const char *def);
/* A number (integer or not) in *out; FALSE when absent or not a number. */
gboolean    mt_json_number (JsonObject *o, const char *name, double *out);
/* Element @i of @a as an integer; FALSE when it is not one. */
gboolean    mt_json_array_int (JsonArray *a, guint i, gint64 *out);

G_END_DECLS
