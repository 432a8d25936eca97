#include "graph/mt-sweep.h"
#include "base/mt-name.h"
#include "base/mt-number.h"

#include <string.h>

#define MAX_SWEPT 32

typedef struct {
  MtDiag *diag;
  GHashTable *fixed;       /* params --set gives one value */
  GPtrArray *swept;        /* MtAstStmt* of the swept params, in declared order */
  GHashTable *param_index; /* name -> index + 1 */
  GPtrArray *nodes;        /* MtAstStmt* of the node statements, in file order */
  GHashTable *node_index;  /* name -> index + 1 */
  guint32 *deps;           /* per node: the swept params it depends on, one bit each */
} Sweep;

/* A swept value as an instance name writes it. */
static char *
value_text (const MtAstValue *v)
{
  switch (v->kind) {
  case MT_AST_INT: return g_strdup_printf ("%" G_GINT64_FORMAT, v->i);
  case MT_AST_FLOAT: return mt_number_format (v->d);
  case MT_AST_BOOL: return g_strdup (v->b ? "true" : "false");
  case MT_AST_STRING: return g_strdup (v->s);
  default: return NULL;
  }
}

/* The swept params' values must make names: no path, no quoting. A bad or repeated value
 * is reported and dropped, so that the sweep goes on with the others (one error each). */
static gboolean
check_values (Sweep *sw, MtAstStmt *st)
{
  GPtrArray *items = st->value->items;
  for (guint i = 0; i < items->len;) {
    MtAstValue *v = items->pdata[i];
    g_autofree char *text = value_text (v);
    gboolean ok = text && mt_name_value_is_valid (text);
    if (!ok)
      mt_diag_error (sw->diag, v->line, v->col, "a swept value must be a number, true/false, or a string of letters, "
                     "digits and . _ + - (it names the instances)");
    for (guint k = 0; ok && k < i; k++) {
      g_autofree char *other = value_text (items->pdata[k]);
      if (g_strcmp0 (other, text) == 0) {
        mt_diag_error (sw->diag, v->line, v->col, "%s appears twice in the sweep of '%s'", text, st->name);
        ok = FALSE;
      }
    }
    if (ok)
      i++;
    else
      g_ptr_array_remove_index (items, i);
  }
  return items->len > 0;
}

/* The swept params @v names itself, and (into @refs, as indexes) the nodes it reads one
 * instance of. */
static guint32
direct_deps (Sweep *sw, const MtAstValue *v, GArray *refs)
{
  guint32 bits = 0;
  switch (v->kind) {
  case MT_AST_PARAM: {
    guint p = GPOINTER_TO_UINT (g_hash_table_lookup (sw->param_index, v->s));
    if (p)
      bits |= 1u << (p - 1);
    break;
  }
  case MT_AST_REF: {
    guint n = GPOINTER_TO_UINT (g_hash_table_lookup (sw->node_index, v->s));
    if (n && !v->every && !v->pins) {
      guint idx = n - 1;
      g_array_append_val (refs, idx);
    }
    break;
  }
  case MT_AST_LIST:
    for (guint i = 0; i < v->items->len; i++)
      bits |= direct_deps (sw, v->items->pdata[i], refs);
    break;
  default:
    break;
  }
  return bits;
}

