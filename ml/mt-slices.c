/* Batch-slice threading (mt-slices.h): a pool of workers that run slices of each batch
 * on the model's replicas, and the barrier they meet at. */
#include "ml/mt-slices.h"

#include <pthread.h>
#include <string.h>

/* ---- a barrier: a short spin (the slices' work is even, so most waits are short), then
 * sleep (a slice that lost its core must not be spun at). POSIX locks, not GMutex: GLib's
 * own futex lock is invisible to ThreadSanitizer, which checks these threads in CI. ---- */

#define SPINS 4000

typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int parties, arrived;
  gint generation;
} Barrier;

static void
barrier_init (Barrier *b, int parties)
{
  pthread_mutex_init (&b->lock, NULL);
  pthread_cond_init (&b->cond, NULL);
  b->parties = parties;
}

static void
barrier_clear (Barrier *b)
{
  pthread_mutex_destroy (&b->lock);
  pthread_cond_destroy (&b->cond);
}

static inline void
cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#endif
}

static void
barrier_wait (Barrier *b)
{
  pthread_mutex_lock (&b->lock);
  gint gen = b->generation;
  if (++b->arrived == b->parties) {
    b->arrived = 0;
    g_atomic_int_inc (&b->generation);
    pthread_cond_broadcast (&b->cond);
    pthread_mutex_unlock (&b->lock);
    return;
  }
  pthread_mutex_unlock (&b->lock);
  for (int i = 0; i < SPINS; i++) {
    if (g_atomic_int_get (&b->generation) != gen)
      return;
    cpu_relax ();
  }
  pthread_mutex_lock (&b->lock);
  while (g_atomic_int_get (&b->generation) == gen)
    pthread_cond_wait (&b->cond, &b->lock);
  pthread_mutex_unlock (&b->lock);
}

static void
share_wait (gpointer data)
{
  barrier_wait (data);
}

/* ---- the pool ---- */

typedef enum { JOB_TRAIN, JOB_MAP, JOB_QUIT } JobKind;

struct _MtSlices {
  MtBackend *be;
  int count;              /* slices: threads, the caller's among them */
  MtModel **models;       /* [count]: m, then its replicas */
  MtBnShare *shares;      /* [count] */
  double *tables[2];      /* the shares' tables, [cap, width] each */
  gsize width;
  int cap;                /* the largest batch the buffers hold */
  float *logits;          /* [cap, classes]: the slices' logits, gathered */
  float **dlogits;        /* [count][cap, classes]: each slice's loss gradient (backend memory) */
  int classes;
  gsize per;              /* floats per image */
  GThread **workers;      /* [count - 1] */
  Barrier start, end;     /* every thread: a job begins, a job is done */
  Barrier meet;           /* the job's slices: batch norms, logits, gradients */
  /* the job */
  JobKind kind;
  const float *x;
  const gint64 *y;
  int n, active;
  MtSliceFunc fn;
  gpointer data;
  double *loss;           /* where slice 0 writes the batch's loss and count */
  gint64 *correct;
};

typedef struct {
  MtSlices *s;
  int index;
} Worker;

static void
run_slice (MtSlices *s, int t)
{
  int off = (int) ((gint64) s->n * t / s->active), nt = (int) ((gint64) s->n * (t + 1) / s->active) - off;
  MtModel *m = s->models[t];
  if (s->kind == JOB_MAP) {
    s->fn (m, off, nt, s->data);
    return;
  }
  const float *x = s->x + (gsize) off * s->per;
  MtBnShare *sh = &s->shares[t];
  *sh = (MtBnShare) { off, s->n, { s->tables[0], s->tables[1] }, 0, share_wait, &s->meet };
  mt_model_set_share (m, sh);
  const float *z = mt_model_forward (m, x, nt, TRUE);
  memcpy (s->logits + (gsize) off * s->classes, z, (gsize) nt * s->classes * sizeof (float));
  barrier_wait (&s->meet);
  /* Every slice takes the loss of the whole batch (a few hundred floats): its gradient
   * is the one the whole batch's loss gives, with no thread to wait for. */
  double loss;
  s->be->ops->cross_entropy (s->be, s->logits, s->y, s->n, s->classes, s->dlogits[t], t == 0 ? s->loss : &loss,
                             t == 0 ? s->correct : NULL);
  mt_model_backward (m, s->dlogits[t] + (gsize) off * s->classes, NULL);
  barrier_wait (&s->meet);
  mt_model_sum_gradients (s->models, s->active, t, s->active);
  mt_model_set_share (m, NULL);
}

static gpointer
worker_main (gpointer data)
{
  Worker *w = data;
  MtSlices *s = w->s;
  s->be->ops->run_alone (s->be, TRUE);
  for (;;) {
    barrier_wait (&s->start);
    if (s->kind == JOB_QUIT)
      break;
    if (w->index < s->active)
      run_slice (s, w->index);
    barrier_wait (&s->end);
  }
  g_free (w);
  return NULL;
}

const char *
mt_slices_threading (void)
{
  return g_strcmp0 (g_getenv ("MT_THREADING"), "ops") == 0 ? "ops" : "slices";
}

