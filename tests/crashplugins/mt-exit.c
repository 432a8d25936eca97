/* A plugin that ends the process from its register function with status 0. */
#include "masktune.h"

#include <stdlib.h>

static gboolean
exit_register (MtRegistry *reg, GError **error)
{
  exit (0);
}

MT_PLUGIN_DEFINE ("exit-zero", "calls exit(0) while registering", "1", exit_register)
