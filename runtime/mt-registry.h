/* The node-type registry: maps the type names used in .pipe files ("biaser") to
 * MtNode subclasses, whether built in or loaded from plugins. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef struct _MtRegistry MtRegistry;

typedef struct {
  char *path;
  char *reason;
} MtPluginRejection;

/* The process-wide registry, with the built-in nodes registered. */
MtRegistry  *mt_registry_get_default (void);
MtRegistry  *mt_registry_new         (void);
void         mt_registry_free        (MtRegistry *reg);

gboolean     mt_registry_register    (MtRegistry *reg, const char *name, GType type, GError **error);
GType        mt_registry_lookup      (MtRegistry *reg, const char *name);
/* Where @name came from: "built-in" or the plugin file's path. */
const char  *mt_registry_get_origin  (MtRegistry *reg, const char *name);
/* Sorted, NULL-terminated; free the array with g_free only. */
const char **mt_registry_list        (MtRegistry *reg);

/* Loads one plugin file. A rejected plugin is also remembered with its reason. */
gboolean     mt_registry_load_plugin (MtRegistry *reg, const char *path, GError **error);
/* Loads every plugin (*.so) in a G_SEARCHPATH_SEPARATOR-separated list of directories;
 * rejections are remembered, not fatal. Returns the number loaded. */
guint        mt_registry_load_path   (MtRegistry *reg, const char *dirs);
/* Array of MtPluginRejection*, owned by the registry. */
GPtrArray   *mt_registry_get_rejected (MtRegistry *reg);
/* Loaded plugins' paths, in load order. */
GPtrArray   *mt_registry_get_plugins  (MtRegistry *reg);

G_END_DECLS
