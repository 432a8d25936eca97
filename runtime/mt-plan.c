#include "runtime/mt-plan.h"
#include <string.h>
#include "base/mt-json-write.h"
#include "base/mt-number.h"
#include "base/mt-json.h"

static void
item_free (gpointer p)
{
  MtPlanItem *it = p;
  g_free (it->key);
  g_ptr_array_unref (it->reasons);
  g_free (it);
}

void
mt_plan_free (MtPlan *p)
{
  if (!p)
    return;
  g_ptr_array_unref (p->items);
  g_free (p);
}

const char *
mt_plan_state_name (MtPlanState s)
{
  switch (s) {
  case MT_PLAN_CACHED: return "cached";
  case MT_PLAN_RUN: return "run";
  case MT_PLAN_ERROR: return "error";
  }
  return "?";
}

/* The value the last run had, as .pipe text, from the manifest's "properties". */
static char *
old_display (MtManifest *prev, const char *name)
{
  JsonObject *o = json_node_get_object (prev->root);
  JsonObject *props = mt_json_object (o, "properties");
  JsonNode *v = props ? json_object_get_member (props, name) : NULL;
  if (!v)
    return g_strdup ("(unset)");
  if (JSON_NODE_HOLDS_VALUE (v) && json_node_get_value_type (v) == G_TYPE_DOUBLE)
    return mt_number_format (json_node_get_double (v));
  return mt_json_to_string (v, FALSE);
}

/* The inputs whose producers have still to run, which explain everything downstream. */
static void
plan_pending_inputs (MtDagNode *gn, const char *const *input_digests, GPtrArray *r)
{
  for (guint i = 0; i < gn->inputs->len; i++) {
    MtDagInput *gi = &g_array_index (gn->inputs, MtDagInput, i);
    if (gi->src && !input_digests[i])
      g_ptr_array_add (r, g_strdup_printf ("input '%s' will be recomputed by '%s'", gi->name, gi->src->name));
  }
}

static GPtrArray *
plan_explain (MtCache *cache, const char *prev_key, MtDagNode *gn, MtKeyInfo *cur, const char *const *input_digests)
{
  GPtrArray *r = g_ptr_array_new_with_free_func (g_free);
  MtNodeClass *klass = MT_NODE_GET_CLASS (gn->node);
  g_autoptr (MtManifest) prev = prev_key ? mt_cache_lookup (cache, prev_key, NULL) : NULL;

  plan_pending_inputs (gn, input_digests, r);
  if (!prev) {
    if (r->len == 0)
      g_ptr_array_add (r, g_strdup (prev_key ? "its last result is no longer in the cache" : "never run"));
    return r;
  }
  if (g_strcmp0 (prev->type, gn->type_name) != 0)
    g_ptr_array_add (r, g_strdup_printf ("node type changed: %s → %s", prev->type, gn->type_name));
  else if (g_strcmp0 (prev->class_version, mt_node_class_get_version (klass)) != 0)
    g_ptr_array_add (r, g_strdup_printf ("%s's version changed: %s → %s", gn->type_name,
                                         prev->class_version, mt_node_class_get_version (klass)));

  g_autoptr (GList) names = g_hash_table_get_keys (cur->props);
  names = g_list_sort (names, (GCompareFunc) g_strcmp0);
  for (GList *l = names; l; l = l->next) {
    const char *old = g_hash_table_lookup (prev->properties, l->data);
    if (g_strcmp0 (old, g_hash_table_lookup (cur->props, l->data)) != 0) {
      g_autofree char *was = old_display (prev, l->data);
      g_ptr_array_add (r, g_strdup_printf ("property '%s' changed: %s → %s", (char *) l->data, was,
                                           mt_key_info_display (cur, l->data)));
    }
  }
  if (g_strcmp0 (prev->fingerprint, cur->fingerprint) != 0)
    g_ptr_array_add (r, g_strdup ("its source data changed"));

  for (guint i = 0; i < gn->inputs->len; i++) {
    MtDagInput *gi = &g_array_index (gn->inputs, MtDagInput, i);
    const char *port = gi->name;
    const char *old = g_hash_table_lookup (prev->inputs, port);
    if (gi->src && input_digests[i] && g_strcmp0 (old, input_digests[i]) != 0)
      g_ptr_array_add (r, g_strdup_printf ("input '%s' changed (from '%s')", port, gi->src->name));
    else if (!gi->src && old)
      g_ptr_array_add (r, g_strdup_printf ("input '%s' is no longer bound", port));
  }
  if (r->len == 0)
    g_ptr_array_add (r, g_strdup ("its cache entry is missing or damaged"));
  return r;
}

