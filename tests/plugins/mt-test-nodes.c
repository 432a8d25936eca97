/* Tiny node types for the foundation's tests, loaded as a plugin (so plugin loading is
 * exercised too). Each real run appends "NODE-NAME\n" to $MT_TEST_RUN_LOG when set,
 * so tests can see exactly which nodes recomputed. */
#include <math.h>
#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>

#include "masktune.h"

static void
log_run (MtContext *ctx)
{
  const char *path = g_getenv ("MT_TEST_RUN_LOG");
  if (!path)
    return;
  /* O_APPEND keeps lines from concurrent processes whole. */
  int fd = open (path, O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0)
    return;
  g_autofree char *line = g_strdup_printf ("%s\n", mt_context_get_node_name (ctx));
  if (write (fd, line, strlen (line)) < 0)
    g_warning ("cannot write the run log");
  close (fd);
}

static MtTensor *
map_tensor (const MtTensor *x, float (*fn) (float, double), double arg)
{
  MtTensor *y = mt_tensor_new (MT_DTYPE_F32, x->ndim, x->shape);
  const float *a = x->data;
  float *b = y->data;
  for (gint64 i = 0; i < mt_tensor_numel (x); i++)
    b[i] = fn (a[i], arg);
  return y;
}

/* ---- fill(shape=[..], value=v) -> tensor ------------------------------------- */

#define MT_TYPE_TEST_FILL (mt_test_fill_get_type ())
G_DECLARE_FINAL_TYPE (MtTestFill, mt_test_fill, MT, TEST_FILL, MtNode)
struct _MtTestFill { MtNode parent; GVariant *shape; double value; };
G_DEFINE_FINAL_TYPE (MtTestFill, mt_test_fill, MT_TYPE_NODE)

static void
fill_set (GObject *o, guint id, const GValue *v, GParamSpec *p)
{
  MtTestFill *s = MT_TEST_FILL (o);
  if (id == 1) {
    g_clear_pointer (&s->shape, g_variant_unref);
    s->shape = g_value_dup_variant (v);
  } else {
    s->value = g_value_get_double (v);
  }
}

static void
fill_get (GObject *o, guint id, GValue *v, GParamSpec *p)
{
  MtTestFill *s = MT_TEST_FILL (o);
  if (id == 1)
    g_value_set_variant (v, s->shape);
  else
    g_value_set_double (v, s->value);
}

static gboolean
fill_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtTestFill *s = MT_TEST_FILL (node);
  log_run (ctx);
  gsize n = 0;
  const gint64 *dims = g_variant_get_fixed_array (s->shape, &n, sizeof (gint64));
  if (n > MT_TENSOR_MAX_DIMS) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "too many dimensions");
    return FALSE;
  }
  g_autoptr (MtTensor) t = mt_tensor_new (MT_DTYPE_F32, (int) n, dims);
  float *d = t->data;
  for (gint64 i = 0; i < mt_tensor_numel (t); i++)
    d[i] = (float) s->value;
  return mt_context_save_tensor (ctx, "out", t, error);
}

static void
fill_finalize (GObject *o)
{
  g_clear_pointer (&MT_TEST_FILL (o)->shape, g_variant_unref);
  G_OBJECT_CLASS (mt_test_fill_parent_class)->finalize (o);
}

