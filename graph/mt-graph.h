/* A pipeline as a DAG of configured nodes, built from a .pipe file and checked:
 * names, types, properties, ports, kinds, required inputs and cycles. */
#pragma once

#include "mt-node.h"
#include "mt-registry.h"

G_BEGIN_DECLS

typedef struct _MtGraphNode MtGraphNode;

/* One binding of an input port. A plain port has exactly one (src NULL when an optional
 * input is left unbound); a list port has one per source, in the order written, and none
 * when an optional list is left out. Bindings are stored port by port. */
typedef struct {
  MtGraphNode *src;  /* NULL: an optional input left unbound */
  int src_port;      /* index into the source's outputs */
  int port;          /* index into the node's declared inputs */
  int item;          /* position in a list port; 0 for a plain port */
  char *name;        /* "port", or "port[item]" for a list port: names it in keys and manifests */
} MtGraphInput;

struct _MtGraphNode {
  char *name;
  char *type_name;
  int line, col;
  MtNode *node;           /* configured instance */
  GArray *inputs;         /* MtGraphInput, the bindings of every input port */
  GPtrArray *dependents;  /* MtGraphNode* that read any of this node's outputs */
  guint index;            /* position in topological order */
};

typedef struct {
  char *filename;    /* as given */
  char *path;        /* absolute */
  GPtrArray *nodes;  /* MtGraphNode*, in topological order (file order among equals) */
  GHashTable *by_name;
} MtGraph;

/* @overrides: NULL-terminated "NAME=VALUE" (a param) or "NODE.PROPERTY=VALUE". */
MtGraph     *mt_graph_load_file   (const char *path, MtRegistry *reg,
                                   const char *const *overrides, GError **error);
MtGraph     *mt_graph_load_string (const char *filename, const char *src, MtRegistry *reg,
                                   const char *const *overrides, GError **error);
void         mt_graph_free        (MtGraph *g);
MtGraphNode *mt_graph_find        (MtGraph *g, const char *name);
/* @n and everything that depends on it, directly or not (a set of MtGraphNode*). */
GHashTable  *mt_graph_descendants (MtGraph *g, MtGraphNode *n);
/* @n and everything it depends on. */
GHashTable  *mt_graph_ancestors   (MtGraph *g, MtGraphNode *n);
char        *mt_graph_to_dot      (MtGraph *g);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtGraph, mt_graph_free)

G_END_DECLS