MtPlan *
mt_plan_compute (MtDag *g, MtCache *cache, GHashTable *forced)
{
  MtPlan *plan = g_new0 (MtPlan, 1);
  plan->items = g_ptr_array_new_with_free_func (item_free);
  /* digests[node index] = the cached outputs' manifest, when the node is cached. */
  g_autoptr (GPtrArray) results = g_ptr_array_new_full (g->nodes->len, (GDestroyNotify) mt_manifest_free);
  g_autoptr (GHashTable) refs = mt_cache_get_refs (cache, g->variant);
  /* A --set variant's first run is explained against the file's own run. */
  g_autoptr (GHashTable) file_refs = strcmp (g->variant, g->path) != 0 ? mt_cache_get_refs (cache, g->path) : NULL;
  g_ptr_array_set_size (results, g->nodes->len);

  for (guint i = 0; i < g->nodes->len; i++) {
    MtDagNode *gn = g->nodes->pdata[i];
    MtPlanItem *it = g_new0 (MtPlanItem, 1);
    it->node = gn;
    it->reasons = g_ptr_array_new_with_free_func (g_free);
    g_ptr_array_add (plan->items, it);

    g_autofree const char **digests = g_new0 (const char *, gn->inputs->len + 1);
    for (guint k = 0; k < gn->inputs->len; k++) {
      MtDagInput *gi = &g_array_index (gn->inputs, MtDagInput, k);
      MtManifest *m = gi->src ? results->pdata[gi->src->index] : NULL;
      if (m) {
        MtPortSpec *out = mt_node_class_get_outputs (MT_NODE_GET_CLASS (gi->src->node))->pdata[gi->src_port];
        const MtCacheOutput *o = mt_manifest_find_output (m, out->name);
        digests[k] = o ? o->digest : NULL;
      }
    }
    /* A node downstream of one that runs, never run itself, needs no key: its reasons
     * are the pending inputs (this keeps a 100,000-node plan fast). */
    const char *prev_key = g_hash_table_lookup (refs, gn->name);
    if (!prev_key && file_refs)
      prev_key = g_hash_table_lookup (file_refs, gn->name);
    gboolean pending = FALSE;
    for (guint k = 0; k < gn->inputs->len; k++)
      pending |= g_array_index (gn->inputs, MtDagInput, k).src && !digests[k];
    if (pending && !prev_key && !MT_NODE_GET_CLASS (gn->node)->fingerprint) {
      it->state = MT_PLAN_RUN;
      plan_pending_inputs (gn, digests, it->reasons);
      continue;
    }
    g_autoptr (GError) err = NULL;
    g_autoptr (MtKeyInfo) ki = mt_key_compute (gn, digests, &err);
    if (!ki) {
      it->state = MT_PLAN_ERROR;
      g_ptr_array_add (it->reasons, g_strdup (err->message));
      continue;
    }
    it->key = g_strdup (ki->key);
    if (forced && g_hash_table_contains (forced, gn)) {
      it->state = MT_PLAN_RUN;
      g_ptr_array_add (it->reasons, g_strdup ("forced"));
      continue;
    }
    if (ki->key) {
      MtManifest *m = mt_cache_lookup (cache, ki->key, NULL);
      /* Every digest, as a run checks them: "cached" here means a run will use it. */
      if (m && mt_manifest_matches_class (m, MT_NODE_GET_CLASS (gn->node), NULL) &&
          mt_cache_verify (cache, m, MT_CACHE_VERIFY_DIGESTS, NULL)) {
        it->state = MT_PLAN_CACHED;
        results->pdata[i] = m;
        continue;
      }
      mt_manifest_free (m);
    }
    it->state = MT_PLAN_RUN;
    g_ptr_array_unref (it->reasons);
    it->reasons = plan_explain (cache, prev_key, gn, ki, digests);
  }
  return plan;
}

GPtrArray *
mt_plan_explain (MtCache *cache, MtDag *g, MtDagNode *gn, MtKeyInfo *cur,
                 const char *const *input_digests)
{
  g_autofree char *prev_key = mt_cache_get_ref (cache, g->variant, gn->name);
  if (!prev_key)  /* a --set variant's first run: against the file's own run */
    prev_key = mt_cache_get_ref (cache, g->path, gn->name);
  return plan_explain (cache, prev_key, gn, cur, input_digests);
}