MtSlices *
mt_slices_new (MtModel *m, int slices)
{
  MtSlices *s = g_new0 (MtSlices, 1);
  s->be = mt_model_get_backend (m);
  const MtBackendOps *ops = s->be->ops;
  gboolean can = ops->threads && ops->run_alone && ops->batchnorm_forward_train_sliced &&
                 ops->batchnorm_backward_train_sliced && strcmp (mt_slices_threading (), "slices") == 0 &&
                 mt_backend_is_host (s->be);
  s->count = !can ? 1 : slices > 0 ? slices : ops->threads (s->be);
  s->classes = mt_model_num_classes (m);
  int c, h, w;
  mt_model_input_size (m, &c, &h, &w);
  s->per = (gsize) c * h * w;
  s->width = mt_model_share_width (m);
  s->models = g_new0 (MtModel *, s->count);
  s->models[0] = m;
  for (int t = 1; t < s->count; t++)
    s->models[t] = mt_model_new_replica (m);
  s->shares = g_new0 (MtBnShare, s->count);
  s->dlogits = g_new0 (float *, s->count);
  barrier_init (&s->start, s->count);
  barrier_init (&s->end, s->count);
  barrier_init (&s->meet, s->count);
  s->workers = g_new0 (GThread *, MAX (s->count - 1, 1));
  for (int t = 1; t < s->count; t++) {
    Worker *wk = g_new (Worker, 1);
    *wk = (Worker) { s, t };
    s->workers[t - 1] = g_thread_new ("mt-slice", worker_main, wk);
  }
  return s;
}

void
mt_slices_free (MtSlices *s)
{
  if (!s)
    return;
  if (s->count > 1) {
    s->kind = JOB_QUIT;
    barrier_wait (&s->start);
    for (int t = 1; t < s->count; t++)
      g_thread_join (s->workers[t - 1]);
  }
  for (int t = 1; t < s->count; t++)
    mt_model_free (s->models[t]);
  for (int t = 0; t < s->count; t++)
    if (s->dlogits[t])
      s->be->ops->free (s->be, s->dlogits[t]);
  barrier_clear (&s->start);
  barrier_clear (&s->end);
  barrier_clear (&s->meet);
  g_free (s->tables[0]);
  g_free (s->tables[1]);
  g_free (s->logits);
  g_free (s->dlogits);
  g_free (s->shares);
  g_free (s->models);
  g_free (s->workers);
  g_free (s);
}

int
mt_slices_count (MtSlices *s)
{
  return s->count;
}

static void
ensure_capacity (MtSlices *s, int n)
{
  if (n <= s->cap)
    return;
  s->cap = n;
  for (int k = 0; k < 2; k++) {
    g_free (s->tables[k]);
    s->tables[k] = g_new (double, (gsize) n * s->width);
  }
  g_free (s->logits);
  s->logits = g_new (float, (gsize) n * s->classes);
  for (int t = 0; t < s->count; t++) {
    if (s->dlogits[t])
      s->be->ops->free (s->be, s->dlogits[t]);
    s->dlogits[t] = s->be->ops->alloc (s->be, (gsize) n * s->classes * sizeof (float));
  }
}

/* Runs the job on every slice, the caller's thread taking slice 0. */
static void
run_job (MtSlices *s, JobKind kind, const float *x, const gint64 *y, int n, MtSliceFunc fn, gpointer data)
{
  ensure_capacity (s, n);
  s->kind = kind;
  s->fn = fn;
  s->data = data;
  s->x = x;
  s->y = y;
  s->n = n;
  s->active = MIN (s->count, n);
  s->meet.parties = s->active;  /* no thread is in it between jobs */
  s->be->ops->run_alone (s->be, TRUE);
  barrier_wait (&s->start);
  run_slice (s, 0);
  barrier_wait (&s->end);
  s->be->ops->run_alone (s->be, FALSE);
}

void
mt_slices_train_step (MtSlices *s, const float *x, const gint64 *y, int n, double *loss, gint64 *correct)
{
  if (s->count == 1) {
    ensure_capacity (s, n);
    const float *z = mt_model_forward (s->models[0], x, n, TRUE);
    s->be->ops->cross_entropy (s->be, z, y, n, s->classes, s->dlogits[0], loss, correct);
    mt_model_backward (s->models[0], s->dlogits[0], NULL);
    return;
  }
  s->loss = loss;
  s->correct = correct;
  run_job (s, JOB_TRAIN, x, y, n, NULL, NULL);
}

void
mt_slices_map (MtSlices *s, int n, MtSliceFunc fn, gpointer data)
{
  if (s->count == 1)
    fn (s->models[0], 0, n, data);
  else
    run_job (s, JOB_MAP, NULL, NULL, n, fn, data);
}

typedef struct {
  MtSlices *s;
  const float *x;
} EvalJob;

static void
eval_slice (MtModel *m, int first, int count, gpointer data)
{
  EvalJob *job = data;
  const float *z = mt_model_forward (m, job->x + (gsize) first * job->s->per, count, FALSE);
  memcpy (job->s->logits + (gsize) first * job->s->classes, z, (gsize) count * job->s->classes * sizeof (float));
}

const float *
mt_slices_forward_eval (MtSlices *s, const float *x, int n)
{
  if (s->count == 1)
    return mt_model_forward (s->models[0], x, n, FALSE);
  EvalJob job = { s, x };
  mt_slices_map (s, n, eval_slice, &job);
  return s->logits;
}
