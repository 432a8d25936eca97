/* A shared object that is no masktune plugin: no mt_plugin_info symbol. */
#include <gmodule.h>

G_MODULE_EXPORT int mt_not_a_plugin (void);

G_MODULE_EXPORT int
mt_not_a_plugin (void)
{
  return 42;
}
