/* Literal values of the .pipe language, converted to and checked against a property's
 * GParamSpec; and the canonical text of property values that enters cache keys. */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "mt-ast.h"

G_BEGIN_DECLS

/* Converts @v to the type of @pspec into @out (initialised here). Values outside the
 * spec's range or enum are an error, never clamped. On failure returns FALSE and sets
 * *message to a sentence for a diagnostic. */
gboolean  mt_value_from_ast     (const MtAstValue *v, GParamSpec *pspec, GValue *out, char **message);

/* A stable, unambiguous text for a property value ("0.01" prints as 0.01000000000000000021). */
char     *mt_value_canonical    (const GValue *value);
/* The value as JSON, for manifests and --json output. */
JsonNode *mt_value_to_json      (const GValue *value);
/* The value as a person would write it in a .pipe file. */
char     *mt_value_to_display   (const GValue *value);
/* "integer in [0, 100]", "one of: a, b, c" — the domain of a spec for messages and inspect. */
char     *mt_pspec_describe_range (GParamSpec *pspec);
const char *mt_pspec_type_name  (GParamSpec *pspec);
/* The shortest text that reads back as exactly @d ("0.005", not "0.0050000000000000001"). */
char     *mt_format_double      (double d);
/* The property's name with '-' shown as '_', as .pipe files write it. */
char     *mt_pspec_pipe_name    (GParamSpec *pspec);

G_END_DECLS
