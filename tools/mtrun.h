/* Shared pieces of the mtrun subcommands. */
#pragma once

#include "include/masktune.h"
#include "base/mt-fileutil.h"
#include "base/mt-digest-memo.h"
#include "base/mt-json.h"
#include "base/mt-json-write.h"
#include "base/mt-suggest.h"
#include "formats/mt-png.h"
#include "formats/mt-safetensors.h"
#include "ml/mt-backend.h"
#include "ml/mt-plot.h"
#include "runtime/mt-cache.h"
#include "runtime/mt-executor.h"
#include "runtime/mt-plan.h"
#include "runtime/mt-plugin-scan.h"
#include "runtime/mt-property.h"
#include "graph/mt-graph.h"

G_BEGIN_DECLS

typedef struct {
  char *cache_dir;
  char **plugin_paths;
  gboolean quiet;
  gboolean verbose;
  gboolean json;
  gboolean paranoid;
} MtrunGlobal;

extern MtrunGlobal mtrun_global;

/* Adds the options every subcommand takes (cache dir, plugin path, quiet, verbose, json). */
void          mtrun_add_common_options (GOptionContext *oc);
/* g_option_context_parse, during which an exit (GLib's, after --help) is not a failure. */
gboolean      mtrun_parse_options (GOptionContext *oc, int *argc, char ***argv, GError **error);
/* Loads plugins from MT_PLUGIN_PATH, --plugin-path and the install directory. */
MtRegistry   *mtrun_registry (void);
/* -C DIR, else mt_cache_find_dir() for @pipeline (NULL: none); -v says which. */
MtCache      *mtrun_open_cache (const char *pipeline, GError **error);
void          mtrun_print_json (JsonNode *node);
/* Prints "mtrun: MESSAGE" to stderr and returns @status. */
/* @s with control characters (C0, DEL) written as \xNN, for printing untrusted text. */
char         *mtrun_escape (const char *s);
int           mtrun_fail (int status, const char *format, ...) G_GNUC_PRINTF (2, 3);

int mtrun_cmd_run     (int argc, char **argv, gboolean default_cmd);
int mtrun_cmd_status  (int argc, char **argv);
int mtrun_cmd_dot     (int argc, char **argv);
int mtrun_cmd_cache   (int argc, char **argv);
int mtrun_cmd_inspect (int argc, char **argv);
int mtrun_cmd_compare (int argc, char **argv);
int mtrun_cmd_report  (int argc, char **argv);
/* The compare table of @pipe's reports in @cache as an HTML <table>, or NULL when none. */
char *mtrun_compare_html (MtCache *cache, const char *pipe);
/* Parses a pipeline command's options (--set and @extra) and its FILE.pipe; the graph, or
 * NULL with *status set (after printing the errors). */
MtDag *mtrun_load_pipeline (int *argc, char ***argv, const char *cmd, const char *summary,
                            const GOptionEntry *extra, int *status);

#define MTRUN_EXIT_FAILURE 1
#define MTRUN_EXIT_USAGE   2

G_END_DECLS
