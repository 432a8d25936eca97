/* Sweeps: `param k in [1.0, 1.5]` makes every node that depends on k (through $k, or
 * through a node it reads from) exist once per value, named `node[k=1.5]`; several
 * swept params form their cartesian product, in the order they are declared. Inside a
 * list, `node[*]` stands for every instance of a swept node. The expansion rewrites the
 * syntax tree before the builder sees it, so shared upstream nodes stay single. */
#pragma once

#include "graph/mt-ast.h"
#include "graph/mt-diag.h"

G_BEGIN_DECLS

/* Expands @ast in place. @fixed: names of params that --set gives one value (no longer
 * swept). Errors go to @diag at the value or reference at fault. */
void mt_sweep_expand (MtAstFile *ast, GHashTable *fixed, MtDiag *diag);

G_END_DECLS
