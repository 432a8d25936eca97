/* The plugin entry point. A plugin is a shared object that exports one symbol,
 * `mt_plugin_info`, most easily defined with MT_PLUGIN_DEFINE:
 *
 *   static gboolean
 *   register_nodes (MtRegistry *reg, GError **error)
 *   {
 *     return mt_registry_register (reg, "my_mask", MY_TYPE_MASK, error);
 *   }
 *   MT_PLUGIN_DEFINE ("my-plugin", "What it adds", "1.0", register_nodes)
 *
 * The loader rejects a plugin built for another MT_PLUGIN_ABI_VERSION. */
#pragma once

#include <gmodule.h>

#include "runtime/mt-registry.h"
#include "base/mt-version.h"

G_BEGIN_DECLS

typedef struct {
  guint32     abi_version;
  const char *name;
  const char *description;
  const char *version;
  gboolean  (*register_nodes) (MtRegistry *registry, GError **error);
} MtPluginInfo;

#define MT_PLUGIN_SYMBOL "mt_plugin_info"

/* A plugin linked into the program rather than loaded (masktune's built-in nodes are
 * one): its nodes join the default registry, with origin "built-in", when that registry
 * is first made. Call it from a constructor, before main. */
void mt_plugin_register_static (const MtPluginInfo *info);

#define MT_PLUGIN_DEFINE(name_, description_, version_, register_func_)          \
  G_MODULE_EXPORT const MtPluginInfo mt_plugin_info = {                         \
    MT_PLUGIN_ABI_VERSION, name_, description_, version_, register_func_ };

G_END_DECLS
