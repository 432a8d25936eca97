#include "ml/mt-model.h"
#include "ml/mt-elementwise.h"
#include "ml/mt-backend.h"
#include "ml/mt-staging.h"
#include "base/mt-error.h"
#include "base/mt-rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  MtLayerSpec spec;
  int src, src2;                   /* the layers read (-1: the image); src2: add's other operand */
  int in_c, in_h, in_w, out_c, out_h, out_w;
  gsize in_len, out_len;           /* per sample */
  MtConvSpec conv;
  MtPoolSpec pool;
  MtTensor *weight, *bias, *running_mean, *running_var, *num_batches;  /* host: the state_dict */
  float *w, *b, *rm, *rv;          /* those tensors in the backend's memory, as the ops read and
                                      the optimizer writes them: the tensors' own data on a host
                                      backend; num_batches stays on the host (a counter) */
  float *gweight, *gbias;
  const float *input, *input2;     /* of the last forward */
  float *out;                      /* [cap, out_len]; aliases input for flatten */
  float *save_mean, *save_invstd;
  gint32 *argmax;
  float *dbuf;                     /* [cap, out_len]: the gradient at the output, when computed here */
  const float *dout;               /* the gradient at the output in this backward (dbuf or another's) */
  gboolean dset;                   /* dout holds a contribution already */
  gboolean out_nchw;               /* out is NCHW in the backend's layout too (mt-backend.h) */
  gboolean flat_copy;              /* flatten: the input is not NCHW, so out is a converted copy */
  gboolean fusable;                /* batch norm whose one reader is the ReLU after it */
  gboolean fused;                  /* ... run with it (out NULL: the ReLU's out holds both) */
  gboolean foldable;               /* convolution read only by the batch norm after it: in
                                      evaluation, that batch norm is folded into it */
  gboolean kept;                   /* its output is asked for (mt_model_keep_output) */
  float *fold_w, *fold_b;          /* the folded weights and bias, made each evaluation */
  float *plain, *dplain;           /* NCHW copies of out and of the gradient there, handed out */
} Layer;

struct _MtModel {
  MtBackend *be;          /* runs every op; owns the activation buffers */
  const MtArch *arch;
  int num_classes;
  int in_c, in_h, in_w;   /* the input the model was made for */
  Layer *layers;
  int n_layers;
  int cap;                /* batch size the buffers hold */
  int n;                  /* batch size of the last forward */
  gboolean training;      /* mode of the last forward */
  float *work;            /* convolution scratch */
  gsize work_len;
  int work_threads;       /* the backend's thread count that work was sized for */
  float *scratch;         /* a gradient that is added to another */
  gsize max_len;
  gboolean in_nchw;       /* the input's layout is NCHW (else x is converted into xin) */
  const float *x;         /* the input as the layers read it */
  float *xin, *dxin;      /* the input and its gradient in the backend's layout */
  float *given;           /* an activation or gradient handed in, converted to the layout */
  double *prof_fwd, *prof_bwd;  /* per-layer seconds, while profiling (mt_model_profile) */
  GPtrArray *params;      /* MtParam* */
  float *param_arena;     /* every weight and bias on a device backend, at the offsets of */
  float *grad_arena;      /* every gradient (both backends) */
  gsize arena_len;        /* floats in each */
  MtBnSpec bn;
  double mean[3], std[3]; /* the input transform */
  MtBnShare *share;       /* a slice of a batch (mt_model_set_share), or NULL */
  gboolean replica;       /* weights are another model's (mt_model_new_replica) */
  MtStaging input;        /* mt_model_load_input's */
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

/* Each parameter's place in the arenas: 64 floats (256 bytes) apart at least, so that
 * every one is as aligned as an allocation of its own. */
#define ARENA_ALIGN 64

static gsize
arena_span (MtTensor *t)
{
  return t ? ((gsize) mt_tensor_numel (t) + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN : 0;
}

/* Parameter @t of @layer at *@offset in the arenas (its data the tensor's own on a host
 * backend); returns its data and sets *@grad. */
static float *
add_param (MtModel *m, const char *layer, const char *what, MtTensor *t, gsize *offset, float **grad)
{
  MtParam *p = g_new0 (MtParam, 1);
  p->name = g_strdup_printf ("%s.%s", layer, what);
  p->data = m->param_arena ? m->param_arena + *offset : t->data;
  p->grad = *grad = m->grad_arena + *offset;
  p->len = (gsize) mt_tensor_numel (t);
  p->offset = *offset;
  *offset += arena_span (t);
  g_ptr_array_add (m->params, p);
  return p->data;
}

/* Every layer's tensor and its copy in the backend's memory, one way or the other (nothing
 * to do on a host backend, where they are one). */
static void
sync_params (MtModel *m, gboolean to_host)
{
  if (mt_backend_is_host (m->be))
    return;
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    MtTensor *t[] = { L->weight, L->bias, L->running_mean, L->running_var };
    float *d[] = { L->w, L->b, L->rm, L->rv };
    for (guint k = 0; k < G_N_ELEMENTS (t); k++) {
      if (!t[k])
        continue;
      if (to_host)
        m->be->ops->download (m->be, t[k]->data, d[k], t[k]->nbytes);
      else
        m->be->ops->upload (m->be, d[k], t[k]->data, t[k]->nbytes);
    }
  }
}

/* Where tensor @t is in the backend's memory: its own data on a host backend, else a
 * buffer of its size (filled by sync_params). */
static float *
device_place (MtModel *m, MtTensor *t)
{
  if (!t || mt_backend_is_host (m->be))
    return t ? t->data : NULL;
  return m->be->ops->alloc (m->be, t->nbytes);
}

/* The tensors each layer's ops read (uploaded) and the gradients they write, in the
 * backend's memory, and the parameter list over them. The gradients lie in one arena and,
 * on a device, the weights in another at the same offsets: an optimizer updates them all
 * with one op (mt_model_flat_params). */
static void
attach_params (MtModel *m)
{
  g_ptr_array_set_size (m->params, 0);
  gsize total = 0;
  for (int i = 0; i < m->n_layers; i++)
    total += arena_span (m->layers[i].weight) + arena_span (m->layers[i].bias);
  m->arena_len = total;
  m->grad_arena = model_alloc (m, MAX (total, 1));
  m->param_arena = mt_backend_is_host (m->be) ? NULL : model_alloc (m, MAX (total, 1));
  gsize off = 0;
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    L->rm = device_place (m, L->running_mean);
    L->rv = device_place (m, L->running_var);
    L->w = L->weight ? add_param (m, L->spec.name, "weight", L->weight, &off, &L->gweight) : NULL;
    L->b = L->bias ? add_param (m, L->spec.name, "bias", L->bias, &off, &L->gbias) : NULL;
  }
  sync_params (m, FALSE);
}

/* Frees what attach_params made, and the folded weights. */
static void
detach_params (MtModel *m)
{
  gboolean host = mt_backend_is_host (m->be);
  for (int i = 0; m->layers && i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    model_free_buffer (m, L->fold_w);
    model_free_buffer (m, L->fold_b);
    if (!host) {
      model_free_buffer (m, L->rm);
      model_free_buffer (m, L->rv);
    }
    L->fold_w = L->fold_b = L->rm = L->rv = L->w = L->b = L->gweight = L->gbias = NULL;
  }
  model_free_buffer (m, m->param_arena);
  model_free_buffer (m, m->grad_arena);
  m->param_arena = m->grad_arena = NULL;
  m->arena_len = 0;
  if (m->params)
    g_ptr_array_set_size (m->params, 0);
}

