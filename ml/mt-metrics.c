#include "ml/mt-metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int
argmax (const double *v, int k)
{
  int best = 0;
  for (int i = 1; i < k; i++)
    if (v[i] > v[best])
      best = i;
  return best;
}

MtMetrics *
mt_metrics_compute (const float *logits, const gint64 *labels, const gint64 *groups, gint64 n,
                    int classes, int n_groups)
{
  MtMetrics *m = g_new0 (MtMetrics, 1);
  m->n = n;
  m->classes = classes;
  m->groups = groups ? n_groups : 0;
  m->class_accuracy = g_new0 (double, classes);
  m->class_count = g_new0 (gint64, classes);
  m->group_accuracy = g_new0 (double, MAX (m->groups, 1));
  m->group_count = g_new0 (gint64, MAX (m->groups, 1));
  m->confusion = g_new0 (gint64, (gsize) classes * classes);
  g_autofree gint64 *class_right = g_new0 (gint64, classes);
  g_autofree gint64 *group_right = g_new0 (gint64, MAX (m->groups, 1));
  g_autofree double *z = g_new (double, classes);
  gint64 right = 0;
  double loss = 0;
  for (gint64 i = 0; i < n; i++) {
    double zmax = -INFINITY, sum = 0;
    for (int k = 0; k < classes; k++) {
      z[k] = logits[i * classes + k];
      zmax = MAX (zmax, z[k]);
    }
    for (int k = 0; k < classes; k++)
      sum += exp (z[k] - zmax);
    int pred = argmax (z, classes);
    gint64 y = labels[i];
    loss += log (sum) + zmax - z[y];
    gboolean ok = pred == y;
    right += ok;
    class_right[y] += ok;
    m->class_count[y]++;
    m->confusion[y * classes + pred]++;
    if (m->groups) {
      group_right[groups[i]] += ok;
      m->group_count[groups[i]]++;
    }
  }
  m->accuracy = n ? (double) right / n : NAN;
  m->loss = n ? loss / n : NAN;
  for (int k = 0; k < classes; k++)
    m->class_accuracy[k] = m->class_count[k] ? (double) class_right[k] / m->class_count[k] : NAN;
  m->worst_group = -1;
  m->worst_group_accuracy = NAN;
  for (int g = 0; g < m->groups; g++) {
    m->group_accuracy[g] = m->group_count[g] ? (double) group_right[g] / m->group_count[g] : NAN;
    if (m->group_count[g] && (m->worst_group < 0 || m->group_accuracy[g] < m->worst_group_accuracy)) {
      m->worst_group = g;
      m->worst_group_accuracy = m->group_accuracy[g];
    }
  }
  return m;
}

void
mt_metrics_free (MtMetrics *m)
{
  if (!m)
    return;
  g_free (m->class_accuracy);
  g_free (m->class_count);
  g_free (m->group_accuracy);
  g_free (m->group_count);
  g_free (m->confusion);
  g_free (m);
}

static void
softmax (const double *z, int k, double *p)
{
  double zmax = z[argmax (z, k)], sum = 0;
  for (int i = 0; i < k; i++)
    sum += p[i] = exp (z[i] - zmax);
  for (int i = 0; i < k; i++)
    p[i] /= sum;
}

void
mt_metrics_confidence (const float *logits, const float *logits2, gint64 n, int classes,
                       double *confidence, int *prediction)
{
  g_autofree double *z = g_new (double, classes), *p = g_new (double, classes), *q = g_new (double, classes);
  for (gint64 i = 0; i < n; i++) {
    for (int k = 0; k < classes; k++)
      z[k] = logits[i * classes + k];
    softmax (z, classes, p);
    if (logits2) {
      for (int k = 0; k < classes; k++)
        z[k] = logits2[i * classes + k];
      softmax (z, classes, q);
      for (int k = 0; k < classes; k++)
        z[k] = p[k] * q[k];
      softmax (z, classes, p);
    }
    int best = argmax (p, classes);
    confidence[i] = p[best];
    if (prediction)
      prediction[i] = best;
  }
}

static int
descending (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x < y) - (x > y);
}

double
mt_metrics_threshold_for_coverage (const double *conf, gint64 n, double coverage)
{
  if (n == 0)
    return INFINITY;
  gint64 k = (gint64) ceil (coverage * (double) n - 1e-9);
  if (k <= 0)
    return INFINITY;
  k = MIN (k, n);
  g_autofree double *sorted = g_memdup2 (conf, n * sizeof (double));
  qsort (sorted, n, sizeof (double), descending);
  return sorted[k - 1];
}

void
mt_metrics_selective (const double *conf, const int *prediction, const gint64 *labels, gint64 n,
                      double threshold, double *coverage, double *accuracy)
{
  gint64 covered = 0, right = 0;
  for (gint64 i = 0; i < n; i++)
    if (conf[i] >= threshold) {
      covered++;
      right += prediction[i] == labels[i];
    }
  *coverage = n ? (double) covered / n : NAN;
  *accuracy = covered ? (double) right / covered : NAN;
}
