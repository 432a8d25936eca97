#include "graph/mt-graph.h"
#include "graph/mt-sweep.h"
#include "runtime/mt-property.h"
#include "graph/mt-diag.h"
#include "base/mt-error.h"
#include "graph/mt-parser.h"
#include "base/mt-suggest.h"
#include "graph/mt-value.h"

#include <errno.h>
#include <string.h>

typedef struct {
  MtDag *g;
  MtRegistry *reg;
  MtDiag *diag;
  GHashTable *params;     /* name -> MtAstValue* (borrowed or owned by overrides) */
  GPtrArray *owned;       /* values from --set */
  GHashTable *stmt_of;    /* MtDagNode* -> MtAstStmt* */
  guint arg_pos;          /* 1-based position of the positional argument being bound; 0: key=value */
  GHashTable *prop_at;    /* "node.property" -> PropAt: where each property got its value */
} Builder;

typedef struct {
  int line, col;
  char *override;  /* the --set argument that set it; NULL: the file */
} PropAt;

static void
prop_at_free (gpointer p)
{
  PropAt *at = p;
  g_free (at->override);
  g_free (at);
}

static void
note_prop_at (Builder *b, MtDagNode *gn, GParamSpec *pspec, int line, int col, const char *override)
{
  PropAt *at = g_new0 (PropAt, 1);
  at->line = line;
  at->col = col;
  at->override = g_strdup (override);
  g_hash_table_replace (b->prop_at, g_strdup_printf ("%s.%s", gn->name, pspec->name), at);
}

/* For a positional argument of the wrong kind: where it stands and what the type takes
 * in that order, so swapped arguments are recognised for what they are. */
static char *
order_hint (Builder *b, MtDagNode *gn)
{
  if (b->arg_pos == 0)
    return g_strdup ("");
  GPtrArray *ins = mt_node_class_get_inputs (MT_NODE_GET_CLASS (gn->node));
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < ins->len; i++) {
    MtPortSpec *p = ins->pdata[i];
    g_string_append_printf (s, "%s%s (a %s)", i ? ", " : "", p->name, mt_kind_name (p->kind));
  }
  char *r = g_strdup_printf (" (positional argument %u; %s takes %s, in that order)", b->arg_pos, gn->type_name, s->str);
  g_string_free (s, TRUE);
  return r;
}

static const char **
hash_keys (GHashTable *h)
{
  return (const char **) g_hash_table_get_keys_as_array (h, NULL);
}

/* GObject treats '-' and '_' alike in property names; the .pipe language writes '_'. */
static GParamSpec *
find_param (MtNode *node, const char *key)
{
  g_autofree char *canon = g_strdup (key);
  g_strdelimit (canon, "_", '-');
  GParamSpec *p = g_object_class_find_property (G_OBJECT_GET_CLASS (node), canon);
  if (!p)
    p = g_object_class_find_property (G_OBJECT_GET_CLASS (node), key);
  if (p && (p->flags & G_PARAM_READWRITE) != G_PARAM_READWRITE)
    return NULL;
  return p;
}

static char **
binding_names (MtNode *node)
{
  MtNodeClass *klass = MT_NODE_GET_CLASS (node);
  GPtrArray *ins = mt_node_class_get_inputs (klass);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  for (guint i = 0; i < ins->len; i++)
    g_strv_builder_add (b, ((MtPortSpec *) ins->pdata[i])->name);
  guint n = 0;
  g_autofree GParamSpec **ps = mt_node_class_list_params (klass, &n);
  for (guint i = 0; i < n; i++) {
    g_autofree char *pn = mt_property_pipe_name (ps[i]);
    g_strv_builder_add (b, pn);
  }
  return g_strv_builder_end (b);
}

static char **
output_names (MtNode *node)
{
  GPtrArray *outs = mt_node_class_get_outputs (MT_NODE_GET_CLASS (node));
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  for (guint i = 0; i < outs->len; i++)
    g_strv_builder_add (b, ((MtPortSpec *) outs->pdata[i])->name);
  return g_strv_builder_end (b);
}

