/* The evaluator's report: a JSON document (schema "masktune-report-v1") that holds every
 * figure, and the views made from it: Markdown tables, the headline table mtrun prints,
 * and charts. Building the views from the JSON keeps them consistent with it.
 *
 *   { "schema", "models": [name], "datasets": [{name, n, groups}],
 *     "results": [{model, dataset, n, accuracy, loss, class_accuracy, class_count,
 *                  group_accuracy, group_count, worst_group_accuracy, worst_group,
 *                  confusion}],
 *     "selective": { "coverages": [percent], "curves": [{label, dataset, confidence,
 *                    models, validation: {source, n}, points: [{expected_coverage,
 *                    threshold, coverage, accuracy, covered}]}] },
 *     "provenance": {...} }
 * Accuracies and coverages are fractions; null where undefined (an empty group). */
#pragma once

#include <json-glib/json-glib.h>
#include "base/mt-tensor.h"

G_BEGIN_DECLS

#define MT_REPORT_SCHEMA "masktune-report-v1"

/* Checks the members and types above; a clear error names what is wrong. */
gboolean  mt_report_validate      (JsonObject *report, GError **error);
/* Every table of the report, as a Markdown document. */
char     *mt_report_to_markdown   (JsonObject *report, const char *title);
/* One table: a row per model, accuracy and worst-group accuracy per test set. */
char     *mt_report_headline      (JsonObject *report);
/* Grouped bars: accuracy of each model (colour) on each test set (cluster). */
MtTensor *mt_report_plot_accuracy (JsonObject *report);
/* Accuracy against coverage for every selective-classification curve. */
MtTensor *mt_report_plot_coverage (JsonObject *report);
/* The palette colour of each selective-classification curve's label (label -> index, the
 * labels owned by @report): a model has its place among the report's models, as in the
 * accuracy chart, so it is one colour in both; a pair of models takes the next free one.
 * *truncated: some labels did not fit the palette. */
GHashTable *mt_report_curve_colours (JsonObject *report, gboolean *truncated);

G_END_DECLS
