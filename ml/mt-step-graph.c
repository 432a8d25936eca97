#include "ml/mt-step-graph.h"
#include "base/mt-error.h"

#include <string.h>

void
mt_step_graph_init (MtStepGraph *g, MtBackend *be)
{
  const MtBackendOps *ops = be->ops;
  *g = (MtStepGraph) { .be = be };
  g->enabled = ops->capture_begin && ops->capture_end && ops->graph_replay && ops->graph_free &&
               g_strcmp0 (g_getenv ("MT_GRAPHS"), "0") != 0;
}

static void
drop_graph (MtStepGraph *g)
{
  if (g->graph)
    g->be->ops->graph_free (g->be, g->graph);
  g->graph = NULL;
}

void
mt_step_graph_clear (MtStepGraph *g)
{
  if (!g->be)
    return;
  drop_graph (g);
  *g = (MtStepGraph) { 0 };
}

static gboolean
same_key (const guint64 a[2], const guint64 b[2])
{
  return a[0] == b[0] && a[1] == b[1];
}

static void
run_eagerly (MtStepGraph *g, const guint64 key[2], void (*fn) (gpointer), gpointer data)
{
  fn (data);
  g->eager++;
  g->seen = TRUE;
  memcpy (g->seen_key, key, sizeof g->seen_key);
}

gboolean
mt_step_graph_run (MtStepGraph *g, const guint64 key[2], void (*fn) (gpointer data), gpointer data,
                   gboolean *host_ran, GError **error)
{
  MtBackend *be = g->be;
  *host_ran = TRUE;
  if (!g->enabled) {
    run_eagerly (g, key, fn, data);
    return TRUE;
  }
  if (g->graph && same_key (g->key, key)) {
    if (be->ops->graph_replay (be, g->graph)) {
      g->replayed++;
      *host_ran = FALSE;
      return TRUE;
    }
    drop_graph (g);       /* memory moved: run once as it comes, record next time */
    g->seen = FALSE;
  }
  if (!g->seen || !same_key (g->seen_key, key)) {
    run_eagerly (g, key, fn, data);
    return TRUE;
  }
  GError *err = NULL;
  if (!be->ops->capture_begin (be, &err)) {
    /* This backend will not record now (e.g. MT_CUDA_SYNC=1): every step as it comes. */
    g_debug ("%s: steps run without graphs: %s", be->name, err->message);
    g_error_free (err);
    g->enabled = FALSE;
    run_eagerly (g, key, fn, data);
    return TRUE;
  }
  fn (data);
  MtGraph *graph = be->ops->capture_end (be, error);
  if (!graph)
    return FALSE;
  drop_graph (g);
  g->graph = graph;
  memcpy (g->key, key, sizeof g->key);
  g->seen = FALSE;
  g->recorded++;
  /* Recorded, not run: the step runs now, from the recording. */
  if (!be->ops->graph_replay (be, g->graph)) {
    /* Memory moved while recording (which the ops should have refused): this recording
     * can never replay. */
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "%s: memory moved while a step was recorded", be->name);
    return FALSE;
  }
  return TRUE;
}
