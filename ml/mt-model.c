#include "ml/mt-model.h"
#include "ml/mt-backend.h"
#include "base/mt-error.h"
#include "base/mt-rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The official MaskTune MNIST model. */
static const MtLayerSpec small_cnn_layers[] = {
  { MT_LAYER_CONV2D, "backbone.0", 16, 3 }, { MT_LAYER_BATCHNORM2D, "backbone.1" },
  { MT_LAYER_RELU, "backbone.2" },
  { MT_LAYER_CONV2D, "backbone.3", 16, 3 }, { MT_LAYER_BATCHNORM2D, "backbone.4" },
  { MT_LAYER_RELU, "backbone.5" }, { MT_LAYER_MAXPOOL2, "backbone.6" },
  { MT_LAYER_CONV2D, "backbone.7", 32, 3 }, { MT_LAYER_BATCHNORM2D, "backbone.8" },
  { MT_LAYER_RELU, "backbone.9" },
  { MT_LAYER_CONV2D, "backbone.10", 32, 3 }, { MT_LAYER_BATCHNORM2D, "backbone.11" },
  { MT_LAYER_RELU, "backbone.12" }, { MT_LAYER_MAXPOOL2, "backbone.13" },
  { MT_LAYER_FLATTEN, "backbone.14" },
  { MT_LAYER_LINEAR, "linear.0", 256 }, { MT_LAYER_BATCHNORM1D, "linear.1" },
  { MT_LAYER_RELU, "linear.2" }, { MT_LAYER_LINEAR, "linear.3", 0 },
};

static const MtArch archs[] = {
  { "small_cnn", 3, 28, 28, small_cnn_layers, G_N_ELEMENTS (small_cnn_layers), "backbone.12" },
};

static const char *const arch_names[] = { "small_cnn", NULL };

const MtArch *
mt_arch_lookup (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (archs); i++)
    if (g_strcmp0 (archs[i].name, name) == 0)
      return &archs[i];
  return NULL;
}

const char *const *
mt_arch_names (void)
{
  return arch_names;
}

typedef struct {
  MtLayerSpec spec;
  int in_c, in_h, in_w, out_c, out_h, out_w;
  gsize in_len, out_len;           /* per sample */
  MtConvSpec conv;
  MtTensor *weight, *bias, *running_mean, *running_var, *num_batches;
  float *gweight, *gbias;
  const float *input;              /* of the last forward */
  float *out;                      /* [cap, out_len]; aliases input for flatten */
  float *save_mean, *save_invstd;
  gint32 *argmax;
} Layer;

struct _MtModel {
  MtBackend *be;          /* runs every op; owns the activation buffers */
  const MtArch *arch;
  int num_classes;
  Layer *layers;
  int n_layers;
  int cap;                /* batch size the buffers hold */
  int n;                  /* batch size of the last forward */
  gboolean training;      /* mode of the last forward */
  float *work;            /* convolution scratch */
  gsize work_len;
  float *grad[2];         /* ping-pong buffers for activations' gradients */
  gsize max_len;
  GPtrArray *params;      /* MtParam* */
  MtBnSpec bn;
};

/* Zeroed, aligned buffers in the backend's memory. */
static float *
model_alloc (MtModel *m, gsize floats)
{
  return m->be->ops->alloc (m->be, floats * sizeof (float));
}

static void
model_free_buffer (MtModel *m, void *p)
{
  if (p)
    m->be->ops->free (m->be, p);
}

static void
param_free (gpointer p)
{
  MtParam *mp = p;
  g_free (mp->name);
  g_free (mp);
}

static void
add_param (MtModel *m, const char *layer, const char *what, MtTensor *t, float *grad)
{
  MtParam *p = g_new0 (MtParam, 1);
  p->name = g_strdup_printf ("%s.%s", layer, what);
  p->data = t->data;
  p->grad = grad;
  p->len = (gsize) mt_tensor_numel (t);
  g_ptr_array_add (m->params, p);
}

static MtTensor *
vec (int n, float value)
{
  gint64 shape[] = { n };
  MtTensor *t = mt_tensor_new (MT_DTYPE_F32, 1, shape);
  for (int i = 0; i < n; i++)
    ((float *) t->data)[i] = value;
  return t;
}

