/* Node properties as the runtime records them: the canonical text that enters cache keys,
 * JSON for manifests, the text a .pipe file would write, and descriptions of a
 * GParamSpec's type and range for messages and `mtrun inspect`. */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* A stable, unambiguous text for a property value (doubles in %a: exact). */
char       *mt_property_canonical      (const GValue *value);
/* The value as JSON, for manifests and --json output. */
JsonNode   *mt_property_to_json        (const GValue *value);
/* The value as a person would write it in a .pipe file. */
char       *mt_property_to_display     (const GValue *value);
/* "0 .. 100", "one of: a, b, c" — the domain of a spec for messages and inspect. */
char       *mt_property_describe_range (GParamSpec *pspec);
/* "integer", "number", "list of strings", … */
const char *mt_property_type_name      (GParamSpec *pspec);
/* The property's name with '-' shown as '_', as .pipe files write it. */
char       *mt_property_pipe_name      (GParamSpec *pspec);

G_END_DECLS
