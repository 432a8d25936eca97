/* Two ways to train SmallCNN on two cores, in alternating rounds (medians):
 *
 *   ops:    one model, batch 128, each op splitting its work over 2 threads (what
 *           masktune does: oneDNN's and our OpenMP loops, a barrier at every op's end);
 *   slices: two replicas, each thread a slice of 64 images through the whole step with
 *           1 thread per op, the gradients summed in a fixed order (slice 0 + slice 1),
 *           one SGD update copied to both: one barrier per step. Batch norm then
 *           normalises each slice with its own statistics (as DataParallel without
 *           synchronised batch norm): not the same training, measured for its speed.
 *
 * Run it on an idle machine and beside other work (the note's figures: once alone, once
 * with `bench-threads --burn` or another busy process on one core).
 *
 *   make bench/bench-threads && ./bench/bench-threads [ROUNDS] [STEPS]
 *   ./bench/bench-threads --burn SECONDS   (a busy loop, to share the machine with) */
#include "tests/mt-internal.h"
#include "ml/cpu/mt-cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 128

typedef struct {
  MtModel *m;
  float *x, *dlogits;
  gint64 *y;
  int n;
} Replica;

static double
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

static void
replica_init (Replica *r, int n, int offset, const float *x, const gint64 *y)
{
  r->m = mt_model_new (mt_arch_lookup ("small_cnn"), 2);
  mt_model_init (r->m, 1);
  r->n = n;
  r->x = g_memdup2 (x + (gsize) offset * 3 * 28 * 28, (gsize) n * 3 * 28 * 28 * sizeof (float));
  r->y = g_memdup2 (y + offset, n * sizeof (gint64));
  r->dlogits = g_new (float, n * 2);
}

static void
replica_clear (Replica *r)
{
  mt_model_free (r->m);
  g_free (r->x);
  g_free (r->y);
  g_free (r->dlogits);
}

static void
forward_backward (Replica *r)
{
  MtBackend *be = mt_model_get_backend (r->m);
  const float *logits = mt_model_forward (r->m, r->x, r->n, TRUE);
  be->ops->cross_entropy (be, logits, r->y, r->n, 2, r->dlogits, NULL);
  mt_model_backward (r->m, r->dlogits, NULL);
}

static void
sgd (MtModel *m, float **mom, gboolean first)
{
  MtBackend *be = mt_model_get_backend (m);
  MtSgdSpec s = { 0.01, 0.9, 1e-4, FALSE };
  for (guint p = 0; p < mt_model_n_params (m); p++) {
    MtParam *mp = mt_model_param (m, p);
    be->ops->sgd_step (be, &s, mp->data, mp->grad, mom[p], mp->len, first);
  }
}

/* ---- slices: a worker thread runs replica 1 while the caller runs replica 0 ---- */

typedef struct {
  GMutex lock;
  GCond cond;
  int go, done, quit;
  Replica *r;
} Worker;

static gpointer
worker_main (gpointer data)
{
  Worker *w = data;
  int seen = 0;
  for (;;) {
    g_mutex_lock (&w->lock);
    while (w->go == seen && !w->quit)
      g_cond_wait (&w->cond, &w->lock);
    if (w->quit) {
      g_mutex_unlock (&w->lock);
      return NULL;
    }
    seen = w->go;
    g_mutex_unlock (&w->lock);
    forward_backward (w->r);
    g_mutex_lock (&w->lock);
    w->done = seen;
    g_cond_broadcast (&w->cond);
    g_mutex_unlock (&w->lock);
  }
}

static double
run_slices (const float *x, const gint64 *y, int steps)
{
  mt_cpu_set_threads (1);
  Replica r[2];
  replica_init (&r[0], BATCH / 2, 0, x, y);
  replica_init (&r[1], BATCH / 2, BATCH / 2, x, y);
  guint np = mt_model_n_params (r[0].m);
  float **mom = g_new0 (float *, np);
  for (guint p = 0; p < np; p++)
    mom[p] = g_new0 (float, mt_model_param (r[0].m, p)->len);
  Worker w = { .r = &r[1] };
  g_mutex_init (&w.lock);
  g_cond_init (&w.cond);
  GThread *th = g_thread_new ("slice", worker_main, &w);
  double t0 = 0;
  for (int s = -2; s < steps; s++) {  /* two warm-up steps */
    if (s == 0)
      t0 = now ();
    g_mutex_lock (&w.lock);
    w.go++;
    g_cond_broadcast (&w.cond);
    g_mutex_unlock (&w.lock);
    forward_backward (&r[0]);
    g_mutex_lock (&w.lock);
    while (w.done != w.go)
      g_cond_wait (&w.cond, &w.lock);
    g_mutex_unlock (&w.lock);
    /* The batch's mean gradient: the slices' means averaged, in a fixed order. */
    for (guint p = 0; p < np; p++) {
      MtParam *a = mt_model_param (r[0].m, p), *b = mt_model_param (r[1].m, p);
      for (gsize k = 0; k < a->len; k++)
        a->grad[k] = (a->grad[k] + b->grad[k]) * 0.5f;
    }
    sgd (r[0].m, mom, s == -2);
    for (guint p = 0; p < np; p++)
      memcpy (mt_model_param (r[1].m, p)->data, mt_model_param (r[0].m, p)->data,
              mt_model_param (r[0].m, p)->len * sizeof (float));
  }
  double ips = steps * BATCH / (now () - t0);
  g_mutex_lock (&w.lock);
  w.quit = 1;
  g_cond_broadcast (&w.cond);
  g_mutex_unlock (&w.lock);
  g_thread_join (th);
  for (guint p = 0; p < np; p++)
    g_free (mom[p]);
  g_free (mom);
  replica_clear (&r[0]);
  replica_clear (&r[1]);
  return ips;
}

static double
run_ops (const float *x, const gint64 *y, int steps)
{
  mt_cpu_set_threads (2);
  Replica r;
  replica_init (&r, BATCH, 0, x, y);
  guint np = mt_model_n_params (r.m);
  float **mom = g_new0 (float *, np);
  for (guint p = 0; p < np; p++)
    mom[p] = g_new0 (float, mt_model_param (r.m, p)->len);
  double t0 = 0;
  for (int s = -2; s < steps; s++) {
    if (s == 0)
      t0 = now ();
    forward_backward (&r);
    sgd (r.m, mom, s == -2);
  }
  double ips = steps * BATCH / (now () - t0);
  for (guint p = 0; p < np; p++)
    g_free (mom[p]);
  g_free (mom);
  replica_clear (&r);
  return ips;
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
    ops[r] = run_ops (x, y, steps);
    slices[r] = run_slices (x, y, steps);
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