MtModel *
mt_model_new (const MtArch *arch, int num_classes)
{
  g_return_val_if_fail (arch != NULL && num_classes >= 1, NULL);
  MtModel *m = g_new0 (MtModel, 1);
  m->be = mt_backend_cpu ();
  m->arch = arch;
  m->num_classes = num_classes;
  m->n_layers = arch->n_layers;
  m->layers = g_new0 (Layer, arch->n_layers);
  m->params = g_ptr_array_new_with_free_func (param_free);
  m->bn.momentum = 0.1;
  m->bn.eps = 1e-5;
  int c = arch->in_c, h = arch->in_h, w = arch->in_w;
  m->max_len = (gsize) c * h * w;
  for (int i = 0; i < arch->n_layers; i++) {
    Layer *L = &m->layers[i];
    L->spec = arch->layers[i];
    L->in_c = c;
    L->in_h = h;
    L->in_w = w;
    switch (L->spec.kind) {
    case MT_LAYER_CONV2D: {
      L->conv = (MtConvSpec) { c, L->spec.out, L->spec.k, 1, 0 };
      gint64 ws[] = { L->spec.out, c, L->spec.k, L->spec.k };
      L->weight = mt_tensor_new (MT_DTYPE_F32, 4, ws);
      L->bias = vec (L->spec.out, 0);
      c = L->spec.out;
      h = mt_conv_out (h, L->spec.k, 1, 0);
      w = mt_conv_out (w, L->spec.k, 1, 0);
      break;
    }
    case MT_LAYER_BATCHNORM2D:
    case MT_LAYER_BATCHNORM1D: {
      L->weight = vec (c, 1);
      L->bias = vec (c, 0);
      L->running_mean = vec (c, 0);
      L->running_var = vec (c, 1);
      L->num_batches = mt_tensor_new (MT_DTYPE_I64, 0, NULL);
      break;
    }
    case MT_LAYER_MAXPOOL2:
      h /= 2;
      w /= 2;
      break;
    case MT_LAYER_FLATTEN:
      c = c * h * w;
      h = w = 1;
      break;
    case MT_LAYER_LINEAR: {
      int out = L->spec.out ? L->spec.out : num_classes;
      gint64 ws[] = { out, c };
      L->weight = mt_tensor_new (MT_DTYPE_F32, 2, ws);
      L->bias = vec (out, 0);
      c = out;
      break;
    }
    case MT_LAYER_RELU:
      break;
    }
    L->out_c = c;
    L->out_h = h;
    L->out_w = w;
    L->in_len = (gsize) L->in_c * L->in_h * L->in_w;
    L->out_len = (gsize) c * h * w;
    m->max_len = MAX (m->max_len, L->out_len);
    if (L->weight) {
      L->gweight = model_alloc (m, (gsize) mt_tensor_numel (L->weight));
      L->gbias = model_alloc (m, (gsize) mt_tensor_numel (L->bias));
      add_param (m, L->spec.name, "weight", L->weight, L->gweight);
      add_param (m, L->spec.name, "bias", L->bias, L->gbias);
    }
  }
  return m;
}

static void
free_buffers (MtModel *m)
{
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    if (L->spec.kind != MT_LAYER_FLATTEN)
      model_free_buffer (m, L->out);
    L->out = NULL;
    model_free_buffer (m, L->save_mean);
    model_free_buffer (m, L->save_invstd);
    model_free_buffer (m, L->argmax);
    L->save_mean = L->save_invstd = NULL;
    L->argmax = NULL;
  }
  model_free_buffer (m, m->work);
  model_free_buffer (m, m->grad[0]);
  model_free_buffer (m, m->grad[1]);
  m->work = m->grad[0] = m->grad[1] = NULL;
  m->cap = 0;
}

void
mt_model_free (MtModel *m)
{
  if (!m)
    return;
  free_buffers (m);
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    g_clear_pointer (&L->weight, mt_tensor_unref);
    g_clear_pointer (&L->bias, mt_tensor_unref);
    g_clear_pointer (&L->running_mean, mt_tensor_unref);
    g_clear_pointer (&L->running_var, mt_tensor_unref);
    g_clear_pointer (&L->num_batches, mt_tensor_unref);
    model_free_buffer (m, L->gweight);
    model_free_buffer (m, L->gbias);
  }
  g_free (m->layers);
  g_ptr_array_unref (m->params);
  g_free (m);
}

