/* The registry's side of plugin scanning (mt-plugin-scan.c). */
#pragma once

#include <json-glib/json-glib.h>

#include "runtime/mt-registry.h"

G_BEGIN_DECLS

typedef struct {
  char *scanner;     /* NULL: plugins load in process without a scan */
  char *file;        /* the registry file of remembered scans */
  JsonObject *db;    /* path -> { size, mtime_us, abi, ok, reason } */
} MtPluginScanState;

MtPluginScanState *mt_registry_scan_state (MtRegistry *reg);
/* mt_registry_lookup for code that already holds the registry's lock (the loader). */
GType              mt_registry_lookup_locked (MtRegistry *reg, const char *name);
/* TRUE when @path scanned cleanly (or no scanner is set); else *why says what happened. */
gboolean           mt_plugin_scan_check   (MtRegistry *reg, const char *path, char **why);

G_END_DECLS
