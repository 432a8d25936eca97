/* CPU throughput of SmallCNN: training steps (forward, cross-entropy, backward, SGD) and
 * saliency passes (eval forward, backward to the target layer), batch 128, 3 x 28 x 28,
 * beside the machine's measured SGEMM peak; per layer, the forward and backward times and
 * GFLOP/s of each convolution and linear layer.
 *
 * Steps run as masktune runs them: a slice of the batch per thread (ml/mt-slices.h);
 * --ops threads inside each op instead. The per-layer table (--layers) is always the
 * whole batch on one model, each op threaded (a slice's layers would also hold its waits
 * for the other slices).
 *
 *   make bench/bench-cpu && ./bench/bench-cpu [--iters N] [--threads T] [--layers] [--ops]
 *   ./bench/bench-cpu --quiet --threads T   (one line, for bench/bench-vs-torch.sh)
 *
 * One training image costs about 16.2 MFLOP in the convolutions and linear layers (the
 * first convolution needs no input gradient); the saliency pass about 5.6. */
#include "tests/mt-internal.h"
#include "ml/cpu/mt-cpu.h"
#include "ml/cpu/mt-isa.h"
#include "ml/cpu/mt-layout.h"
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

/* The machine's practical FP32 peak: oneDNN's SGEMM (what the linear layers call; JIT
 * kernels for the widest vectors this CPU has) of 1536^3, each thread its slice of the
 * rows, after a warm-up call (oneDNN makes its kernels on first use); the best of three. */
static double
sgemm_gflops (int threads)
{
  const int n = 1536;
  float *a = g_new (float, (gsize) n * n), *b = g_new (float, (gsize) n * n), *c = g_new0 (float, (gsize) n * n);
  for (gsize i = 0; i < (gsize) n * n; i++)
    a[i] = b[i] = (float) (i % 7) * 0.1f;
  mt_cpu_sgemm (TRUE, FALSE, 256, 256, 256, 1.0f, a, 256, b, 256, 0.0f, c, 256);
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = now ();
#pragma omp parallel for num_threads(threads)
    for (int t = 0; t < threads; t++) {
      int rows = n / threads;
      mt_cpu_sgemm (FALSE, FALSE, rows, n, n, 1.0f, a + (gsize) t * rows * n, n, b, n, 0.0f,
                    c + (gsize) t * rows * n, n);
    }
    best = MAX (best, 2.0 * n * n * n / (now () - t0) / 1e9);
  }
  g_free (a);
  g_free (b);
  g_free (c);
  return best;
}

typedef struct {
  MtModel *m;
  MtSlices *s;            /* the steps' threading */
  float *x;
  gint64 y[BATCH];
  float dlogits[BATCH * 2];
  float **mom;
  int step;
} Bench;

static void
bench_init (Bench *b, int slices)
{
  b->m = mt_model_new (mt_arch_lookup ("small_cnn"), 2);
  mt_model_init (b->m, 1);
  b->s = mt_slices_new (b->m, slices);
  MtRng rng;
  mt_rng_seed (&rng, 2);
  b->x = g_new (float, (gsize) BATCH * 3 * 28 * 28);
  for (gsize i = 0; i < (gsize) BATCH * 3 * 28 * 28; i++)
    b->x[i] = (float) mt_rng_uniform (&rng);
  for (int i = 0; i < BATCH; i++)
    b->y[i] = i % 2;
  b->mom = g_new0 (float *, mt_model_n_params (b->m));
  for (guint p = 0; p < mt_model_n_params (b->m); p++)
    b->mom[p] = g_new0 (float, mt_model_param (b->m, p)->len);
}

static void
bench_clear (Bench *b)
{
  for (guint p = 0; p < mt_model_n_params (b->m); p++)
    g_free (b->mom[p]);
  g_free (b->mom);
  g_free (b->x);
  mt_slices_free (b->s);
  mt_model_free (b->m);
}

static void
train_step (Bench *b)
{
  MtBackend *be = mt_model_get_backend (b->m);
  double loss;
  mt_slices_train_step (b->s, b->x, b->y, BATCH, &loss, NULL);
  MtSgdSpec sgd = { 0.01, 0.9, 1e-4, FALSE };
  for (guint p = 0; p < mt_model_n_params (b->m); p++) {
    MtParam *mp = mt_model_param (b->m, p);
    be->ops->sgd_step (be, &sgd, mp->data, mp->grad, b->mom[p], mp->len, b->step == 0);
  }
  b->step++;
}

/* The saliency pass of images [first, first + count) on @m (the model or a replica). */
static void
saliency_slice (MtModel *m, int first, int count, gpointer data)
{
  Bench *b = data;
  const float *logits = mt_model_forward (m, b->x + (gsize) first * 3 * 28 * 28, count, FALSE);
  float *d = b->dlogits + 2 * first;
  for (int i = 0; i < count; i++) {  /* d(score of the predicted class) */
    int pred = logits[2 * i + 1] > logits[2 * i];
    d[2 * i] = pred == 0;
    d[2 * i + 1] = pred == 1;
  }
  mt_model_backward_to (m, d, mt_arch_lookup ("small_cnn")->target_layer);
}

static void
saliency_step (Bench *b)
{
  mt_slices_map (b->s, BATCH, saliency_slice, b);
}

