/* CPU training throughput of ResNet-18 (torchvision's) on 32 x 32 and 64 x 64 inputs:
 * forward in training mode, cross-entropy, backward, SGD (momentum 0.9, weight decay
 * 1e-4), batch 64, 10 classes, at 1 and 2 threads; best of three timed runs. The same
 * work in PyTorch: bench/bench_torch_resnet.py.
 *
 *   make bench/bench-resnet && ./bench/bench-resnet [ITERATIONS] */
#include "tests/mt-internal.h"
#include "ml/cpu/mt-cpu.h"

#include <stdio.h>
#include <stdlib.h>

#define BATCH 64
#define CLASSES 10

static double
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

static double
run (int size, int threads, int iters)
{
  mt_cpu_set_threads (threads);
  MtModel *m = mt_model_new_sized (mt_arch_lookup ("resnet18"), CLASSES, 3, size, size, NULL);
  mt_model_init (m, 1);
  MtRng rng;
  mt_rng_seed (&rng, 2);
  gsize nx = (gsize) BATCH * 3 * size * size;
  float *x = g_new (float, nx);
  for (gsize i = 0; i < nx; i++)
    x[i] = (float) mt_rng_uniform (&rng);
  gint64 y[BATCH];
  for (int i = 0; i < BATCH; i++)
    y[i] = i % CLASSES;
  float dlogits[BATCH * CLASSES];
  float **mom = g_new0 (float *, mt_model_n_params (m));
  for (guint p = 0; p < mt_model_n_params (m); p++)
    mom[p] = g_new0 (float, mt_model_param (m, p)->len);
  double best = 0;
  for (int rep = -1; rep < 3; rep++) {
    int n_it = rep < 0 ? 1 : iters;
    double t0 = now ();
    for (int it = 0; it < n_it; it++) {
      const float *logits = mt_model_forward (m, x, BATCH, TRUE);
      mt_cpu_cross_entropy (logits, y, BATCH, CLASSES, dlogits, NULL);
      mt_model_backward (m, dlogits, NULL);
      for (guint p = 0; p < mt_model_n_params (m); p++) {
        MtParam *mp = mt_model_param (m, p);
        mt_cpu_sgd_step (&(MtSgdSpec) { 0.01, 0.9, 1e-4, FALSE }, mp->data, mp->grad, mom[p], mp->len, it == 0);
      }
    }
    if (rep >= 0)
      best = MAX (best, n_it * BATCH / (now () - t0));
  }
  for (guint p = 0; p < mt_model_n_params (m); p++)
    g_free (mom[p]);
  g_free (mom);
  g_free (x);
  mt_model_free (m);
  return best;
}

int
main (int argc, char **argv)
{
  int iters = argc > 1 ? atoi (argv[1]) : 3;
  int cores = (int) g_get_num_processors ();
  printf ("ResNet-18 training, batch %d, float32; %d cores\n", BATCH, cores);
  const int sizes[] = { 32, 64 };
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (int t = 1; t <= MIN (2, cores); t++)
      printf ("masktune %dx%d threads %d: training %6.1f img/s\n", sizes[s], sizes[s], t, run (sizes[s], t, iters));
  return 0;
}