/* NODE[k=v,...] for the values @choice picks of the params in @bits. */
static char *
instance_name (Sweep *sw, const char *base, guint32 bits, const guint *choice)
{
  if (!bits)
    return g_strdup (base);
  GString *s = g_string_new (base);
  gboolean first = TRUE;
  for (guint p = 0; p < sw->swept->len; p++) {
    if (!(bits & (1u << p)))
      continue;
    MtAstStmt *st = sw->swept->pdata[p];
    g_autofree char *text = value_text (st->value->items->pdata[choice[p]]);
    g_string_append_printf (s, "%s%s=%s", first ? "[" : ",", st->name, text);
    first = FALSE;
  }
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* Steps @choice to the next combination of the params in @bits (the last declared
 * fastest, as itertools.product); FALSE after the last. */
static gboolean
next_choice (Sweep *sw, guint32 bits, guint *choice)
{
  for (int p = (int) sw->swept->len - 1; p >= 0; p--) {
    if (!(bits & (1u << p)))
      continue;
    MtAstStmt *st = sw->swept->pdata[p];
    if (++choice[p] < st->value->items->len)
      return TRUE;
    choice[p] = 0;
  }
  return FALSE;
}

static MtAstValue *subst (Sweep *sw, const MtAstValue *v, const guint *choice);

/* NODE[k=1.5, ...] written in the file: the instance it names, checked against the
 * sweeps (every swept param of NODE given, each value one of its sweep's). */
static char *
pinned_name (Sweep *sw, const MtAstValue *v, GHashTable *fixed)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (sw->node_index, v->s));
  guint32 bits = n ? sw->deps[n - 1] : 0, given = 0;
  g_autofree guint *choice = g_new0 (guint, MAX (sw->swept->len, 1));
  gboolean ok = TRUE;
  for (guint i = 0; i < v->pins->len; i++) {
    const MtAstArg *pin = v->pins->pdata[i];
    guint p = GPOINTER_TO_UINT (g_hash_table_lookup (sw->param_index, pin->key));
    if (!p) {
      if (fixed && g_hash_table_contains (fixed, pin->key))
        continue;  /* given one value with --set: no instances to pick from */
      mt_diag_error (sw->diag, pin->line, pin->col, "'%s' is not a swept param (sweep it with 'param %s in [...]')",
                     pin->key, pin->key);
      ok = FALSE;
      continue;
    }
    MtAstStmt *st = sw->swept->pdata[p - 1];
    g_autofree char *want = value_text (pin->value);
    gboolean found = FALSE;
    for (guint k = 0; k < st->value->items->len && !found; k++) {
      g_autofree char *have = value_text (st->value->items->pdata[k]);
      if (g_strcmp0 (have, want) == 0) {
        choice[p - 1] = k;
        found = TRUE;
      }
    }
    if (!found) {
      mt_diag_error (sw->diag, pin->value->line, pin->value->col, "%s is not one of the values '%s' sweeps",
                     want ? want : "this", pin->key);
      ok = FALSE;
    }
    given |= 1u << (p - 1);
  }
  if (ok && n && (given & ~bits)) {
    mt_diag_error (sw->diag, v->line, v->col, "'%s' does not depend on every param given in its brackets", v->s);
    ok = FALSE;
  }
  if (ok && n && (bits & ~given)) {
    GString *names = g_string_new ("");
    for (guint p = 0; p < sw->swept->len; p++)
      if (bits & (1u << p))
        g_string_append_printf (names, "%s%s", names->len ? ", " : "", ((MtAstStmt *) sw->swept->pdata[p])->name);
    mt_diag_error (sw->diag, v->line, v->col, "'%s' has an instance per value of %s: give each in its brackets",
                   v->s, names->str);
    g_string_free (names, TRUE);
    ok = FALSE;
  }
  if (!ok)  /* its first instance, so that no second error follows from this one */
    memset (choice, 0, sizeof (guint) * MAX (sw->swept->len, 1));
  return instance_name (sw, v->s, bits, choice);
}

/* Appends to @list what @item becomes: every instance for NODE[*], else one value. */
static void
subst_item (Sweep *sw, const MtAstValue *item, const guint *choice, MtAstValue *list)
{
  guint n = item->kind == MT_AST_REF && item->every ? GPOINTER_TO_UINT (g_hash_table_lookup (sw->node_index, item->s)) : 0;
  if (!n) {
    MtAstValue *c = item->every && !item->pins ? mt_ast_value_copy (item) : subst (sw, item, choice);
    c->every = FALSE;  /* NODE[*] of no known node: the builder names it */
    g_ptr_array_add (list->items, c);
    return;
  }
  guint32 bits = sw->deps[n - 1];
  g_autofree guint *all = g_new0 (guint, MAX (sw->swept->len, 1));
  do {
    MtAstValue *c = mt_ast_value_copy (item);
    c->every = FALSE;
    g_free (c->s);
    c->s = instance_name (sw, item->s, bits, all);
    g_ptr_array_add (list->items, c);
  } while (next_choice (sw, bits, all));
}