/* Resolves $param to its value; reports and returns NULL when unknown. */
static const MtAstValue *
resolve_param (Builder *b, const MtAstValue *v)
{
  if (v->kind != MT_AST_PARAM)
    return v;
  const MtAstValue *pv = g_hash_table_lookup (b->params, v->s);
  if (!pv) {
    g_autofree const char **names = hash_keys (b->params);
    g_autofree char *hint = mt_suggest_hint (v->s, names);
    mt_diag_error (b->diag, v->line, v->col, "unknown parameter '$%s'%s", v->s, hint);
  }
  return pv;
}

static void
set_property (Builder *b, MtDagNode *gn, GParamSpec *pspec, const MtAstValue *v, int line, int col)
{
  g_autofree char *msg = NULL;
  GValue gv = G_VALUE_INIT;
  g_autofree char *pn = mt_property_pipe_name (pspec);
  if (v->kind == MT_AST_REF) {
    g_autofree char *hint = g_hash_table_contains (b->params, v->s)
      ? g_strdup_printf ("; write $%s for the parameter, or \"%s\" for a string", v->s, v->s)
      : g_strdup_printf ("; write \"%s\" for a string", v->s);
    mt_diag_error (b->diag, line, col, "property '%s' of %s takes %s, not the node name '%s'%s",
                   pn, gn->type_name, mt_property_type_name (pspec), v->s, hint);
    return;
  }
  if (!mt_value_from_ast (v, pspec, &gv, &msg)) {
    mt_diag_error (b->diag, line, col, "property '%s' of %s: %s", pn, gn->type_name, msg);
    return;
  }
  g_object_set_property (G_OBJECT (gn->node), pspec->name, &gv);
  g_value_unset (&gv);
  note_prop_at (b, gn, pspec, line, col, NULL);
}

/* Resolves one source of input @port into @gi; FALSE (reported) when it cannot. */
static gboolean
bind_source (Builder *b, MtDagNode *gn, int port, const MtAstValue *v, MtDagInput *gi)
{
  MtNodeClass *klass = MT_NODE_GET_CLASS (gn->node);
  MtPortSpec *in = mt_node_class_get_inputs (klass)->pdata[port];
  if (v->kind != MT_AST_REF) {
    if (v->kind == MT_AST_LIST && !in->list)
      mt_diag_error (b->diag, v->line, v->col, "input '%s' of %s takes one node, not a list",
                     in->name, gn->type_name);
    else
      mt_diag_error (b->diag, v->line, v->col, "input '%s' of %s takes a node name, found %s",
                     in->name, gn->type_name, mt_ast_value_kind_name (v->kind));
    return FALSE;
  }
  MtDagNode *src = mt_dag_find (b->g, v->s);
  if (!src) {
    g_autofree const char **names = hash_keys (b->g->by_name);
    g_autofree char *hint = mt_suggest_hint (v->s, names);
    const char *extra = g_hash_table_contains (b->params, v->s) ? " (it is a param: inputs take nodes)" : "";
    mt_diag_error (b->diag, v->line, v->col, "unknown node '%s'%s%s", v->s, hint, extra);
    return FALSE;
  }
  if (!src->node)
    return FALSE;  /* its type was unknown: already reported */
  MtNodeClass *sk = MT_NODE_GET_CLASS (src->node);
  GPtrArray *outs = mt_node_class_get_outputs (sk);
  int sport = 0;
  if (v->port) {
    if (!mt_node_class_find_output (sk, v->port, &sport)) {
      g_auto (GStrv) names = output_names (src->node);
      g_autofree char *hint = mt_suggest_hint (v->port, (const char *const *) names);
      g_autofree char *all = g_strjoinv (", ", names);
      mt_diag_error (b->diag, v->port_line, v->port_col, "node '%s' (%s) has no output '%s'%s (outputs: %s)",
                     src->name, src->type_name, v->port, hint, all);
      return FALSE;
    }
  } else if (outs->len != 1) {
    /* Several outputs: the one of the kind this input takes, when only one is. */
    int match = -1, matches = 0;
    for (guint k = 0; k < outs->len; k++)
      if (((MtPortSpec *) outs->pdata[k])->kind == in->kind) {
        match = (int) k;
        matches++;
      }
    if (matches != 1) {
      g_auto (GStrv) names = output_names (src->node);
      g_autofree char *all = g_strjoinv (", ", names);
      g_autofree char *order = order_hint (b, gn);
      if (outs->len == 0)
        mt_diag_error (b->diag, v->line, v->col, "node '%s' (%s) has no outputs", src->name, src->type_name);
      else if (matches == 0)
        mt_diag_error (b->diag, v->line, v->col, "input '%s' of %s expects a %s, but node '%s' (%s) gives none "
                       "(its outputs: %s)%s", in->name, gn->type_name, mt_kind_name (in->kind), src->name,
                       src->type_name, all, order);
      else
        mt_diag_error (b->diag, v->line, v->col, "node '%s' (%s) has several outputs (%s); write %s.%s",
                       src->name, src->type_name, all, src->name, names[0]);
      return FALSE;
    }
    sport = match;
  }
  MtPortSpec *out = outs->pdata[sport];
  if (out->kind != in->kind) {
    g_autofree char *order = order_hint (b, gn);
    mt_diag_error (b->diag, v->line, v->col,
                   "input '%s' of %s expects a %s, but '%s%s%s' gives a %s%s",
                   in->name, gn->type_name, mt_kind_name (in->kind), v->s, v->port ? "." : "",
                   v->port ? v->port : "", mt_kind_name (out->kind), order);
    return FALSE;
  }
  gi->src = src;
  gi->src_port = sport;
  return TRUE;
}

