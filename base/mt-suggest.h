/* "Did you mean ...?" for misspelt names. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Damerau-Levenshtein (optimal string alignment) distance. */
guint       mt_suggest_distance (const char *a, const char *b);
/* The closest of @candidates (NULL-terminated) within a distance that fits the
 * word's length, or NULL. */
const char *mt_suggest_closest  (const char *word, const char *const *candidates);
/* "; did you mean 'x'?" or "" — for appending to a message. Free the result. */
char       *mt_suggest_hint     (const char *word, const char *const *candidates);

G_END_DECLS
