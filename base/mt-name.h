/* Names as the .pipe language writes them (nodes, ports, node types, params): a letter or
 * '_', then letters, digits and '_'. One rule for the lexer, the registry and everything
 * that reads names back from untrusted files (manifests), so a name can never be a path. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

static inline gboolean mt_name_start_char (char c) { return g_ascii_isalpha (c) || c == '_'; }
static inline gboolean mt_name_char (char c) { return g_ascii_isalnum (c) || c == '_'; }

/* TRUE when @s is a whole, non-empty name of at most 256 characters. */
gboolean mt_name_is_valid (const char *s);
/* A swept value as instance names write it: letters, digits and . _ + -, not empty. */
gboolean mt_name_value_is_valid (const char *s);
/* A node's name: a name, or an instance of a swept one, NAME[PARAM=VALUE,...] (at most
 * 1024 characters). Never a path: no '/', and not "." or "..". */
gboolean mt_name_is_valid_node (const char *s);

G_END_DECLS
