/* The .pipe language: valid files, every error with its line and column, value
 * conversion and validation against GParamSpecs, and --set overrides. */
#include "tests/mt-test-util.h"

#include <math.h>
#include <string.h>

static MtDag *
load (const char *src, const char *const *sets, char **message)
{
  g_autoptr (GError) err = NULL;
  MtDag *g = mt_graph_load_string ("t.pipe", src, mt_test_registry (), sets, &err);
  if (message)
    *message = err ? g_strdup (err->message) : NULL;
  return g;
}

/* Loading @src must fail with exactly @n_expected messages, each containing the
 * matching string (in file order). */
static void
expect_errors (const char *src, const char *const *expected)
{
  g_autofree char *msg = NULL;
  g_autoptr (MtDag) g = load (src, NULL, &msg);
  ck_assert_msg (g == NULL, "accepted:\n%s", src);
  g_auto (GStrv) lines = g_strsplit (msg, "\n", -1);
  guint n = 0;
  while (expected[n])
    n++;
  ck_assert_msg (g_strv_length (lines) == n, "expected %u errors, got:\n%s", n, msg);
  for (guint i = 0; i < n; i++)
    ck_assert_msg (strstr (lines[i], expected[i]), "error %u: expected '%s' in:\n%s", i, expected[i], msg);
}

static void
expect_error (const char *src, const char *expected)
{
  const char *e[] = { expected, NULL };
  expect_errors (src, e);
}

START_TEST (parse_valid_pipeline)
{
  const char *src =
    "# a comment line\n"
    "param f = 3.5   # trailing comment\n"
    "param label = \"a \\\"quoted\\\" name\"\n"
    "\n"
    "b = scale(a, factor=$f, mode=\"div\")\n"        /* forward reference to a */
    "a = fill(\n"
    "    shape=[4, 5,],\n"
    "    value=-2e-1,\n"
    ")\n"
    "parts = split(b)\n"
    "s = add(parts.lo, b=parts.hi)\n"
    "d = delay(x=s, ms=0, fail=false)\n";
  g_autofree char *msg = NULL;
  g_autoptr (MtDag) g = load (src, NULL, &msg);
  ck_assert_msg (g != NULL, "%s", msg);
  ck_assert_uint_eq (g->nodes->len, 5);
  /* Topological order; among ready nodes, file order. */
  const char *order[] = { "a", "b", "parts", "s", "d" };
  for (guint i = 0; i < 5; i++)
    ck_assert_str_eq (((MtDagNode *) g->nodes->pdata[i])->name, order[i]);

  MtDagNode *b = mt_dag_find (g, "b");
  double factor = 0;
  int mode = 0;
  g_object_get (b->node, "factor", &factor, "mode", &mode, NULL);
  ck_assert_double_eq (factor, 3.5);
  ck_assert_int_eq (mode, 1);
  ck_assert_int_eq (b->line, 5);
  ck_assert_int_eq (b->col, 1);

  MtDagNode *a = mt_dag_find (g, "a");
  GVariant *shape = NULL;
  double value = 0;
  g_object_get (a->node, "shape", &shape, "value", &value, NULL);
  g_autofree char *shape_s = g_variant_print (shape, FALSE);
  ck_assert_str_eq (shape_s, "[4, 5]");
  g_variant_unref (shape);
  ck_assert_double_eq_tol (value, -0.2, 1e-12);

  MtDagNode *s = mt_dag_find (g, "s");
  MtDagInput *in0 = &g_array_index (s->inputs, MtDagInput, 0);
  MtDagInput *in1 = &g_array_index (s->inputs, MtDagInput, 1);
  ck_assert_str_eq (in0->src->name, "parts");
  ck_assert_int_eq (in0->src_port, 0);
  ck_assert_int_eq (in1->src_port, 1);
  ck_assert_uint_eq (mt_dag_find (g, "parts")->dependents->len, 1);
}
END_TEST

START_TEST (optional_input_may_stay_unbound)
{
  g_autofree char *msg = NULL;
  g_autoptr (MtDag) g = load ("a = fill()\ns = add(a)\n", NULL, &msg);
  ck_assert_msg (g != NULL, "%s", msg);
  ck_assert_ptr_null (g_array_index (mt_dag_find (g, "s")->inputs, MtDagInput, 1).src);
}
END_TEST

