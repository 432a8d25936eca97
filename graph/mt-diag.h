/* Diagnostics for .pipe files: every error of a file is collected, then reported at
 * once as FILE:LINE:COL: error: MESSAGE, in file order. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MtDiag MtDiag;

MtDiag  *mt_diag_new    (const char *filename);
void     mt_diag_free   (MtDiag *d);
void     mt_diag_error  (MtDiag *d, int line, int col, const char *format, ...) G_GNUC_PRINTF (4, 5);
guint    mt_diag_count  (MtDiag *d);
/* All messages, one per line, sorted by position. */
char    *mt_diag_format (MtDiag *d);
/* Sets @error (MT_ERROR_PARSE) to the formatted messages if there are any. */
gboolean mt_diag_check  (MtDiag *d, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtDiag, mt_diag_free)

G_END_DECLS
