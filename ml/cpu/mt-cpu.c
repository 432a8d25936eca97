#include "config.h"
#include "ml/cpu/mt-cpu.h"

#include <stdlib.h>
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
void openblas_set_num_threads (int n);
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
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
    /* Our ops parallelise over images; BLAS threads under them only oversubscribe. */
    openblas_set_num_threads (1);
#endif
    g_once_init_leave (&once, 1);
  }
}

int
mt_cpu_threads (void)
{
  init_once ();
  return threads;
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
  cblas_sgemm (CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
               m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