START_TEST (error_unknown_type_with_suggestion)
{
  expect_error ("a = fil(value=1)\n", "t.pipe:1:5: error: unknown node type 'fil'; did you mean 'fill'?");
  expect_error ("a = zzzzzz()\n", "t.pipe:1:5: error: unknown node type 'zzzzzz'");
}
END_TEST

START_TEST (error_unknown_property_with_suggestion)
{
  expect_error ("a = fill(valeu=1)\n",
                "t.pipe:1:10: error: node type 'fill' has no input or property 'valeu'; did you mean 'value'?");
}
END_TEST

START_TEST (error_unknown_name_with_suggestion)
{
  expect_error ("alpha = fill()\nb = scale(alpah)\n",
                "t.pipe:2:11: error: unknown node 'alpah'; did you mean 'alpha'?");
}
END_TEST

START_TEST (error_duplicate_name)
{
  expect_error ("a = fill()\n\na = fill(value=2)\n",
                "t.pipe:3:1: error: duplicate node name 'a' (first defined at line 1)");
  expect_error ("param p = 1\nparam p = 2\na = fill()\n", "t.pipe:2:7: error: duplicate param 'p'");
}
END_TEST

START_TEST (error_wrong_kind)
{
  expect_error ("d = toy_data()\nm = toy_model(d)\nx = toy_model(m)\n",
                "t.pipe:3:15: error: input 'dataset' of toy_model expects a dataset, but 'm' gives a model");
}
END_TEST

START_TEST (error_missing_required_input)
{
  expect_error ("s = scale(factor=1)\n",
                "t.pipe:1:1: error: node 's' (scale) is missing its required input 'x' (a tensor)");
}
END_TEST

START_TEST (error_cycle)
{
  expect_error ("a = scale(c)\nb = scale(a)\nc = scale(b)\n",
                "t.pipe:1:1: error: cycle in the pipeline: ");
  g_autofree char *msg = NULL;
  g_autoptr (MtDag) g = load ("x = fill()\na = scale(c)\nb = scale(a)\nc = scale(b)\n", NULL, &msg);
  ck_assert_ptr_null (g);
  ck_assert_msg (strstr (msg, "a -> b -> c -> a") || strstr (msg, "c -> a -> b -> c") ||
                 strstr (msg, "b -> c -> a -> b"), "%s", msg);
  expect_error ("a = scale(a)\n", "t.pipe:1:1: error: cycle in the pipeline: a -> a");
}
END_TEST

START_TEST (error_values_validated_not_clamped)
{
  expect_error ("a = fill()\nd = delay(a, ms=-5)\n",
                "t.pipe:2:17: error: property 'ms' of delay: -5 is out of range (0 .. 600000)");
  expect_error ("a = fill(value=2e6)\n", "t.pipe:1:16: error: property 'value' of fill: 2000000 is out of range (-1000000 .. 1000000)");
  expect_error ("a = fill(value=\"x\")\n", "t.pipe:1:16: error: property 'value' of fill: expected a number, found a string");
  expect_error ("a = fill()\nd = delay(a, ms=1.5)\n", "expected an integer, found a number");
  expect_error ("a = fill()\nd = delay(a, fail=1)\n", "expected true or false, found an integer");
  expect_error ("a = fill()\ns = scale(a, mode=\"mull\")\n",
                "t.pipe:2:19: error: property 'mode' of scale: 'mull' is not a valid value; expected one of: mul, div");
  expect_error ("a = fill(shape=[1, \"2\"])\n", "list item 2: expected an integer, found a string");
  expect_error ("a = fill(shape=3)\n", "expected a list, found an integer");
  expect_error ("a = fill(value=other)\n", "property 'value' of fill takes number, not the node name 'other'");
  expect_error ("a = fill()\nd = delay(a, ms=99999999999)\n", "does not fit the property's type");
}
END_TEST