/* A copy of @v for the instance @choice: swept params become their values, references
 * to swept nodes the matching instance. */
static MtAstValue *
subst (Sweep *sw, const MtAstValue *v, const guint *choice)
{
  if (v->kind == MT_AST_PARAM) {
    guint p = GPOINTER_TO_UINT (g_hash_table_lookup (sw->param_index, v->s));
    if (p) {
      MtAstStmt *st = sw->swept->pdata[p - 1];
      MtAstValue *c = mt_ast_value_copy (st->value->items->pdata[choice[p - 1]]);
      c->line = v->line;  /* errors about the value point at its use */
      c->col = v->col;
      return c;
    }
  }
  if (v->kind == MT_AST_LIST) {
    MtAstValue *c = mt_ast_value_new (MT_AST_LIST, v->line, v->col);
    for (guint i = 0; i < v->items->len; i++)
      subst_item (sw, v->items->pdata[i], choice, c);
    return c;
  }
  MtAstValue *c = mt_ast_value_copy (v);
  if (v->kind == MT_AST_REF && v->pins) {
    g_free (c->s);
    c->s = pinned_name (sw, v, sw->fixed);
    g_clear_pointer (&c->pins, g_ptr_array_unref);
  } else if (v->kind == MT_AST_REF) {
    guint n = GPOINTER_TO_UINT (g_hash_table_lookup (sw->node_index, v->s));
    if (v->every) {
      mt_diag_error (sw->diag, v->line, v->col, "'%s[*]' stands for every instance of '%s': use it inside a list, "
                     "e.g. models=[%s[*]]", v->s, v->s, v->s);
      /* Its first instance, so that no second error follows from this one. */
      g_autofree guint *first = g_new0 (guint, MAX (sw->swept->len, 1));
      if (n && sw->deps[n - 1]) {
        g_free (c->s);
        c->s = instance_name (sw, v->s, sw->deps[n - 1], first);
      }
    } else if (n && sw->deps[n - 1]) {
      g_free (c->s);
      c->s = instance_name (sw, v->s, sw->deps[n - 1], choice);
    }
    c->every = FALSE;
  }
  return c;
}

static gboolean
has_every (const MtAstValue *v)
{
  if (v->kind == MT_AST_REF)
    return v->every || v->pins;
  for (guint i = 0; v->kind == MT_AST_LIST && i < v->items->len; i++)
    if (has_every (v->items->pdata[i]))
      return TRUE;
  return FALSE;
}

static MtAstStmt *
instance_stmt (Sweep *sw, const MtAstStmt *st, guint32 bits, const guint *choice)
{
  MtAstStmt *c = g_new0 (MtAstStmt, 1);
  c->kind = MT_AST_STMT_NODE;
  c->name = instance_name (sw, st->name, bits, choice);
  c->line = st->line;
  c->col = st->col;
  c->type = g_strdup (st->type);
  c->type_line = st->type_line;
  c->type_col = st->type_col;
  c->args = g_ptr_array_new_with_free_func (mt_ast_arg_free);
  for (guint i = 0; i < st->args->len; i++) {
    const MtAstArg *a = st->args->pdata[i];
    g_ptr_array_add (c->args, mt_ast_arg_with_value (a, subst (sw, a->value, choice)));
  }
  return c;
}