/* Binds input @port to @v: one node, or for a list port a list of nodes (or just one). */
static void
bind_input (Builder *b, MtDagNode *gn, int port, const MtAstValue *v, GArray *bindings)
{
  MtPortSpec *in = mt_node_class_get_inputs (MT_NODE_GET_CLASS (gn->node))->pdata[port];
  if (!in->list || v->kind != MT_AST_LIST) {
    MtDagInput gi = { .port = port };
    if (bind_source (b, gn, port, v, &gi))
      g_array_append_val (bindings, gi);
    return;
  }
  if (v->items->len == 0) {
    mt_diag_error (b->diag, v->line, v->col, "input '%s' of %s: the list is empty", in->name, gn->type_name);
    return;
  }
  for (guint i = 0; i < v->items->len; i++) {
    const MtAstValue *item = resolve_param (b, v->items->pdata[i]);
    MtDagInput gi = { .port = port, .item = (int) i };
    if (item && bind_source (b, gn, port, item, &gi))
      g_array_append_val (bindings, gi);
  }
}

static void
bind_args (Builder *b, MtDagNode *gn, MtAstStmt *st)
{
  MtNodeClass *klass = MT_NODE_GET_CLASS (gn->node);
  GPtrArray *ins = mt_node_class_get_inputs (klass);
  g_autoptr (GHashTable) bound = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GArray) bindings = g_array_new (FALSE, TRUE, sizeof (MtDagInput));
  guint positional = 0;

  for (guint i = 0; i < st->args->len; i++) {
    MtAstArg *arg = st->args->pdata[i];
    if (!arg->key) {
      if (positional >= ins->len) {
        g_auto (GStrv) names = g_new0 (char *, ins->len + 1);
        for (guint k = 0; k < ins->len; k++)
          names[k] = g_strdup (((MtPortSpec *) ins->pdata[k])->name);
        g_autofree char *all = g_strjoinv (", ", names);
        mt_diag_error (b->diag, arg->line, arg->col,
                       "too many positional arguments: %s takes %u input%s%s%s%s; set properties as key=value",
                       gn->type_name, ins->len, ins->len == 1 ? "" : "s", ins->len ? " (" : "", all, ins->len ? ")" : "");
        continue;
      }
      MtPortSpec *in = ins->pdata[positional];
      g_hash_table_add (bound, g_strdup (in->name));
      const MtAstValue *pv = resolve_param (b, arg->value);
      b->arg_pos = positional + 1;
      if (pv)
        bind_input (b, gn, (int) positional, pv, bindings);
      b->arg_pos = 0;
      positional++;
      continue;
    }

    int port = -1;
    GParamSpec *pspec = NULL;
    if (mt_node_class_find_input (klass, arg->key, &port)) {
      if (g_hash_table_contains (bound, arg->key)) {
        mt_diag_error (b->diag, arg->line, arg->col, "input '%s' is bound twice", arg->key);
        continue;
      }
      g_hash_table_add (bound, g_strdup (arg->key));
      const MtAstValue *v = resolve_param (b, arg->value);
      if (v)
        bind_input (b, gn, port, v, bindings);
    } else if ((pspec = find_param (gn->node, arg->key))) {
      g_autofree char *pn = mt_property_pipe_name (pspec);
      if (!g_hash_table_add (bound, g_strdup (pn))) {
        mt_diag_error (b->diag, arg->line, arg->col, "property '%s' is set twice", arg->key);
        continue;
      }
      const MtAstValue *v = resolve_param (b, arg->value);
      if (v)
        set_property (b, gn, pspec, v, arg->value->line, arg->value->col);
    } else {
      g_auto (GStrv) names = binding_names (gn->node);
      g_autofree char *hint = mt_suggest_hint (arg->key, (const char *const *) names);
      mt_diag_error (b->diag, arg->line, arg->col, "node type '%s' has no input or property '%s'%s",
                     gn->type_name, arg->key, hint);
    }
  }

  for (guint k = 0; k < ins->len; k++) {
    MtPortSpec *in = ins->pdata[k];
    if (in->required && !g_hash_table_contains (bound, in->name))
      mt_diag_error (b->diag, st->line, st->col, "node '%s' (%s) is missing its required input '%s' (a %s%s)",
                     gn->name, gn->type_name, in->name, in->list ? "list of " : "", mt_kind_name (in->kind));
  }

  /* Store port by port; a plain port always has its one slot. */
  for (guint k = 0; k < ins->len; k++) {
    MtPortSpec *in = ins->pdata[k];
    gboolean any = FALSE;
    for (guint i = 0; i < bindings->len; i++) {
      MtDagInput gi = g_array_index (bindings, MtDagInput, i);
      if (gi.port != (int) k)
        continue;
      gi.name = in->list ? g_strdup_printf ("%s[%d]", in->name, gi.item) : g_strdup (in->name);
      g_array_append_val (gn->inputs, gi);
      any = TRUE;
    }
    if (!any && !in->list) {
      MtDagInput gi = { .port = (int) k, .name = g_strdup (in->name) };
      g_array_append_val (gn->inputs, gi);
    }
  }
}

