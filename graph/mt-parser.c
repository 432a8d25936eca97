#include "graph/mt-parser.h"
#include "base/mt-error.h"
#include "graph/mt-lexer.h"


typedef struct {
  GArray *toks;
  guint pos;
  MtDiag *diag;
  int depth;   /* inside ( or [: newlines are insignificant */
} Parser;

static MtToken *
peek (Parser *p)
{
  /* Newlines inside brackets are only layout. */
  while (p->depth > 0 && g_array_index (p->toks, MtToken, p->pos).kind == MT_TOK_NEWLINE)
    p->pos++;
  return &g_array_index (p->toks, MtToken, p->pos);
}

static MtToken *
next (Parser *p)
{
  MtToken *t = peek (p);
  if (t->kind != MT_TOK_EOF)
    p->pos++;
  return t;
}

static gboolean
is_keyword (const char *s)
{
  return g_strcmp0 (s, "param") == 0 || g_strcmp0 (s, "true") == 0 || g_strcmp0 (s, "false") == 0;
}

/* Error recovery: drop the rest of the statement. */
static void
skip_line (Parser *p)
{
  p->depth = 0;
  MtToken *t;
  while ((t = peek (p))->kind != MT_TOK_NEWLINE && t->kind != MT_TOK_EOF)
    p->pos++;
}

static void
expected (Parser *p, MtToken *t, const char *what)
{
  if (t->kind == MT_TOK_ERROR)
    return;  /* the lexer said it already */
  if (t->kind == MT_TOK_IDENT)
    mt_diag_error (p->diag, t->line, t->col, "expected %s, found '%s'", what, t->text);
  else
    mt_diag_error (p->diag, t->line, t->col, "expected %s, found %s", what, mt_tok_describe (t));
}

static MtAstValue *parse_value (Parser *p, gboolean allow_ref);

/* Lists of node names are allowed where a single name is: inputs that take several. */
static MtAstValue *
parse_list (Parser *p, gboolean allow_ref)
{
  MtToken *open = next (p);
  MtAstValue *v = mt_ast_value_new (MT_AST_LIST, open->line, open->col);
  p->depth++;
  if (peek (p)->kind == MT_TOK_RBRACKET) {
    next (p);
    p->depth--;
    return v;
  }
  for (;;) {
    MtAstValue *item = parse_value (p, allow_ref);
    if (!item) {
      mt_ast_value_free (v);
      return NULL;
    }
    if (item->kind == MT_AST_LIST) {
      mt_diag_error (p->diag, item->line, item->col, "lists cannot be nested");
      mt_ast_value_free (item);
      mt_ast_value_free (v);
      return NULL;
    }
    g_ptr_array_add (v->items, item);
    MtToken *t = next (p);
    if (t->kind == MT_TOK_RBRACKET)
      break;
    if (t->kind != MT_TOK_COMMA) {
      expected (p, t, "',' or ']' in list");
      mt_ast_value_free (v);
      return NULL;
    }
    if (peek (p)->kind == MT_TOK_RBRACKET) {  /* trailing comma */
      next (p);
      break;
    }
  }
  p->depth--;
  return v;
}

