#include "runtime/mt-executor.h"
#include "runtime/mt-cache-key.h"
#include "runtime/mt-context-private.h"
#include "base/mt-json-write.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"
#include "runtime/mt-plan.h"
#include "base/mt-version.h"

#include <string.h>
#include <glib/gstdio.h>

typedef struct {
  MtDag *g;
  MtCache *cache;
  const MtRunOptions *opts;
  GAsyncQueue *queue;       /* Msg* from workers to the scheduling thread */
  GPtrArray *results;       /* MtManifest* per node index, set by the scheduler */
  GCancellable *cancellable;
} Exec;

typedef struct {
  MtEventType type;
  guint index;
  char *text;
  MtManifest *manifest;
  double seconds, progress;
  gint64 start_us, end_us;
} Msg;

typedef struct {
  Exec *ex;
  guint index;
  gint64 last_progress_us;
} Job;

static void
post (Exec *ex, MtEventType type, guint index, char *text, MtManifest *m)
{
  Msg *msg = g_new0 (Msg, 1);
  msg->type = type;
  msg->index = index;
  msg->text = text;
  msg->manifest = m;
  g_async_queue_push (ex->queue, msg);
}

static void
on_progress (MtContext *ctx, double fraction, const char *detail, gpointer user_data)
{
  Job *job = user_data;
  gint64 now = g_get_monotonic_time ();
  if (fraction < 1.0 && now - job->last_progress_us < 100000)
    return;  /* at most ten updates a second */
  job->last_progress_us = now;
  Msg *msg = g_new0 (Msg, 1);
  msg->type = MT_EVENT_PROGRESS;
  msg->index = job->index;
  msg->progress = fraction;
  msg->text = g_strdup (detail);
  g_async_queue_push (job->ex->queue, msg);
}

static void
on_log (MtContext *ctx, const char *message, gpointer user_data)
{
  Job *job = user_data;
  post (job->ex, MT_EVENT_LOG, job->index, g_strdup (message), NULL);
}

/* A cached entry is used only after every output's size and digest check out. */
static MtManifest *
lookup_valid (Exec *ex, guint index, const char *key)
{
  g_autoptr (GError) err = NULL;
  MtDagNode *gn = ex->g->nodes->pdata[index];
  MtManifest *m = mt_cache_lookup (ex->cache, key, &err);
  if (!m && !err)
    return NULL;
  if (m && mt_manifest_matches_class (m, MT_NODE_GET_CLASS (gn->node), &err) &&
      mt_cache_verify (ex->cache, m, MT_CACHE_VERIFY_DIGESTS, &err))
    return m;
  post (ex, MT_EVENT_WARNING, index,
        g_strdup_printf ("cache entry %.12s of node '%s' is corrupt (%s); recomputing", key, gn->name,
                         err->message), NULL);
  mt_manifest_free (m);
  mt_cache_remove_entry (ex->cache, key, NULL);
  return NULL;
}


static void
describe_node (JsonBuilder *b, MtDagNode *n)
{
  g_autoptr (MtKeyInfo) ki = mt_key_compute (n, NULL, NULL);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, n->name);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, n->type_name);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, mt_node_class_get_version (MT_NODE_GET_CLASS (n->node)));
  json_builder_set_member_name (b, "properties");
  json_builder_add_value (b, ki ? json_node_copy (mt_key_info_props_json (ki)) : json_node_new (JSON_NODE_NULL));
  json_builder_set_member_name (b, "inputs");
  json_builder_begin_object (b);
  for (guint i = 0; i < n->inputs->len; i++) {
    MtDagInput *gi = &g_array_index (n->inputs, MtDagInput, i);
    if (!gi->src)
      continue;
    MtPortSpec *out = mt_node_class_get_outputs (MT_NODE_GET_CLASS (gi->src->node))->pdata[gi->src_port];
    g_autofree char *from = g_strdup_printf ("%s.%s", gi->src->name, out->name);
    json_builder_set_member_name (b, gi->name);
    json_builder_add_string_value (b, from);
  }
  json_builder_end_object (b);
  json_builder_end_object (b);
}

