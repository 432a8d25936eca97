/* CSV as RFC 4180 writes it (and pandas, which wrote Waterbirds' metadata.csv): commas,
 * double-quoted fields with "" for a quote, CRLF or LF line ends. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  GPtrArray *rows;   /* GStrv each; the header first */
} MtCsv;

/* Parses @data; an unterminated quote is an error naming @what and the line. */
MtCsv      *mt_csv_parse  (const char *data, gsize len, const char *what, GError **error);
void        mt_csv_free   (MtCsv *csv);
/* The column named @name in the header, or -1. */
int         mt_csv_column (MtCsv *csv, const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtCsv, mt_csv_free)

G_END_DECLS
