/* The syntax tree of a .pipe file, before names and types are resolved. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  MT_AST_INT,
  MT_AST_FLOAT,
  MT_AST_STRING,
  MT_AST_BOOL,
  MT_AST_LIST,
  MT_AST_PARAM,   /* $name */
  MT_AST_REF,     /* node or node.port */
} MtAstValueKind;

typedef struct _MtAstValue MtAstValue;
struct _MtAstValue {
  MtAstValueKind kind;
  int line, col;
  gint64 i;
  double d;
  gboolean b;
  char *s;           /* string, param name, or referenced node */
  char *port;        /* REF: the port after '.', or NULL */
  gboolean every;    /* REF written NODE[*]: every instance of a swept node (in a list) */
  GPtrArray *pins;   /* REF written NODE[k=1.5, ...]: one instance (MtAstArg*, key = param), or NULL */
  int port_line, port_col;
  GPtrArray *items;  /* LIST: MtAstValue* */
};

typedef struct {
  char *key;         /* NULL for a positional argument */
  int line, col;     /* of the key, or of the value when positional */
  MtAstValue *value;
} MtAstArg;

typedef enum {
  MT_AST_STMT_PARAM,
  MT_AST_STMT_NODE,
} MtAstStmtKind;

typedef struct {
  MtAstStmtKind kind;
  char *name;
  int line, col;
  char *type;        /* NODE */
  int type_line, type_col;
  GPtrArray *args;   /* NODE: MtAstArg* */
  MtAstValue *value; /* PARAM: its value; a sweep's is the list of values */
  gboolean sweep;    /* PARAM written 'param NAME in [...]' */
} MtAstStmt;

typedef struct {
  char *filename;
  GPtrArray *stmts;  /* MtAstStmt* */
} MtAstFile;

MtAstValue *mt_ast_value_new  (MtAstValueKind kind, int line, int col);
MtAstValue *mt_ast_value_copy (const MtAstValue *v);
void        mt_ast_value_free (MtAstValue *v);
/* The value as it would be written in a .pipe file. */
char       *mt_ast_value_to_string (const MtAstValue *v);
const char *mt_ast_value_kind_name (MtAstValueKind kind);
void        mt_ast_file_free  (MtAstFile *f);
void        mt_ast_arg_free   (gpointer arg);
/* A copy of @a's key and place holding @value (taken). */
MtAstArg   *mt_ast_arg_with_value (const MtAstArg *a, MtAstValue *value);
/* An array of statements that frees them. */
GPtrArray  *mt_ast_stmt_array_new (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtAstFile, mt_ast_file_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtAstValue, mt_ast_value_free)

G_END_DECLS