gboolean
mt_model_flat_params (MtModel *m, float **data, float **grad, gsize *len)
{
  if (!m->param_arena)
    return FALSE;
  *data = m->param_arena;
  *grad = m->grad_arena;
  *len = m->arena_len;
  return TRUE;
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

static int
layer_index (const MtArch *arch, int upto, const char *name)
{
  for (int i = upto - 1; i >= 0; i--)
    if (g_strcmp0 (arch->layers[i].name, name) == 0)
      return i;
  return -2;
}

/* TRUE when layer @i (of kind @kind) is read by the next layer, of kind @next, and by no
 * other. */
static gboolean
read_only_by_next (MtModel *m, int i, MtLayerKind kind, MtLayerKind next)
{
  if (i + 1 >= m->n_layers || m->layers[i].spec.kind != kind || m->layers[i + 1].spec.kind != next ||
      m->layers[i + 1].src != i)
    return FALSE;
  for (int j = i + 2; j < m->n_layers; j++)
    if (m->layers[j].src == i || m->layers[j].src2 == i)
      return FALSE;
  return TRUE;
}

/* A 2-D batch norm read only by the ReLU right after it runs fused with it, where the
 * backend can: one pass instead of two, and no buffer for the normalised values. */
static void
plan_fusion (MtModel *m)
{
  const MtBackendOps *ops = m->be->ops;
  gboolean can = ops->batchnorm_relu_forward_train && ops->batchnorm_relu_forward_eval &&
                 ops->batchnorm_relu_backward_train && ops->batchnorm_relu_backward_eval;
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    L->fusable = can && read_only_by_next (m, i, MT_LAYER_BATCHNORM2D, MT_LAYER_RELU);
    L->fused = L->fusable && !L->kept;
  }
}

/* In evaluation a batch norm is an affine map per channel, so a convolution read only by
 * it can take it into its weights and bias (and the ReLU after it as the convolution's
 * post-op, where the batch norm runs fused with it): one pass over the activations
 * instead of two or three. Only where the backend has the convolution with ReLU and the
 * folding op (the CPU's: fold_batchnorm). Layers whose output is asked for
 * (mt_model_keep_output) are not folded. */
static void
plan_folding (MtModel *m)
{
  gboolean can = m->be->ops->conv2d_forward_relu && m->be->ops->fold_batchnorm;
  for (int i = 0; i < m->n_layers; i++)
    m->layers[i].foldable = can && read_only_by_next (m, i, MT_LAYER_CONV2D, MT_LAYER_BATCHNORM2D) &&
                            !m->layers[i].kept && !m->layers[i + 1].kept;
}

/* Which activations are in the backend's own layout. */
static void
plan_layout (MtModel *m)
{
  m->in_nchw = mt_backend_layout_is_nchw (m->be, m->in_c, m->in_h, m->in_w);
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    L->out_nchw = mt_backend_layout_is_nchw (m->be, L->out_c, L->out_h, L->out_w);
    L->flat_copy = L->spec.kind == MT_LAYER_FLATTEN && !mt_backend_layout_is_nchw (m->be, L->in_c, L->in_h, L->in_w);
  }
}

/* The weights and bias of convolution @C with batch norm @B folded in, with the
 * evaluation batch norm's own float arithmetic for its scale and shift (g, b). */
static void
fold_batchnorm (MtModel *m, Layer *C, const Layer *B)
{
  int oc = C->out_c;
  gsize per = C->weight->nbytes / sizeof (float) / oc;
  if (!C->fold_w) {
    C->fold_w = model_alloc (m, per * oc);
    C->fold_b = model_alloc (m, oc);
  }
  m->be->ops->fold_batchnorm (m->be, &m->bn, oc, per, C->w, C->b, B->w, B->b, B->rm, B->rv, C->fold_w, C->fold_b);
}

/* Layer @L's tensors become references to @src's (a replica's weights and statistics
 * are its model's). Layer by layer, so that no copy of the whole model is ever made. */
static void
share_tensors (Layer *L, const Layer *src)
{
  MtTensor **mine[] = { &L->weight, &L->bias, &L->running_mean, &L->running_var, &L->num_batches };
  MtTensor *const theirs[] = { src->weight, src->bias, src->running_mean, src->running_var, src->num_batches };
  for (guint k = 0; k < G_N_ELEMENTS (mine); k++)
    if (*mine[k]) {
      mt_tensor_unref (*mine[k]);
      *mine[k] = mt_tensor_ref (theirs[k]);
    }
}

/* A model for @in_c x @in_h x @in_w images; with @weights_of (of the same architecture,
 * classes and size), one sharing that model's tensors. */
static MtModel *
model_new (const MtArch *arch, int num_classes, int in_c, int in_h, int in_w, MtModel *weights_of, GError **error)
{
  g_return_val_if_fail (arch != NULL && num_classes >= 1, NULL);
  if (in_c != arch->in_c || (!arch->any_size && (in_h != arch->in_h || in_w != arch->in_w)) || in_h < 1 || in_w < 1) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s takes %d x %d x %d images%s, not %d x %d x %d", arch->name,
                 arch->in_c, arch->in_h, arch->in_w, arch->any_size ? " (or another size)" : "", in_c, in_h, in_w);
    return NULL;
  }
  g_autoptr (MtModel) m = g_new0 (MtModel, 1);
  m->be = mt_backend_cpu ();
  m->arch = arch;
  m->num_classes = num_classes;
  m->in_c = in_c;
  m->in_h = in_h;
  m->in_w = in_w;
  m->n_layers = arch->n_layers;
  m->layers = g_new0 (Layer, arch->n_layers);
  m->params = g_ptr_array_new_with_free_func (param_free);
  m->bn.momentum = 0.1;
  m->bn.eps = 1e-5;
  for (int k = 0; k < 3; k++)
    m->std[k] = 1;
  m->max_len = (gsize) in_c * in_h * in_w;
  for (int i = 0; i < arch->n_layers; i++) {
    Layer *L = &m->layers[i];
    L->spec = arch->layers[i];
    L->src = !L->spec.from ? i - 1 : !*L->spec.from ? -1 : layer_index (arch, i, L->spec.from);
    L->src2 = L->spec.kind == MT_LAYER_ADD ? layer_index (arch, i, L->spec.other) : -2;
    g_assert (L->src >= -1 && (L->spec.kind != MT_LAYER_ADD || L->src2 >= -1));  /* a bad table is a bug */
    const Layer *S = L->src >= 0 ? &m->layers[L->src] : NULL;
    int c = S ? S->out_c : in_c, h = S ? S->out_h : in_h, w = S ? S->out_w : in_w;
    int stride = L->spec.stride ? L->spec.stride : 1;
    L->in_c = c;
    L->in_h = h;
    L->in_w = w;
    switch (L->spec.kind) {
    case MT_LAYER_CONV2D: {
      L->conv = (MtConvSpec) { c, L->spec.out, L->spec.k, stride, L->spec.pad };
      gint64 ws[] = { L->spec.out, c, L->spec.k, L->spec.k };
      L->weight = mt_tensor_new (MT_DTYPE_F32, 4, ws);
      if (!L->spec.no_bias)
        L->bias = vec (L->spec.out, 0);
      c = L->spec.out;
      h = mt_conv_out (h, L->spec.k, stride, L->spec.pad);
      w = mt_conv_out (w, L->spec.k, stride, L->spec.pad);
      break;
    }
    case MT_LAYER_BATCHNORM2D:
    case MT_LAYER_BATCHNORM1D:
      L->weight = vec (c, 1);
      L->bias = vec (c, 0);
      L->running_mean = vec (c, 0);
      L->running_var = vec (c, 1);
      L->num_batches = mt_tensor_new (MT_DTYPE_I64, 0, NULL);
      break;
    case MT_LAYER_MAXPOOL2:
      h /= 2;
      w /= 2;
      break;
    case MT_LAYER_MAXPOOL:
      L->pool = (MtPoolSpec) { L->spec.k, stride, L->spec.pad };
      h = mt_pool_out (h, &L->pool);
      w = mt_pool_out (w, &L->pool);
      break;
    case MT_LAYER_AVGPOOL:
      h = w = 1;
      break;
    case MT_LAYER_SHORTCUT:
      c = L->spec.out;
      h = mt_shortcut_out (h, stride);
      w = mt_shortcut_out (w, stride);
      break;
    case MT_LAYER_ADD: {
      const Layer *O = L->src2 >= 0 ? &m->layers[L->src2] : NULL;
      int oc = O ? O->out_c : in_c, oh = O ? O->out_h : in_h, ow = O ? O->out_w : in_w;
      g_assert (oc == c && oh == h && ow == w);
      break;
    }
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
    if (h < 1 || w < 1) {
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%d x %d images are too small for %s: nothing is left of them "
                   "after layer %s", in_h, in_w, arch->name, L->spec.name);
      return NULL;
    }
    L->out_c = c;
    L->out_h = h;
    L->out_w = w;
    L->in_len = (gsize) L->in_c * L->in_h * L->in_w;
    L->out_len = (gsize) c * h * w;
    m->max_len = MAX (m->max_len, L->out_len);
    if (weights_of)
      share_tensors (L, &weights_of->layers[i]);
  }
  plan_layout (m);
  plan_fusion (m);
  plan_folding (m);
  attach_params (m);
  return g_steal_pointer (&m);
}

