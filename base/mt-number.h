/* Numbers as people read them. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The shortest text that reads back as exactly @d ("0.005", not "0.0050000000000000001"). */
char *mt_number_format (double d);

G_END_DECLS
