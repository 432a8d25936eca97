#include "graph/mt-ast.h"

MtAstValue *
mt_ast_value_new (MtAstValueKind kind, int line, int col)
{
  MtAstValue *v = g_new0 (MtAstValue, 1);
  v->kind = kind;
  v->line = line;
  v->col = col;
  if (kind == MT_AST_LIST)
    v->items = g_ptr_array_new_with_free_func ((GDestroyNotify) mt_ast_value_free);
  return v;
}

MtAstValue *
mt_ast_value_copy (const MtAstValue *v)
{
  MtAstValue *c = mt_ast_value_new (v->kind, v->line, v->col);
  c->i = v->i;
  c->d = v->d;
  c->b = v->b;
  c->s = g_strdup (v->s);
  c->port = g_strdup (v->port);
  c->every = v->every;
  if (v->pins) {
    c->pins = g_ptr_array_new_with_free_func (mt_ast_arg_free);
    for (guint k = 0; k < v->pins->len; k++) {
      const MtAstArg *a = v->pins->pdata[k];
      g_ptr_array_add (c->pins, mt_ast_arg_with_value (a, mt_ast_value_copy (a->value)));
    }
  }
  c->port_line = v->port_line;
  c->port_col = v->port_col;
  if (v->items)
    for (guint k = 0; k < v->items->len; k++)
      g_ptr_array_add (c->items, mt_ast_value_copy (v->items->pdata[k]));
  return c;
}

void
mt_ast_value_free (MtAstValue *v)
{
  if (!v)
    return;
  g_free (v->s);
  g_free (v->port);
  if (v->pins)
    g_ptr_array_unref (v->pins);
  if (v->items)
    g_ptr_array_unref (v->items);
  g_free (v);
}

const char *
mt_ast_value_kind_name (MtAstValueKind kind)
{
  switch (kind) {
  case MT_AST_INT: return "an integer";
  case MT_AST_FLOAT: return "a number";
  case MT_AST_STRING: return "a string";
  case MT_AST_BOOL: return "a boolean";
  case MT_AST_LIST: return "a list";
  case MT_AST_PARAM: return "a parameter";
  case MT_AST_REF: return "a node name";
  }
  return "a value";
}

char *
mt_ast_value_to_string (const MtAstValue *v)
{
  switch (v->kind) {
  case MT_AST_INT:
    return g_strdup_printf ("%" G_GINT64_FORMAT, v->i);
  case MT_AST_FLOAT: {
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    return g_strdup (g_ascii_dtostr (buf, sizeof buf, v->d));
  }
  case MT_AST_STRING: {
    g_autofree char *e = g_strescape (v->s, NULL);
    return g_strdup_printf ("\"%s\"", e);
  }
  case MT_AST_BOOL:
    return g_strdup (v->b ? "true" : "false");
  case MT_AST_PARAM:
    return g_strdup_printf ("$%s", v->s);
  case MT_AST_REF:
    return g_strdup_printf ("%s%s%s%s", v->s, v->every ? "[*]" : "", v->port ? "." : "", v->port ? v->port : "");
  case MT_AST_LIST: {
    GString *s = g_string_new ("[");
    for (guint k = 0; k < v->items->len; k++) {
      g_autofree char *item = mt_ast_value_to_string (v->items->pdata[k]);
      g_string_append_printf (s, "%s%s", k ? ", " : "", item);
    }
    g_string_append_c (s, ']');
    return g_string_free (s, FALSE);
  }
  }
  return g_strdup ("?");
}

MtAstArg *
mt_ast_arg_with_value (const MtAstArg *a, MtAstValue *value)
{
  MtAstArg *na = g_new0 (MtAstArg, 1);
  na->key = g_strdup (a->key);
  na->line = a->line;
  na->col = a->col;
  na->value = value;
  return na;
}

void
mt_ast_arg_free (gpointer a)
{
  MtAstArg *arg = a;
  if (!arg)
    return;
  g_free (arg->key);
  mt_ast_value_free (arg->value);
  g_free (arg);
}

static void
stmt_free (gpointer p)
{
  MtAstStmt *s = p;
  if (!s)
    return;
  g_free (s->name);
  g_free (s->type);
  if (s->args)
    g_ptr_array_unref (s->args);
  mt_ast_value_free (s->value);
  g_free (s);
}

void
mt_ast_file_free (MtAstFile *f)
{
  if (!f)
    return;
  g_free (f->filename);
  g_ptr_array_unref (f->stmts);
  g_free (f);
}

GPtrArray *
mt_ast_stmt_array_new (void)
{
  return g_ptr_array_new_with_free_func (stmt_free);
}
