/* Metrics on hand-made predictions (exact), and selective-classification thresholds and
 * coverages on a constructed case. */
#include "tests/mt-test-util.h"

#include <math.h>

START_TEST (metrics_exact)
{
  /* 6 samples, 2 classes; groups = class * 2 + patched. Predictions: argmax of logits. */
  const float logits[12] = { 2, 0,   0, 1,   3, 1,   0, 2,   1, 0,   0, 5 };
  /* pred:                     0       1       0       1       0       1    */
  const gint64 labels[6] = { 0, 0, 0, 1, 1, 1 };
  const gint64 groups[6] = { 1, 1, 0, 3, 2, 3 };
  g_autoptr (MtMetrics) m = mt_metrics_compute (logits, labels, groups, 6, 2, 4);
  ck_assert_double_eq_tol (m->accuracy, 4.0 / 6, 1e-12);
  ck_assert_double_eq_tol (m->class_accuracy[0], 2.0 / 3, 1e-12);
  ck_assert_double_eq_tol (m->class_accuracy[1], 2.0 / 3, 1e-12);
  /* group 0: sample 2 right; group 1: samples 0 right, 1 wrong; group 2: sample 4 wrong;
   * group 3: samples 3, 5 right */
  ck_assert_double_eq_tol (m->group_accuracy[0], 1.0, 1e-12);
  ck_assert_double_eq_tol (m->group_accuracy[1], 0.5, 1e-12);
  ck_assert_double_eq_tol (m->group_accuracy[2], 0.0, 1e-12);
  ck_assert_double_eq_tol (m->group_accuracy[3], 1.0, 1e-12);
  ck_assert_int_eq (m->worst_group, 2);
  ck_assert_double_eq_tol (m->worst_group_accuracy, 0.0, 1e-12);
  const gint64 confusion[4] = { 2, 1, 1, 2 };
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq (m->confusion[i], confusion[i]);
  /* loss: mean of log(sum exp) - z_y */
  double expect = 0;
  for (int i = 0; i < 6; i++)
    expect += log (exp (logits[2 * i]) + exp (logits[2 * i + 1])) - logits[2 * i + labels[i]];
  ck_assert_double_eq_tol (m->loss, expect / 6, 1e-9);
  /* Without groups, and with an empty group. */
  g_autoptr (MtMetrics) ng = mt_metrics_compute (logits, labels, NULL, 6, 2, 0);
  ck_assert_int_eq (ng->groups, 0);
  ck_assert_int_eq (ng->worst_group, -1);
  const gint64 g2[6] = { 0, 0, 0, 3, 3, 3 };
  g_autoptr (MtMetrics) eg = mt_metrics_compute (logits, labels, g2, 6, 2, 4);
  ck_assert (isnan (eg->group_accuracy[1]));
  ck_assert_int_eq (eg->worst_group, 0);
}
END_TEST

START_TEST (confidence_combination)
{
  /* One model: max softmax. Two models: max of softmax(p * q). */
  const float a[2] = { 0, (float) log (3.0) };  /* p = (.25, .75) */
  const float b[2] = { 0, 0 };                  /* q = (.5, .5) */
  double conf;
  int pred;
  mt_metrics_confidence (a, NULL, 1, 2, &conf, &pred);
  ck_assert_double_eq_tol (conf, 0.75, 1e-6);
  ck_assert_int_eq (pred, 1);
  mt_metrics_confidence (a, b, 1, 2, &conf, &pred);
  /* p * q = (.125, .375): softmax -> 1 / (1 + exp(-.25)) */
  ck_assert_double_eq_tol (conf, 1 / (1 + exp (-0.25)), 1e-6);
  ck_assert_int_eq (pred, 1);
}
END_TEST

START_TEST (selective_classification)
{
  /* Validation: 10 confidences .1 .. 1.0. 80% coverage keeps the 8 most confident:
   * threshold 0.3. Test: confidences with right/wrong predictions. */
  double val[10];
  for (int i = 0; i < 10; i++)
    val[i] = (i + 1) / 10.0;
  ck_assert_double_eq_tol (mt_metrics_threshold_for_coverage (val, 10, 0.8), 0.3, 1e-12);
  ck_assert_double_eq_tol (mt_metrics_threshold_for_coverage (val, 10, 1.0), 0.1, 1e-12);
  ck_assert_double_eq_tol (mt_metrics_threshold_for_coverage (val, 10, 0.95), 0.1, 1e-12);  /* ceil(9.5) = 10 */
  ck_assert_double_eq_tol (mt_metrics_threshold_for_coverage (val, 10, 0.15), 0.9, 1e-12);  /* ceil(1.5) = 2 */
  ck_assert (isinf (mt_metrics_threshold_for_coverage (val, 10, 0.0)));
  const double test[5] = { 0.95, 0.5, 0.31, 0.3, 0.2 };
  const int pred[5] = { 1, 0, 1, 1, 0 };
  const gint64 lab[5] = { 1, 0, 0, 1, 1 };
  double cov, acc;
  mt_metrics_selective (test, pred, lab, 5, 0.3, &cov, &acc);
  ck_assert_double_eq_tol (cov, 0.8, 1e-12);   /* .95 .5 .31 .3 covered (ties covered) */
  ck_assert_double_eq_tol (acc, 0.75, 1e-12);  /* 3 of those 4 right */
  mt_metrics_selective (test, pred, lab, 5, 0.99, &cov, &acc);
  ck_assert_double_eq_tol (cov, 0.0, 1e-12);
  ck_assert (isnan (acc));
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("metrics");
  TCase *tc = tcase_create ("core");
  tcase_add_test (tc, metrics_exact);
  tcase_add_test (tc, confidence_combination);
  tcase_add_test (tc, selective_classification);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}
