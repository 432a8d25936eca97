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
/* The same, for products whose rows are independent items (a batch's samples): the rows
 * of C go to oneDNN in blocks of MT_CPU_GEMM_ROWS, the last padded with zeros, spread over
 * the ops' threads. oneDNN's kernels round a row by how many rows a call has (on some
 * CPUs even among counts of 16 and more), so without this a sample's outputs would
 * depend on its batch's size, its slice and the thread count; a block's rows do not
 * depend on each other or on where the block starts. */
#define MT_CPU_GEMM_ROWS 16
void mt_cpu_sgemm_rows (gboolean trans_a, gboolean trans_b, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

G_END_DECLS
