/* The builder: turns a .pipe file into a checked runtime DAG (names, types, properties,
 * ports, kinds, required inputs and cycles), with node types from the registry. */
#pragma once

#include "runtime/mt-dag.h"
#include "runtime/mt-registry.h"

G_BEGIN_DECLS

/* @overrides: NULL-terminated "NAME=VALUE" (a param) or "NODE.PROPERTY=VALUE". */
MtDag *mt_graph_load_file   (const char *path, MtRegistry *reg,
                             const char *const *overrides, GError **error);
MtDag *mt_graph_load_string (const char *filename, const char *src, MtRegistry *reg,
                             const char *const *overrides, GError **error);
/* The name of the pipeline at @path run with @overrides (MtDag.variant): each variant
 * keeps its own refs, so a --set experiment leaves the file's results in place. */
char  *mt_graph_variant_name (const char *path, const char *const *overrides);

G_END_DECLS
