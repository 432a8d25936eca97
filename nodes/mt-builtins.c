#include "mt-builtins.h"
#include "mt-npy-file.h"

void
mt_builtins_register (MtRegistry *reg)
{
  g_autoptr (GError) error = NULL;
  if (!mt_registry_register (reg, "npy_file", MT_TYPE_NPY_FILE, &error))
    g_error ("registering built-in nodes: %s", error->message);
}
