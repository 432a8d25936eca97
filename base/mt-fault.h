/* Fault injection for the crash-safety tests: MT_FAULT=<point> makes the process
 * abort at that point, as a kill -9 or a power cut would stop it there. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean mt_fault_active (const char *point);
/* Aborts the process when MT_FAULT names @point. */
void     mt_fault_point  (const char *point);

G_END_DECLS