/* Buffers grow to the largest batch seen; smaller batches reuse them. */
static void
ensure_capacity (MtModel *m, int n)
{
  if (n <= m->cap)
    return;
  free_buffers (m);
  m->cap = n;
  m->work_len = 0;
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    if (L->spec.kind != MT_LAYER_FLATTEN)
      L->out = model_alloc (m, (gsize) n * L->out_len);
    if (L->spec.kind == MT_LAYER_BATCHNORM2D || L->spec.kind == MT_LAYER_BATCHNORM1D) {
      L->save_mean = model_alloc (m, L->out_c);
      L->save_invstd = model_alloc (m, L->out_c);
    }
    if (L->spec.kind == MT_LAYER_MAXPOOL2) {
      L->argmax = m->be->ops->alloc (m->be, (gsize) n * L->out_len * sizeof (gint32));
    }
    if (L->spec.kind == MT_LAYER_CONV2D)
      m->work_len = MAX (m->work_len, m->be->ops->conv2d_workspace (m->be, &L->conv, n, L->in_h, L->in_w));
  }
  m->work = model_alloc (m, m->work_len);
  m->grad[0] = model_alloc (m, (gsize) n * m->max_len);
  m->grad[1] = model_alloc (m, (gsize) n * m->max_len);
}

void
mt_model_init (MtModel *m, guint64 seed)
{
  MtRng rng;
  mt_rng_seed (&rng, seed);
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    if (L->spec.kind != MT_LAYER_CONV2D && L->spec.kind != MT_LAYER_LINEAR)
      continue;
    /* kaiming_uniform_(a=sqrt(5)) gives bound sqrt(6 / ((1 + a^2) fan_in)) = 1/sqrt(fan_in);
     * the bias uses the same bound. */
    gint64 fan_in = mt_tensor_numel (L->weight) / L->weight->shape[0];
    double bound = 1.0 / sqrt ((double) fan_in);
    float *wd = L->weight->data, *bd = L->bias->data;
    for (gint64 j = 0; j < mt_tensor_numel (L->weight); j++)
      wd[j] = (float) ((2 * mt_rng_uniform (&rng) - 1) * bound);
    for (gint64 j = 0; j < mt_tensor_numel (L->bias); j++)
      bd[j] = (float) ((2 * mt_rng_uniform (&rng) - 1) * bound);
  }
}

MtBackend *
mt_model_get_backend (MtModel *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  return m->be;
}

const MtArch *
mt_model_arch (MtModel *m)
{
  return m->arch;
}

int
mt_model_num_classes (MtModel *m)
{
  return m->num_classes;
}

static int
find_layer (MtModel *m, const char *name)
{
  for (int i = 0; i < m->n_layers; i++)
    if (g_strcmp0 (m->layers[i].spec.name, name) == 0)
      return i;
  return -1;
}

static const float *
forward_range (MtModel *m, int first, const float *x, int n, gboolean training)
{
  const float *in = x;
  for (int i = first; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    L->input = in;
    switch (L->spec.kind) {
    case MT_LAYER_CONV2D:
      m->be->ops->conv2d_forward (m->be, &L->conv, in, n, L->in_h, L->in_w, L->weight->data, L->bias->data, L->out, m->work);
      break;
    case MT_LAYER_BATCHNORM2D:
    case MT_LAYER_BATCHNORM1D: {
      int hw = L->in_h * L->in_w;
      if (training) {
        m->be->ops->batchnorm_forward_train (m->be, &m->bn, in, n, L->in_c, hw, L->weight->data, L->bias->data, L->out,
                                    L->save_mean, L->save_invstd, L->running_mean->data, L->running_var->data);
        ((gint64 *) L->num_batches->data)[0]++;
      } else {
        m->be->ops->batchnorm_forward_eval (m->be, &m->bn, in, n, L->in_c, hw, L->weight->data, L->bias->data, L->out,
                                   L->running_mean->data, L->running_var->data);
      }
      break;
    }
    case MT_LAYER_RELU:
      m->be->ops->relu_forward (m->be, in, (gsize) n * L->out_len, L->out);
      break;
    case MT_LAYER_MAXPOOL2:
      m->be->ops->maxpool2_forward (m->be, in, n, L->in_c, L->in_h, L->in_w, L->out, L->argmax);
      break;
    case MT_LAYER_FLATTEN:
      L->out = (float *) in;  /* same bytes, new shape */
      break;
    case MT_LAYER_LINEAR:
      m->be->ops->linear_forward (m->be, in, n, L->in_c, L->out_c, L->weight->data, L->bias->data, L->out);
      break;
    }
    in = L->out;
  }
  return in;
}

const float *
mt_model_forward (MtModel *m, const float *x, int n, gboolean training)
{
  ensure_capacity (m, n);
  m->n = n;
  m->training = training;
  return forward_range (m, 0, x, n, training);
}