static void
apply_node_override (Builder *b, const char *name, const char *prop, const char *text)
{
  MtDagNode *gn = mt_dag_find (b->g, name);
  if (!gn) {
    g_autofree const char **names = hash_keys (b->g->by_name);
    g_autofree char *hint = mt_suggest_hint (name, names);
    mt_diag_error (b->diag, 0, 0, "--set %s.%s: unknown node '%s'%s", name, prop, name, hint);
    return;
  }
  if (!gn->node)
    return;
  GParamSpec *pspec = find_param (gn->node, prop);
  if (!pspec && mt_node_class_find_input (MT_NODE_GET_CLASS (gn->node), prop, NULL)) {
    mt_diag_error (b->diag, 0, 0, "--set %s.%s: '%s' is an input port of %s, not a property: bind it in the "
                   "pipeline file (%s=NODE)", name, prop, prop, gn->type_name, prop);
    return;
  }
  if (!pspec) {
    g_autofree GParamSpec **ps = NULL;
    guint n = 0;
    ps = mt_node_class_list_params (MT_NODE_GET_CLASS (gn->node), &n);
    g_autoptr (GStrvBuilder) sb = g_strv_builder_new ();
    for (guint i = 0; i < n; i++) {
      g_autofree char *pn = mt_property_pipe_name (ps[i]);
      g_strv_builder_add (sb, pn);
    }
    g_auto (GStrv) names = g_strv_builder_end (sb);
    g_autofree char *hint = mt_suggest_hint (prop, (const char *const *) names);
    mt_diag_error (b->diag, 0, 0, "--set %s.%s: node type '%s' has no property '%s'%s",
                   name, prop, gn->type_name, prop, hint);
    return;
  }
  g_autoptr (GError) err = NULL;
  g_autoptr (MtAstValue) v = mt_parse_cli_value (text, &err);
  if (!v) {
    mt_diag_error (b->diag, 0, 0, "--set %s.%s: %s", name, prop, err->message);
    return;
  }
  g_autofree char *msg = NULL;
  GValue gv = G_VALUE_INIT;
  if (!mt_value_from_ast (v, pspec, &gv, &msg)) {
    mt_diag_error (b->diag, 0, 0, "--set %s.%s=%s: %s", name, prop, text, msg);
    return;
  }
  g_object_set_property (G_OBJECT (gn->node), pspec->name, &gv);
  g_value_unset (&gv);
  g_autofree char *arg = g_strdup_printf ("%s.%s=%s", name, prop, text);
  note_prop_at (b, gn, pspec, 0, 0, arg);
}