START_TEST (error_syntax)
{
  expect_error ("a = fill(value=\"open\n", "t.pipe:1:16: error: unterminated string");
  expect_error ("a = fill(value=1) extra\n", "t.pipe:1:19: error: expected end of line after the statement, found 'extra'");
  expect_error ("a = fill(value=1 shape=[1])\n", "t.pipe:1:18: error: expected ',' or ')' after an argument, found 'shape'");
  expect_error ("a fill()\n", "t.pipe:1:3: error: expected '=' after the node name, found 'fill'");
  expect_error ("a = fill(value=1;\n", "t.pipe:1:17: error: unexpected character ';'");
  expect_error ("a = fill(value=12abc)\n", "t.pipe:1:16: error: malformed number '12abc'");
  expect_error ("param = 3\n", "t.pipe:1:7: error: expected a parameter name after 'param', found '='");
  expect_error ("a = fill(value=$)\n", "t.pipe:1:16: error: expected a parameter name after '$'");
  expect_error ("true = fill()\n", "t.pipe:1:1: error: 'true' is a reserved word");
  expect_error ("a = fill()\ns = scale(factor=2, a)\n", "t.pipe:2:21: error: a positional argument cannot follow");
  expect_error ("a = fill(shape=[[1]])\n", "t.pipe:1:17: error: lists cannot be nested");
}
END_TEST

START_TEST (error_ports)
{
  /* Arguments in the wrong order: each says where it stands and what the type takes. */
  const char *swapped[] = {
    "t.pipe:4:16: error: input 'model' of xgradcam expects a model, but 'b' gives a dataset (positional argument 1; "
    "xgradcam takes model (a model), dataset (a dataset), in that order)",
    "t.pipe:4:19: error: input 'dataset' of xgradcam expects a dataset, but node 'erm' (trainer) gives none "
    "(its outputs: model, state, log) (positional argument 2;",
    NULL,
  };
  expect_errors ("d = mnist(limit=20)\nb = biaser(d)\nerm = trainer(b)\ncam = xgradcam(b, erm)\n", swapped);
  expect_error ("a = fill()\np = split(a)\ns = scale(p)\n",
                "t.pipe:3:11: error: node 'p' (split) has several outputs (lo, hi); write p.lo");
  expect_error ("a = fill()\np = split(a)\ns = scale(p.mid)\n",
                "t.pipe:3:13: error: node 'p' (split) has no output 'mid' (outputs: lo, hi)");
  expect_error ("a = fill()\np = split(a)\ns = scale(p.hj)\n", "has no output 'hj'; did you mean 'hi'?");
  expect_error ("a = fill()\ns = scale(a, x=a)\n", "t.pipe:2:14: error: input 'x' is bound twice");
  expect_error ("a = fill()\ns = scale(a, a)\n", "t.pipe:2:14: error: too many positional arguments: scale takes 1 input (x)");
  expect_error ("a = fill()\ns = scale(x=3)\n", "t.pipe:2:13: error: input 'x' of scale takes a node name, found an integer");
  expect_error ("a = fill(value=1, value=2)\n", "t.pipe:1:19: error: property 'value' is set twice");
}
END_TEST

START_TEST (error_params)
{
  expect_error ("a = fill(value=$vv)\n", "t.pipe:1:16: error: unknown parameter '$vv'");
  expect_error ("param val = 1\na = fill(value=$vl)\n", "unknown parameter '$vl'; did you mean 'val'?");
  expect_error ("param p = \"s\"\na = fill(value=$p)\n", "t.pipe:2:16: error: property 'value' of fill: expected a number, found a string");
}
END_TEST

/* Node classes check their values together at build time (the validate vfunc): each error
 * at the value's FILE:LINE:COL, --set ones named by their argument, cycles with the rest. */
