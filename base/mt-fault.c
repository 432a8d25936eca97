#include "base/mt-fault.h"

#include <stdlib.h>
#include <unistd.h>

gboolean
mt_fault_active (const char *point)
{
  const char *f = g_getenv ("MT_FAULT");
  return f != NULL && g_strcmp0 (f, point) == 0;
}

void
mt_fault_point (const char *point)
{
  if (mt_fault_active (point)) {
    g_printerr ("masktune: MT_FAULT=%s: simulating a crash\n", point);
    _exit (86);  /* no atexit handlers, no flushing: like a crash */
  }
}
