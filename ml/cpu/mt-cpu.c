#include "config.h"
#include "ml/cpu/mt-cpu.h"

#include <stdlib.h>
#include <string.h>
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

/* Rows [r0, r0 + rows) of C (rows < MT_CPU_GEMM_ROWS: copied into zero-padded blocks). */
static void
gemm_block (gboolean trans_a, gboolean trans_b, int r0, int rows, int n, int k, float alpha, const float *a,
            int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
  const int R = MT_CPU_GEMM_ROWS;
  if (rows == R) {
    mt_cpu_sgemm (trans_a, trans_b, R, n, k, alpha, trans_a ? a + r0 : a + (gsize) r0 * lda, lda, b, ldb, beta,
                  c + (gsize) r0 * ldc, ldc);
    return;
  }
  /* op(A)'s rows as a [R, k] block (or, transposed, a [k, R] one), C's as [R, n]. */
  g_autofree float *pa = g_new0 (float, (gsize) R * k), *pc = g_new0 (float, (gsize) R * n);
  for (int r = 0; r < rows; r++) {
    for (int q = 0; q < k; q++)
      pa[trans_a ? (gsize) q * R + r : (gsize) r * k + q] =
        trans_a ? a[(gsize) q * lda + r0 + r] : a[(gsize) (r0 + r) * lda + q];
    if (beta != 0.0f)
      memcpy (pc + (gsize) r * n, c + (gsize) (r0 + r) * ldc, (gsize) n * sizeof (float));
  }
  mt_cpu_sgemm (trans_a, trans_b, R, n, k, alpha, pa, trans_a ? R : k, b, ldb, beta, pc, n);
  for (int r = 0; r < rows; r++)
    memcpy (c + (gsize) (r0 + r) * ldc, pc + (gsize) r * n, (gsize) n * sizeof (float));
}

void
mt_cpu_sgemm_rows (gboolean trans_a, gboolean trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                   const float *b, int ldb, float beta, float *c, int ldc)
{
  const int R = MT_CPU_GEMM_ROWS;
  int blocks = (m + R - 1) / R;
  int threads = mt_cpu_threads ();
#ifdef _OPENMP
  if (omp_in_parallel ())
    threads = 1;
#endif
  threads = MAX (1, MIN (threads, blocks));
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int bi = 0; bi < blocks; bi++)
    gemm_block (trans_a, trans_b, bi * R, MIN (R, m - bi * R), n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
