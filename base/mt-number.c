#include "base/mt-number.h"

char *
mt_number_format (double d)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  for (int digits = 15; digits < 17; digits++) {
    char fmt[8];
    g_snprintf (fmt, sizeof fmt, "%%.%dg", digits);
    g_ascii_formatd (buf, sizeof buf, fmt, d);
    if (g_ascii_strtod (buf, NULL) == d)
      return g_strdup (buf);
  }
  return g_strdup (g_ascii_dtostr (buf, sizeof buf, d));
}