MtModel *
mt_model_new_sized (const MtArch *arch, int num_classes, int in_c, int in_h, int in_w, GError **error)
{
  return model_new (arch, num_classes, in_c, in_h, in_w, NULL, error);
}

MtModel *
mt_model_new (const MtArch *arch, int num_classes)
{
  g_return_val_if_fail (arch != NULL, NULL);
  MtModel *m = mt_model_new_sized (arch, num_classes, arch->in_c, arch->in_h, arch->in_w, NULL);
  g_assert (m != NULL);  /* every architecture takes its own default size */
  return m;
}

MtModel *
mt_model_new_like (MtModel *m)
{
  MtModel *copy = mt_model_new_sized (m->arch, m->num_classes, m->in_c, m->in_h, m->in_w, NULL);
  mt_model_set_normalization (copy, m->mean, m->std);
  return copy;
}

void
mt_model_set_normalization (MtModel *m, const double mean[3], const double std[3])
{
  for (int k = 0; k < 3; k++) {
    m->mean[k] = mean[k];
    m->std[k] = std[k] > 0 ? std[k] : 1;
  }
}

void
mt_model_copy_normalization (MtModel *dst, MtModel *src)
{
  mt_model_set_normalization (dst, src->mean, src->std);
}

gboolean
mt_model_is_normalized (MtModel *m)
{
  for (int k = 0; k < 3; k++)
    if (m->mean[k] != 0 || m->std[k] != 1)
      return TRUE;
  return FALSE;
}

void
mt_model_prepare_input (MtModel *m, const guint8 *pixels, gsize n, float *x)
{
  MtInputSpec s;
  mt_model_input_spec (m, &s);
  gsize plane = (gsize) s.hw;
  for (gsize i = 0; i < n; i++)
    for (int c = 0; c < s.c; c++) {
      const guint8 *src = pixels + (i * s.c + c) * plane;
      float *dst = x + (i * s.c + c) * plane;
      float mean = s.mean[MIN (c, 2)], inv = s.inv_std[MIN (c, 2)];
      for (gsize p = 0; p < plane; p++)
        dst[p] = mt_ew_input_pixel (src[p], s.plain, mean, inv);
    }
}

void
mt_model_input_spec (MtModel *m, MtInputSpec *s)
{
  /* pixel / 255 alone, as SmallCNN was always fed, unless the model normalises */
  *s = (MtInputSpec) { m->in_c, (gint64) m->in_h * m->in_w, !mt_model_is_normalized (m) };
  for (int c = 0; c < 3; c++) {
    s->mean[c] = (float) m->mean[c];
    s->inv_std[c] = (float) (1.0 / m->std[c]);
  }
}

void
mt_model_input_size (MtModel *m, int *c, int *h, int *w)
{
  if (c)
    *c = m->in_c;
  if (h)
    *h = m->in_h;
  if (w)
    *w = m->in_w;
}

static void
free_buffers (MtModel *m)
{
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    if (L->spec.kind != MT_LAYER_FLATTEN || L->flat_copy)
      model_free_buffer (m, L->out);
    model_free_buffer (m, L->plain);
    model_free_buffer (m, L->dplain);
    L->out = L->plain = L->dplain = NULL;
    model_free_buffer (m, L->save_mean);
    model_free_buffer (m, L->save_invstd);
    model_free_buffer (m, L->argmax);
    model_free_buffer (m, L->dbuf);
    L->save_mean = L->save_invstd = L->dbuf = NULL;
    L->argmax = NULL;
  }
  model_free_buffer (m, m->work);
  model_free_buffer (m, m->scratch);
  model_free_buffer (m, m->xin);
  model_free_buffer (m, m->dxin);
  model_free_buffer (m, m->given);
  m->work = m->scratch = m->xin = m->dxin = m->given = NULL;
  m->cap = 0;
}

void
mt_model_release_buffers (MtModel *m)
{
  if (m && m->layers)
    free_buffers (m);
}

void
mt_model_free (MtModel *m)
{
  if (!m)
    return;
  if (m->layers)
    free_buffers (m);
  detach_params (m);
  mt_staging_clear (&m->input);
  for (int i = 0; m->layers && i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    g_clear_pointer (&L->weight, mt_tensor_unref);
    g_clear_pointer (&L->bias, mt_tensor_unref);
    g_clear_pointer (&L->running_mean, mt_tensor_unref);
    g_clear_pointer (&L->running_var, mt_tensor_unref);
    g_clear_pointer (&L->num_batches, mt_tensor_unref);
  }
  g_free (m->layers);
  g_clear_pointer (&m->params, g_ptr_array_unref);
  g_free (m);
}

static int
backend_threads (MtModel *m)
{
  return m->be->ops->threads ? m->be->ops->threads (m->be) : 1;
}

/* The convolution scratch for batches of up to m->cap on the backend's threads now. */
static void
ensure_work (MtModel *m)
{
  model_free_buffer (m, m->work);
  m->work_len = 0;
  m->work_threads = backend_threads (m);
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    if (L->spec.kind == MT_LAYER_CONV2D)
      m->work_len = MAX (m->work_len, m->be->ops->conv2d_workspace (m->be, &L->conv, m->cap, L->in_h, L->in_w));
  }
  m->work = model_alloc (m, m->work_len);
}

