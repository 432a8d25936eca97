/* The executor: runs a pipeline's nodes in dependency order, independent nodes in
 * parallel on a thread pool, taking results from the cache where it can. */
#pragma once

#include "runtime/mt-cache.h"
#include "runtime/mt-dag.h"

G_BEGIN_DECLS

typedef enum {
  MT_EVENT_STARTED,    /* reason: why it runs */
  MT_EVENT_CACHED,     /* manifest */
  MT_EVENT_FINISHED,   /* manifest, seconds */
  MT_EVENT_FAILED,     /* message */
  MT_EVENT_SKIPPED,    /* reason */
  MT_EVENT_PROGRESS,   /* progress; message: a detail line, or NULL */
  MT_EVENT_LOG,        /* message */
  MT_EVENT_WARNING,    /* message: e.g. a corrupt cache entry that will be recomputed */
} MtEventType;

typedef struct {
  MtEventType type;
  MtDagNode *node;
  const char *reason;
  const char *message;
  MtManifest *manifest;
  double seconds;
  double progress;
  gint64 start_us, end_us;   /* monotonic clock, for STARTED..FINISHED */
} MtEvent;

typedef void (*MtEventFunc) (const MtEvent *event, gpointer user_data);

typedef struct {
  guint jobs;               /* parallel nodes; 0 = number of cores */
  GHashTable *forced;       /* MtDagNode* set to recompute (with their dependents) */
  GHashTable *selected;     /* MtDagNode* set to run; NULL = all */
  GHashTable *lookup_only;  /* MtDagNode* set that must come from the cache */
  const char *backend;      /* recorded in manifests; "cpu" by default */
  const char *const *environment;  /* "key=value" lines recorded in manifests beside it
                                      (mt_backend_environment); NULL: none */
  MtEventFunc on_event;     /* called on the thread that called mt_executor_run */
  gpointer user_data;
} MtRunOptions;

gboolean mt_executor_run (MtDag *g, MtCache *cache, const MtRunOptions *opts, GError **error);

G_END_DECLS
