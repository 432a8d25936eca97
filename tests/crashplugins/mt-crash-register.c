/* A plugin whose register function crashes: the scanner dies of SIGSEGV, mtrun lives. */
#include "masktune.h"

#include <signal.h>

static gboolean
crash_register (MtRegistry *reg, GError **error)
{
  raise (SIGSEGV);
  return TRUE;
}

MT_PLUGIN_DEFINE ("crash-register", "crashes while registering", "1", crash_register)