void
mt_sweep_expand (MtAstFile *ast, GHashTable *fixed, MtDiag *diag)
{
  Sweep sw = { diag, fixed, g_ptr_array_new (), g_hash_table_new (g_str_hash, g_str_equal), g_ptr_array_new (),
               g_hash_table_new (g_str_hash, g_str_equal), NULL };
  gboolean any_every = FALSE;
  for (guint i = 0; i < ast->stmts->len; i++) {
    MtAstStmt *st = ast->stmts->pdata[i];
    if (st->kind == MT_AST_STMT_NODE) {
      if (!g_hash_table_contains (sw.node_index, st->name)) {
        g_ptr_array_add (sw.nodes, st);
        g_hash_table_insert (sw.node_index, st->name, GUINT_TO_POINTER (sw.nodes->len));
      }
      continue;
    }
    if (!st->sweep || (fixed && g_hash_table_contains (fixed, st->name)) ||
        g_hash_table_contains (sw.param_index, st->name) || !check_values (&sw, st))
      continue;
    if (sw.swept->len == MAX_SWEPT) {
      mt_diag_error (diag, st->line, st->col, "more than %d swept params", MAX_SWEPT);
      continue;
    }
    g_ptr_array_add (sw.swept, st);
    g_hash_table_insert (sw.param_index, st->name, GUINT_TO_POINTER (sw.swept->len));
  }

  /* What each node depends on: its own $params, and those of every node it reads one
   * instance of (to a fixed point, so the file's order does not matter). */
  guint nn = sw.nodes->len;
  sw.deps = g_new0 (guint32, MAX (nn, 1));
  g_autoptr (GPtrArray) refs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  for (guint i = 0; i < nn; i++) {
    MtAstStmt *st = sw.nodes->pdata[i];
    GArray *r = g_array_new (FALSE, FALSE, sizeof (guint));
    for (guint a = 0; a < st->args->len; a++)
      sw.deps[i] |= direct_deps (&sw, ((MtAstArg *) st->args->pdata[a])->value, r);
    g_ptr_array_add (refs, r);
  }
  for (gboolean changed = TRUE; changed;) {
    changed = FALSE;
    for (guint i = 0; i < nn; i++) {
      GArray *r = refs->pdata[i];
      for (guint k = 0; k < r->len; k++) {
        guint32 d = sw.deps[i] | sw.deps[g_array_index (r, guint, k)];
        changed |= d != sw.deps[i];
        sw.deps[i] = d;
      }
    }
  }
  for (guint i = 0; i < nn; i++) {
    MtAstStmt *st = sw.nodes->pdata[i];
    for (guint a = 0; a < st->args->len; a++)
      any_every |= has_every (((MtAstArg *) st->args->pdata[a])->value);
  }

  if (sw.swept->len || any_every) {
    GPtrArray *out = mt_ast_stmt_array_new ();
    g_autofree guint *choice = g_new0 (guint, MAX (sw.swept->len, 1));
    for (guint i = 0; i < ast->stmts->len; i++) {
      MtAstStmt *st = ast->stmts->pdata[i];
      guint idx = st->kind == MT_AST_STMT_NODE ? GPOINTER_TO_UINT (g_hash_table_lookup (sw.node_index, st->name)) : 0;
      if (!idx || sw.nodes->pdata[idx - 1] != st) {
        /* params, and a duplicate node (the builder reports it): as they are */
        ast->stmts->pdata[i] = NULL;
        g_ptr_array_add (out, st);
        continue;
      }
      guint32 bits = sw.deps[idx - 1];
      memset (choice, 0, sizeof (guint) * MAX (sw.swept->len, 1));
      do
        g_ptr_array_add (out, instance_stmt (&sw, st, bits, choice));
      while (next_choice (&sw, bits, choice));
    }
    g_ptr_array_unref (ast->stmts);
    ast->stmts = out;
  }
  g_free (sw.deps);
  g_ptr_array_unref (sw.swept);
  g_ptr_array_unref (sw.nodes);
  g_hash_table_unref (sw.param_index);
  g_hash_table_unref (sw.node_index);
}
