/* The runtime's side of MtContext: creating one for a node run and reading back
 * which files the node wrote. */
#pragma once

#include "runtime/mt-context.h"
#include "runtime/mt-dag.h"

G_BEGIN_DECLS

typedef void (*MtContextProgressFunc) (MtContext *ctx, double fraction, const char *detail, gpointer user_data);
typedef void (*MtContextLogFunc) (MtContext *ctx, const char *message, gpointer user_data);

/* @input_paths: one entry per binding of @gn->inputs (NULL where unbound). */
MtContext  *mt_context_new (MtDagNode *gn, const char *const *input_paths, const char *tmp_dir,
                            const char *resume_dir, GCancellable *cancellable);
void        mt_context_free (MtContext *ctx);
void        mt_context_set_callbacks (MtContext *ctx, MtContextProgressFunc progress,
                                      MtContextLogFunc log, gpointer user_data);
/* What produced this run, for nodes that write reports: takes @provenance. */
void        mt_context_set_provenance (MtContext *ctx, JsonNode *provenance);
/* The compute backend's name the run chose (MtRunOptions.backend). */
void        mt_context_set_backend (MtContext *ctx, const char *backend);
/* The file written for @port, or NULL when the node did not write it. */
const char *mt_context_get_output_file (MtContext *ctx, const char *port);
/* What the node saved on @port (dtype and shape, or the tensors of a bundle), or NULL. */
JsonObject *mt_context_get_output_meta (MtContext *ctx, const char *port);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtContext, mt_context_free)

G_END_DECLS
