/* A CUDA device simulated on the host, for the tests: the subset of the CUDA runtime,
 * cuBLAS and cuDNN that ml/cuda/ calls, implemented by this directory, and linked into a
 * second build of the CUDA backend module (libmt-cuda-sim.so) in place of NVIDIA's
 * libraries. NVRTC is the real one: the kernels are compiled for sm_90 and the cubin
 * loaded; launches run the same kernels' host build (ml/cuda/emu/).
 *
 * It runs the backend's host code, which no GPU-less test reaches otherwise, and holds it
 * to CUDA's rules where a GPU would punish breaking them late or never visibly:
 * - work is queued per stream and runs only when the host waits for it (a stream or event
 *   sync, a copy to pageable memory): a result read without waiting is stale;
 * - device memory is host pages that are inaccessible except while queued work runs, each
 *   allocation at the end of its own mapping before a guard page, new memory filled with
 *   NaN bytes and freed memory never mapped again: the host touching device memory, a
 *   kernel or library call out of bounds or after a free, faults at once;
 * - library calls check their arguments as cuBLAS and cuDNN document them, and that every
 *   pointer they are given spans what they will touch inside one live allocation;
 * - a graph capture refuses synchronisation, allocation and pageable copies, and the
 *   graph replays exactly the work recorded;
 * - a failed kernel is a sticky error: every later call fails, as on a GPU.
 * Everything runs one op at a time under one lock: it checks what the host code does,
 * not how fast or how concurrently a GPU would do it. */
#pragma once

#include <glib.h>
#include <stddef.h>

G_BEGIN_DECLS

typedef struct _MtSimOp MtSimOp;
typedef void (*MtSimOpRun) (MtSimOp *op);

/* One unit of queued work; ref-counted, since a graph replays its ops many times. */
struct _MtSimOp {
  MtSimOpRun run;
  GDestroyNotify free_data;
  gpointer data;
  const char *what;
  gint refs;
};

typedef struct _MtSimStream MtSimStream;

/* A new op running @run (@data, owned when @free_data). */
MtSimOp     *mt_sim_op_new     (const char *what, MtSimOpRun run, gpointer data, GDestroyNotify free_data);
/* Queues @op (taking it) on @stream (NULL: the legacy default stream), or records it when
 * the stream is being captured. 0 (cudaSuccess) or the error code to return. */
int          mt_sim_enqueue    (gpointer stream, MtSimOp *op);
/* Runs @stream's queued work now (a pageable copy waits for it). */
int          mt_sim_flush      (gpointer stream);
/* TRUE while @stream is being captured into a graph; such a call then is refused and
 * invalidates the capture. */
gboolean     mt_sim_capturing  (gpointer stream);
void         mt_sim_invalidate_capture (gpointer stream, const char *why);

/* TRUE when [@p, @p + @bytes) lies inside one live device allocation; otherwise reports
 * @what to stderr and FALSE. */
gboolean     mt_sim_device_span (const void *p, gsize bytes, const char *what);
/* Records a fault of queued work (a failed kernel, a library call out of bounds): the
 * context's sticky error, reported to stderr with @message. */
void         mt_sim_fault      (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
/* The sticky error (cudaErrorLaunchFailure) once a fault happened, else 0. */
int          mt_sim_sticky     (void);

G_END_DECLS
