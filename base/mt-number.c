#include "base/mt-number.h"

#include <math.h>

char *
mt_number_format (double d)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  if (!isfinite (d))
    return g_strdup (isnan (d) ? "nan" : d > 0 ? "inf" : "-inf");
  /* Whole numbers as people write them ("100", where the shortest %g is "1e+02"). */
  if (d == floor (d) && fabs (d) < 1e15)
    return g_strdup_printf ("%.0f", d == 0 ? 0.0 : d);
  /* %.17g always reads back; fewer digits often do. The first that does is the shortest. */
  for (int digits = 1; digits <= 17; digits++) {
    char fmt[8];
    g_snprintf (fmt, sizeof fmt, "%%.%dg", digits);
    g_ascii_formatd (buf, sizeof buf, fmt, d);
    if (g_ascii_strtod (buf, NULL) == d)
      return g_strdup (buf);
  }
  return g_strdup (g_ascii_dtostr (buf, sizeof buf, d));
}

char *
mt_number_format_size (gint64 bytes)
{
  static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
  double v = (double) bytes;
  guint u = 0;
  while (fabs (v) >= 1024 && u + 1 < G_N_ELEMENTS (units)) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT " B", bytes);
  return g_strdup_printf (v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
}
