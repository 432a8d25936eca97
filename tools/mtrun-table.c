#include "tools/mtrun-table.h"

#include <string.h>

struct _MtrunTable {
  guint ncols;
  gboolean *right;
  GPtrArray *rows;  /* GStrv each, the header first */
};

MtrunTable *
mtrun_table_new (const char *const *header)
{
  MtrunTable *t = g_new0 (MtrunTable, 1);
  t->ncols = g_strv_length ((char **) header);
  t->right = g_new0 (gboolean, t->ncols);
  t->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  char **h = g_new0 (char *, t->ncols + 1);
  for (guint i = 0; i < t->ncols; i++) {
    t->right[i] = header[i][0] == '>';
    h[i] = g_strdup (header[i] + (t->right[i] ? 1 : 0));
  }
  g_ptr_array_add (t->rows, h);
  return t;
}

void
mtrun_table_add (MtrunTable *t, const char *const *cells)
{
  char **r = g_new0 (char *, t->ncols + 1);
  for (guint i = 0; i < t->ncols; i++)
    r[i] = g_strdup (cells[i] ? cells[i] : "");
  g_ptr_array_add (t->rows, r);
}

static guint
width (const char *s)
{
  return g_utf8_validate (s, -1, NULL) ? (guint) g_utf8_strlen (s, -1) : (guint) strlen (s);
}

void
mtrun_table_print (MtrunTable *t, FILE *out)
{
  g_autofree guint *w = g_new0 (guint, t->ncols);
  for (guint r = 0; r < t->rows->len; r++) {
    char **row = t->rows->pdata[r];
    for (guint c = 0; c < t->ncols; c++)
      w[c] = MAX (w[c], width (row[c]));
  }
  for (guint r = 0; r < t->rows->len; r++) {
    char **row = t->rows->pdata[r];
    GString *line = g_string_new (NULL);
    for (guint c = 0; c < t->ncols; c++) {
      guint pad = w[c] - width (row[c]);
      gboolean last = c + 1 == t->ncols;
      if (c > 0)
        g_string_append (line, "  ");
      if (t->right[c])
        g_string_append_printf (line, "%*s", (int) pad, "");
      g_string_append (line, row[c]);
      if (!t->right[c] && !last)
        g_string_append_printf (line, "%*s", (int) pad, "");
    }
    while (line->len > 0 && line->str[line->len - 1] == ' ')
      g_string_truncate (line, line->len - 1);
    fprintf (out, "%s\n", line->str);
    g_string_free (line, TRUE);
  }
}

void
mtrun_table_free (MtrunTable *t)
{
  if (!t)
    return;
  g_ptr_array_unref (t->rows);
  g_free (t->right);
  g_free (t);
}