/* Buffers grow to the largest batch seen; smaller batches reuse them. The scratch also
 * follows the thread count (a slice's thread runs its ops alone: mt-slices.h). */
static void
ensure_capacity (MtModel *m, int n)
{
  if (n <= m->cap) {
    if (backend_threads (m) != m->work_threads)
      ensure_work (m);
    return;
  }
  free_buffers (m);
  m->cap = n;
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    if ((L->spec.kind != MT_LAYER_FLATTEN || L->flat_copy) && !L->fused)
      L->out = model_alloc (m, (gsize) n * L->out_len);
    if (L->spec.kind == MT_LAYER_BATCHNORM2D || L->spec.kind == MT_LAYER_BATCHNORM1D) {
      L->save_mean = model_alloc (m, L->out_c);
      L->save_invstd = model_alloc (m, L->out_c);
    }
    if (L->spec.kind == MT_LAYER_MAXPOOL2 || L->spec.kind == MT_LAYER_MAXPOOL)
      L->argmax = m->be->ops->alloc (m->be, (gsize) n * L->out_len * sizeof (gint32));
  }
  ensure_work (m);
  /* Gradient buffers (dbuf, scratch) come with the first backward that needs them: an
   * evaluation or a saliency pass to a top layer does not pay for the ones below. */
}

static float *
layer_dbuf (MtModel *m, Layer *L)
{
  if (!L->dbuf)
    L->dbuf = model_alloc (m, (gsize) m->cap * L->out_len);
  return L->dbuf;
}

static float *
model_scratch (MtModel *m)
{
  if (!m->scratch)
    m->scratch = model_alloc (m, (gsize) m->cap * m->max_len);
  return m->scratch;
}

/* A buffer of the model's capacity, made on first use. */
static float *
lazy (MtModel *m, float **buf, gsize per_sample)
{
  if (!*buf)
    *buf = model_alloc (m, (gsize) m->cap * per_sample);
  return *buf;
}

/* @t, a layer's output or the gradient there, as NCHW: itself, or converted into @copy. */
static const float *
as_nchw (MtModel *m, Layer *L, const float *t, float **copy)
{
  if (!t || L->out_nchw)
    return t;
  float *y = lazy (m, copy, L->out_len);
  mt_backend_to_nchw (m->be, t, m->n, L->out_c, L->out_h, L->out_w, y);
  return y;
}

/* NCHW @t for layer @L's output, in the backend's layout (itself, or in m->given). */
static const float *
from_nchw (MtModel *m, Layer *L, const float *t, int n)
{
  if (L->out_nchw)
    return t;
  float *y = lazy (m, &m->given, m->max_len);
  mt_backend_from_nchw (m->be, t, n, L->out_c, L->out_h, L->out_w, y);
  return y;
}

/* A standard normal draw (Box-Muller; the second value is dropped to keep it simple). */
static double
normal (MtRng *rng)
{
  double u = mt_rng_uniform (rng), v = mt_rng_uniform (rng);
  return sqrt (-2.0 * log (1.0 - u)) * cos (2 * G_PI * v);
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
    gint64 nw = mt_tensor_numel (L->weight);
    gint64 fan_in = nw / L->weight->shape[0];
    gint64 fan_out = nw / L->weight->shape[1];
    float *wd = L->weight->data;
    gboolean conv = L->spec.kind == MT_LAYER_CONV2D;
    if ((m->arch->init == MT_INIT_TORCHVISION && conv) || m->arch->init == MT_INIT_CIFAR_RESNET) {
      /* kaiming_normal_ with the ReLU gain: std = sqrt(2 / fan), fan_out for torchvision's
       * convolutions, fan_in for the CIFAR ResNets' layers. */
      double std = sqrt (2.0 / (double) (m->arch->init == MT_INIT_TORCHVISION ? fan_out : fan_in));
      for (gint64 j = 0; j < nw; j++)
        wd[j] = (float) (normal (&rng) * std);
    } else {
      /* kaiming_uniform_(a=sqrt(5)) gives bound sqrt(6 / ((1 + a^2) fan_in)) = 1/sqrt(fan_in). */
      double bound = 1.0 / sqrt ((double) fan_in);
      for (gint64 j = 0; j < nw; j++)
        wd[j] = (float) ((2 * mt_rng_uniform (&rng) - 1) * bound);
    }
    if (L->bias) {  /* the default bias: uniform within 1/sqrt(fan_in) */
      double bound = 1.0 / sqrt ((double) fan_in);
      float *bd = L->bias->data;
      for (gint64 j = 0; j < mt_tensor_numel (L->bias); j++)
        bd[j] = (float) ((2 * mt_rng_uniform (&rng) - 1) * bound);
    }
  }
  sync_params (m, FALSE);
}

/* The ops a layer kind needs, for a clear refusal of a backend without them. */
static const struct {
  MtLayerKind kind;
  gsize op;
  const char *name;
} needed_ops[] = {
#define NEED(kind, op) { kind, G_STRUCT_OFFSET (MtBackendOps, op), #op }
  NEED (MT_LAYER_CONV2D, conv2d_workspace), NEED (MT_LAYER_CONV2D, conv2d_forward),
  NEED (MT_LAYER_CONV2D, conv2d_backward),
  NEED (MT_LAYER_BATCHNORM2D, batchnorm_forward_train), NEED (MT_LAYER_BATCHNORM2D, batchnorm_forward_eval),
  NEED (MT_LAYER_BATCHNORM2D, batchnorm_backward_train), NEED (MT_LAYER_BATCHNORM2D, batchnorm_backward_eval),
  NEED (MT_LAYER_BATCHNORM1D, batchnorm_forward_train), NEED (MT_LAYER_BATCHNORM1D, batchnorm_forward_eval),
  NEED (MT_LAYER_BATCHNORM1D, batchnorm_backward_train), NEED (MT_LAYER_BATCHNORM1D, batchnorm_backward_eval),
  NEED (MT_LAYER_RELU, relu_forward), NEED (MT_LAYER_RELU, relu_backward),
  NEED (MT_LAYER_MAXPOOL2, maxpool2_forward), NEED (MT_LAYER_MAXPOOL2, maxpool2_backward),
  NEED (MT_LAYER_MAXPOOL, maxpool_forward), NEED (MT_LAYER_MAXPOOL, maxpool_backward),
  NEED (MT_LAYER_AVGPOOL, avgpool_forward), NEED (MT_LAYER_AVGPOOL, avgpool_backward),
  /* add also sums the gradients of a layer read twice: only residual networks, which
   * have ADD layers, do that. */
  NEED (MT_LAYER_ADD, add), NEED (MT_LAYER_SHORTCUT, shortcut_forward), NEED (MT_LAYER_SHORTCUT, shortcut_backward),
  NEED (MT_LAYER_LINEAR, linear_forward), NEED (MT_LAYER_LINEAR, linear_backward),
#undef NEED
};