START_TEST (validate_at_build_time)
{
  const char *e[] = {
    "t.pipe:2:21: error: property 'color' of biaser: color component 300 is outside 0..255",
    "t.pipe:3:25: error: property 'class_map' of biaser: class_map must give a class for each of the 10 labels, got 2 values",
    "t.pipe:4:21: error: property 'arch' of trainer: unknown arch 'smal_cnn'; did you mean 'small_cnn'?",
    "t.pipe:5:30: error: property 'lr_milestones' of trainer: lr_milestones must be increasing",
    "t.pipe:6:1: error: cycle in the pipeline: ",
    "t.pipe:8:48: error: property 'coverages' of evaluator: coverages must be one or more percentages in (0, 100]",
    NULL,
  };
  expect_errors ("d = mnist(limit=10)\n"
                 "b = biaser(d, color=[300, 0, 0])\n"
                 "c = biaser(d, class_map=[0, 1])\n"
                 "m = trainer(b, arch=\"smal_cnn\")\n"
                 "n = trainer(b, lr_milestones=[3, 2])\n"
                 "x = scale(y)\n"
                 "y = scale(x)\n"
                 "r = evaluator(models=[m], tests=[c], coverages=[50, 101])\n", e);

  /* The same check on a value given with --set, before anything runs. */
  const char *src = "d = mnist(limit=10)\nb = biaser(d)\n";
  const char *bad[] = { "b.color=[0,256,0]", NULL };
  g_autofree char *msg = NULL;
  mt_dag_free (load (src, bad, &msg));
  ck_assert_msg (msg && strstr (msg, "t.pipe: error: --set b.color=[0,256,0]: color component 256 is outside 0..255"),
                 "%s", msg);
  const char *good[] = { "b.color=[0,255,0]", NULL };
  g_autoptr (MtDag) g = load (src, good, NULL);
  ck_assert_ptr_nonnull (g);
}
END_TEST

START_TEST (all_errors_in_one_pass)
{
  const char *e[] = {
    "t.pipe:1:5: error: unknown node type 'fil'",
    "t.pipe:2:11: error: unknown node 'q'",
    "t.pipe:3:10: error: unterminated string",
    "t.pipe:4:17: error: property 'ms' of delay: -1 is out of range",
    NULL,
  };
  expect_errors ("a = fil()\nb = scale(q)\nc = fill(\"x\n" "d = delay(b, ms=-1)\n", e);
}
END_TEST

START_TEST (overrides)
{
  const char *src = "param f = 2\na = fill(value=1)\nb = scale(a, factor=$f)\n";
  const char *sets[] = { "f=5", "a.value=0.25", NULL };
  g_autofree char *msg = NULL;
  g_autoptr (MtDag) g = load (src, sets, &msg);
  ck_assert_msg (g != NULL, "%s", msg);
  double f = 0, v = 0;
  g_object_get (mt_dag_find (g, "b")->node, "factor", &f, NULL);
  g_object_get (mt_dag_find (g, "a")->node, "value", &v, NULL);
  ck_assert_double_eq (f, 5);
  ck_assert_double_eq (v, 0.25);

  const char *bad1[] = { "ff=5", NULL };
  mt_dag_free (load (src, bad1, &msg));
  ck_assert_msg (strstr (msg, "t.pipe: error: --set ff=5: the pipeline has no param 'ff'; did you mean 'f'?"), "%s", msg);
  g_free (msg);
  const char *bad2[] = { "a.valeu=1", "zz.value=1", "a.value=oops", NULL };
  mt_dag_free (load (src, bad2, &msg));
  ck_assert_msg (strstr (msg, "node type 'fill' has no property 'valeu'; did you mean 'value'?"), "%s", msg);
  ck_assert_msg (strstr (msg, "--set zz.value: unknown node 'zz'"), "%s", msg);
  ck_assert_msg (strstr (msg, "--set a.value=oops: expected a number, found a string"), "%s", msg);
  g_free (msg);
  const char *bad3[] = { "a.value=1e9", NULL };
  mt_dag_free (load (src, bad3, &msg));
  ck_assert_msg (strstr (msg, "is out of range"), "%s", msg);
  g_free (msg);
  msg = NULL;
}
END_TEST

static char *
node_names (MtDag *g)
{
  GString *s = g_string_new ("");
  for (guint i = 0; i < g->nodes->len; i++) {
    MtDagNode *n = g->nodes->pdata[i];
    g_string_append_printf (s, "%s%s", i ? " " : "", n->name);
  }
  return g_string_free (s, FALSE);
}

