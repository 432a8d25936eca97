#include "base/mt-csv.h"
#include "base/mt-error.h"

#include <string.h>

MtCsv *
mt_csv_parse (const char *data, gsize len, const char *what, GError **error)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_autoptr (GPtrArray) row = g_ptr_array_new_with_free_func (g_free);
  GString *field = g_string_new (NULL);
  gboolean quoted = FALSE, was_quoted = FALSE;
  guint line = 1, quote_line = 0;
  for (gsize i = 0; i <= len; i++) {
    char c = i < len ? data[i] : '\n';
    if (quoted) {
      if (c == '"' && i + 1 < len && data[i + 1] == '"') {
        g_string_append_c (field, '"');
        i++;
      } else if (c == '"') {
        quoted = FALSE;
      } else if (i == len) {
        g_string_free (field, TRUE);
        g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s:%u: a quoted field is never closed", what, quote_line);
        return NULL;
      } else {
        if (c == '\n')
          line++;
        g_string_append_c (field, c);
      }
      continue;
    }
    if (c == '"' && field->len == 0 && !was_quoted) {
      quoted = was_quoted = TRUE;
      quote_line = line;
    } else if (c == ',') {
      g_ptr_array_add (row, g_string_free (field, FALSE));
      field = g_string_new (NULL);
      was_quoted = FALSE;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < len && data[i + 1] == '\n')
        i++;
      gboolean blank = row->len == 0 && field->len == 0 && !was_quoted;
      if (!blank) {  /* blank lines (a trailing newline) are no rows */
        g_ptr_array_add (row, g_string_free (field, FALSE));
        field = g_string_new (NULL);
        g_ptr_array_add (row, NULL);
        g_ptr_array_add (rows, g_ptr_array_steal (row, NULL));
        row = g_ptr_array_new_with_free_func (g_free);
      }
      was_quoted = FALSE;
      line++;
    } else {
      g_string_append_c (field, c);
    }
  }
  g_string_free (field, TRUE);
  MtCsv *csv = g_new0 (MtCsv, 1);
  csv->rows = g_steal_pointer (&rows);
  return csv;
}

void
mt_csv_free (MtCsv *csv)
{
  if (!csv)
    return;
  g_ptr_array_unref (csv->rows);
  g_free (csv);
}

int
mt_csv_column (MtCsv *csv, const char *name)
{
  if (!csv->rows->len)
    return -1;
  char **header = csv->rows->pdata[0];
  for (int i = 0; header[i]; i++)
    if (strcmp (g_strstrip (header[i]), name) == 0)
      return i;
  return -1;
}