gboolean
mt_model_can_run_on (MtModel *m, MtBackend *be, GError **error)
{
  const MtBackendOps *ops = be->ops;
  if (!ops->copy || !ops->zero || !ops->cross_entropy) {
    g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "the %s backend lacks copy, zero or cross_entropy", be->name);
    return FALSE;
  }
  for (int i = 0; i < m->n_layers; i++)
    for (guint k = 0; k < G_N_ELEMENTS (needed_ops); k++)
      if (needed_ops[k].kind == m->layers[i].spec.kind && !mt_backend_has (be, needed_ops[k].op)) {
        g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "%s cannot run on the %s backend yet: it has no %s op "
                     "(layer %s)", m->arch->name, be->name, needed_ops[k].name, m->layers[i].spec.name);
        return FALSE;
      }
  return TRUE;
}

gboolean
mt_model_set_backend (MtModel *m, MtBackend *be, GError **error)
{
  g_return_val_if_fail (m != NULL && be != NULL && !m->replica, FALSE);
  if (be == m->be)
    return TRUE;
  if (!mt_model_can_run_on (m, be, error))
    return FALSE;
  sync_params (m, TRUE);  /* the host tensors hold the weights while no backend does */
  free_buffers (m);
  detach_params (m);
  mt_staging_clear (&m->input);
  m->be = be;
  plan_layout (m);
  plan_fusion (m);
  plan_folding (m);
  attach_params (m);
  return TRUE;
}

const float *
mt_model_load_input (MtModel *m, const guint8 *pixels, gsize n)
{
  gsize bytes = n * m->in_c * m->in_h * m->in_w * sizeof (float);
  mt_model_prepare_input (m, pixels, n, mt_staging_host (&m->input, m->be, bytes));
  return mt_staging_upload (&m->input, bytes);
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

/* A layer by name, or a stage by its name ("layer4": the last layer named "layer4.K"). */
static int
find_layer (MtModel *m, const char *name)
{
  if (!name)
    return -1;
  for (int i = 0; i < m->n_layers; i++)
    if (g_strcmp0 (m->layers[i].spec.name, name) == 0)
      return i;
  gsize len = strlen (name);
  for (int i = m->n_layers - 1; i >= 0; i--) {
    const char *ln = m->layers[i].spec.name;
    if (strncmp (ln, name, len) == 0 && ln[len] == '.' && ln[len + 1] &&
        strspn (ln + len + 1, "0123456789") == strlen (ln + len + 1))
      return i;
  }
  return -1;
}

gboolean
mt_model_has_layer (MtModel *m, const char *layer)
{
  return find_layer (m, layer) >= 0;
}

static const float *
layer_output (MtModel *m, int src, const float *x)
{
  return src < 0 ? x : m->layers[src].out;
}

/* Profiling: the time since the last mark goes to layer @prev of @acc. */
static void
prof_mark (double *acc, int prev, gint64 *t)
{
  gint64 now = g_get_monotonic_time ();
  if (acc && prev >= 0)
    acc[prev] += (now - *t) / 1e6;
  *t = now;
}

static const float *
forward_range (MtModel *m, int first, const float *x, int n, gboolean training)
{
  const float *in = x;
  gint64 t = 0;
  for (int i = first; i < m->n_layers; i++) {
    if (m->prof_fwd)
      prof_mark (m->prof_fwd, i - 1, &t);
    Layer *L = &m->layers[i];
    in = layer_output (m, L->src, x);
    L->input = in;
    switch (L->spec.kind) {
    case MT_LAYER_CONV2D:
      if (!training && L->foldable) {
        /* The batch norm after it (and the ReLU it is fused with) in one pass; this
         * layer's own output is not made. */
        Layer *B = &m->layers[i + 1];
        fold_batchnorm (m, L, B);
        if (B->fused)
          m->be->ops->conv2d_forward_relu (m->be, &L->conv, in, n, L->in_h, L->in_w, L->fold_w, L->fold_b,
                                           m->layers[i + 2].out, m->work);
        else
          m->be->ops->conv2d_forward (m->be, &L->conv, in, n, L->in_h, L->in_w, L->fold_w, L->fold_b, B->out,
                                      m->work);
        break;
      }
      m->be->ops->conv2d_forward (m->be, &L->conv, in, n, L->in_h, L->in_w, L->w, L->b, L->out, m->work);
      break;
    case MT_LAYER_BATCHNORM2D:
    case MT_LAYER_BATCHNORM1D: {
      if (!training && L->src >= first && m->layers[L->src].foldable)
        break;  /* folded into the convolution before it */
      int hw = L->in_h * L->in_w;
      float *y = L->fused ? m->layers[i + 1].out : L->out;  /* fused: the ReLU's output */
      if (training && m->share) {
        /* A replica's running statistics are its model's: that model's slice updates them. */
        m->be->ops->batchnorm_forward_train_sliced (m->be, &m->bn, m->share, L->fused, in, n, L->in_c, hw,
                                                    L->w, L->b, y, L->save_mean, L->save_invstd,
                                                    m->replica ? NULL : L->rm, m->replica ? NULL : L->rv);
        if (!m->replica)
          ((gint64 *) L->num_batches->data)[0]++;
      } else if (training) {
        (L->fused ? m->be->ops->batchnorm_relu_forward_train : m->be->ops->batchnorm_forward_train)
          (m->be, &m->bn, in, n, L->in_c, hw, L->w, L->b, y, L->save_mean, L->save_invstd, L->rm, L->rv);
        ((gint64 *) L->num_batches->data)[0]++;
      } else {
        (L->fused ? m->be->ops->batchnorm_relu_forward_eval : m->be->ops->batchnorm_forward_eval)
          (m->be, &m->bn, in, n, L->in_c, hw, L->w, L->b, y, L->rm, L->rv);
      }
      break;
    }
    case MT_LAYER_RELU:
      if (L->src >= 0 && m->layers[L->src].fused)
        break;  /* done with the batch norm */
      m->be->ops->relu_forward (m->be, in, (gsize) n * L->out_len, L->out);
      break;
    case MT_LAYER_MAXPOOL2:
      m->be->ops->maxpool2_forward (m->be, in, n, L->in_c, L->in_h, L->in_w, L->out, L->argmax);
      break;
    case MT_LAYER_MAXPOOL:
      m->be->ops->maxpool_forward (m->be, &L->pool, in, n, L->in_c, L->in_h, L->in_w, L->out, L->argmax);
      break;
    case MT_LAYER_AVGPOOL:
      m->be->ops->avgpool_forward (m->be, in, n, L->in_c, L->in_h * L->in_w, L->out);
      break;
    case MT_LAYER_ADD:
      L->input2 = layer_output (m, L->src2, x);
      m->be->ops->add (m->be, in, L->input2, (gsize) n * L->out_len, L->out);
      break;
    case MT_LAYER_SHORTCUT:
      m->be->ops->shortcut_forward (m->be, in, n, L->in_c, L->in_h, L->in_w, L->out_c,
                                    L->spec.stride ? L->spec.stride : 1, L->out);
      break;
    case MT_LAYER_FLATTEN:
      if (L->flat_copy)  /* the classifier reads NCHW order */
        mt_backend_to_nchw (m->be, in, n, L->in_c, L->in_h, L->in_w, L->out);
      else
        L->out = (float *) in;  /* same bytes, new shape */
      break;
    case MT_LAYER_LINEAR:
      m->be->ops->linear_forward (m->be, in, n, L->in_c, L->out_c, L->w, L->b, L->out);
      break;
    }
    in = L->out;
  }
  if (m->prof_fwd)
    prof_mark (m->prof_fwd, m->n_layers - 1, &t);
  return in;
}

void
mt_model_count_train_forward (MtModel *m)
{
  if (m->replica)
    return;  /* its model counts */
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    if (L->spec.kind == MT_LAYER_BATCHNORM2D || L->spec.kind == MT_LAYER_BATCHNORM1D)
      ((gint64 *) L->num_batches->data)[0]++;
  }
}

