#include "graph/mt-lexer.h"
#include "base/mt-name.h"

#include <errno.h>
#include <string.h>

static void
tok_clear (gpointer p)
{
  g_free (((MtToken *) p)->text);
}


GArray *
mt_lex (const char *src, MtDiag *diag)
{
  GArray *toks = g_array_new (FALSE, TRUE, sizeof (MtToken));
  g_array_set_clear_func (toks, tok_clear);
  int line = 1;
  const char *line_start = src;
  const char *p = src;

  while (*p) {
    int col = (int) (p - line_start) + 1;
    MtToken t = { .line = line, .col = col };
    char c = *p;
    if (c == ' ' || c == '\t' || c == '\r') {
      p++;
      continue;
    }
    if (c == '#') {
      while (*p && *p != '\n')
        p++;
      continue;
    }
    if (c == '\n') {
      t.kind = MT_TOK_NEWLINE;
      g_array_append_val (toks, t);
      p++;
      line++;
      line_start = p;
      continue;
    }
    if (mt_name_start_char (c)) {
      const char *s = p;
      while (mt_name_char (*p))
        p++;
      t.kind = MT_TOK_IDENT;
      t.text = g_strndup (s, p - s);
      g_array_append_val (toks, t);
      continue;
    }
    if (c == '$') {
      p++;
      const char *s = p;
      while (mt_name_char (*p))
        p++;
      if (p == s || !mt_name_start_char (*s)) {
        mt_diag_error (diag, line, col, "expected a parameter name after '$'");
        t.kind = MT_TOK_ERROR;
      } else {
        t.kind = MT_TOK_PARAM;
        t.text = g_strndup (s, p - s);
      }
      g_array_append_val (toks, t);
      continue;
    }
    if (g_ascii_isdigit (c) || ((c == '-' || c == '+') && (g_ascii_isdigit (p[1]) || (p[1] == '.' && g_ascii_isdigit (p[2])))) ||
        (c == '.' && g_ascii_isdigit (p[1]))) {
      const char *s = p;
      gboolean is_float = FALSE;
      if (*p == '-' || *p == '+')
        p++;
      while (g_ascii_isdigit (*p))
        p++;
      if (*p == '.' && g_ascii_isdigit (p[1])) {
        is_float = TRUE;
        p++;
        while (g_ascii_isdigit (*p))
          p++;
      }
      if ((*p == 'e' || *p == 'E') &&
          (g_ascii_isdigit (p[1]) || ((p[1] == '-' || p[1] == '+') && g_ascii_isdigit (p[2])))) {
        is_float = TRUE;
        p += 2;
        while (g_ascii_isdigit (*p))
          p++;
      }
      t.text = g_strndup (s, p - s);
      if (mt_name_char (*p)) {
        while (mt_name_char (*p))
          p++;
        mt_diag_error (diag, line, col, "malformed number '%.*s'", (int) (p - s), s);
        t.kind = MT_TOK_ERROR;
      } else if (is_float) {
        t.kind = MT_TOK_FLOAT;
        t.d = g_ascii_strtod (t.text, NULL);
      } else {
        char *end = NULL;
        errno = 0;
        t.i = g_ascii_strtoll (t.text, &end, 10);
        if (errno == ERANGE) {
          mt_diag_error (diag, line, col, "integer %s does not fit in 64 bits", t.text);
          t.kind = MT_TOK_ERROR;
        } else {
          t.kind = MT_TOK_INT;
        }
      }
      g_array_append_val (toks, t);
      continue;
    }
    if (c == '"' || c == '\'') {
      char quote = c;
      GString *s = g_string_new (NULL);
      p++;
      gboolean closed = FALSE;
      while (*p && *p != '\n') {
        if (*p == quote) {
          closed = TRUE;
          p++;
          break;
        }
        if (*p == '\\' && p[1]) {
          int ecol = (int) (p - line_start) + 1;
          p++;
          switch (*p) {
          case 'n': g_string_append_c (s, '\n'); break;
          case 't': g_string_append_c (s, '\t'); break;
          case '\\': g_string_append_c (s, '\\'); break;
          case '"': g_string_append_c (s, '"'); break;
          case '\'': g_string_append_c (s, '\''); break;
          default:
            mt_diag_error (diag, line, ecol, "unknown escape '\\%c' in string", *p);
          }
          p++;
          continue;
        }
        g_string_append_c (s, *p++);
      }
      if (!closed) {
        mt_diag_error (diag, line, col, "unterminated string");
        t.kind = MT_TOK_ERROR;
        g_string_free (s, TRUE);
      } else if (!g_utf8_validate (s->str, s->len, NULL)) {
        mt_diag_error (diag, line, col, "string is not valid UTF-8");
        t.kind = MT_TOK_ERROR;
        g_string_free (s, TRUE);
      } else {
        t.kind = MT_TOK_STRING;
        t.text = g_string_free (s, FALSE);
      }
      g_array_append_val (toks, t);
      continue;
    }
    switch (c) {
    case '=': t.kind = MT_TOK_EQUALS; break;
    case '(': t.kind = MT_TOK_LPAREN; break;
    case ')': t.kind = MT_TOK_RPAREN; break;
    case '[': t.kind = MT_TOK_LBRACKET; break;
    case ']': t.kind = MT_TOK_RBRACKET; break;
    case ',': t.kind = MT_TOK_COMMA; break;
    case '.': t.kind = MT_TOK_DOT; break;
    case '*': t.kind = MT_TOK_STAR; break;
    default: {
      gunichar u = g_utf8_get_char_validated (p, -1);
      if (u == (gunichar) -1 || u == (gunichar) -2)
        mt_diag_error (diag, line, col, "invalid byte 0x%02x (the file is not UTF-8)", (guint8) c);
      else if (g_unichar_isprint (u) && u >= 0x80) {
        char buf[8] = { 0 };
        g_unichar_to_utf8 (u, buf);
        mt_diag_error (diag, line, col, "unexpected character '%s'", buf);
      } else if (g_ascii_isprint (c))
        mt_diag_error (diag, line, col, "unexpected character '%c'", c);
      else
        mt_diag_error (diag, line, col, "unexpected character U+%04X", u);
      t.kind = MT_TOK_ERROR;
      const char *next = (u == (gunichar) -1 || u == (gunichar) -2) ? p + 1 : g_utf8_next_char (p);
      g_array_append_val (toks, t);
      p = next;
      continue;
    }
    }
    p++;
    g_array_append_val (toks, t);
  }
  MtToken eof = { .kind = MT_TOK_EOF, .line = line, .col = (int) (p - line_start) + 1 };
  g_array_append_val (toks, eof);
  return toks;
}

const char *
mt_tok_describe (const MtToken *t)
{
  switch (t->kind) {
  case MT_TOK_EOF: return "end of file";
  case MT_TOK_NEWLINE: return "end of line";
  case MT_TOK_IDENT: return "a name";
  case MT_TOK_INT: return "an integer";
  case MT_TOK_FLOAT: return "a number";
  case MT_TOK_STRING: return "a string";
  case MT_TOK_PARAM: return "a parameter";
  case MT_TOK_EQUALS: return "'='";
  case MT_TOK_LPAREN: return "'('";
  case MT_TOK_RPAREN: return "')'";
  case MT_TOK_LBRACKET: return "'['";
  case MT_TOK_RBRACKET: return "']'";
  case MT_TOK_COMMA: return "','";
  case MT_TOK_DOT: return "'.'";
  case MT_TOK_STAR: return "'*'";
  case MT_TOK_ERROR: return "an invalid token";
  }
  return "a token";
}
