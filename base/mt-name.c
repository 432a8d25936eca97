#include "base/mt-name.h"

gboolean
mt_name_is_valid (const char *s)
{
  if (!s || !mt_name_start_char (s[0]))
    return FALSE;
  gsize n = 0;
  for (; *s; s++, n++)
    if (!mt_name_char (*s) || n >= 256)
      return FALSE;
  return TRUE;
}
