/* mtrun report: a static HTML page of a pipeline's latest run (tools/mtrun-report.c),
 * with its DAG drawn as SVG (tools/mtrun-report-dag.c). */
#pragma once

#include "tools/mtrun.h"

G_BEGIN_DECLS

/* @states[i]: "cached", "run", "error" or "never" for g->nodes[i]. */
gboolean mtrun_report_draw_dag (MtDag *g, const char *const *states, const char *path, GError **error);

G_END_DECLS
