/* A plugin built for another ABI: the loader must reject it with a reason. */
#include "masktune.h"

static gboolean
register_nodes (MtRegistry *reg, GError **error)
{
  return TRUE;
}

G_MODULE_EXPORT const MtPluginInfo mt_plugin_info = {
  MT_PLUGIN_ABI_VERSION + 41, "bad-abi", "built for a future ABI", "1", register_nodes
};
