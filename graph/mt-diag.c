#include "graph/mt-diag.h"
#include "base/mt-error.h"

typedef struct {
  int line, col;
  guint seq;
  char *text;
} Entry;

struct _MtDiag {
  char *filename;
  GArray *entries;
  GHashTable *seen;  /* "line:col:text" of every entry */
};

/* Past this many, the rest of a file's errors are counted, not listed: the first ones
 * are the ones to fix, and a wrong file should not flood the terminal. */
#define MT_DIAG_SHOWN 25

static void
entry_clear (gpointer p)
{
  g_free (((Entry *) p)->text);
}

MtDiag *
mt_diag_new (const char *filename)
{
  MtDiag *d = g_new0 (MtDiag, 1);
  d->filename = g_strdup (filename);
  d->entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  g_array_set_clear_func (d->entries, entry_clear);
  d->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return d;
}

void
mt_diag_free (MtDiag *d)
{
  if (!d)
    return;
  g_array_unref (d->entries);
  g_hash_table_unref (d->seen);
  g_free (d->filename);
  g_free (d);
}

void
mt_diag_error (MtDiag *d, int line, int col, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  Entry e = { line, col, d->entries->len, g_strdup_vprintf (format, ap) };
  va_end (ap);
  /* The same message at the same place (e.g. from error recovery) is said once. */
  if (!g_hash_table_add (d->seen, g_strdup_printf ("%d:%d:%s", line, col, e.text))) {
    g_free (e.text);
    return;
  }
  g_array_append_val (d->entries, e);
}

guint
mt_diag_count (MtDiag *d)
{
  return d->entries->len;
}

static int
cmp_entry (gconstpointer a, gconstpointer b)
{
  const Entry *x = a, *y = b;
  if (x->line != y->line)
    return x->line - y->line;
  if (x->col != y->col)
    return x->col - y->col;
  return (int) x->seq - (int) y->seq;
}

char *
mt_diag_format (MtDiag *d)
{
  g_array_sort (d->entries, cmp_entry);
  GString *s = g_string_new (NULL);
  guint shown = MIN (d->entries->len, MT_DIAG_SHOWN);
  for (guint i = 0; i < shown; i++) {
    Entry *e = &g_array_index (d->entries, Entry, i);
    if (i)
      g_string_append_c (s, '\n');
    if (e->line > 0)
      g_string_append_printf (s, "%s:%d:%d: error: %s", d->filename, e->line, e->col, e->text);
    else
      g_string_append_printf (s, "%s: error: %s", d->filename, e->text);
  }
  if (d->entries->len > shown)
    g_string_append_printf (s, "\n%s: … and %u more errors", d->filename, d->entries->len - shown);
  return g_string_free (s, FALSE);
}

gboolean
mt_diag_check (MtDiag *d, GError **error)
{
  if (d->entries->len == 0)
    return TRUE;
  g_autofree char *msg = mt_diag_format (d);
  g_set_error_literal (error, MT_ERROR, MT_ERROR_PARSE, msg);
  return FALSE;
}
