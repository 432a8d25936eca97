/* A step of backend ops recorded once and replayed (a CUDA graph on CUDA), for the
 * training loop: on a device that runs a step's ~90 small kernels, launching them one by
 * one costs more than running them.
 *
 * A recording keeps each op's arguments by value: pointers, sizes, the learning rate. So
 * a step is replayed only under the key it was recorded with (whatever those values
 * depend on: the batch size, the learning rate, the first-step flag) and only while the
 * backend's memory stays where it was (mt-backend.h: graph_replay). A key runs eagerly
 * the first time it comes, and after the backend's memory moved, so that buffers,
 * workspaces and plans settle outside any recording; the next time it is recorded.
 * Backends that cannot record (the CPU) run every step as it comes, as does
 * $MT_GRAPHS=0 (for comparisons). */
#pragma once

#include "ml/mt-backend.h"

G_BEGIN_DECLS

typedef struct {
  MtBackend *be;
  gboolean enabled;
  MtGraph *graph;       /* the recording of @key, or NULL */
  guint64 key[2];
  gboolean seen;        /* @seen_key ran eagerly last: record it when it comes again */
  guint64 seen_key[2];
  guint64 eager, recorded, replayed;  /* steps run each way */
} MtStepGraph;

/* @be records where it has the ops and $MT_GRAPHS is not "0". */
void     mt_step_graph_init  (MtStepGraph *g, MtBackend *be);
void     mt_step_graph_clear (MtStepGraph *g);

/* Runs @fn (@data), which calls @be's ops and nothing else of @be, as key @key asks:
 * replayed from its recording, recorded and replayed, or run as it comes. *@host_ran:
 * whether @fn itself ran (it does when it runs eagerly or is recorded; on a pure replay
 * the caller redoes what @fn keeps on the host). FALSE with @error when a recording
 * failed (an op that cannot be recorded, a buffer that would grow). */
gboolean mt_step_graph_run   (MtStepGraph *g, const guint64 key[2], void (*fn) (gpointer data), gpointer data,
                              gboolean *host_ran, GError **error);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MtStepGraph, mt_step_graph_clear)

G_END_DECLS