/* Each node's own check of its property values, reported where the value was written. */
static void
validate_node (Builder *b, MtDagNode *gn)
{
  const char *property = NULL;
  g_autoptr (GError) err = NULL;
  if (mt_node_validate (gn->node, &property, &err))
    return;
  GParamSpec *pspec = property ? find_param (gn->node, property) : NULL;
  g_autofree char *pn = pspec ? mt_property_pipe_name (pspec) : NULL;
  g_autofree char *key = pspec ? g_strdup_printf ("%s.%s", gn->name, pspec->name) : NULL;
  PropAt *at = key ? g_hash_table_lookup (b->prop_at, key) : NULL;
  if (at && at->override)
    mt_diag_error (b->diag, 0, 0, "--set %s: %s", at->override, err->message);
  else if (at)
    mt_diag_error (b->diag, at->line, at->col, "property '%s' of %s: %s", pn, gn->type_name, err->message);
  else if (pn)  /* the default value: the node's own line */
    mt_diag_error (b->diag, gn->line, gn->col, "node '%s' (%s), property '%s' (default): %s",
                   gn->name, gn->type_name, pn, err->message);
  else
    mt_diag_error (b->diag, gn->line, gn->col, "node '%s' (%s): %s", gn->name, gn->type_name, err->message);
}

/* Splits a --set argument: its '=' and, for NODE.PROPERTY, its '.' (NULL for a param).
 * An instance's name, NODE[k=1.5], holds both: they are looked for after its ']'. */
static void
split_override (const char *s, const char **dot, const char **eq)
{
  const char *close = s[strcspn (s, "[=")] == '[' ? strchr (s, ']') : NULL;
  const char *from = close ? close : s;
  *eq = strchr (from, '=');
  *dot = strchr (from, '.');
  if (*dot && *eq && *dot > *eq)
    *dot = NULL;
}

static int
cmp_override (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The pipeline as run: its path and the overrides that took effect (the last --set of
 * each name), sorted, so `--set a=1 --set b=2` and `--set b=2 --set a=1` are one variant. */
char *
mt_graph_variant_name (const char *path, const char *const *overrides)
{
  g_autoptr (GHashTable) last = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; overrides && overrides[i]; i++) {
    const char *eq, *dot;
    split_override (overrides[i], &dot, &eq);
    if (eq)
      g_hash_table_insert (last, g_strndup (overrides[i], eq - overrides[i]), (gpointer) overrides[i]);
  }
  g_autofree char *abs = g_canonicalize_filename (path, NULL);
  if (g_hash_table_size (last) == 0)
    return g_steal_pointer (&abs);
  g_autoptr (GPtrArray) sets = g_ptr_array_new ();
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, last);
  while (g_hash_table_iter_next (&it, NULL, &value))
    g_ptr_array_add (sets, value);
  g_ptr_array_sort (sets, cmp_override);
  GString *v = g_string_new (abs);
  for (guint i = 0; i < sets->len; i++)
    g_string_append_printf (v, "\n--set %s", (const char *) sets->pdata[i]);
  return g_string_free (v, FALSE);
}