START_TEST (sweeps)
{
  /* One instance per value of the params a node depends on, directly or through what it
   * reads; two swept params make their product; nodes that do not depend stay single. */
  const char *src =
    "param k in [1.0, 1.5, 2]\n"
    "param s in [3, 4]\n"
    "a = fill(value=1)\n"
    "b = scale(a, factor=$k)\n"
    "c = add(b, b=a)\n"
    "e = scale(c, factor=$s)\n"
    "d = scale(a, factor=2)\n";
  g_autofree char *msg = NULL;
  g_autoptr (MtDag) g = load (src, NULL, &msg);
  ck_assert_msg (g != NULL, "%s", msg);
  ck_assert_uint_eq (g->nodes->len, 1 + 3 + 3 + 6 + 1);
  ck_assert_ptr_nonnull (mt_dag_find (g, "b[k=1.5]"));
  ck_assert_ptr_nonnull (mt_dag_find (g, "c[k=2]"));
  ck_assert_ptr_nonnull (mt_dag_find (g, "e[k=1,s=4]"));
  ck_assert_ptr_nonnull (mt_dag_find (g, "d"));
  ck_assert_ptr_null (mt_dag_find (g, "b"));
  double f = 0;
  g_object_get (mt_dag_find (g, "b[k=1.5]")->node, "factor", &f, NULL);
  ck_assert_double_eq (f, 1.5);
  g_object_get (mt_dag_find (g, "e[k=1.5,s=3]")->node, "factor", &f, NULL);
  ck_assert_double_eq (f, 3);
  /* c[k=2] reads b[k=2] and the single a. */
  MtDagNode *c2 = mt_dag_find (g, "c[k=2]");
  ck_assert_str_eq (g_array_index (c2->inputs, MtDagInput, 0).src->name, "b[k=2]");

  /* --set gives a swept param one value: no instances. */
  const char *sets[] = { "k=3", "e[s=4].factor=7", NULL };
  g_autoptr (MtDag) g2 = load (src, sets, &msg);
  ck_assert_msg (g2 != NULL, "%s", msg);
  g_autofree char *names = node_names (g2);
  ck_assert_msg (mt_dag_find (g2, "b") && mt_dag_find (g2, "e[s=3]") && !mt_dag_find (g2, "b[k=3]"), "%s", names);
  g_object_get (mt_dag_find (g2, "e[s=4]")->node, "factor", &f, NULL);
  ck_assert_double_eq (f, 7);

  /* node[*] in a list: every instance. */
  const char *list_src =
    "param lr in [0.01, 0.02]\n"
    "train = mnist()\n"
    "m = trainer(train, lr=$lr)\n"
    "r = evaluator(models=[m[*]], tests=[train])\n";
  g_autoptr (MtDag) g3 = load (list_src, NULL, &msg);
  ck_assert_msg (g3 != NULL, "%s", msg);
  MtDagNode *r = mt_dag_find (g3, "r");
  ck_assert_ptr_nonnull (r);
  guint n_models = 0;
  const char *want[] = { "m[lr=0.01]", "m[lr=0.02]" };
  for (guint i = 0; i < r->inputs->len; i++) {
    MtDagInput *in = &g_array_index (r->inputs, MtDagInput, i);
    if (in->port == 0) {
      ck_assert_uint_lt (n_models, 2);
      ck_assert_str_eq (in->src->name, want[n_models++]);
    }
  }
  ck_assert_uint_eq (n_models, 2);

  /* Errors, at FILE:LINE:COL. */
  expect_error ("param k in 3\n", "t.pipe:1:12: error: 'param k in' takes a list of one or more values to sweep");
  expect_error ("param k in [1, 2, 1]\na = fill(value=$k)\n", "t.pipe:1:19: error: 1 appears twice in the sweep of 'k'");
  expect_error ("param k in [\"a b\"]\na = fill(value=1)\n", "t.pipe:1:13: error: a swept value must be");
  expect_error ("param k in [1, 2]\na = fill(value=$k)\nb = scale(a[*])\n",
                "t.pipe:3:11: error: 'a[*]' stands for every instance of 'a': use it inside a list");
  expect_error ("a = fill(value=1)\nb = scale(a[2])\n", "t.pipe:2:13: error: expected '[*]'");

  /* node[k=v]: one instance, by name in the file. */
  const char *pin_src = "param k in [1.0, 1.5]\na = fill(value=$k)\nb = scale(a[k=1.5], factor=2)\n";
  g_autoptr (MtDag) g4 = load (pin_src, NULL, &msg);
  ck_assert_msg (g4 != NULL, "%s", msg);
  ck_assert_str_eq (g_array_index (mt_dag_find (g4, "b")->inputs, MtDagInput, 0).src->name, "a[k=1.5]");
  expect_error ("param k in [1.0, 1.5]\na = fill(value=$k)\nb = scale(a[k=2], factor=2)\n",
                "t.pipe:3:15: error: 2 is not one of the values 'k' sweeps");
  expect_error ("param k in [1.0, 1.5]\na = fill(value=$k)\nb = scale(a[j=1], factor=2)\n",
                "t.pipe:3:13: error: 'j' is not a swept param");
  expect_error ("param k in [1.0, 1.5]\nparam s in [1, 2]\na = fill(value=$k)\nc = scale(a, factor=$s)\n"
                "b = scale(c[k=1], factor=2)\n", "t.pipe:5:11: error: 'c' has an instance per value of k, s: give each");
}
END_TEST

