#include "runtime/mt-dag.h"

#include <string.h>

MtDag *
mt_dag_new (const char *filename)
{
  MtDag *g = g_new0 (MtDag, 1);
  g->filename = g_strdup (filename);
  g->path = g_canonicalize_filename (filename, NULL);
  g->variant = g_strdup (g->path);
  g->nodes = g_ptr_array_new_with_free_func (mt_dag_node_free);
  g->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  return g;
}

static void
dag_input_clear (gpointer p)
{
  g_free (((MtDagInput *) p)->name);
}

MtDagNode *
mt_dag_node_new (MtDag *g, const char *name, const char *type_name, int line, int col, MtNode *node)
{
  g_return_val_if_fail (g != NULL && name != NULL, NULL);
  MtDagNode *n = g_new0 (MtDagNode, 1);
  n->name = g_strdup (name);
  n->type_name = g_strdup (type_name);
  n->line = line;
  n->col = col;
  n->node = node;
  n->dependents = g_ptr_array_new ();
  n->inputs = g_array_new (FALSE, TRUE, sizeof (MtDagInput));
  g_array_set_clear_func (n->inputs, dag_input_clear);
  g_hash_table_insert (g->by_name, n->name, n);
  return n;
}

void
mt_dag_node_free (gpointer p)
{
  MtDagNode *n = p;
  g_free (n->name);
  g_free (n->type_name);
  g_clear_object (&n->node);
  g_array_unref (n->inputs);
  g_ptr_array_unref (n->dependents);
  g_free (n);
}

void
mt_dag_free (MtDag *g)
{
  if (!g)
    return;
  g_hash_table_unref (g->by_name);
  g_ptr_array_unref (g->nodes);
  g_free (g->filename);
  g_free (g->path);
  g_free (g->variant);
  g_free (g);
}

MtDagNode *
mt_dag_find (MtDag *g, const char *name)
{
  g_return_val_if_fail (g != NULL && name != NULL, NULL);
  return g_hash_table_lookup (g->by_name, name);
}

/* A binary min-heap of file positions: the ready node written first comes out first. */
typedef struct {
  guint *v;
  guint len;
} DagHeap;

static void
dag_heap_push (DagHeap *h, guint x)
{
  guint i = h->len++;
  h->v[i] = x;
  while (i > 0 && h->v[(i - 1) / 2] > h->v[i]) {
    guint p = (i - 1) / 2, t = h->v[p];
    h->v[p] = h->v[i];
    h->v[i] = t;
    i = p;
  }
}

static guint
dag_heap_pop (DagHeap *h)
{
  guint top = h->v[0];
  h->v[0] = h->v[--h->len];
  for (guint i = 0;;) {
    guint l = 2 * i + 1, r = l + 1, m = i;
    if (l < h->len && h->v[l] < h->v[m])
      m = l;
    if (r < h->len && h->v[r] < h->v[m])
      m = r;
    if (m == i)
      break;
    guint t = h->v[m];
    h->v[m] = h->v[i];
    h->v[i] = t;
    i = m;
  }
  return top;
}

/* Kahn's algorithm with the ready set in a heap: O((V + E) log V), and the same order as
 * always taking the earliest-written ready node. */
