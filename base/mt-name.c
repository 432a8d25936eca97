#include "base/mt-name.h"

#include <string.h>

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

gboolean
mt_name_value_is_valid (const char *s)
{
  if (!s || !*s)
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isalnum (*s) && !strchr ("._+-", *s))
      return FALSE;
  return TRUE;
}

gboolean
mt_name_is_valid_node (const char *s)
{
  if (!s || strlen (s) > 1024)
    return FALSE;
  const char *open = strchr (s, '[');
  if (!open)
    return mt_name_is_valid (s);
  g_autofree char *base = g_strndup (s, open - s);
  gsize len = strlen (open);
  if (!mt_name_is_valid (base) || len < 2 || open[len - 1] != ']')
    return FALSE;
  g_autofree char *inner = g_strndup (open + 1, len - 2);
  g_auto (GStrv) parts = g_strsplit (inner, ",", -1);
  for (guint i = 0; parts[i]; i++) {
    char *eq = strchr (parts[i], '=');
    if (!eq)
      return FALSE;
    *eq = 0;
    if (!mt_name_is_valid (parts[i]) || !mt_name_value_is_valid (eq + 1))
      return FALSE;
  }
  return parts[0] != NULL;
}