MtDag *
mt_graph_load_string (const char *filename, const char *src, MtRegistry *reg,
                      const char *const *overrides, GError **error)
{
  g_autoptr (MtDiag) diag = mt_diag_new (filename);
  g_autoptr (MtAstFile) ast = mt_parse (filename, src, diag);
  g_autoptr (MtDag) g = mt_dag_new (filename);
  /* A param given with --set has one value: it is not swept. */
  g_autoptr (GHashTable) fixed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; overrides && overrides[i]; i++) {
    const char *eq, *dot;
    split_override (overrides[i], &dot, &eq);
    if (eq && !dot)
      g_hash_table_add (fixed, g_strndup (overrides[i], eq - overrides[i]));
  }
  mt_sweep_expand (ast, fixed, diag);

  Builder b = { g, reg, diag, g_hash_table_new (g_str_hash, g_str_equal),
                g_ptr_array_new_with_free_func ((GDestroyNotify) mt_ast_value_free),
                g_hash_table_new (NULL, NULL), 0,
                g_hash_table_new_full (g_str_hash, g_str_equal, g_free, prop_at_free) };
  g_autofree char *base_dir = g_path_get_dirname (g->path);
  g_autoptr (GPtrArray) file_order = g_ptr_array_new ();
  g_autoptr (GHashTable) param_stmt = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < ast->stmts->len; i++) {
    MtAstStmt *st = ast->stmts->pdata[i];
    if (st->kind != MT_AST_STMT_PARAM)
      continue;
    MtAstStmt *prev = g_hash_table_lookup (param_stmt, st->name);
    if (prev) {
      mt_diag_error (diag, st->line, st->col, "duplicate param '%s' (first defined at line %d)",
                     st->name, prev->line);
      continue;
    }
    g_hash_table_insert (param_stmt, st->name, st);
    g_hash_table_insert (b.params, st->name, st->value);
  }

  /* --set NAME=VALUE for params now; NODE.PROPERTY=VALUE once nodes exist. */
  g_autoptr (GPtrArray) node_overrides = g_ptr_array_new ();
  for (guint i = 0; overrides && overrides[i]; i++) {
    const char *eq, *dot;
    split_override (overrides[i], &dot, &eq);
    if (!eq || eq == overrides[i]) {
      mt_diag_error (diag, 0, 0, "--set '%s': expected NAME=VALUE or NODE.PROPERTY=VALUE", overrides[i]);
      continue;
    }
    g_autofree char *lhs = g_strndup (overrides[i], eq - overrides[i]);
    if (dot) {
      g_ptr_array_add (node_overrides, (gpointer) overrides[i]);
      continue;
    }
    if (!g_hash_table_contains (b.params, lhs)) {
      g_autofree const char **names = hash_keys (b.params);
      g_autofree char *hint = mt_suggest_hint (lhs, names);
      mt_diag_error (diag, 0, 0, "--set %s: the pipeline has no param '%s'%s", overrides[i], lhs, hint);
      continue;
    }
    g_autoptr (GError) err = NULL;
    MtAstValue *v = mt_parse_cli_value (eq + 1, &err);
    if (!v) {
      mt_diag_error (diag, 0, 0, "--set %s: %s", overrides[i], err->message);
      continue;
    }
    g_ptr_array_add (b.owned, v);
    MtAstStmt *st = g_hash_table_lookup (param_stmt, lhs);
    v->line = st->value->line;
    v->col = st->value->col;
    g_hash_table_insert (b.params, st->name, v);
  }

  for (guint i = 0; i < ast->stmts->len; i++) {
    MtAstStmt *st = ast->stmts->pdata[i];
    if (st->kind != MT_AST_STMT_NODE)
      continue;
    MtDagNode *prev = g_hash_table_lookup (g->by_name, st->name);
    if (prev) {
      mt_diag_error (diag, st->line, st->col, "duplicate node name '%s' (first defined at line %d)",
                     st->name, prev->line);
      continue;
    }
    GType type = mt_registry_lookup (reg, st->type);
    MtNode *node = NULL;
    if (!type) {
      g_autofree const char **names = mt_registry_list (reg);
      g_autofree char *hint = mt_suggest_hint (st->type, names);
      mt_diag_error (diag, st->type_line, st->type_col, "unknown node type '%s'%s", st->type, hint);
    } else {
      node = g_object_new (type, NULL);
      mt_node_set_name (node, st->name);
      mt_node_set_base_dir (node, base_dir);
    }
    MtDagNode *gn = mt_dag_node_new (g, st->name, st->type, st->line, st->col, node);
    g_hash_table_insert (b.stmt_of, gn, st);
    g_ptr_array_add (file_order, gn);
  }

  for (guint i = 0; i < file_order->len; i++) {
    MtDagNode *gn = file_order->pdata[i];
    if (gn->node)
      bind_args (&b, gn, g_hash_table_lookup (b.stmt_of, gn));
  }

  for (guint i = 0; i < node_overrides->len; i++) {
    const char *o = node_overrides->pdata[i];
    const char *dot, *eq;
    split_override (o, &dot, &eq);
    g_autofree char *name = g_strndup (o, dot - o);
    g_autofree char *prop = g_strndup (dot + 1, eq - dot - 1);
    apply_node_override (&b, name, prop, eq + 1);
  }

  for (guint i = 0; i < file_order->len; i++) {
    MtDagNode *gn = file_order->pdata[i];
    if (gn->node)
      validate_node (&b, gn);
  }

  /* Cycles among the bindings that did resolve are reported with every other error. */
  g_autofree char *cycle = NULL;
  MtDagNode *at = NULL;
  gboolean sorted = mt_dag_sort (g, file_order, &cycle, &at);
  if (!sorted)
    mt_diag_error (diag, at->line, at->col, "cycle in the pipeline: %s", cycle);

  g_free (g->variant);
  g->variant = mt_graph_variant_name (g->path, overrides);

  gboolean ok = mt_diag_check (diag, error);
  if (!ok && !sorted) {
    /* Nodes are owned by g->nodes only once sorted. */
    for (guint i = 0; i < file_order->len; i++)
      mt_dag_node_free (file_order->pdata[i]);
  }
  g_hash_table_unref (b.prop_at);
  g_hash_table_unref (b.params);
  g_ptr_array_unref (b.owned);
  g_hash_table_unref (b.stmt_of);
  if (!ok)
    return NULL;
  return g_steal_pointer (&g);
}

