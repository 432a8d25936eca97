/* Softmax cross-entropy, averaged over the batch (torch.nn.CrossEntropyLoss). */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-ref-ops.h"

#include <math.h>

double
mt_cpu_cross_entropy (const float *logits, const gint64 *labels, int n, int classes,
                  float *dlogits, int *correct)
{
  double total = 0;
  int right = 0;
  for (int i = 0; i < n; i++) {
    const float *z = logits + (gsize) i * classes;
    int best = 0;
    float zmax = z[0];
    for (int k = 1; k < classes; k++)
      if (z[k] > zmax) {
        zmax = z[k];
        best = k;
      }
    /* Shift by the maximum: exp never overflows. */
    double sum = 0;
    for (int k = 0; k < classes; k++)
      sum += exp ((double) z[k] - zmax);
    double log_sum = log (sum) + zmax;
    total += log_sum - z[labels[i]];
    right += best == labels[i];
    if (dlogits)
      for (int k = 0; k < classes; k++) {
        double p = exp ((double) z[k] - log_sum);
        dlogits[(gsize) i * classes + k] = (float) ((p - (k == labels[i])) / n);
      }
  }
  if (correct)
    *correct = right;
  return total / n;
}

/* ---- the double-precision reference ---------------------------------------------- */

double
mt_ref_cross_entropy (const double *logits, const gint64 *labels, int n, int classes, double *dlogits)
{
  double total = 0;
  for (int i = 0; i < n; i++) {
    const double *z = logits + (gsize) i * classes;
    double sum = 0;
    for (int k = 0; k < classes; k++)
      sum += exp (z[k]);
    total += log (sum) - z[labels[i]];
    if (dlogits)
      for (int k = 0; k < classes; k++)
        dlogits[(gsize) i * classes + k] = (exp (z[k]) / sum - (k == labels[i])) / n;
  }
  return total / n;
}