const float *
mt_model_forward_from (MtModel *m, const char *layer, const float *activation, int n)
{
  int i = find_layer (m, layer);
  g_return_val_if_fail (i >= 0 && n <= m->cap, NULL);
  m->n = n;
  return forward_range (m, i + 1, activation, n, m->training);
}



/* Layers last..stop+1 (stop = -1: all); returns the gradient at the output of stop. */
static const float *
backward_range (MtModel *m, int last, int stop, const float *dy, float *dinput)
{
  int n = m->n, which = 0;
  for (int i = last; i > stop; i--) {
    Layer *L = &m->layers[i];
    if (L->spec.kind == MT_LAYER_FLATTEN)
      continue;  /* the gradient passes through unchanged */
    float *dx = i == 0 && stop < 0 ? dinput : m->grad[which];
    if (dx == dy)
      dx = m->grad[which ^= 1];
    switch (L->spec.kind) {
    case MT_LAYER_CONV2D:
      m->be->ops->conv2d_backward (m->be, &L->conv, L->input, n, L->in_h, L->in_w, L->weight->data, dy, dx,
                          L->gweight, L->gbias, m->work);
      break;
    case MT_LAYER_BATCHNORM2D:
    case MT_LAYER_BATCHNORM1D: {
      int hw = L->in_h * L->in_w;
      if (m->training) {
        m->be->ops->batchnorm_backward_train (m->be, L->input, n, L->in_c, hw, L->weight->data, L->save_mean, L->save_invstd,
                                     dy, dx, L->gweight, L->gbias);
      } else {
        memset (L->gweight, 0, L->in_c * sizeof (float));
        memset (L->gbias, 0, L->in_c * sizeof (float));
        if (dx)
          m->be->ops->batchnorm_backward_eval (m->be, &m->bn, n, L->in_c, hw, L->weight->data, L->running_var->data, dy, dx);
      }
      break;
    }
    case MT_LAYER_RELU:
      if (dx)
        m->be->ops->relu_backward (m->be, L->out, dy, (gsize) n * L->out_len, dx);
      break;
    case MT_LAYER_MAXPOOL2:
      if (dx)
        m->be->ops->maxpool2_backward (m->be, L->argmax, n, L->in_c, L->in_h, L->in_w, dy, dx);
      break;
    case MT_LAYER_LINEAR:
      m->be->ops->linear_backward (m->be, L->input, n, L->in_c, L->out_c, L->weight->data, dy, dx, L->gweight, L->gbias);
      break;
    case MT_LAYER_FLATTEN:
      break;
    }
    if (!dx)
      break;  /* nothing below needs a gradient */
    dy = dx;
    which ^= 1;
  }
  return dy;
}

static void
backward_from (MtModel *m, int last, const float *dy, float *dinput)
{
  backward_range (m, last, -1, dy, dinput);
}

const float *
mt_model_backward_to (MtModel *m, const float *dlogits, const char *layer)
{
  int stop = find_layer (m, layer);
  if (stop < 0)
    return NULL;
  return backward_range (m, m->n_layers - 1, stop, dlogits, NULL);
}

void
mt_model_backward (MtModel *m, const float *dlogits, float *dinput)
{
  backward_from (m, m->n_layers - 1, dlogits, dinput);
}

gboolean
mt_model_backward_from (MtModel *m, const char *layer, const float *dy, float *dinput)
{
  int i = find_layer (m, layer);
  if (i < 0)
    return FALSE;
  backward_from (m, i, dy, dinput);
  return TRUE;
}

const float *
mt_model_activation (MtModel *m, const char *layer, int *c, int *h, int *w)
{
  int i = find_layer (m, layer);
  if (i < 0)
    return NULL;
  Layer *L = &m->layers[i];
  if (c)
    *c = L->out_c;
  if (h)
    *h = L->out_h;
  if (w)
    *w = L->out_w;
  return L->out;
}

gboolean
mt_model_check_images (MtModel *m, const MtTensor *images, GError **error)
{
  const MtArch *arch = m->arch;
  if (images->ndim == 4 && images->shape[1] == arch->in_c && images->shape[2] == arch->in_h &&
      images->shape[3] == arch->in_w)
    return TRUE;
  g_autofree char *s = mt_tensor_shape_string (images);
  g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s takes %d x %d x %d images, the dataset has %s",
               arch->name, arch->in_c, arch->in_h, arch->in_w, s);
  return FALSE;
}

guint
mt_model_n_params (MtModel *m)
{
  return m->params->len;
}

