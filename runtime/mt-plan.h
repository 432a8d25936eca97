/* What a run would do, and why: per node, cached or will run, with the reasons
 * (which property, input, fingerprint or class version changed since its last run). */
#pragma once

#include "runtime/mt-cache.h"
#include "runtime/mt-cache-key.h"
#include "runtime/mt-dag.h"

G_BEGIN_DECLS

typedef enum {
  MT_PLAN_CACHED,
  MT_PLAN_RUN,
  MT_PLAN_ERROR,
} MtPlanState;

typedef struct {
  MtDagNode *node;
  MtPlanState state;
  char *key;           /* NULL while an upstream node has still to run */
  GPtrArray *reasons;  /* char* */
} MtPlanItem;

typedef struct {
  GPtrArray *items;    /* MtPlanItem*, in topological order */
} MtPlan;

/* @forced: set of MtDagNode* to recompute regardless (already closed over dependents). */
MtPlan    *mt_plan_compute (MtDag *g, MtCache *cache, GHashTable *forced);
void       mt_plan_free    (MtPlan *p);
const char *mt_plan_state_name (MtPlanState s);   /* "cached", "run", "error" */

/* Why @gn must run, compared with its last run in @g's variant (or, for a --set
 * variant never run, in the pipeline as written). */
GPtrArray *mt_plan_explain (MtCache *cache, MtDag *g, MtDagNode *gn,
                            MtKeyInfo *current, const char *const *input_digests);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtPlan, mt_plan_free)

G_END_DECLS
