/* Tokens of the .pipe language. */
#pragma once

#include "graph/mt-diag.h"

G_BEGIN_DECLS

typedef enum {
  MT_TOK_EOF,
  MT_TOK_NEWLINE,
  MT_TOK_IDENT,
  MT_TOK_INT,
  MT_TOK_FLOAT,
  MT_TOK_STRING,
  MT_TOK_PARAM,     /* $name: text is the name */
  MT_TOK_EQUALS,
  MT_TOK_LPAREN,
  MT_TOK_RPAREN,
  MT_TOK_LBRACKET,
  MT_TOK_RBRACKET,
  MT_TOK_COMMA,
  MT_TOK_DOT,
  MT_TOK_STAR,      /* '*' in NODE[*] */
  MT_TOK_ERROR,     /* already reported */
} MtTokKind;

typedef struct {
  MtTokKind kind;
  int line, col;    /* 1-based; col counts bytes */
  char *text;       /* IDENT, STRING (unescaped), PARAM, INT/FLOAT source text */
  gint64 i;
  double d;
} MtToken;

/* Splits @src into tokens (ending with MT_TOK_EOF), reporting lexical errors to @diag.
 * Returns a GArray of MtToken that frees the tokens' text. */
GArray     *mt_lex (const char *src, MtDiag *diag);
const char *mt_tok_describe (const MtToken *t);  /* for messages: "'('", "end of line" */

G_END_DECLS