const float *
mt_model_forward (MtModel *m, const float *x, int n, gboolean training)
{
  ensure_capacity (m, n);
  m->n = n;
  m->training = training;
  m->x = x;
  if (!m->in_nchw) {
    float *xin = lazy (m, &m->xin, (gsize) m->in_c * m->in_h * m->in_w);
    mt_backend_from_nchw (m->be, x, n, m->in_c, m->in_h, m->in_w, xin);
    m->x = m->xin;
  }
  return forward_range (m, 0, m->x, n, training);
}

const float *
mt_model_forward_from (MtModel *m, const char *layer, const float *activation, int n)
{
  int i = find_layer (m, layer);
  g_return_val_if_fail (i >= 0 && n <= m->cap, NULL);
  if (m->layers[i].fused)
    return NULL;
  m->n = n;
  /* The layers above read @activation in place of layer i's output; the others' outputs
   * (a skip connection's) are the last forward's. */
  Layer *L = &m->layers[i];
  float *keep = L->out;
  L->out = (float *) from_nchw (m, L, activation, n);
  const float *y = forward_range (m, i + 1, m->x, n, m->training);
  L->out = keep;
  return y;
}

/* Where the gradient at the output of @src is wanted (NULL: nowhere), for a consumer
 * about to compute it: the source's own buffer when it is the first contribution, else
 * the scratch buffer, to be added by gradient_done(). */
static float *
gradient_target (MtModel *m, int src, int stop, float *dinput)
{
  if (src < stop || (src < 0 && !dinput))
    return NULL;  /* below what was asked for */
  if (src < 0)
    return dinput;  /* the image is read by one layer only */
  Layer *S = &m->layers[src];
  return S->dset ? model_scratch (m) : layer_dbuf (m, S);
}

static void
gradient_done (MtModel *m, int src, const float *g)
{
  if (!g || src < 0)
    return;
  Layer *S = &m->layers[src];
  if (!S->dset) {
    S->dout = g;
    S->dset = TRUE;
    return;
  }
  m->be->ops->add (m->be, S->dout, g, (gsize) m->n * S->out_len, layer_dbuf (m, S));  /* a second reader's share */
  S->dout = S->dbuf;
}

/* A gradient that passes through unchanged (add, flatten): shared, not copied, with the
 * first reader; added when there are more. */
static void
gradient_pass (MtModel *m, int src, int stop, const float *g, float *dinput)
{
  if (src < stop)
    return;
  if (src < 0) {
    if (dinput)  /* the image's gradient goes out as NCHW */
      m->in_nchw ? m->be->ops->copy (m->be, dinput, g, (gsize) m->n * m->in_c * m->in_h * m->in_w * sizeof (float))
                 : mt_backend_to_nchw (m->be, g, m->n, m->in_c, m->in_h, m->in_w, dinput);
    return;
  }
  gradient_done (m, src, g);
}

/* Layers last..stop+1 (stop = -1: all) in reverse, each adding its inputs' gradients; the
 * gradient at the output of @stop is returned. */
static const float *
backward_range (MtModel *m, int last, int stop, const float *dy, float *dinput)
{
  int n = m->n;
  /* The image's gradient, where its layout is not NCHW, is made in dxin and converted. */
  float *din = dinput && !m->in_nchw ? lazy (m, &m->dxin, (gsize) m->in_c * m->in_h * m->in_w) : dinput;
  for (int i = 0; i < m->n_layers; i++)
    m->layers[i].dset = FALSE;
  m->layers[last].dout = dy;
  m->layers[last].dset = TRUE;
  gint64 t = 0;
  for (int i = last; i > stop; i--) {
    if (m->prof_bwd)
      prof_mark (m->prof_bwd, i < last ? i + 1 : -1, &t);
    Layer *L = &m->layers[i];
    if (!L->dset)
      continue;  /* no gradient reaches it */
    const float *g = L->dout;
    float *dx = NULL;
    switch (L->spec.kind) {
    case MT_LAYER_CONV2D:
      dx = gradient_target (m, L->src, stop, din);
      m->be->ops->conv2d_backward (m->be, &L->conv, L->input, n, L->in_h, L->in_w, L->w, g, dx,
                                   L->gweight, L->gbias, m->work);
      break;
    case MT_LAYER_BATCHNORM2D:
    case MT_LAYER_BATCHNORM1D: {
      int hw = L->in_h * L->in_w;
      dx = gradient_target (m, L->src, stop, din);
      /* Fused: g is the gradient at the ReLU's output, masked by that output here. */
      const float *y = L->fused ? m->layers[i + 1].out : NULL;
      if (m->training && m->share) {
        m->be->ops->batchnorm_backward_train_sliced (m->be, m->share, L->input, n, L->in_c, hw, L->w,
                                                     L->save_mean, L->save_invstd, y, g, dx, L->gweight, L->gbias);
      } else if (m->training) {
        if (L->fused) {
          m->be->ops->batchnorm_relu_backward_train (m->be, L->input, n, L->in_c, hw, L->w, L->save_mean,
                                                     L->save_invstd, y, g, dx, L->gweight, L->gbias);
        } else {
          /* The train-mode gradient needs a dx buffer even when nothing below wants it. */
          float *out = dx ? dx : model_scratch (m);
          m->be->ops->batchnorm_backward_train (m->be, L->input, n, L->in_c, hw, L->w, L->save_mean,
                                                L->save_invstd, g, out, L->gweight, L->gbias);
        }
      } else {
        m->be->ops->zero (m->be, L->gweight, L->in_c * sizeof (float));
        m->be->ops->zero (m->be, L->gbias, L->in_c * sizeof (float));
        if (dx && L->fused)
          m->be->ops->batchnorm_relu_backward_eval (m->be, &m->bn, n, L->in_c, hw, L->w, L->rv, y, g, dx);
        else if (dx)
          m->be->ops->batchnorm_backward_eval (m->be, &m->bn, n, L->in_c, hw, L->w, L->rv, g, dx);
      }
      break;
    }
    case MT_LAYER_RELU:
      if (L->src >= 0 && m->layers[L->src].fused) {
        dx = L->src >= stop ? (float *) g : NULL;  /* handed on: the batch norm masks it */
        break;
      }
      dx = gradient_target (m, L->src, stop, din);
      if (dx)
        m->be->ops->relu_backward (m->be, L->out, g, (gsize) n * L->out_len, dx);
      break;
    case MT_LAYER_MAXPOOL2:
      dx = gradient_target (m, L->src, stop, din);
      if (dx)
        m->be->ops->maxpool2_backward (m->be, L->argmax, n, L->in_c, L->in_h, L->in_w, g, dx);
      break;
    case MT_LAYER_MAXPOOL:
      dx = gradient_target (m, L->src, stop, din);
      if (dx)
        m->be->ops->maxpool_backward (m->be, &L->pool, L->argmax, n, L->in_c, L->in_h, L->in_w, g, dx);
      break;
    case MT_LAYER_AVGPOOL:
      dx = gradient_target (m, L->src, stop, din);
      if (dx)
        m->be->ops->avgpool_backward (m->be, g, n, L->in_c, L->in_h * L->in_w, dx);
      break;
    case MT_LAYER_SHORTCUT:
      dx = gradient_target (m, L->src, stop, din);
      if (dx)
        m->be->ops->shortcut_backward (m->be, g, n, L->in_c, L->in_h, L->in_w, L->out_c,
                                       L->spec.stride ? L->spec.stride : 1, dx);
      break;
    case MT_LAYER_LINEAR:
      dx = gradient_target (m, L->src, stop, din);
      /* Down to a layer (saliency), only the gradient there is wanted, not the weights'. */
      m->be->ops->linear_backward (m->be, L->input, n, L->in_c, L->out_c, L->w, g, dx,
                                   stop >= 0 ? NULL : L->gweight, stop >= 0 ? NULL : L->gbias);
      break;
    case MT_LAYER_ADD:
      gradient_pass (m, L->src, stop, g, dinput);
      gradient_pass (m, L->src2, stop, g, dinput);
      continue;
    case MT_LAYER_FLATTEN:
      if (L->flat_copy) {
        dx = gradient_target (m, L->src, stop, din);
        if (dx)
          mt_backend_from_nchw (m->be, g, n, L->in_c, L->in_h, L->in_w, dx);
        break;
      }
      gradient_pass (m, L->src, stop, g, dinput);
      continue;
    }
    gradient_done (m, L->src, dx);
  }
  if (m->prof_bwd)
    prof_mark (m->prof_bwd, stop + 1, &t);
  if (din && din != dinput)
    mt_backend_to_nchw (m->be, din, n, m->in_c, m->in_h, m->in_w, dinput);
  return stop >= 0 && m->layers[stop].dset ? m->layers[stop].dout : NULL;
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
  if (stop < 0 || m->layers[stop].fused)
    return NULL;
  Layer *S = &m->layers[stop];
  return as_nchw (m, S, backward_range (m, m->n_layers - 1, stop, dlogits, NULL), &S->dplain);
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
  if (i < 0 || m->layers[i].fused)
    return FALSE;
  backward_from (m, i, from_nchw (m, &m->layers[i], dy, m->n), dinput);
  return TRUE;
}