static MtAstValue *
parse_value (Parser *p, gboolean allow_ref)
{
  MtToken *t = peek (p);
  MtAstValue *v = NULL;
  switch (t->kind) {
  case MT_TOK_INT:
    next (p);
    v = mt_ast_value_new (MT_AST_INT, t->line, t->col);
    v->i = t->i;
    v->d = (double) t->i;
    return v;
  case MT_TOK_FLOAT:
    next (p);
    v = mt_ast_value_new (MT_AST_FLOAT, t->line, t->col);
    v->d = t->d;
    return v;
  case MT_TOK_STRING:
    next (p);
    v = mt_ast_value_new (MT_AST_STRING, t->line, t->col);
    v->s = g_strdup (t->text);
    return v;
  case MT_TOK_PARAM:
    next (p);
    v = mt_ast_value_new (MT_AST_PARAM, t->line, t->col);
    v->s = g_strdup (t->text);
    return v;
  case MT_TOK_LBRACKET:
    return parse_list (p, allow_ref);
  case MT_TOK_IDENT:
    if (g_strcmp0 (t->text, "true") == 0 || g_strcmp0 (t->text, "false") == 0) {
      next (p);
      v = mt_ast_value_new (MT_AST_BOOL, t->line, t->col);
      v->b = t->text[0] == 't';
      return v;
    }
    if (!allow_ref) {
      mt_diag_error (p->diag, t->line, t->col,
                     "expected a literal value, found name '%s' (quote it to make a string)", t->text);
      return NULL;
    }
    next (p);
    v = mt_ast_value_new (MT_AST_REF, t->line, t->col);
    v->s = g_strdup (t->text);
    if (peek (p)->kind == MT_TOK_LBRACKET) {
      /* NODE[*]: every instance of a swept node; NODE[k=1.5, ...]: one of them. */
      next (p);
      if (peek (p)->kind == MT_TOK_STAR) {
        next (p);
        MtToken *close = next (p);
        if (close->kind != MT_TOK_RBRACKET) {
          expected (p, close, "']' after '[*'");
          mt_ast_value_free (v);
          return NULL;
        }
        v->every = TRUE;
      } else {
        v->pins = g_ptr_array_new_with_free_func (mt_ast_arg_free);
        for (;;) {
          MtToken *name = next (p), *eq = name->kind == MT_TOK_IDENT ? next (p) : name;
          if (name->kind != MT_TOK_IDENT || eq->kind != MT_TOK_EQUALS) {
            expected (p, eq, "'[*]' (every instance) or '[PARAM=VALUE, ...]' (one) after a node name");
            mt_ast_value_free (v);
            return NULL;
          }
          MtAstArg *pin = g_new0 (MtAstArg, 1);
          pin->key = g_strdup (name->text);
          pin->line = name->line;
          pin->col = name->col;
          g_ptr_array_add (v->pins, pin);
          pin->value = parse_value (p, FALSE);
          if (!pin->value) {
            mt_ast_value_free (v);
            return NULL;
          }
          MtToken *sep = next (p);
          if (sep->kind == MT_TOK_RBRACKET)
            break;
          if (sep->kind != MT_TOK_COMMA) {
            expected (p, sep, "',' or ']' in a node's instance");
            mt_ast_value_free (v);
            return NULL;
          }
        }
      }
    }
    if (peek (p)->kind == MT_TOK_DOT) {
      next (p);
      MtToken *port = next (p);
      if (port->kind != MT_TOK_IDENT) {
        expected (p, port, "an output port name after '.'");
        mt_ast_value_free (v);
        return NULL;
      }
      v->port = g_strdup (port->text);
      v->port_line = port->line;
      v->port_col = port->col;
    }
    return v;
  default:
    expected (p, t, "a value");
    return NULL;
  }
}

static MtAstStmt *
parse_param (Parser *p, MtToken *kw)
{
  MtToken *name = next (p);
  if (name->kind != MT_TOK_IDENT || is_keyword (name->text)) {
    expected (p, name, "a parameter name after 'param'");
    return NULL;
  }
  MtToken *eq = next (p);
  gboolean sweep = eq->kind == MT_TOK_IDENT && g_strcmp0 (eq->text, "in") == 0;
  if (eq->kind != MT_TOK_EQUALS && !sweep) {
    expected (p, eq, "'=' or 'in' after the parameter name");
    return NULL;
  }
  MtAstValue *v = parse_value (p, FALSE);
  if (!v)
    return NULL;
  if (v->kind == MT_AST_PARAM) {
    mt_diag_error (p->diag, v->line, v->col, "a parameter's default must be a literal");
    mt_ast_value_free (v);
    return NULL;
  }
  if (sweep && (v->kind != MT_AST_LIST || v->items->len == 0)) {
    mt_diag_error (p->diag, v->line, v->col, "'param %s in' takes a list of one or more values to sweep", name->text);
    mt_ast_value_free (v);
    return NULL;
  }
  MtAstStmt *s = g_new0 (MtAstStmt, 1);
  s->kind = MT_AST_STMT_PARAM;
  s->sweep = sweep;
  s->name = g_strdup (name->text);
  s->line = name->line;
  s->col = name->col;
  s->value = v;
  return s;
}

