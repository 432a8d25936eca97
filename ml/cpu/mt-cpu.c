#include "config.h"
#include "ml/cpu/mt-cpu.h"

#include <stdlib.h>
#include <dnnl.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int threads;

static void
init_once (void)
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    if (threads <= 0) {
      const char *env = g_getenv ("MT_NUM_THREADS");
      threads = env ? atoi (env) : 0;
      if (threads <= 0)
        threads = (int) g_get_num_processors ();
    }
    g_once_init_leave (&once, 1);
  }
}

/* Set on a thread that runs a slice of a batch (batch-slice threading): its ops use it alone. */
static __thread gboolean alone;

int
mt_cpu_threads (void)
{
  init_once ();
  return alone ? 1 : threads;
}

void
mt_cpu_set_thread_alone (gboolean on)
{
  alone = on;
}

void
mt_cpu_set_threads (int n)
{
  init_once ();
  threads = n > 0 ? n : (int) g_get_num_processors ();
}

int
mt_cpu_thread_id (void)
{
#ifdef _OPENMP
  return omp_get_thread_num ();
#else
  return 0;
#endif
}

void
mt_cpu_sgemm (gboolean trans_a, gboolean trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
  /* oneDNN's SGEMM (row-major): JIT kernels for the widest vectors this CPU has. Inside
   * one of our parallel loops it runs on the calling thread alone; outside (or in a loop
   * of one thread, which OpenMP does not count as parallel) on the ops' thread count. */
#ifdef _OPENMP
  if (!omp_in_parallel ())
    omp_set_num_threads (mt_cpu_threads ());
#endif
  dnnl_status_t st = dnnl_sgemm (trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c,
                                 ldc);
  if (st != dnnl_success)
    g_error ("oneDNN: sgemm %c%c %d x %d x %d failed (status %d)", trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k,
             (int) st);
}
