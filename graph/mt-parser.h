/* The .pipe parser: text to syntax tree, with every syntax error reported to a MtDiag. */
#pragma once

#include "graph/mt-ast.h"
#include "graph/mt-diag.h"

G_BEGIN_DECLS

/* Always returns a tree (possibly partial); check mt_diag_count() for errors. */
MtAstFile  *mt_parse (const char *filename, const char *src, MtDiag *diag);

/* Parses one literal as written after --set NAME=: a number, boolean, quoted string or
 * list; anything else is taken as a bare string. */
MtAstValue *mt_parse_cli_value (const char *text, GError **error);

G_END_DECLS