void
mt_model_profile (MtModel *m, double *fwd, double *bwd)
{
  m->prof_fwd = fwd;
  m->prof_bwd = bwd;
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
  if (L->fused || (L->foldable && !m->training))
    return NULL;  /* not made (mt_model_keep_output) */
  return as_nchw (m, L, L->out, &L->plain);
}

gboolean
mt_model_keep_output (MtModel *m, const char *layer)
{
  int i = find_layer (m, layer);
  if (i < 0)
    return FALSE;
  if (m->layers[i].fused)
    free_buffers (m);  /* the next forward makes this layer's buffer */
  /* Neither fused with the ReLU after it nor folded into the convolution before it (a
   * batch norm folded into it makes no output of its own either). */
  m->layers[i].kept = TRUE;
  plan_fusion (m);
  plan_folding (m);
  return TRUE;
}

gboolean
mt_model_fit (MtModel **m, const gint64 shape[4], GError **error)
{
  MtModel *cur = *m;
  if (shape[1] == cur->in_c && shape[2] == cur->in_h && shape[3] == cur->in_w)
    return TRUE;
  if (!cur->arch->any_size || shape[1] < 1 || shape[2] < 1 || shape[3] < 1 || shape[1] > 4096 || shape[2] > 65536 ||
      shape[3] > 65536)
    return mt_model_check_images (cur, shape, error);
  MtModel *sized = mt_model_new_sized (cur->arch, cur->num_classes, (int) shape[1], (int) shape[2], (int) shape[3],
                                       error);
  if (!sized)
    return FALSE;
  mt_model_copy_matching (sized, cur);
  mt_model_set_normalization (sized, cur->mean, cur->std);
  mt_model_free (cur);
  *m = sized;
  return TRUE;
}

gboolean
mt_model_check_images (MtModel *m, const gint64 shape[4], GError **error)
{
  if (shape[1] == m->in_c && shape[2] == m->in_h && shape[3] == m->in_w)
    return TRUE;
  g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "this %s takes %d x %d x %d images, the dataset has [%" G_GINT64_FORMAT
               ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]", m->arch->name, m->in_c, m->in_h,
               m->in_w, shape[0], shape[1], shape[2], shape[3]);
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
  sync_params (m, TRUE);
  MtBundle *b = mt_bundle_new ();
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    if (L->weight)
      put (b, L->spec.name, "weight", L->weight);
    if (L->bias)
      put (b, L->spec.name, "bias", L->bias);
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
  if (mt_model_is_normalized (m)) {
    g_autofree char *mean = g_strdup_printf ("%.9g,%.9g,%.9g", m->mean[0], m->mean[1], m->mean[2]);
    g_autofree char *std = g_strdup_printf ("%.9g,%.9g,%.9g", m->std[0], m->std[1], m->std[2]);
    mt_bundle_set_metadata (b, "input_mean", mean);
    mt_bundle_set_metadata (b, "input_std", std);
  }
  /* The default size is not written, so a SmallCNN file stays as it was. */
  if (m->in_h != m->arch->in_h || m->in_w != m->arch->in_w) {
    g_autofree char *size = g_strdup_printf ("%dx%dx%d", m->in_c, m->in_h, m->in_w);
    mt_bundle_set_metadata (b, "input_size", size);
  }
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

/* Copies every tensor of @m's state_dict from @b, which must hold exactly those. */
static gboolean
load_state (MtModel *m, MtBundle *b, const char *what, GError **error)
{
  guint expected = 0;
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    if (L->weight) {
      if (!take (b, L->spec.name, "weight", L->weight, what, error))
        return FALSE;
      expected++;
    }
    if (L->bias) {
      if (!take (b, L->spec.name, "bias", L->bias, what, error))
        return FALSE;
      expected++;
    }
    if (L->running_mean) {
      if (!take (b, L->spec.name, "running_mean", L->running_mean, what, error) ||
          !take (b, L->spec.name, "running_var", L->running_var, what, error) ||
          !take (b, L->spec.name, "num_batches_tracked", L->num_batches, what, error))
        return FALSE;
      expected += 3;
    }
  }
  if (mt_bundle_size (b) != expected) {
    /* Name one the architecture does not have, as load_state_dict's "unexpected key". */
    g_autofree const char **names = mt_bundle_names (b);
    const char *extra = NULL;
    for (guint k = 0; names[k] && !extra; k++) {
      gboolean known = FALSE;
      for (guint p = 0; p < m->params->len && !known; p++)
        known = g_strcmp0 (((MtParam *) m->params->pdata[p])->name, names[k]) == 0;
      if (!known && !g_str_has_suffix (names[k], ".running_mean") && !g_str_has_suffix (names[k], ".running_var") &&
          !g_str_has_suffix (names[k], ".num_batches_tracked"))
        extra = names[k];
    }
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: %u tensors, the architecture %s has %u%s%s%s",
                 what, mt_bundle_size (b), m->arch->name, expected, extra ? " (no place for '" : "",
                 extra ? extra : "", extra ? "')" : "");
    return FALSE;
  }
  return TRUE;
}

