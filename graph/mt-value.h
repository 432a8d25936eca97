/* Literal values of the .pipe language, converted to and checked against a property's
 * GParamSpec. */
#pragma once

#include <glib-object.h>

#include "graph/mt-ast.h"

G_BEGIN_DECLS

/* Converts @v to the type of @pspec into @out (initialised here). Values outside the
 * spec's range or enum are an error, never clamped. On failure returns FALSE and sets
 * *message to a sentence for a diagnostic. */
gboolean mt_value_from_ast (const MtAstValue *v, GParamSpec *pspec, GValue *out, char **message);

G_END_DECLS
