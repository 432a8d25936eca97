/* The manifest of a cache entry (entries/<key>.json): what a node run produced, and from
 * what. Written by the executor once every output is committed; read back, untrusted, by
 * lookups, status, verify, export and gc. One file for the format both ways.
 *
 *   { "format": "masktune-manifest-1", "key", "key_encoding", "node", "type",
 *     "class_version", "pipeline", "properties", "key_properties", "fingerprint"?,
 *     "inputs": { port: { "digest", "from" } },
 *     "outputs": [ { "port", "kind", "format", "file", "digest", "size", ... } ],
 *     "backend", "environment"?, "started", "duration", "masktune_version" }
 *
 * "environment" says what made the outputs beyond their inputs: the device, thread count
 * and threading, library versions (mt_backend_environment's lines, "key": "value"). It
 * is not part of the key: results made on another backend or with another thread count
 * differ only in rounding, and a cache shared between machines reuses them rather than
 * computing them again; the manifest keeps the record, and status, cache ls and cache show
 * name the backend and device that made each entry. */
#pragma once

#include <json-glib/json-glib.h>

#include "runtime/mt-cache-key.h"
#include "runtime/mt-context.h"
#include "runtime/mt-dag.h"

G_BEGIN_DECLS

#define MT_MANIFEST_FORMAT "masktune-manifest-1"
/* A manifest is a few kilobytes; anything past this is not one. */
#define MT_MANIFEST_MAX_BYTES (16 * 1024 * 1024)

typedef struct {
  char *port;
  char *kind;
  char *digest;
  gint64 size;
  char *file;      /* relative to the cache directory */
} MtCacheOutput;

typedef struct {
  JsonNode *root;  /* the whole manifest */
  char *key;
  char *node;
  char *type;
  char *class_version;
  char *fingerprint;        /* or NULL */
  GHashTable *properties;   /* name -> canonical value text */
  GHashTable *inputs;       /* port -> digest */
  GPtrArray *outputs;       /* MtCacheOutput* in port order */
  char *started;
  double duration;
  char *backend;            /* "cpu" where the manifest does not say */
  GPtrArray *environment;   /* "key=value" (strings only, as recorded), or NULL: not recorded */
} MtManifest;

void        mt_cache_output_free   (MtCacheOutput *o);

/* The manifest of @gn's run: @digests per input binding, @committed the MtCacheOutput* of
 * each output port in order, @ctx the finished run (for the outputs' dtype and shape). */
JsonNode   *mt_manifest_build      (MtDag *g, MtDagNode *gn, MtKeyInfo *ki, const char *const *digests,
                                    MtContext *ctx, GPtrArray *committed, const char *backend,
                                    const char *const *environment, const char *started, double seconds);
/* Parses and checks a manifest; @what names it in errors. */
MtManifest *mt_manifest_parse      (const char *json, gsize len, const char *what, GError **error);
void        mt_manifest_free       (MtManifest *m);
const MtCacheOutput *mt_manifest_find_output (MtManifest *m, const char *port);
/* TRUE when @m lists exactly the outputs @klass declares, of the same kinds: a manifest
 * missing one, or naming another, is a corrupt entry, never dereferenced. */
gboolean    mt_manifest_matches_class (MtManifest *m, MtNodeClass *klass, GError **error);
/* How the backend and environment that made @m differ from @backend and @environment
 * (this run's: mt_backend_environment's lines), as "threads 4 (here 2); ...", or NULL where
 * they agree or @m recorded no environment. */
char       *mt_manifest_made_elsewhere (MtManifest *m, const char *backend, const char *const *environment);
/* "cpu, 2 threads" or "cuda, NVIDIA H200 (sm_90, 139 GiB)": what made @m, in a few words. */
char       *mt_manifest_made_on     (MtManifest *m);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtManifest, mt_manifest_free)

G_END_DECLS