gboolean
mt_dag_sort (MtDag *g, GPtrArray *file_order, char **cycle, MtDagNode **at)
{
  g_return_val_if_fail (g != NULL && file_order != NULL, FALSE);
  guint n = file_order->len;
  g_autofree guint *missing = g_new0 (guint, n);
  g_autoptr (GHashTable) pos = g_hash_table_new (NULL, NULL);
  for (guint i = 0; i < n; i++)
    g_hash_table_insert (pos, file_order->pdata[i], GUINT_TO_POINTER (i));
  g_autoptr (GHashTable) srcs = g_hash_table_new (NULL, NULL);
  for (guint i = 0; i < n; i++) {
    MtDagNode *gn = file_order->pdata[i];
    g_hash_table_remove_all (srcs);
    for (guint k = 0; k < gn->inputs->len; k++) {
      MtDagInput *gi = &g_array_index (gn->inputs, MtDagInput, k);
      if (gi->src && g_hash_table_add (srcs, gi->src)) {
        missing[i]++;
        g_ptr_array_add (gi->src->dependents, gn);
      }
    }
  }
  DagHeap heap = { g_new (guint, MAX (n, 1)), 0 };
  g_autofree guint *order = g_new (guint, MAX (n, 1));
  guint placed = 0;
  for (guint i = 0; i < n; i++)
    if (missing[i] == 0)
      dag_heap_push (&heap, i);
  while (heap.len > 0) {
    guint i = dag_heap_pop (&heap);
    order[placed++] = i;
    MtDagNode *gn = file_order->pdata[i];
    for (guint k = 0; k < gn->dependents->len; k++) {
      guint d = GPOINTER_TO_UINT (g_hash_table_lookup (pos, gn->dependents->pdata[k]));
      if (--missing[d] == 0)
        dag_heap_push (&heap, d);
    }
  }
  g_free (heap.v);
  if (placed == n) {
    for (guint i = 0; i < n; i++) {
      MtDagNode *gn = file_order->pdata[order[i]];
      gn->index = i;
      g_ptr_array_add (g->nodes, gn);
    }
    return TRUE;
  }

  /* Walk back along unfinished inputs from the first stuck node until a node repeats. */
  guint start = 0;
  while (missing[start] == 0)
    start++;
  g_autoptr (GPtrArray) path = g_ptr_array_new ();
  g_autoptr (GHashTable) on_path = g_hash_table_new (NULL, NULL);
  MtDagNode *cur = file_order->pdata[start];
  while (!g_hash_table_contains (on_path, cur)) {
    g_hash_table_insert (on_path, cur, GUINT_TO_POINTER (path->len));
    g_ptr_array_add (path, cur);
    MtDagNode *next = NULL;
    for (guint k = 0; k < cur->inputs->len && !next; k++) {
      MtDagInput *gi = &g_array_index (cur->inputs, MtDagInput, k);
      if (gi->src && missing[GPOINTER_TO_UINT (g_hash_table_lookup (pos, gi->src))] > 0)
        next = gi->src;
    }
    cur = next;
  }
  guint first = GPOINTER_TO_UINT (g_hash_table_lookup (on_path, cur));
  GString *s = g_string_new (NULL);
  /* Printed in data-flow direction: source first. */
  for (guint i = path->len; i > first; i--)
    g_string_append_printf (s, "%s -> ", ((MtDagNode *) path->pdata[i - 1])->name);
  g_string_append (s, ((MtDagNode *) path->pdata[path->len - 1])->name);
  MtDagNode *report = cur;
  for (guint i = first; i < path->len; i++) {
    MtDagNode *c = path->pdata[i];
    if (c->line < report->line)
      report = c;
  }
  for (guint i = 0; i < n; i++)
    g_ptr_array_set_size (((MtDagNode *) file_order->pdata[i])->dependents, 0);
  if (cycle)
    *cycle = g_string_free (s, FALSE);
  else
    g_string_free (s, TRUE);
  if (at)
    *at = report;
  return FALSE;
}

/* Iterative, so a long chain cannot overflow the stack. */
static GHashTable *
dag_collect (MtDagNode *start, gboolean down)
{
  GHashTable *set = g_hash_table_new (NULL, NULL);
  g_autoptr (GPtrArray) todo = g_ptr_array_new ();
  g_ptr_array_add (todo, start);
  while (todo->len > 0) {
    MtDagNode *n = g_ptr_array_steal_index_fast (todo, todo->len - 1);
    if (!g_hash_table_add (set, n))
      continue;
    if (down) {
      for (guint i = 0; i < n->dependents->len; i++)
        g_ptr_array_add (todo, n->dependents->pdata[i]);
    } else {
      for (guint i = 0; i < n->inputs->len; i++) {
        MtDagInput *gi = &g_array_index (n->inputs, MtDagInput, i);
        if (gi->src)
          g_ptr_array_add (todo, gi->src);
      }
    }
  }
  return set;
}