static MtAstStmt *
parse_node (Parser *p, MtToken *name)
{
  if (is_keyword (name->text)) {
    mt_diag_error (p->diag, name->line, name->col, "'%s' is a reserved word and cannot name a node", name->text);
    return NULL;
  }
  MtToken *eq = next (p);
  if (eq->kind != MT_TOK_EQUALS) {
    expected (p, eq, "'=' after the node name");
    return NULL;
  }
  MtToken *type = next (p);
  if (type->kind != MT_TOK_IDENT) {
    expected (p, type, "a node type after '='");
    return NULL;
  }
  MtToken *open = next (p);
  if (open->kind != MT_TOK_LPAREN) {
    expected (p, open, "'(' after the node type");
    return NULL;
  }
  g_autoptr (GPtrArray) args = g_ptr_array_new_with_free_func (mt_ast_arg_free);
  p->depth++;
  gboolean seen_keyword = FALSE;
  while (peek (p)->kind != MT_TOK_RPAREN) {
    MtToken *t = peek (p);
    MtAstArg *arg = g_new0 (MtAstArg, 1);
    arg->line = t->line;
    arg->col = t->col;
    MtToken *after = t->kind == MT_TOK_EOF ? t : &g_array_index (p->toks, MtToken, p->pos + 1);
    if (t->kind == MT_TOK_IDENT && after->kind == MT_TOK_EQUALS) {
      arg->key = g_strdup (t->text);
      next (p);
      next (p);
      seen_keyword = TRUE;
    } else if (seen_keyword && t->kind != MT_TOK_EOF) {
      mt_diag_error (p->diag, t->line, t->col, "a positional argument cannot follow a key=value argument");
    }
    arg->value = parse_value (p, TRUE);
    if (!arg->value) {
      mt_ast_arg_free (arg);
      return NULL;
    }
    g_ptr_array_add (args, arg);
    MtToken *sep = peek (p);
    if (sep->kind == MT_TOK_COMMA) {
      next (p);
      continue;
    }
    if (sep->kind != MT_TOK_RPAREN) {
      expected (p, sep, "',' or ')' after an argument");
      return NULL;
    }
  }
  next (p);
  p->depth--;

  MtAstStmt *s = g_new0 (MtAstStmt, 1);
  s->kind = MT_AST_STMT_NODE;
  s->name = g_strdup (name->text);
  s->line = name->line;
  s->col = name->col;
  s->type = g_strdup (type->text);
  s->type_line = type->line;
  s->type_col = type->col;
  s->args = g_steal_pointer (&args);
  return s;
}

MtAstFile *
mt_parse (const char *filename, const char *src, MtDiag *diag)
{
  MtAstFile *file = g_new0 (MtAstFile, 1);
  file->filename = g_strdup (filename);
  file->stmts = mt_ast_stmt_array_new ();
  Parser p = { mt_lex (src, diag), 0, diag, 0 };

  for (;;) {
    MtToken *t = next (&p);
    if (t->kind == MT_TOK_EOF)
      break;
    if (t->kind == MT_TOK_NEWLINE)
      continue;
    MtAstStmt *s = NULL;
    if (t->kind == MT_TOK_IDENT && g_strcmp0 (t->text, "param") == 0)
      s = parse_param (&p, t);
    else if (t->kind == MT_TOK_IDENT)
      s = parse_node (&p, t);
    else
      expected (&p, t, "a statement ('NAME = TYPE(...)' or 'param NAME = VALUE')");
    if (s) {
      g_ptr_array_add (file->stmts, s);
      MtToken *end = peek (&p);
      if (end->kind != MT_TOK_NEWLINE && end->kind != MT_TOK_EOF) {
        expected (&p, end, "end of line after the statement");
        skip_line (&p);
      }
    } else {
      skip_line (&p);
    }
  }
  g_array_unref (p.toks);
  return file;
}

MtAstValue *
mt_parse_cli_value (const char *text, GError **error)
{
  g_autoptr (MtDiag) diag = mt_diag_new ("--set");
  GArray *toks = mt_lex (text, diag);
  Parser p = { toks, 0, diag, 0 };
  MtAstValue *v = NULL;
  MtToken *first = peek (&p);
  if (mt_diag_count (diag) == 0 && first->kind != MT_TOK_IDENT && first->kind != MT_TOK_PARAM)
    v = parse_value (&p, FALSE);
  else if (mt_diag_count (diag) == 0 && first->kind == MT_TOK_IDENT &&
           (g_strcmp0 (first->text, "true") == 0 || g_strcmp0 (first->text, "false") == 0))
    v = parse_value (&p, FALSE);
  if (v && (peek (&p)->kind != MT_TOK_EOF || mt_diag_count (diag) > 0)) {
    mt_ast_value_free (v);
    v = NULL;
  }
  g_array_unref (toks);
  if (!v) {
    if (text[0] == '[' || text[0] == '"' || text[0] == '\'') {
      g_set_error (error, MT_ERROR, MT_ERROR_PARSE, "cannot parse value '%s'", text);
      return NULL;
    }
    /* A bare word: take it as a string, so --set method=top_k works unquoted. */
    v = mt_ast_value_new (MT_AST_STRING, 0, 0);
    v->s = g_strdup (text);
  }
  return v;
}