/* Images per second: two warm-up steps, then the best of three runs of @iters. */
static double
best_of (Bench *b, void (*step) (Bench *), int iters)
{
  step (b);
  step (b);
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = now ();
    for (int it = 0; it < iters; it++)
      step (b);
    best = MAX (best, iters * BATCH / (now () - t0));
  }
  return best;
}

/* The multiply-adds of a convolution or linear layer's forward, x 2 (FLOP). */
static double
layer_flop (MtModel *m, const MtLayerSpec *l)
{
  if (l->kind != MT_LAYER_CONV2D && l->kind != MT_LAYER_LINEAR)
    return 0;
  g_autofree char *wname = g_strdup_printf ("%s.weight", l->name);
  gsize wlen = 0;
  for (guint p = 0; p < mt_model_n_params (m); p++)
    if (strcmp (mt_model_param (m, p)->name, wname) == 0)
      wlen = mt_model_param (m, p)->len;
  int c, h, w;
  mt_model_activation (m, l->name, &c, &h, &w);
  return 2.0 * BATCH * (l->kind == MT_LAYER_CONV2D ? (double) h * w : 1.0) * wlen;
}

/* Per layer: the forward and backward time of @step (training or saliency). */
static void
layers (Bench *b, void (*step) (Bench *), const char *what, int iters, double peak)
{
  const MtArch *arch = mt_model_arch (b->m);
  g_autofree double *fwd = g_new0 (double, arch->n_layers), *bwd = g_new0 (double, arch->n_layers);
  step (b);
  mt_model_profile (b->m, fwd, bwd);
  for (int it = 0; it < iters; it++)
    step (b);
  mt_model_profile (b->m, NULL, NULL);
  printf (" %s step, per layer:\n", what);
  double tf = 0, tb = 0;
  printf ("  %-12s %9s %9s %11s %11s\n", "layer", "fwd ms", "bwd ms", "fwd GFLOP/s", "bwd GFLOP/s");
  for (int i = 0; i < arch->n_layers; i++) {
    const MtLayerSpec *l = &arch->layers[i];
    double f = fwd[i] / iters, bk = bwd[i] / iters, flop = layer_flop (b->m, l);
    /* Backward: dx and dweight, each the forward's work; the first layer has no dx (and
     * the saliency pass computes neither dweight nor anything below its layer). */
    double bflop = !strcmp (what, "saliency") ? flop : flop * (i == 0 ? 1 : 2);
    tf += f;
    tb += bk;
    if (flop > 0 && bk > 0)
      printf ("  %-12s %9.3f %9.3f %11.1f %11.1f\n", l->name, f * 1e3, bk * 1e3, flop / f / 1e9, bflop / bk / 1e9);
    else
      printf ("  %-12s %9.3f %9.3f\n", l->name, f * 1e3, bk * 1e3);
  }
  printf ("  %-12s %9.3f %9.3f   (peak %.1f GFLOP/s)\n", "total", tf * 1e3, tb * 1e3, peak);
}

int
main (int argc, char **argv)
{
  int iters = 20, only = 0;
  gboolean quiet = FALSE, per_layer = FALSE, ops = FALSE;
  for (int i = 1; i < argc; i++) {
    if (!strcmp (argv[i], "--iters") && i + 1 < argc)
      iters = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--threads") && i + 1 < argc)
      only = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--quiet"))
      quiet = TRUE;
    else if (!strcmp (argv[i], "--layers"))
      per_layer = TRUE;
    else if (!strcmp (argv[i], "--ops"))
      ops = TRUE;
    else if (g_ascii_isdigit (argv[i][0]))
      iters = atoi (argv[i]);
    else {
      fprintf (stderr, "usage: bench-cpu [--iters N] [--threads T] [--layers] [--ops] [--quiet]\n");
      return 2;
    }
  }
  int cores = (int) g_get_num_processors ();
  if (!quiet)
    printf ("SmallCNN, batch %d, 3x28x28, float32; %d cores; layout nChw%dc, blocked ops %s; threads %s\n", BATCH,
            cores, mt_layout_block (), mt_cpu_isa_name (mt_cpu_isa ()), ops ? "inside each op" : "a batch slice each");
  for (int t = 1; t <= MIN (2, cores); t++) {
    if (only && t != only)
      continue;
    mt_cpu_set_threads (t);
    double peak = quiet ? 0 : sgemm_gflops (t);
    Bench b = { 0 };
    bench_init (&b, ops ? 1 : t);
    double train = best_of (&b, train_step, iters), sal = best_of (&b, saliency_step, iters);
    if (quiet) {
      printf ("masktune threads %d: training %.0f saliency %.0f\n", t, train, sal);
    } else {
      printf ("threads %d: SGEMM %.1f GFLOP/s (oneDNN); training %7.0f img/s (%5.1f GFLOP/s, %4.1f%% of SGEMM)   "
              "saliency %7.0f img/s\n", t, peak, train, train * 16.2e6 / 1e9, 100 * train * 16.2e6 / 1e9 / peak, sal);
      if (per_layer) {
        Bench whole = { 0 };
        bench_init (&whole, 1);
        layers (&whole, train_step, "training", iters, peak);
        layers (&whole, saliency_step, "saliency", iters, peak);
        bench_clear (&whole);
      }
    }
    bench_clear (&b);
  }
  return 0;
}
