/* Classification metrics on predictions: accuracy, per class, per group and worst group,
 * the confusion matrix and mean cross-entropy; and selective classification (the
 * confidence threshold for a coverage picked on a validation split, then applied to a
 * test split), as the MaskTune paper reports them. Pure functions: the evaluator node
 * and the tests share them. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gint64 n;
  int classes;
  int groups;             /* 0 when no groups were given */
  double accuracy;
  double loss;            /* mean cross-entropy of the logits */
  double *class_accuracy; /* [classes]; NaN for a class with no sample */
  gint64 *class_count;
  double *group_accuracy; /* [groups]; NaN for an empty group */
  gint64 *group_count;
  double worst_group_accuracy;  /* over non-empty groups */
  int worst_group;
  gint64 *confusion;      /* [classes x classes]: row = true class, column = predicted */
} MtMetrics;

/* @logits [n, classes]; @labels [n]; @groups [n] or NULL (values 0 .. n_groups-1). */
MtMetrics *mt_metrics_compute (const float *logits, const gint64 *labels, const gint64 *groups,
                               gint64 n, int classes, int n_groups);
void       mt_metrics_free    (MtMetrics *m);

/* The confidence of each sample: the largest softmax probability of @logits, or with
 * @logits2 (a second model, e.g. MaskTune's ERM and fine-tuned pair) the largest entry
 * of softmax(softmax(a) * softmax(b)), the official code's combination. Writes the
 * predicted class too (argmax of the same vector). */
void       mt_metrics_confidence (const float *logits, const float *logits2, gint64 n, int classes,
                                  double *confidence, int *prediction);

/* The threshold that covers a fraction @coverage of @conf (the ceil(coverage * n) most
 * confident samples; ties at the threshold are covered too). */
double     mt_metrics_threshold_for_coverage (const double *conf, gint64 n, double coverage);

/* Coverage (fraction with conf >= threshold) and accuracy on the covered samples
 * (NaN when none is covered). */
void       mt_metrics_selective (const double *conf, const int *prediction, const gint64 *labels,
                                 gint64 n, double threshold, double *coverage, double *accuracy);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtMetrics, mt_metrics_free)

G_END_DECLS