GHashTable *
mt_dag_descendants (MtDag *g, MtDagNode *n)
{
  g_return_val_if_fail (n != NULL, NULL);
  return dag_collect (n, TRUE);
}

GHashTable *
mt_dag_ancestors (MtDag *g, MtDagNode *n)
{
  g_return_val_if_fail (n != NULL, NULL);
  return dag_collect (n, FALSE);
}

static char *
dag_dot_escape (const char *s)
{
  GString *o = g_string_new (NULL);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      g_string_append_c (o, '\\');
    g_string_append_c (o, *s);
  }
  return g_string_free (o, FALSE);
}

/* What an edge says beyond its two ends: nothing when the output, the input and the kind
 * share one name and the source has no other output (biased -> erm), else the ports (one
 * name when they match), and the kind when neither port is named after it. */
static char *
dag_edge_label (const char *out, const char *in, const char *kind, guint n_outputs)
{
  gboolean same = strcmp (out, in) == 0;
  if (same && strcmp (out, kind) == 0 && n_outputs == 1)
    return NULL;
  g_autofree char *ports = same ? g_strdup (out) : g_strdup_printf ("%s → %s", out, in);
  if (strcmp (out, kind) == 0 || strcmp (in, kind) == 0)
    return g_steal_pointer (&ports);
  return g_strdup_printf ("%s\\n(%s)", ports, kind);
}

char *
mt_dag_to_dot (MtDag *g, const char *const *fill, const char *legend)
{
  g_return_val_if_fail (g != NULL, NULL);
  GString *s = g_string_new ("digraph pipeline {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", "
                             "fillcolor=white, fontname=\"sans-serif\"];\n  edge [fontname=\"sans-serif\", fontsize=10];\n");
  for (guint i = 0; i < g->nodes->len; i++) {
    MtDagNode *n = g->nodes->pdata[i];
    g_autofree char *name = dag_dot_escape (n->name);
    g_autofree char *type = dag_dot_escape (n->type_name);
    g_string_append_printf (s, "  \"%s\" [label=\"%s\\n%s\"", name, name, type);
    if (fill && fill[i])
      g_string_append_printf (s, ", fillcolor=\"%s\"", fill[i]);
    g_string_append (s, "];\n");
  }
  if (legend)
    g_string_append (s, legend);
  for (guint i = 0; i < g->nodes->len; i++) {
    MtDagNode *n = g->nodes->pdata[i];
    GPtrArray *ins = mt_node_class_get_inputs (MT_NODE_GET_CLASS (n->node));
    for (guint k = 0; k < n->inputs->len; k++) {
      MtDagInput *gi = &g_array_index (n->inputs, MtDagInput, k);
      if (!gi->src)
        continue;
      MtPortSpec *out = mt_node_class_get_outputs (MT_NODE_GET_CLASS (gi->src->node))->pdata[gi->src_port];
      MtPortSpec *in = ins->pdata[gi->port];
      g_autofree char *a = dag_dot_escape (gi->src->name);
      g_autofree char *b = dag_dot_escape (n->name);
      g_autofree char *on = dag_dot_escape (out->name);
      g_autofree char *inn = dag_dot_escape (gi->name);
      guint n_outputs = mt_node_class_get_outputs (MT_NODE_GET_CLASS (gi->src->node))->len;
      g_autofree char *label = dag_edge_label (on, inn, mt_kind_name (in->kind), n_outputs);
      if (label)
        g_string_append_printf (s, "  \"%s\" -> \"%s\" [label=\"%s\"];\n", a, b, label);
      else
        g_string_append_printf (s, "  \"%s\" -> \"%s\";\n", a, b);
    }
  }
  g_string_append (s, "}\n");
  return g_string_free (s, FALSE);
}
