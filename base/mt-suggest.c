#include "base/mt-suggest.h"

#include <string.h>

guint
mt_suggest_distance (const char *a, const char *b)
{
  gsize n = strlen (a), m = strlen (b);
  g_autofree guint *d = g_new (guint, (n + 1) * (m + 1));
#define D(i, j) d[(i) * (m + 1) + (j)]
  for (gsize i = 0; i <= n; i++)
    D (i, 0) = i;
  for (gsize j = 0; j <= m; j++)
    D (0, j) = j;
  for (gsize i = 1; i <= n; i++)
    for (gsize j = 1; j <= m; j++) {
      guint cost = g_ascii_tolower (a[i - 1]) == g_ascii_tolower (b[j - 1]) ? 0 : 1;
      guint v = MIN (MIN (D (i - 1, j) + 1, D (i, j - 1) + 1), D (i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        v = MIN (v, D (i - 2, j - 2) + 1);
      D (i, j) = v;
    }
  guint r = D (n, m);
#undef D
  return r;
}

const char *
mt_suggest_closest (const char *word, const char *const *candidates)
{
  const char *best = NULL;
  guint best_d = G_MAXUINT;
  gsize len = strlen (word);
  /* Short words are close to anything: for them, one edit that keeps the first letter. */
  guint limit = MAX (1, (guint) len / 3);
  for (guint i = 0; candidates && candidates[i]; i++) {
    if (len <= 2 && g_ascii_tolower (candidates[i][0]) != g_ascii_tolower (word[0]))
      continue;
    guint dist = mt_suggest_distance (word, candidates[i]);
    if (dist < best_d) {
      best_d = dist;
      best = candidates[i];
    }
  }
  return best_d <= limit ? best : NULL;
}

char *
mt_suggest_hint (const char *word, const char *const *candidates)
{
  const char *c = mt_suggest_closest (word, candidates);
  return c ? g_strdup_printf ("; did you mean '%s'?", c) : g_strdup ("");
}