static void
mt_test_fill_class_init (MtTestFillClass *k)
{
  GObjectClass *oc = G_OBJECT_CLASS (k);
  oc->set_property = fill_set;
  oc->get_property = fill_get;
  oc->finalize = fill_finalize;
  MT_NODE_CLASS (k)->run = fill_run;
  const gint64 def[] = { 2, 3 };
  g_object_class_install_property (oc, 1, g_param_spec_variant ("shape", NULL, "the tensor's shape",
    G_VARIANT_TYPE ("ax"), g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, def, 2, sizeof (gint64)),
    G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, 2, g_param_spec_double ("value", NULL, "every element's value",
    -1e6, 1e6, 0.0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  mt_node_class_set_metadata (MT_NODE_CLASS (k), "1", "Test: a float32 tensor filled with one value");
  mt_node_class_add_output (MT_NODE_CLASS (k), "out", MT_KIND_TENSOR, "the tensor");
}

static void mt_test_fill_init (MtTestFill *s) { }

/* ---- scale(x, factor=2.0, mode="mul") -> tensor ------------------------------ */

typedef enum { SCALE_MUL, SCALE_DIV } ScaleMode;
static const GEnumValue scale_modes[] = {
  { SCALE_MUL, "SCALE_MUL", "mul" }, { SCALE_DIV, "SCALE_DIV", "div" }, { 0, NULL, NULL } };

static GType
scale_mode_get_type (void)
{
  static gsize t = 0;
  if (g_once_init_enter (&t))
    g_once_init_leave (&t, g_enum_register_static ("MtTestScaleMode", scale_modes));
  return t;
}

#define MT_TYPE_TEST_SCALE (mt_test_scale_get_type ())
G_DECLARE_FINAL_TYPE (MtTestScale, mt_test_scale, MT, TEST_SCALE, MtNode)
struct _MtTestScale { MtNode parent; double factor; int mode; };
G_DEFINE_FINAL_TYPE (MtTestScale, mt_test_scale, MT_TYPE_NODE)

static void
scale_set (GObject *o, guint id, const GValue *v, GParamSpec *p)
{
  if (id == 1)
    MT_TEST_SCALE (o)->factor = g_value_get_double (v);
  else
    MT_TEST_SCALE (o)->mode = g_value_get_enum (v);
}

static void
scale_get (GObject *o, guint id, GValue *v, GParamSpec *p)
{
  if (id == 1)
    g_value_set_double (v, MT_TEST_SCALE (o)->factor);
  else
    g_value_set_enum (v, MT_TEST_SCALE (o)->mode);
}

static float fmul (float x, double a) { return (float) (x * a); }
static float fdiv (float x, double a) { return (float) (x / a); }

static gboolean
scale_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtTestScale *s = MT_TEST_SCALE (node);
  log_run (ctx);
  g_autoptr (MtTensor) x = mt_context_load_tensor (ctx, "x", error);
  if (!x)
    return FALSE;
  g_autoptr (MtTensor) y = map_tensor (x, s->mode == SCALE_MUL ? fmul : fdiv, s->factor);
  return mt_context_save_tensor (ctx, "out", y, error);
}

static void
mt_test_scale_class_init (MtTestScaleClass *k)
{
  GObjectClass *oc = G_OBJECT_CLASS (k);
  oc->set_property = scale_set;
  oc->get_property = scale_get;
  MT_NODE_CLASS (k)->run = scale_run;
  g_object_class_install_property (oc, 1, g_param_spec_double ("factor", NULL, "the factor",
    -1000, 1000, 2.0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, 2, g_param_spec_enum ("mode", NULL, "multiply or divide",
    scale_mode_get_type (), SCALE_MUL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  mt_node_class_set_metadata (MT_NODE_CLASS (k), "1", "Test: multiplies a tensor by a factor");
  mt_node_class_add_input (MT_NODE_CLASS (k), "x", MT_KIND_TENSOR, TRUE, "the tensor");
  mt_node_class_add_output (MT_NODE_CLASS (k), "out", MT_KIND_TENSOR, "x times factor");
}

static void mt_test_scale_init (MtTestScale *s) { s->factor = 2.0; }

/* ---- sign(x) -> tensor: many inputs, one output (for early cutoff) ----------- */

#define MT_TYPE_TEST_SIGN (mt_test_sign_get_type ())
G_DECLARE_FINAL_TYPE (MtTestSign, mt_test_sign, MT, TEST_SIGN, MtNode)
struct _MtTestSign { MtNode parent; };
G_DEFINE_FINAL_TYPE (MtTestSign, mt_test_sign, MT_TYPE_NODE)

static float fsign (float x, double a) { return (float) ((x > 0) - (x < 0)); }

static gboolean
sign_run (MtNode *node, MtContext *ctx, GError **error)
{
  log_run (ctx);
  g_autoptr (MtTensor) x = mt_context_load_tensor (ctx, "x", error);
  if (!x)
    return FALSE;
  g_autoptr (MtTensor) y = map_tensor (x, fsign, 0);
  return mt_context_save_tensor (ctx, "out", y, error);
}

static void
mt_test_sign_class_init (MtTestSignClass *k)
{
  MT_NODE_CLASS (k)->run = sign_run;
  mt_node_class_set_metadata (MT_NODE_CLASS (k), "1", "Test: the sign of each element");
  mt_node_class_add_input (MT_NODE_CLASS (k), "x", MT_KIND_TENSOR, TRUE, "the tensor");
  mt_node_class_add_output (MT_NODE_CLASS (k), "out", MT_KIND_TENSOR, "-1, 0 or 1 per element");
}

static void mt_test_sign_init (MtTestSign *s) { }

/* ---- add(a, b=optional) -> tensor -------------------------------------------- */

#define MT_TYPE_TEST_ADD (mt_test_add_get_type ())
G_DECLARE_FINAL_TYPE (MtTestAdd, mt_test_add, MT, TEST_ADD, MtNode)
struct _MtTestAdd { MtNode parent; };
G_DEFINE_FINAL_TYPE (MtTestAdd, mt_test_add, MT_TYPE_NODE)

static gboolean
add_run (MtNode *node, MtContext *ctx, GError **error)
{
  log_run (ctx);
  g_autoptr (MtTensor) a = mt_context_load_tensor (ctx, "a", error);
  if (!a)
    return FALSE;
  if (mt_context_has_input (ctx, "b")) {
    g_autoptr (MtTensor) b = mt_context_load_tensor (ctx, "b", error);
    if (!b)
      return FALSE;
    if (mt_tensor_numel (a) != mt_tensor_numel (b)) {
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "shapes differ");
      return FALSE;
    }
    float *x = a->data;
    const float *y = b->data;
    for (gint64 i = 0; i < mt_tensor_numel (a); i++)
      x[i] += y[i];
  }
  return mt_context_save_tensor (ctx, "out", a, error);
}

static void
mt_test_add_class_init (MtTestAddClass *k)
{
  MT_NODE_CLASS (k)->run = add_run;
  mt_node_class_set_metadata (MT_NODE_CLASS (k), "1", "Test: a + b (b optional)");
  mt_node_class_add_input (MT_NODE_CLASS (k), "a", MT_KIND_TENSOR, TRUE, "first tensor");
  mt_node_class_add_input (MT_NODE_CLASS (k), "b", MT_KIND_TENSOR, FALSE, "second tensor");
  mt_node_class_add_output (MT_NODE_CLASS (k), "out", MT_KIND_TENSOR, "the sum");
}

static void mt_test_add_init (MtTestAdd *s) { }

/* ---- split(x) -> lo, hi ------------------------------------------------------- */

#define MT_TYPE_TEST_SPLIT (mt_test_split_get_type ())
G_DECLARE_FINAL_TYPE (MtTestSplit, mt_test_split, MT, TEST_SPLIT, MtNode)
struct _MtTestSplit { MtNode parent; };
G_DEFINE_FINAL_TYPE (MtTestSplit, mt_test_split, MT_TYPE_NODE)

static float fneg (float x, double a) { return MIN (x, 0.0f); }
static float fpos (float x, double a) { return MAX (x, 0.0f); }

static gboolean
split_run (MtNode *node, MtContext *ctx, GError **error)
{
  log_run (ctx);
  g_autoptr (MtTensor) x = mt_context_load_tensor (ctx, "x", error);
  if (!x)
    return FALSE;
  g_autoptr (MtTensor) lo = map_tensor (x, fneg, 0);
  g_autoptr (MtTensor) hi = map_tensor (x, fpos, 0);
  return mt_context_save_tensor (ctx, "lo", lo, error) && mt_context_save_tensor (ctx, "hi", hi, error);
}

static void
mt_test_split_class_init (MtTestSplitClass *k)
{
  MT_NODE_CLASS (k)->run = split_run;
  mt_node_class_set_metadata (MT_NODE_CLASS (k), "1", "Test: negative and positive parts");
  mt_node_class_add_input (MT_NODE_CLASS (k), "x", MT_KIND_TENSOR, TRUE, "the tensor");
  mt_node_class_add_output (MT_NODE_CLASS (k), "lo", MT_KIND_TENSOR, "min(x, 0)");
  mt_node_class_add_output (MT_NODE_CLASS (k), "hi", MT_KIND_TENSOR, "max(x, 0)");
}

static void mt_test_split_init (MtTestSplit *s) { }

/* ---- delay(x, ms=100, fail=false) -> tensor: slow, with progress ------------- */

#define MT_TYPE_TEST_DELAY (mt_test_delay_get_type ())
G_DECLARE_FINAL_TYPE (MtTestDelay, mt_test_delay, MT, TEST_DELAY, MtNode)
struct _MtTestDelay { MtNode parent; int ms; gboolean fail; };
G_DEFINE_FINAL_TYPE (MtTestDelay, mt_test_delay, MT_TYPE_NODE)

static void
delay_set (GObject *o, guint id, const GValue *v, GParamSpec *p)
{
  if (id == 1)
    MT_TEST_DELAY (o)->ms = g_value_get_int (v);
  else
    MT_TEST_DELAY (o)->fail = g_value_get_boolean (v);
}

static void
delay_get (GObject *o, guint id, GValue *v, GParamSpec *p)
{
  if (id == 1)
    g_value_set_int (v, MT_TEST_DELAY (o)->ms);
  else
    g_value_set_boolean (v, MT_TEST_DELAY (o)->fail);
}

static gboolean
delay_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtTestDelay *s = MT_TEST_DELAY (node);
  log_run (ctx);
  g_autoptr (MtTensor) x = mt_context_load_tensor (ctx, "x", error);
  if (!x)
    return FALSE;
  for (int i = 0; i < 10; i++) {
    g_usleep ((gulong) s->ms * 100);
    mt_context_progress (ctx, (i + 1) / 10.0);
  }
  if (s->fail) {
    g_set_error (error, MT_ERROR, MT_ERROR_NODE, "failing as asked (fail=true)");
    return FALSE;
  }
  mt_context_log (ctx, "slept %d ms", s->ms);
  return mt_context_save_tensor (ctx, "out", x, error);
}

static void
mt_test_delay_class_init (MtTestDelayClass *k)
{
  GObjectClass *oc = G_OBJECT_CLASS (k);
  oc->set_property = delay_set;
  oc->get_property = delay_get;
  MT_NODE_CLASS (k)->run = delay_run;
  g_object_class_install_property (oc, 1, g_param_spec_int ("ms", NULL, "how long to take",
    0, 600000, 100, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, 2, g_param_spec_boolean ("fail", NULL, "fail at the end",
    FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  mt_node_class_set_metadata (MT_NODE_CLASS (k), "1", "Test: passes x through after a delay");
  mt_node_class_add_input (MT_NODE_CLASS (k), "x", MT_KIND_TENSOR, TRUE, "the tensor");
  mt_node_class_add_output (MT_NODE_CLASS (k), "out", MT_KIND_TENSOR, "x");
}

static void mt_test_delay_init (MtTestDelay *s) { s->ms = 100; }

/* ---- toy_data(n=8) -> dataset; toy_model(dataset) -> model ------------------- */

#define MT_TYPE_TEST_DATA (mt_test_data_get_type ())
G_DECLARE_FINAL_TYPE (MtTestData, mt_test_data, MT, TEST_DATA, MtNode)
struct _MtTestData { MtNode parent; int n; };
G_DEFINE_FINAL_TYPE (MtTestData, mt_test_data, MT_TYPE_NODE)

static void
data_set (GObject *o, guint id, const GValue *v, GParamSpec *p)
{
  MT_TEST_DATA (o)->n = g_value_get_int (v);
}

static void
data_get (GObject *o, guint id, GValue *v, GParamSpec *p)
{
  g_value_set_int (v, MT_TEST_DATA (o)->n);
}

static gboolean
data_run (MtNode *node, MtContext *ctx, GError **error)
{
  int n = MT_TEST_DATA (node)->n;
  log_run (ctx);
  gint64 ishape[] = { n, 3, 4, 4 }, lshape[] = { n };
  g_autoptr (MtTensor) images = mt_tensor_new (MT_DTYPE_U8, 4, ishape);
  g_autoptr (MtTensor) labels = mt_tensor_new (MT_DTYPE_I64, 1, lshape);
  for (gsize i = 0; i < images->nbytes; i++)
    ((guint8 *) images->data)[i] = (guint8) (i * 7);
  for (int i = 0; i < n; i++)
    ((gint64 *) labels->data)[i] = i % 2;
  g_autoptr (MtBundle) b = mt_bundle_new ();
  mt_bundle_set (b, "images", images);
  mt_bundle_set (b, "labels", labels);
  return mt_context_save_bundle (ctx, "dataset", b, error);
}

static void
mt_test_data_class_init (MtTestDataClass *k)
{
  GObjectClass *oc = G_OBJECT_CLASS (k);
  oc->set_property = data_set;
  oc->get_property = data_get;
  MT_NODE_CLASS (k)->run = data_run;
  g_object_class_install_property (oc, 1, g_param_spec_int ("n", NULL, "number of samples",
    1, 100000, 8, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  mt_node_class_set_metadata (MT_NODE_CLASS (k), "1", "Test: a small dataset of 4x4 RGB images");
  mt_node_class_add_output (MT_NODE_CLASS (k), "dataset", MT_KIND_DATASET, "images and labels");
}

static void mt_test_data_init (MtTestData *s) { s->n = 8; }

#define MT_TYPE_TEST_MODEL (mt_test_model_get_type ())
G_DECLARE_FINAL_TYPE (MtTestModel, mt_test_model, MT, TEST_MODEL, MtNode)
struct _MtTestModel { MtNode parent; };
G_DEFINE_FINAL_TYPE (MtTestModel, mt_test_model, MT_TYPE_NODE)

static gboolean
model_run (MtNode *node, MtContext *ctx, GError **error)
{
  log_run (ctx);
  g_autoptr (MtBundle) data = mt_context_load_bundle (ctx, "dataset", error);
  if (!data)
    return FALSE;
  MtTensor *labels = mt_bundle_get (data, "labels");
  gint64 shape[] = { 1 };
  g_autoptr (MtTensor) w = mt_tensor_new (MT_DTYPE_F32, 1, shape);
  for (gint64 i = 0; i < mt_tensor_numel (labels); i++)
    ((float *) w->data)[0] += ((gint64 *) labels->data)[i];
  g_autoptr (MtBundle) model = mt_bundle_new ();
  mt_bundle_set (model, "weight", w);
  mt_bundle_set_metadata (model, "arch", "toy");
  return mt_context_save_bundle (ctx, "model", model, error);
}

static void
mt_test_model_class_init (MtTestModelClass *k)
{
  MT_NODE_CLASS (k)->run = model_run;
  mt_node_class_set_metadata (MT_NODE_CLASS (k), "1", "Test: a model made from a dataset");
  mt_node_class_add_input (MT_NODE_CLASS (k), "dataset", MT_KIND_DATASET, TRUE, "training data");
  mt_node_class_add_output (MT_NODE_CLASS (k), "model", MT_KIND_MODEL, "the model");
}

static void mt_test_model_init (MtTestModel *s) { }

/* ---- toy_saliency(dataset) -> saliency: input for the example mask plugin ----- */

#define MT_TYPE_TEST_SALIENCY (mt_test_saliency_get_type ())
G_DECLARE_FINAL_TYPE (MtTestSaliency, mt_test_saliency, MT, TEST_SALIENCY, MtNode)
struct _MtTestSaliency { MtNode parent; };
G_DEFINE_FINAL_TYPE (MtTestSaliency, mt_test_saliency, MT_TYPE_NODE)

static gboolean
saliency_run (MtNode *node, MtContext *ctx, GError **error)
{
  log_run (ctx);
  g_autoptr (MtBundle) data = mt_context_load_bundle (ctx, "dataset", error);
  if (!data)
    return FALSE;
  MtTensor *images = mt_bundle_get (data, "images");
  gint64 shape[] = { images->shape[0], images->shape[2], images->shape[3] };
  g_autoptr (MtTensor) s = mt_tensor_new (MT_DTYPE_F32, 3, shape);
  float *d = s->data;
  for (gint64 i = 0; i < mt_tensor_numel (s); i++)
    d[i] = (float) ((i % (shape[1] * shape[2])) / (double) (shape[1] * shape[2]));
  return mt_context_save_tensor (ctx, "saliency", s, error);
}

static void
mt_test_saliency_class_init (MtTestSaliencyClass *k)
{
  MT_NODE_CLASS (k)->run = saliency_run;
  mt_node_class_set_metadata (MT_NODE_CLASS (k), "1", "Test: a ramp heat map per image");
  mt_node_class_add_input (MT_NODE_CLASS (k), "dataset", MT_KIND_DATASET, TRUE, "images");
  mt_node_class_add_output (MT_NODE_CLASS (k), "saliency", MT_KIND_SALIENCY, "N x H x W");
}

static void mt_test_saliency_init (MtTestSaliency *s) { }

static gboolean
register_nodes (MtRegistry *reg, GError **error)
{
  return mt_registry_register (reg, "fill", MT_TYPE_TEST_FILL, error) &&
         mt_registry_register (reg, "scale", MT_TYPE_TEST_SCALE, error) &&
         mt_registry_register (reg, "sign", MT_TYPE_TEST_SIGN, error) &&
         mt_registry_register (reg, "add", MT_TYPE_TEST_ADD, error) &&
         mt_registry_register (reg, "split", MT_TYPE_TEST_SPLIT, error) &&
         mt_registry_register (reg, "delay", MT_TYPE_TEST_DELAY, error) &&
         mt_registry_register (reg, "toy_data", MT_TYPE_TEST_DATA, error) &&
         mt_registry_register (reg, "toy_model", MT_TYPE_TEST_MODEL, error) &&
         mt_registry_register (reg, "toy_saliency", MT_TYPE_TEST_SALIENCY, error);
}

MT_PLUGIN_DEFINE ("test-nodes", "Tiny node types for masktune's own tests", "1", register_nodes)
