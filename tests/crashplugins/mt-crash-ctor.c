/* A plugin that crashes as soon as it is loaded (in its constructor). */
#include "masktune.h"

#include <signal.h>

__attribute__ ((constructor)) static void
crash_on_load (void)
{
  raise (SIGSEGV);
}

static gboolean
never_register (MtRegistry *reg, GError **error)
{
  return TRUE;
}

MT_PLUGIN_DEFINE ("crash-ctor", "crashes when loaded", "1", never_register)
