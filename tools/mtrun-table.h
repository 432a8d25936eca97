/* Aligned text tables for the terminal: columns as wide as their widest cell (counted in
 * characters, not bytes), numbers right-aligned, the last column left ragged. */
#pragma once

#include <glib.h>
#include <stdio.h>

G_BEGIN_DECLS

typedef struct _MtrunTable MtrunTable;

/* @header: the column titles, NULL-terminated; a title starting with '>' is a
 * right-aligned column (the '>' is not printed). */
MtrunTable *mtrun_table_new   (const char *const *header);
/* One row: as many cells as columns (NULL prints as empty); copied. */
void        mtrun_table_add   (MtrunTable *t, const char *const *cells);
void        mtrun_table_print (MtrunTable *t, FILE *out);
void        mtrun_table_free  (MtrunTable *t);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtrunTable, mtrun_table_free)

G_END_DECLS