START_TEST (cli_values)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (MtAstValue) i = mt_parse_cli_value ("42", &err);
  ck_assert_int_eq (i->kind, MT_AST_INT);
  ck_assert_int_eq (i->i, 42);
  g_autoptr (MtAstValue) d = mt_parse_cli_value ("-1.5e-3", &err);
  ck_assert_int_eq (d->kind, MT_AST_FLOAT);
  g_autoptr (MtAstValue) b = mt_parse_cli_value ("true", &err);
  ck_assert_int_eq (b->kind, MT_AST_BOOL);
  g_autoptr (MtAstValue) l = mt_parse_cli_value ("[1, 2, 3]", &err);
  ck_assert_int_eq (l->kind, MT_AST_LIST);
  ck_assert_uint_eq (l->items->len, 3);
  g_autoptr (MtAstValue) s = mt_parse_cli_value ("top_k", &err);
  ck_assert_int_eq (s->kind, MT_AST_STRING);
  ck_assert_str_eq (s->s, "top_k");
  g_autoptr (MtAstValue) q = mt_parse_cli_value ("\"a b\"", &err);
  ck_assert_str_eq (q->s, "a b");
  ck_assert_ptr_null (mt_parse_cli_value ("[1, ", &err));
}
END_TEST

START_TEST (value_conversion)
{
  GParamSpec *pi = g_param_spec_int ("n", NULL, NULL, -3, 10, 0, G_PARAM_READWRITE);
  GParamSpec *pu = g_param_spec_uint ("u", NULL, NULL, 0, 255, 0, G_PARAM_READWRITE);
  GParamSpec *pd = g_param_spec_double ("d", NULL, NULL, 0.0, 1.0, 0.5, G_PARAM_READWRITE);
  GParamSpec *ps = g_param_spec_string ("s", NULL, NULL, NULL, G_PARAM_READWRITE);
  GParamSpec *pv = g_param_spec_variant ("l", NULL, NULL, G_VARIANT_TYPE ("ad"), NULL, G_PARAM_READWRITE);
  GParamSpec *pstrv = g_param_spec_boxed ("sv", NULL, NULL, G_TYPE_STRV, G_PARAM_READWRITE);
  g_param_spec_ref_sink (pi);
  g_param_spec_ref_sink (pu);
  g_param_spec_ref_sink (pd);
  g_param_spec_ref_sink (ps);
  g_param_spec_ref_sink (pv);
  g_param_spec_ref_sink (pstrv);

  GValue v = G_VALUE_INIT;
  g_autofree char *m = NULL;
  g_autoptr (MtAstValue) seven = mt_ast_value_new (MT_AST_INT, 1, 1);
  seven->i = 7;
  seven->d = 7;
  ck_assert (mt_value_from_ast (seven, pi, &v, &m));
  ck_assert_int_eq (g_value_get_int (&v), 7);
  g_value_unset (&v);
  ck_assert (mt_value_from_ast (seven, pd, &v, &m) == FALSE);  /* 7 > 1.0 */
  ck_assert_msg (strstr (m, "7 is out of range (0 .. 1)"), "%s", m);
  g_clear_pointer (&m, g_free);
  seven->i = -4;
  ck_assert (!mt_value_from_ast (seven, pi, &v, &m));
  ck_assert_msg (strstr (m, "-4 is out of range (-3 .. 10)"), "%s", m);
  g_clear_pointer (&m, g_free);
  ck_assert (!mt_value_from_ast (seven, pu, &v, &m));
  g_clear_pointer (&m, g_free);
  ck_assert (!mt_value_from_ast (seven, ps, &v, &m));
  ck_assert_msg (strstr (m, "expected a string, found an integer"), "%s", m);
  g_clear_pointer (&m, g_free);

  g_autoptr (MtAstValue) list = mt_ast_value_new (MT_AST_LIST, 1, 1);
  MtAstValue *a = mt_ast_value_new (MT_AST_INT, 1, 2);
  a->i = 1;
  a->d = 1;
  MtAstValue *b = mt_ast_value_new (MT_AST_FLOAT, 1, 5);
  b->d = 0.5;
  g_ptr_array_add (list->items, a);
  g_ptr_array_add (list->items, b);
  ck_assert (mt_value_from_ast (list, pv, &v, &m));
  g_autofree char *canon = mt_property_canonical (&v);
  ck_assert_str_eq (canon, "v:[1.0, 0.5]");
  g_value_unset (&v);
  ck_assert (!mt_value_from_ast (list, pstrv, &v, &m));
  ck_assert_msg (strstr (m, "list item 1: expected a string"), "%s", m);
  g_clear_pointer (&m, g_free);

  /* Canonical texts are exact: 0.1 and the nearest other double differ. */
  GValue x = G_VALUE_INIT, y = G_VALUE_INIT;
  g_value_init (&x, G_TYPE_DOUBLE);
  g_value_init (&y, G_TYPE_DOUBLE);
  g_value_set_double (&x, 0.1);
  g_value_set_double (&y, nextafter (0.1, 1.0));
  g_autofree char *cx = mt_property_canonical (&x);
  g_autofree char *cy = mt_property_canonical (&y);
  ck_assert_str_ne (cx, cy);

  g_param_spec_unref (pi);
  g_param_spec_unref (pu);
  g_param_spec_unref (pd);
  g_param_spec_unref (ps);
  g_param_spec_unref (pv);
  g_param_spec_unref (pstrv);
}
END_TEST

