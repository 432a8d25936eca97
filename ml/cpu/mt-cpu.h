/* The CPU backend's plumbing: thread count, and the one GEMM every op calls. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Threads the ops use: $MT_NUM_THREADS, else the number of cores. Set before the
 * first op runs. */
int  mt_cpu_threads    (void);
void mt_cpu_set_threads (int n);
int  mt_cpu_thread_id  (void);
/* While @on, the ops this thread calls run on it alone (mt_cpu_threads () is 1 there):
 * a slice's thread in batch-slice threading. */
void mt_cpu_set_thread_alone (gboolean on);

/* C = alpha * op(A) * op(B) + beta * C, row-major; op transposes when asked. */
void mt_cpu_sgemm (gboolean trans_a, gboolean trans_b, int m, int n, int k, float alpha,
                   const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

G_END_DECLS