MtDag *
mt_graph_load_file (const char *path, MtRegistry *reg, const char *const *overrides, GError **error)
{
  g_autofree char *src = NULL;
  gsize len = 0;
  g_autoptr (GError) ferr = NULL;
  if (!g_file_get_contents (path, &src, &len, &ferr)) {
    int e = ferr->domain == G_FILE_ERROR && ferr->code == G_FILE_ERROR_NOENT ? ENOENT : 0;
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot read %s: %s", path, e ? g_strerror (e) : ferr->message);
    return NULL;
  }
  /* A binary file gets one line, not an error per stray byte. */
  gsize head = MIN (len, 4096), odd = 0, first = len;
  for (gsize i = 0; i < len; i++) {
    guchar c = (guchar) src[i];
    gboolean control = c == 0 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f;
    if (control && first == len)
      first = i;
    if (control && i < head)
      odd++;
    if (c == 0)
      break;
  }
  if (first < len && (src[first] == 0 || odd * 20 > head)) {
    g_set_error (error, MT_ERROR, MT_ERROR_PARSE, "%s: error: binary data (byte 0x%02x at offset %" G_GSIZE_FORMAT
                 "), not a .pipe file", path, (guchar) src[first], first);
    return NULL;
  }
  return mt_graph_load_string (path, src, reg, overrides, error);
}
