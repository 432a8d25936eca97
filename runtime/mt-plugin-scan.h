/* Plugins are scanned out of process before they are loaded, as GStreamer's registry
 * does: a new or changed plugin file is loaded first in a child process (the scanner),
 * and only one that loaded there cleanly is loaded into this process. A plugin that
 * crashes, hangs or exits while loading takes only the child down; it is rejected with
 * what happened (the signal it died of). Results are remembered in a registry file,
 * keyed by the plugin's path, size, modification time and the plugin ABI, so each file
 * is scanned once until it changes. */
#pragma once

#include "runtime/mt-registry.h"

G_BEGIN_DECLS

/* How long a plugin may take to load in the scanner. */
#define MT_PLUGIN_SCAN_TIMEOUT_S 20

/* Scan plugins with @scanner (a program run as `SCANNER __scan-plugin PATH`: mtrun itself)
 * before @reg loads them, remembering results in @registry_file (NULL: the default,
 * $MT_PLUGIN_REGISTRY or the user's cache folder). */
void        mt_registry_set_scanner      (MtRegistry *reg, const char *scanner, const char *registry_file);
const char *mt_plugin_scan_default_file  (void);

/* The scanner's side: loads @path into a fresh registry and prints one JSON line
 * ({"ok": true, "types": [...]} or {"ok": false, "reason": "..."}) on stdout.
 * Returns the exit status for the scanner process. */
int         mt_plugin_scan_child         (const char *path);

G_END_DECLS
