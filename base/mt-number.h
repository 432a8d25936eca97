/* Numbers as people read them. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The shortest text that reads back as exactly @d ("0.005", not "0.0050000000000000001"). */
char *mt_number_format (double d);
/* A byte count as people read it: "812 B", "4.6 KiB", "24 MiB" (powers of 1024). */
char *mt_number_format_size (gint64 bytes);

G_END_DECLS