START_TEST (suggestions)
{
  ck_assert_uint_eq (mt_suggest_distance ("biaser", "biasre"), 1);
  ck_assert_uint_eq (mt_suggest_distance ("kitten", "sitting"), 3);
  const char *c[] = { "biaser", "trainer", "masker", NULL };
  ck_assert_str_eq (mt_suggest_closest ("traner", c), "trainer");
  ck_assert_ptr_null (mt_suggest_closest ("xyz", c));
  /* One- and two-letter names: only one edit that keeps the first letter. */
  const char *short_names[] = { "b", "hi", "lo", NULL };
  ck_assert_ptr_null (mt_suggest_closest ("q", short_names));
  ck_assert_str_eq (mt_suggest_closest ("hj", short_names), "hi");
}
END_TEST

START_TEST (nul_byte_and_missing_file)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *p = g_build_filename (dir, "nul.pipe", NULL);
  ck_assert (g_file_set_contents (p, "a = fill()\0x", 12, NULL));
  g_autoptr (GError) err = NULL;
  ck_assert_ptr_null (mt_graph_load_file (p, mt_test_registry (), NULL, &err));
  ck_assert_msg (strstr (err->message, "nul.pipe: error: binary data (byte 0x00 at offset 10), not a .pipe file"),
                 "%s", err->message);
  g_clear_error (&err);
  /* Mostly control bytes: one line, however many there are. */
  g_autofree char *bin = g_build_filename (dir, "bin.pipe", NULL);
  char junk[600];
  for (guint i = 0; i < sizeof junk; i++)
    junk[i] = (char) (1 + i % 30);
  ck_assert (g_file_set_contents (bin, junk, sizeof junk, NULL));
  ck_assert_ptr_null (mt_graph_load_file (bin, mt_test_registry (), NULL, &err));
  ck_assert_msg (strstr (err->message, "binary data (byte 0x01 at offset 0)") && !strchr (err->message, '\n'),
                 "%s", err->message);
  g_clear_error (&err);
  /* Text with hundreds of errors: the first 25, then a count. */
  GString *many = g_string_new (NULL);
  for (int i = 0; i < 300; i++)
    g_string_append_printf (many, "n%d = nosuchtype()\n", i);
  g_autofree char *mp = g_build_filename (dir, "many.pipe", NULL);
  ck_assert (g_file_set_contents (mp, many->str, -1, NULL));
  g_string_free (many, TRUE);
  ck_assert_ptr_null (mt_graph_load_file (mp, mt_test_registry (), NULL, &err));
  guint lines = 1;
  for (const char *q = err->message; *q; q++)
    lines += *q == '\n';
  ck_assert_uint_eq (lines, 26);
  ck_assert_msg (strstr (err->message, "many.pipe: … and 275 more errors"), "%s", err->message);
  g_clear_error (&err);
  g_autofree char *missing = g_build_filename (dir, "missing.pipe", NULL);
  ck_assert_ptr_null (mt_graph_load_file (missing, mt_test_registry (), NULL, &err));
  ck_assert (strstr (err->message, "missing.pipe"));
  mt_file_remove_tree (dir, NULL);
}
END_TEST