static gboolean
parse_size (const char *s, int *c, int *h, int *w)
{
  return s && sscanf (s, "%dx%dx%d", c, h, w) == 3 && *c > 0 && *h > 0 && *w > 0 && *c <= 4096 && *h <= 65536 &&
         *w <= 65536;
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
  int c = arch->in_c, h = arch->in_h, w = arch->in_w;
  const char *size = mt_bundle_get_metadata (b, "input_size");
  if (size && !parse_size (size, &c, &h, &w)) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: metadata input_size '%s' is not CxHxW", what, size);
    return NULL;
  }
  g_autoptr (GError) err = NULL;
  g_autoptr (MtModel) m = mt_model_new_sized (arch, atoi (nc), c, h, w, &err);
  if (!m) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: %s", what, err->message);
    return NULL;
  }
  if (!load_state (m, b, what, error))
    return NULL;
  const char *mean = mt_bundle_get_metadata (b, "input_mean"), *std = mt_bundle_get_metadata (b, "input_std");
  if (mean || std) {
    double mu[3] = { 0, 0, 0 }, sd[3] = { 1, 1, 1 };
    if (!mean || !std || sscanf (mean, "%lf,%lf,%lf", &mu[0], &mu[1], &mu[2]) != 3 ||
        sscanf (std, "%lf,%lf,%lf", &sd[0], &sd[1], &sd[2]) != 3 || !(sd[0] > 0 && sd[1] > 0 && sd[2] > 0)) {
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: metadata input_mean/input_std must be three numbers each "
                   "(std > 0)", what);
      return NULL;
    }
    mt_model_set_normalization (m, mu, sd);
  }
  return g_steal_pointer (&m);
}

MtModel *
mt_model_from_state_dict (MtBundle *b, const MtArch *arch, int c, int h, int w, const char *what, GError **error)
{
  g_return_val_if_fail (b != NULL && arch != NULL, NULL);
  /* The classifier is the last layer: its weight's rows are the classes. */
  const MtLayerSpec *last = &arch->layers[arch->n_layers - 1];
  g_autofree char *fc = g_strdup_printf ("%s.weight", last->name);
  MtTensor *t = mt_bundle_get (b, fc);
  if (!t || t->ndim != 2 || t->shape[0] < 1 || t->shape[0] > 1000000) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: no classifier '%s' (a matrix) for %s: is it a %s state_dict?",
                 what, fc, arch->name, arch->name);
    return NULL;
  }
  g_autoptr (GError) err = NULL;
  g_autoptr (MtModel) m = mt_model_new_sized (arch, (int) t->shape[0], c ? c : arch->in_c, h ? h : arch->in_h,
                                              w ? w : arch->in_w, &err);
  if (!m) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: %s", what, err->message);
    return NULL;
  }
  if (!load_state (m, b, what, error))
    return NULL;
  return g_steal_pointer (&m);
}

/* ---- batch-slice threading ------------------------------------------------------------ */

MtModel *
mt_model_new_replica (MtModel *m)
{
  /* Replicas share host tensors: slices run on host backends only (mt_slices_new). */
  g_return_val_if_fail (m->be == mt_backend_cpu (), NULL);
  MtModel *r = model_new (m->arch, m->num_classes, m->in_c, m->in_h, m->in_w, m, NULL);
  mt_model_copy_normalization (r, m);
  r->replica = TRUE;
  for (int i = 0; i < r->n_layers; i++) {
    /* The same layers made as m makes them (mt_model_keep_output). */
    r->layers[i].kept = m->layers[i].kept;
    r->layers[i].fused = m->layers[i].fused;
    r->layers[i].foldable = m->layers[i].foldable;
  }
  return r;
}

void
mt_model_set_share (MtModel *m, MtBnShare *share)
{
  m->share = share;
}

gsize
mt_model_share_width (MtModel *m)
{
  int c = 0;
  for (int i = 0; i < m->n_layers; i++)
    if (m->layers[i].spec.kind == MT_LAYER_BATCHNORM2D || m->layers[i].spec.kind == MT_LAYER_BATCHNORM1D)
      c = MAX (c, m->layers[i].out_c);
  return (gsize) 2 * c;
}

void
mt_model_sum_gradients (MtModel *const *slices, int n, int part, int parts)
{
  MtModel *m = slices[0];
  for (int i = 0; i < m->n_layers; i++) {
    Layer *L = &m->layers[i];
    if (L->spec.kind == MT_LAYER_BATCHNORM2D || L->spec.kind == MT_LAYER_BATCHNORM1D)
      continue;  /* the whole batch's already, in every slice */
    for (int which = 0; which < 2; which++) {
      MtTensor *t = which ? L->bias : L->weight;
      if (!t)
        continue;
      gsize len = (gsize) mt_tensor_numel (t), lo = len * part / parts, hi = len * (part + 1) / parts;
      float *dst = which ? L->gbias : L->gweight;
      for (int s = 1; s < n; s++) {
        const float *src = which ? slices[s]->layers[i].gbias : slices[s]->layers[i].gweight;
        for (gsize k = lo; k < hi; k++)
          dst[k] += src[k];
      }
    }
  }
}

void
mt_model_copy_weights (MtModel *dst, MtModel *src)
{
  g_return_if_fail (dst->arch == src->arch && dst->num_classes == src->num_classes && dst->in_h == src->in_h &&
                    dst->in_w == src->in_w);
  sync_params (src, TRUE);
  for (int i = 0; i < dst->n_layers; i++) {
    Layer *a = &dst->layers[i], *b = &src->layers[i];
    MtTensor *pairs[][2] = { { a->weight, b->weight }, { a->bias, b->bias }, { a->running_mean, b->running_mean },
                             { a->running_var, b->running_var }, { a->num_batches, b->num_batches } };
    for (guint k = 0; k < G_N_ELEMENTS (pairs); k++)
      if (pairs[k][0])
        memcpy (pairs[k][0]->data, pairs[k][1]->data, pairs[k][0]->nbytes);
  }
  sync_params (dst, FALSE);
}

guint
mt_model_copy_matching (MtModel *dst, MtModel *src)
{
  guint left = 0;
  g_autoptr (MtBundle) b = mt_model_to_bundle (src);
  for (int i = 0; i < dst->n_layers; i++) {
    Layer *L = &dst->layers[i];
    const struct { const char *what; MtTensor *t; } parts[] = {
      { "weight", L->weight }, { "bias", L->bias }, { "running_mean", L->running_mean },
      { "running_var", L->running_var }, { "num_batches_tracked", L->num_batches },
    };
    for (guint k = 0; k < G_N_ELEMENTS (parts); k++) {
      if (!parts[k].t)
        continue;
      g_autofree char *name = g_strdup_printf ("%s.%s", L->spec.name, parts[k].what);
      MtTensor *t = mt_bundle_get (b, name);
      if (t && t->dtype == parts[k].t->dtype && t->nbytes == parts[k].t->nbytes && t->ndim == parts[k].t->ndim &&
          memcmp (t->shape, parts[k].t->shape, sizeof (gint64) * t->ndim) == 0)
        memcpy (parts[k].t->data, t->data, t->nbytes);
      else
        left++;
    }
  }
  sync_params (dst, FALSE);
  return left;
}