MtParam *
mt_model_param (MtModel *m, guint i)
{
  return m->params->pdata[i];
}

static void
put (MtBundle *b, const char *layer, const char *what, MtTensor *t)
{
  g_autofree char *name = g_strdup_printf ("%s.%s", layer, what);
  g_autoptr (MtTensor) copy = mt_tensor_new_from_data (t->dtype, t->ndim, t->shape, t->data);
  mt_bundle_set (b, name, copy);
}

MtBundle *
mt_model_to_bundle (MtModel *m)
{
  MtBundle *b = mt_bundle_new ();
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    if (L->weight) {
      put (b, L->spec.name, "weight", L->weight);
      put (b, L->spec.name, "bias", L->bias);
    }
    if (L->running_mean) {
      put (b, L->spec.name, "running_mean", L->running_mean);
      put (b, L->spec.name, "running_var", L->running_var);
      put (b, L->spec.name, "num_batches_tracked", L->num_batches);
    }
  }
  mt_bundle_set_metadata (b, "arch", m->arch->name);
  g_autofree char *nc = g_strdup_printf ("%d", m->num_classes);
  mt_bundle_set_metadata (b, "num_classes", nc);
  mt_bundle_set_metadata (b, "format", "pt");
  return b;
}

static gboolean
take (MtBundle *b, const char *layer, const char *what, MtTensor *dst, const char *src_what, GError **error)
{
  g_autofree char *name = g_strdup_printf ("%s.%s", layer, what);
  MtTensor *t = mt_bundle_get (b, name);
  if (!t) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: no tensor '%s'", src_what, name);
    return FALSE;
  }
  if (t->dtype != dst->dtype || t->ndim != dst->ndim || t->nbytes != dst->nbytes ||
      memcmp (t->shape, dst->shape, sizeof (gint64) * t->ndim) != 0) {
    g_autofree char *a = mt_tensor_shape_string (t);
    g_autofree char *e = mt_tensor_shape_string (dst);
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: '%s' is %s %s, the architecture needs %s %s",
                 src_what, name, mt_dtype_name (t->dtype), a, mt_dtype_name (dst->dtype), e);
    return FALSE;
  }
  memcpy (dst->data, t->data, t->nbytes);
  return TRUE;
}

MtModel *
mt_model_from_bundle (MtBundle *b, const char *what, GError **error)
{
  const char *arch_name = mt_bundle_get_metadata (b, "arch");
  const char *nc = mt_bundle_get_metadata (b, "num_classes");
  const MtArch *arch = arch_name ? mt_arch_lookup (arch_name) : NULL;
  if (!arch || !nc || atoi (nc) < 2) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: not a masktune model (metadata arch '%s', num_classes '%s')",
                 what, arch_name ? arch_name : "(none)", nc ? nc : "(none)");
    return NULL;
  }
  g_autoptr (MtModel) m = mt_model_new (arch, atoi (nc));
  guint expected = 0;
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    if (L->weight) {
      if (!take (b, L->spec.name, "weight", L->weight, what, error) ||
          !take (b, L->spec.name, "bias", L->bias, what, error))
        return NULL;
      expected += 2;
    }
    if (L->running_mean) {
      if (!take (b, L->spec.name, "running_mean", L->running_mean, what, error) ||
          !take (b, L->spec.name, "running_var", L->running_var, what, error) ||
          !take (b, L->spec.name, "num_batches_tracked", L->num_batches, what, error))
        return NULL;
      expected += 3;
    }
  }
  if (mt_bundle_size (b) != expected) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: %u tensors, the architecture %s has %u",
                 what, mt_bundle_size (b), arch->name, expected);
    return NULL;
  }
  return g_steal_pointer (&m);
}

void
mt_model_copy_weights (MtModel *dst, MtModel *src)
{
  g_return_if_fail (dst->arch == src->arch && dst->num_classes == src->num_classes);
  for (int i = 0; i < dst->n_layers; i++) {
    Layer *a = &dst->layers[i], *b = &src->layers[i];
    MtTensor *pairs[][2] = { { a->weight, b->weight }, { a->bias, b->bias }, { a->running_mean, b->running_mean },
                             { a->running_var, b->running_var }, { a->num_batches, b->num_batches } };
    for (guint k = 0; k < G_N_ELEMENTS (pairs); k++)
      if (pairs[k][0])
        memcpy (pairs[k][0]->data, pairs[k][1]->data, pairs[k][0]->nbytes);
  }
}
