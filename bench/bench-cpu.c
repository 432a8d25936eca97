/* CPU throughput of SmallCNN: training steps (forward, backward, SGD) and saliency-style
 * passes (eval forward, backward to the target layer), batch 128, 3 x 28 x 28 inputs,
 * at 1 and 2 threads; and the machine's practical peak (a large OpenBLAS SGEMM).
 *
 *   make bench/bench-cpu && ./bench/bench-cpu [ITERATIONS]
 *
 * One training image costs about 16.8 MFLOP (5.6 forward, twice that backward). */
#include "tests/mt-internal.h"
#include "ml/cpu/mt-cpu.h"

#include <stdio.h>
#include <stdlib.h>

#define BATCH 128
#define TRAIN_FLOP 16.8e6
#define SALIENCY_FLOP 5.6e6  /* forward, plus a backward through the top layers only */

static double
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

static double
sgemm_gflops (int threads)
{
  mt_cpu_set_threads (threads);
  const int n = 1536;
  float *a = g_new (float, (gsize) n * n), *b = g_new (float, (gsize) n * n), *c = g_new0 (float, (gsize) n * n);
  for (gsize i = 0; i < (gsize) n * n; i++)
    a[i] = b[i] = (float) (i % 7) * 0.1f;
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = now ();
    /* Split the rows over our threads the way the ops do: one single-threaded BLAS each. */
#pragma omp parallel for num_threads(threads)
    for (int t = 0; t < threads; t++) {
      int rows = n / threads;
      mt_cpu_sgemm (FALSE, FALSE, rows, n, n, 1.0f, a + (gsize) t * rows * n, n, b, n, 0.0f,
                    c + (gsize) t * rows * n, n);
    }
    double dt = now () - t0;
    best = MAX (best, 2.0 * n * n * n / dt / 1e9);
  }
  g_free (a);
  g_free (b);
  g_free (c);
  return best;
}

static void
run (int threads, int iters, double peak)
{
  mt_cpu_set_threads (threads);
  MtModel *m = mt_model_new (mt_arch_lookup ("small_cnn"), 2);
  mt_model_init (m, 1);
  MtRng rng;
  mt_rng_seed (&rng, 2);
  float *x = g_new (float, (gsize) BATCH * 3 * 28 * 28);
  for (gsize i = 0; i < (gsize) BATCH * 3 * 28 * 28; i++)
    x[i] = (float) mt_rng_uniform (&rng);
  gint64 y[BATCH];
  for (int i = 0; i < BATCH; i++)
    y[i] = i % 2;
  float dlogits[BATCH * 2];
  float **mom = g_new0 (float *, mt_model_n_params (m));
  for (guint p = 0; p < mt_model_n_params (m); p++)
    mom[p] = g_new0 (float, mt_model_param (m, p)->len);

  double train_ips = 0, sal_ips = 0;
  for (int phase = 0; phase < 2; phase++) {
    /* Warm up, then the best of three timed runs. */
    for (int rep = -1; rep < 3; rep++) {
      int n_it = rep < 0 ? 2 : iters;
      double t0 = now ();
      for (int it = 0; it < n_it; it++) {
        if (phase == 0) {
          const float *logits = mt_model_forward (m, x, BATCH, TRUE);
          mt_cpu_cross_entropy (logits, y, BATCH, 2, dlogits, NULL);
          mt_model_backward (m, dlogits, NULL);
          for (guint p = 0; p < mt_model_n_params (m); p++) {
            MtParam *mp = mt_model_param (m, p);
            mt_cpu_sgd_step (&(MtSgdSpec) { 0.01, 0.9, 1e-4, FALSE }, mp->data, mp->grad, mom[p], mp->len, it == 0);
          }
        } else {
          const float *logits = mt_model_forward (m, x, BATCH, FALSE);
          for (int i = 0; i < BATCH; i++) {  /* d(score of the predicted class) */
            int pred = logits[2 * i + 1] > logits[2 * i];
            dlogits[2 * i] = pred == 0;
            dlogits[2 * i + 1] = pred == 1;
          }
          mt_model_backward_to (m, dlogits, mt_arch_lookup ("small_cnn")->target_layer);
        }
      }
      double dt = now () - t0;
      if (rep >= 0) {
        double ips = n_it * BATCH / dt;
        if (phase == 0)
          train_ips = MAX (train_ips, ips);
        else
          sal_ips = MAX (sal_ips, ips);
      }
    }
  }
  printf ("threads %d: training %7.0f img/s (%5.1f GFLOP/s, %4.1f%% of SGEMM peak)   saliency %7.0f img/s\n",
          threads, train_ips, train_ips * TRAIN_FLOP / 1e9, 100 * train_ips * TRAIN_FLOP / 1e9 / peak, sal_ips);
  for (guint p = 0; p < mt_model_n_params (m); p++)
    g_free (mom[p]);
  g_free (mom);
  g_free (x);
  mt_model_free (m);
}

int
main (int argc, char **argv)
{
  int iters = argc > 1 ? atoi (argv[1]) : 20;
  int cores = (int) g_get_num_processors ();
  printf ("SmallCNN, batch %d, 3x28x28, float32; %d cores\n", BATCH, cores);
  for (int t = 1; t <= MIN (2, cores); t++) {
    double peak = sgemm_gflops (t);
    printf ("threads %d: SGEMM peak %.1f GFLOP/s (OpenBLAS, %d x 1536^3)\n", t, peak, t);
    run (t, iters, peak);
  }
  return 0;
}