/* Every pipeline shipped in pipelines/ (and installed) builds: names, kinds, values. */
START_TEST (shipped_pipelines_build)
{
  g_autofree char *dir = g_build_filename (g_getenv ("MT_SRCDIR"), "pipelines", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  ck_assert_ptr_nonnull (d);
  guint n = 0;
  const char *name;
  while ((name = g_dir_read_name (d))) {
    if (!g_str_has_suffix (name, ".pipe"))
      continue;
    g_autofree char *p = g_build_filename (dir, name, NULL);
    g_autoptr (GError) err = NULL;
    g_autoptr (MtDag) g = mt_graph_load_file (p, mt_test_registry (), NULL, &err);
    ck_assert_msg (g != NULL, "%s: %s", name, err ? err->message : "");
    n++;
  }
  ck_assert_uint_ge (n, 6);
}
END_TEST

START_TEST (dot_output)
{
  g_autoptr (MtDag) g = load ("a = fill()\np = split(a)\ns = add(p.lo, b=p.hi)\n", NULL, NULL);
  g_autofree char *dot = mt_dag_to_dot (g, NULL, NULL);
  ck_assert (g_str_has_prefix (dot, "digraph pipeline {"));
  ck_assert_msg (strstr (dot, "\"p\" -> \"s\" [label=\"lo → a\\n(tensor)\"]"), "%s", dot);
  ck_assert_msg (strstr (dot, "\"p\" -> \"s\" [label=\"hi → b\\n(tensor)\"]"), "%s", dot);
  ck_assert (strstr (dot, "\"a\" -> \"p\""));
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("parser");
  TCase *tc = tcase_create ("core");
  tcase_add_test (tc, parse_valid_pipeline);
  tcase_add_test (tc, optional_input_may_stay_unbound);
  tcase_add_test (tc, error_unknown_type_with_suggestion);
  tcase_add_test (tc, error_unknown_property_with_suggestion);
  tcase_add_test (tc, error_unknown_name_with_suggestion);
  tcase_add_test (tc, error_duplicate_name);
  tcase_add_test (tc, error_wrong_kind);
  tcase_add_test (tc, error_missing_required_input);
  tcase_add_test (tc, error_cycle);
  tcase_add_test (tc, error_values_validated_not_clamped);
  tcase_add_test (tc, error_syntax);
  tcase_add_test (tc, error_ports);
  tcase_add_test (tc, error_params);
  tcase_add_test (tc, all_errors_in_one_pass);
  tcase_add_test (tc, validate_at_build_time);
  tcase_add_test (tc, shipped_pipelines_build);
  tcase_add_test (tc, overrides);
  tcase_add_test (tc, cli_values);
  tcase_add_test (tc, sweeps);
  tcase_add_test (tc, value_conversion);
  tcase_add_test (tc, suggestions);
  tcase_add_test (tc, nul_byte_and_missing_file);
  tcase_add_test (tc, dot_output);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}