/* The pipeline, masktune's version, the node and everything upstream of it. */
static JsonNode *
provenance (Exec *ex, MtDagNode *gn, MtKeyInfo *ki)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "masktune_version");
  json_builder_add_string_value (b, MT_VERSION_STRING);
  json_builder_set_member_name (b, "pipeline");
  g_autofree char *base = g_path_get_basename (ex->g->filename);
  json_builder_add_string_value (b, base);
  json_builder_set_member_name (b, "key");
  json_builder_add_string_value (b, ki->key);
  json_builder_set_member_name (b, "node");
  describe_node (b, gn);
  json_builder_set_member_name (b, "upstream");
  json_builder_begin_array (b);
  g_autoptr (GHashTable) up = mt_dag_ancestors (ex->g, gn);
  for (guint i = 0; i < ex->g->nodes->len; i++) {
    MtDagNode *n = ex->g->nodes->pdata[i];
    if (n != gn && g_hash_table_contains (up, n))
      describe_node (b, n);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* Runs the node in a private temp dir, moves each output into objects/, then writes
 * the manifest last: a crash anywhere before that leaves no entry to trust. */
static MtManifest *
compute (Exec *ex, Job *job, MtDagNode *gn, MtKeyInfo *ki, const char *const *digests,
         const char *const *paths, gint64 *t0, gint64 *t1, GError **error)
{
  g_autofree char *tmp = mt_cache_make_tmp_dir (ex->cache, ki->key, error);
  if (!tmp)
    return NULL;
  g_autofree char *resume = mt_cache_resume_dir (ex->cache, ki->key);
  g_autoptr (MtContext) ctx = mt_context_new (gn, paths, tmp, resume, ex->cancellable);
  mt_context_set_callbacks (ctx, on_progress, on_log, job);
  mt_context_set_provenance (ctx, provenance (ex, gn, ki));
  mt_context_set_backend (ctx, ex->opts->backend);

  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *started = g_date_time_format_iso8601 (now);
  *t0 = g_get_monotonic_time ();
  g_autoptr (GError) err = NULL;
  gboolean ok = mt_node_run (gn->node, ctx, &err);
  *t1 = g_get_monotonic_time ();
  double seconds = (*t1 - *t0) / 1e6;

  MtNodeClass *klass = MT_NODE_GET_CLASS (gn->node);
  GPtrArray *outs = mt_node_class_get_outputs (klass);
  g_autoptr (GPtrArray) committed = g_ptr_array_new_with_free_func ((GDestroyNotify) mt_cache_output_free);
  if (!ok) {
    g_propagate_error (error, g_steal_pointer (&err));
  } else {
    for (guint i = 0; i < outs->len && ok; i++) {
      MtPortSpec *spec = outs->pdata[i];
      const char *file = mt_context_get_output_file (ctx, spec->name);
      if (!file) {
        g_set_error (error, MT_ERROR, MT_ERROR_NODE, "%s did not save its output '%s'",
                     gn->type_name, spec->name);
        ok = FALSE;
        break;
      }
      MtCacheOutput *c = g_new0 (MtCacheOutput, 1);
      g_ptr_array_add (committed, c);
      ok = mt_cache_commit_object (ex->cache, file, mt_kind_extension (spec->kind), &c->digest,
                                   &c->size, &c->file, error);
    }
  }
  MtManifest *m = NULL;
  if (ok) {
    g_autoptr (JsonNode) root = mt_manifest_build (ex->g, gn, ki, digests, ctx, committed, ex->opts->backend,
                                                   mt_node_class_get_uses_backend (MT_NODE_GET_CLASS (gn->node))
                                                   ? ex->opts->environment : NULL,
                                                   started, seconds);
    if (mt_cache_write_manifest (ex->cache, root, error)) {
      g_autofree char *text = mt_json_to_string (root, FALSE);
      m = mt_manifest_parse (text, strlen (text), "new manifest", error);
      mt_file_remove_tree (resume, NULL);  /* checkpoints are done with */
    }
  }
  mt_file_remove_tree (tmp, NULL);
  return m;
}

static void
worker (gpointer data, gpointer user_data)
{
  Exec *ex = user_data;
  Job job = { ex, GPOINTER_TO_UINT (data) - 1, 0 };
  MtDagNode *gn = ex->g->nodes->pdata[job.index];
  guint n_in = gn->inputs->len;
  g_autofree const char **digests = g_new0 (const char *, n_in + 1);
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  for (guint k = 0; k < n_in; k++) {
    MtDagInput *gi = &g_array_index (gn->inputs, MtDagInput, k);
    char *path = NULL;
    if (gi->src) {
      MtManifest *m = ex->results->pdata[gi->src->index];
      MtPortSpec *out = mt_node_class_get_outputs (MT_NODE_GET_CLASS (gi->src->node))->pdata[gi->src_port];
      const MtCacheOutput *o = mt_manifest_find_output (m, out->name);
      digests[k] = o->digest;
      path = mt_cache_output_path (ex->cache, o);
    }
    g_ptr_array_add (paths, path);
  }

  g_autoptr (GError) err = NULL;
  g_autoptr (MtKeyInfo) ki = mt_key_compute (gn, digests, &err);
  if (!ki) {
    post (ex, MT_EVENT_FAILED, job.index, g_strdup (err->message), NULL);
    return;
  }
  gboolean forced = ex->opts->forced && g_hash_table_contains (ex->opts->forced, gn);
  MtManifest *m = forced ? NULL : lookup_valid (ex, job.index, ki->key);
  if (!m && ex->opts->lookup_only && g_hash_table_contains (ex->opts->lookup_only, gn)) {
    post (ex, MT_EVENT_FAILED, job.index,
          g_strdup_printf ("its result is not in the cache (run it first, e.g. with --until %s)", gn->name), NULL);
    return;
  }
  if (!m) {
    /* Another mtrun may be computing the same key: wait for it, then look again. */
    int fd = mt_cache_lock_key (ex->cache, ki->key, &err);
    if (fd < 0) {
      post (ex, MT_EVENT_FAILED, job.index, g_strdup (err->message), NULL);
      return;
    }
    if (!forced)
      m = lookup_valid (ex, job.index, ki->key);
    if (!m) {
      char *reason = NULL;
      if (forced) {
        reason = g_strdup ("forced");
      } else {
        g_autoptr (GPtrArray) why = mt_plan_explain (ex->cache, ex->g, gn, ki, digests);
        g_ptr_array_add (why, NULL);
        reason = g_strjoinv ("; ", (char **) why->pdata);
      }
      post (ex, MT_EVENT_STARTED, job.index, reason, NULL);
      gint64 t0 = 0, t1 = 0;
      m = compute (ex, &job, gn, ki, digests, (const char *const *) paths->pdata, &t0, &t1, &err);
      mt_cache_unlock_key (fd);
      if (!m) {
        post (ex, MT_EVENT_FAILED, job.index, g_strdup (err->message), NULL);
        return;
      }
      if (!mt_cache_set_ref (ex->cache, ex->g->variant, gn->name, m->key, &err))
        post (ex, MT_EVENT_WARNING, job.index, g_strdup (err->message), NULL);
      Msg *msg = g_new0 (Msg, 1);
      msg->type = MT_EVENT_FINISHED;
      msg->index = job.index;
      msg->manifest = m;
      msg->seconds = (t1 - t0) / 1e6;
      msg->start_us = t0;
      msg->end_us = t1;
      g_async_queue_push (ex->queue, msg);
      return;
    }
    mt_cache_unlock_key (fd);
  }
  if (!mt_cache_set_ref (ex->cache, ex->g->variant, gn->name, m->key, &err))
    post (ex, MT_EVENT_WARNING, job.index, g_strdup (err->message), NULL);
  post (ex, MT_EVENT_CACHED, job.index, NULL, m);
}

static void
emit (Exec *ex, Msg *msg, const char *reason)
{
  if (!ex->opts->on_event)
    return;
  MtEvent ev = {
    .type = msg->type, .node = ex->g->nodes->pdata[msg->index], .reason = reason,
    .message = msg->text, .manifest = msg->manifest, .seconds = msg->seconds,
    .progress = msg->progress, .start_us = msg->start_us, .end_us = msg->end_us,
  };
  if (msg->type == MT_EVENT_STARTED) {
    ev.reason = msg->text;
    ev.message = NULL;
  }
  ex->opts->on_event (&ev, ex->opts->user_data);
}

static void
emit_skip (Exec *ex, guint index, const char *reason)
{
  Msg msg = { .type = MT_EVENT_SKIPPED, .index = index };
  emit (ex, &msg, reason);
}

gboolean
mt_executor_run (MtDag *g, MtCache *cache, const MtRunOptions *opts, GError **error)
{
  guint n = g->nodes->len;
  Exec ex = { g, cache, opts, g_async_queue_new (), g_ptr_array_new_full (n, (GDestroyNotify) mt_manifest_free),
              g_cancellable_new () };
  g_ptr_array_set_size (ex.results, n);
  guint jobs = opts->jobs ? opts->jobs : g_get_num_processors ();

  /* A node takes part when selected, or when it must come from the cache for one that is. */
  g_autofree gboolean *active = g_new0 (gboolean, n);
  g_autofree guint *waiting = g_new0 (guint, n);
  guint total = 0;
  for (guint i = 0; i < n; i++) {
    MtDagNode *gn = g->nodes->pdata[i];
    active[i] = !opts->selected || g_hash_table_contains (opts->selected, gn) ||
                (opts->lookup_only && g_hash_table_contains (opts->lookup_only, gn));
    total += active[i];
  }
  for (guint i = 0; i < n; i++) {
    MtDagNode *gn = g->nodes->pdata[i];
    g_autoptr (GHashTable) srcs = g_hash_table_new (NULL, NULL);
    for (guint k = 0; k < gn->inputs->len; k++) {
      MtDagInput *gi = &g_array_index (gn->inputs, MtDagInput, k);
      if (gi->src && g_hash_table_add (srcs, gi->src))
        waiting[i]++;
    }
  }

  GThreadPool *pool = g_thread_pool_new (worker, &ex, (int) jobs, FALSE, NULL);
  g_autofree gboolean *queued = g_new0 (gboolean, n);
  guint finished = 0, running = 0;
  char *failure = NULL;

  for (;;) {
    if (!failure)
      for (guint i = 0; i < n; i++)
        if (active[i] && !queued[i] && waiting[i] == 0) {
          queued[i] = TRUE;
          running++;
          g_thread_pool_push (pool, GUINT_TO_POINTER (i + 1), NULL);
        }
    if (running == 0)
      break;
    Msg *msg = g_async_queue_pop (ex.queue);
    MtDagNode *gn = g->nodes->pdata[msg->index];
    switch (msg->type) {
    case MT_EVENT_CACHED:
    case MT_EVENT_FINISHED:
      emit (&ex, msg, NULL);
      ex.results->pdata[msg->index] = msg->manifest;
      running--;
      finished++;
      for (guint k = 0; k < gn->dependents->len; k++)
        waiting[((MtDagNode *) gn->dependents->pdata[k])->index]--;
      break;
    case MT_EVENT_FAILED:
      emit (&ex, msg, NULL);
      running--;
      finished++;
      if (!failure)
        failure = g_strdup_printf ("node '%s' (%s) failed: %s", gn->name, gn->type_name, msg->text);
      break;
    default:
      emit (&ex, msg, NULL);
      break;
    }
    g_free (msg->text);
    g_free (msg);
  }
  g_thread_pool_free (pool, FALSE, TRUE);

  if (failure) {
    for (guint i = 0; i < n; i++)
      if (active[i] && !queued[i])
        emit_skip (&ex, i, "not run: an earlier node failed");
    g_set_error_literal (error, MT_ERROR, MT_ERROR_NODE, failure);
  } else {
    g_assert (finished == total);
  }
  gboolean ok = failure == NULL;
  g_free (failure);
  g_ptr_array_unref (ex.results);
  g_async_queue_unref (ex.queue);
  g_object_unref (ex.cancellable);
  return ok;
}
