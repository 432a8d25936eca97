/* A pipeline as the runtime sees it: a DAG of configured nodes, each input bound to an
 * upstream node's output, in topological order. graph/ builds one from a .pipe file;
 * the plan, the cache keys and the executor read it. */
#pragma once

#include "runtime/mt-node.h"

G_BEGIN_DECLS

typedef struct _MtDagNode MtDagNode;

/* One binding of an input port. A plain port has exactly one (src NULL when an optional
 * input is left unbound); a list port has one per source, in the order written, and none
 * when an optional list is left out. Bindings are stored port by port. */
typedef struct {
  MtDagNode *src;    /* NULL: an optional input left unbound */
  int src_port;      /* index into the source's outputs */
  int port;          /* index into the node's declared inputs */
  int item;          /* position in a list port; 0 for a plain port */
  char *name;        /* "port", or "port[item]" for a list port: names it in keys and manifests */
} MtDagInput;

struct _MtDagNode {
  char *name;
  char *type_name;
  int line, col;          /* where it is defined, for messages */
  MtNode *node;           /* configured instance */
  GArray *inputs;         /* MtDagInput, the bindings of every input port */
  GPtrArray *dependents;  /* MtDagNode* that read any of this node's outputs */
  guint index;            /* position in topological order */
};

typedef struct {
  char *filename;    /* as given */
  char *path;        /* absolute */
  char *variant;     /* the pipeline as run: path, then its --set overrides (one per line,
                      * sorted, the last of each name): names its refs in the cache */
  GPtrArray *nodes;  /* MtDagNode*, in topological order (file order among equals) */
  GHashTable *by_name;
} MtDag;

MtDag     *mt_dag_new           (const char *filename);
void       mt_dag_free          (MtDag *g);
/* A new node named @name (unique in @g: the caller checks); @node may be NULL for a node
 * whose type is unknown. The DAG does not own it until mt_dag_sort() placed it. */
MtDagNode *mt_dag_node_new      (MtDag *g, const char *name, const char *type_name, int line, int col,
                                 MtNode *node);
void       mt_dag_node_free     (gpointer n);
MtDagNode *mt_dag_find          (MtDag *g, const char *name);

/* Orders @file_order (every node made by mt_dag_node_new) topologically into g->nodes,
 * ready nodes taken in file order so the order is stable, and fills the dependents.
 * On a cycle returns FALSE, places nothing, and sets *cycle to "a -> b -> a" (data-flow
 * direction) and *at to its node defined first. */
gboolean   mt_dag_sort          (MtDag *g, GPtrArray *file_order, char **cycle, MtDagNode **at);

/* @n and everything that depends on it, directly or not (a set of MtDagNode*). */
GHashTable *mt_dag_descendants  (MtDag *g, MtDagNode *n);
/* @n and everything it depends on. */
GHashTable *mt_dag_ancestors    (MtDag *g, MtDagNode *n);
/* Graphviz text; @fill (may be NULL) gives a fill colour per node, by index, and @legend
 * (may be NULL) dot statements added inside the graph. */
char       *mt_dag_to_dot       (MtDag *g, const char *const *fill, const char *legend);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtDag, mt_dag_free)

G_END_DECLS
