/* JSON as masktune writes it: numbers in their shortest round-trip form ("0.8", where
 * json-glib's generator writes "0.80000000000000004"), members in insertion order. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* @node as JSON text; @pretty indents by two spaces, one member or element per line. */
char     *mt_json_to_string (JsonNode *node, gboolean pretty);
/* Writes mt_json_to_string (@node, TRUE) and a newline to @path, atomically. */
gboolean  mt_json_write_file (JsonNode *node, const char *path, GError **error);

G_END_DECLS
