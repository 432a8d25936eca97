/* Two ways to train SmallCNN on two cores, in alternating rounds (medians):
 *
 *   ops:    the whole batch of 128 on one thread, each op splitting its work over 2
 *           threads (oneDNN's and our OpenMP loops, a barrier at every op's end);
 *   slices: batch-slice threading (ml/mt-slices.h), what training uses: two threads,
 *           each a slice of 64 images through the whole step with 1 thread per op,
 *           meeting at each batch norm (synchronised: the whole batch's statistics), at
 *           the loss and to sum the gradients in slice order.
 *
 * Both are the same training up to the order of the gradients' sums. Run it on an idle
 * machine and beside other work (the note's figures: once alone, once beside
 * `bench-threads --burn SECONDS`, a busy loop on one core).
 *
 *   make bench/bench-threads && ./bench/bench-threads [ROUNDS] [STEPS]
 *   ./bench/bench-threads --burn SECONDS */
#include "tests/mt-internal.h"
#include "ml/cpu/mt-cpu.h"
#include "ml/mt-slices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 128

static double
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

/* Images per second of @steps SGD steps on @slices slices (1: threading inside the ops),
 * after two warm-up steps. */
static double
run (const float *x, const gint64 *y, int steps, int slices)
{
  mt_cpu_set_threads (2);
  g_autoptr (MtModel) m = mt_model_new (mt_arch_lookup ("small_cnn"), 2);
  mt_model_init (m, 1);
  MtBackend *be = mt_model_get_backend (m);
  g_autoptr (MtSlices) s = mt_slices_new (m, slices);
  guint np = mt_model_n_params (m);
  g_autoptr (GPtrArray) mom = g_ptr_array_new_with_free_func (g_free);
  for (guint p = 0; p < np; p++)
    g_ptr_array_add (mom, g_new0 (float, mt_model_param (m, p)->len));
  MtSgdSpec sgd = { 0.01, 0.9, 1e-4, FALSE };
  double t0 = 0;
  for (int step = -2; step < steps; step++) {
    if (step == 0)
      t0 = now ();
    double loss;
    mt_slices_train_step (s, x, y, BATCH, &loss, NULL);
    for (guint p = 0; p < np; p++) {
      MtParam *mp = mt_model_param (m, p);
      be->ops->sgd_step (be, &sgd, mp->data, mp->grad, mom->pdata[p], mp->len, step == -2);
    }
  }
  return steps * BATCH / (now () - t0);
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

int
main (int argc, char **argv)
{
  if (argc > 2 && !strcmp (argv[1], "--burn")) {
    double end = now () + atof (argv[2]);
    volatile double sink = 0;
    while (now () < end)
      for (int i = 0; i < 1000000; i++)
        sink += i * 1e-9;
    return 0;
  }
  int rounds = argc > 1 ? atoi (argv[1]) : 7, steps = argc > 2 ? atoi (argv[2]) : 30;
  float *x = g_new (float, (gsize) BATCH * 3 * 28 * 28);
  gint64 y[BATCH];
  MtRng rng;
  mt_rng_seed (&rng, 2);
  for (gsize i = 0; i < (gsize) BATCH * 3 * 28 * 28; i++)
    x[i] = (float) mt_rng_uniform (&rng);
  for (int i = 0; i < BATCH; i++)
    y[i] = i % 2;
  double *ops = g_new (double, rounds), *slices = g_new (double, rounds);
  for (int r = 0; r < rounds; r++) {
    ops[r] = run (x, y, steps, 1);
    slices[r] = run (x, y, steps, 2);
    printf ("round %d: ops %.0f img/s, slices %.0f img/s\n", r + 1, ops[r], slices[r]);
  }
  qsort (ops, rounds, sizeof (double), cmp_double);
  qsort (slices, rounds, sizeof (double), cmp_double);
  printf ("SmallCNN training, 2 threads, medians of %d rounds: ops %.0f img/s, slices %.0f img/s (slices/ops %.2f)\n",
          rounds, ops[rounds / 2], slices[rounds / 2], slices[rounds / 2] / ops[rounds / 2]);
  g_free (ops);
  g_free (slices);
  g_free (x);
  return 0;
}
