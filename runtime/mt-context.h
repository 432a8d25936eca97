/* What a node sees while it runs: its inputs, where its outputs go, progress and logs.
 * The runtime owns the context; a node never keeps it past its run. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "base/mt-bundle.h"
#include "runtime/mt-kind.h"
#include "base/mt-tensor.h"

G_BEGIN_DECLS

typedef struct _MtContext MtContext;

/* Inputs. An optional input that was not bound has no path and loads fail. Each load
 * returns a new reference the node owns (g_autoptr (MtTensor), g_autoptr (MtBundle),
 * json_node_unref); paths and names returned as const char * belong to the context and
 * live as long as the run. */
gboolean    mt_context_has_input        (MtContext *ctx, const char *port);
const char *mt_context_get_input_path   (MtContext *ctx, const char *port);
MtTensor   *mt_context_load_tensor      (MtContext *ctx, const char *port, GError **error);
MtBundle   *mt_context_load_bundle      (MtContext *ctx, const char *port, GError **error);
JsonNode   *mt_context_load_json        (MtContext *ctx, const char *port, GError **error);
/* List inputs (see mt_node_class_add_input_list): how many sources are bound, the name of
 * the node that gives item @item, and loaders for it. Plain ports have item 0 only. */
guint       mt_context_get_n_inputs     (MtContext *ctx, const char *port);
const char *mt_context_get_input_source (MtContext *ctx, const char *port, guint item);
MtTensor   *mt_context_load_tensor_at   (MtContext *ctx, const char *port, guint item, GError **error);
MtBundle   *mt_context_load_bundle_at   (MtContext *ctx, const char *port, guint item, GError **error);
JsonNode   *mt_context_load_json_at     (MtContext *ctx, const char *port, guint item, GError **error);

/* Outputs: each output port is written exactly once, in the format of its kind
 * (tensor, saliency, mask: .npy; dataset, model: .safetensors; report: JSON; image: PNG;
 * text: Markdown). */
gboolean    mt_context_save_tensor      (MtContext *ctx, const char *port, const MtTensor *t, GError **error);
gboolean    mt_context_save_bundle      (MtContext *ctx, const char *port, MtBundle *b, GError **error);
gboolean    mt_context_save_json        (MtContext *ctx, const char *port, JsonNode *node, GError **error);
gboolean    mt_context_save_text        (MtContext *ctx, const char *port, const char *text, GError **error);
gboolean    mt_context_save_image       (MtContext *ctx, const char *port, const MtTensor *hwc, GError **error);

/* A directory that survives a crash of this node's run and is removed once its
 * result is committed: for checkpoints that let a rerun resume. */
const char *mt_context_get_resume_dir   (MtContext *ctx);

const char *mt_context_get_node_name    (MtContext *ctx);
/* The name of the compute backend the run uses ("cpu", "cuda": mtrun --device), for
 * nodes that run models (mt_node_class_set_uses_backend) or other ops there (the
 * masker's) to open with mt_backend_open(). */
const char *mt_context_get_backend      (MtContext *ctx);
/* A description of what is being computed, for reports: the pipeline file, masktune's
 * version, this node's type, class version, properties and cache key, and the type and
 * properties of every node upstream of it. NULL outside a pipeline run. */
JsonNode   *mt_context_get_provenance   (MtContext *ctx);
GCancellable *mt_context_get_cancellable (MtContext *ctx);
/* @fraction in [0, 1]; shown as a progress bar on a terminal. */
void        mt_context_progress         (MtContext *ctx, double fraction);
/* The same with a short line shown beside the bar ("epoch 3/10, 1900 img/s, ETA 0:25"),
 * or NULL. */
void        mt_context_progress_detail  (MtContext *ctx, double fraction, const char *detail);
void        mt_context_log              (MtContext *ctx, const char *format, ...) G_GNUC_PRINTF (2, 3);

G_END_DECLS
