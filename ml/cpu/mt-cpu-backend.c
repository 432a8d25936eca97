/* The CPU backend's table: host memory, and the float32 ops of mt-ops.h. Activations whose
 * channels fill blocks of 8 are kept in oneDNN's nChw8c (mt-layout.h): convolutions that
 * touch one run on oneDNN (mt-dnnl-conv.c), batch norm and pooling on them run the
 * blocked ops; the rest (and tensors of other channel counts) the plain ones. */
#include "config.h"
#include "ml/cpu/mt-cpu.h"
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-layout.h"
#include "ml/cpu/mt-dnnl.h"
#include "ml/cpu/mt-isa.h"
#include "ml/mt-slices.h"

#include <dnnl.h>

#include <stdlib.h>
#include <string.h>

static void *
cpu_alloc (MtBackend *be, gsize bytes)
{
  gsize rounded = MAX ((bytes + 63) & ~(gsize) 63, 64);
  void *p = aligned_alloc (64, rounded);
  if (!p)
    g_error ("out of memory (%" G_GSIZE_FORMAT " bytes)", bytes);
  memset (p, 0, rounded);
  return p;
}

static void
cpu_free (MtBackend *be, void *p)
{
  free (p);
}

static void
cpu_copy (MtBackend *be, void *dst, const void *src, gsize bytes)
{
  memcpy (dst, src, bytes);
}

static void
cpu_zero (MtBackend *be, void *p, gsize bytes)
{
  memset (p, 0, bytes);
}

static gboolean
cpu_sync (MtBackend *be, GError **error)
{
  return TRUE;
}

static void
cpu_destroy (MtBackend *be)
{
  g_free (be);
}

/* oneDNN where either side is blocked; our im2col + SGEMM between two NCHW tensors. */
static gboolean
conv_on_dnnl (const MtConvSpec *s)
{
  return mt_layout_blocked (s->in_c) || mt_layout_blocked (s->out_c);
}

/* A 2-D activation's planes are more than one pixel: only then do the layouts differ. */
static gboolean
blocked (int c, gsize hw)
{
  return hw > 1 && mt_layout_blocked (c);
}

static gsize
cpu_conv2d_workspace (MtBackend *be, const MtConvSpec *s, int n, int h, int w)
{
  return conv_on_dnnl (s) ? mt_dnnl_conv2d_workspace (s, n, h, w) : mt_cpu_conv2d_workspace (s, n, h, w);
}

static void
cpu_conv2d_forward (MtBackend *be, const MtConvSpec *s, const float *x, int n, int h, int w,
                    const float *weight, const float *bias, float *y, float *work)
{
  if (conv_on_dnnl (s))
    mt_dnnl_conv2d_forward (s, x, n, h, w, weight, bias, FALSE, y, work);
  else
    mt_cpu_conv2d_forward (s, x, n, h, w, weight, bias, y, work);
}

static void
cpu_conv2d_forward_relu (MtBackend *be, const MtConvSpec *s, const float *x, int n, int h, int w,
                         const float *weight, const float *bias, float *y, float *work)
{
  gboolean fused = FALSE;
  if (conv_on_dnnl (s))
    fused = mt_dnnl_conv2d_forward (s, x, n, h, w, weight, bias, TRUE, y, work);
  else
    mt_cpu_conv2d_forward (s, x, n, h, w, weight, bias, y, work);
  if (!fused)  /* the ReLU apart, in place */
    mt_cpu_relu_forward (y, (gsize) n * s->out_c * mt_conv_out (h, s->k, s->stride, s->pad) *
                              mt_conv_out (w, s->k, s->stride, s->pad), y);
}

static void
cpu_conv2d_backward (MtBackend *be, const MtConvSpec *s, const float *x, int n, int h, int w,
                     const float *weight, const float *dy, float *dx, float *dweight, float *dbias, float *work)
{
  if (conv_on_dnnl (s))
    mt_dnnl_conv2d_backward (s, x, n, h, w, weight, dy, dx, dweight, dbias, work);
  else
    mt_cpu_conv2d_backward (s, x, n, h, w, weight, dy, dx, dweight, dbias, work);
}

/* Batch norm in training mode, the ReLU after it fused when @relu (forward) or @y is its
 * output (backward): one pass on blocked activations; elsewhere the two plain ops (the
 * ReLU's gradient through a scratch copy). @share: one slice of a batch, or NULL. */
static void
bn_forward_train (const MtBnSpec *s, MtBnShare *share, gboolean relu, const float *x, int n, int c, int hw,
                  const float *gamma, const float *beta, float *y, float *save_mean, float *save_invstd,
                  float *running_mean, float *running_var)
{
  if (blocked (c, hw)) {
    mt_cpu_batchnorm_blocked_forward_train (s, share, x, n, c, hw, gamma, beta, relu, y, save_mean, save_invstd,
                                            running_mean, running_var);
    return;
  }
  mt_cpu_batchnorm_forward_train (s, share, x, n, c, hw, gamma, beta, y, save_mean, save_invstd, running_mean,
                                  running_var);
  if (relu)
    mt_cpu_relu_forward (y, (gsize) n * c * hw, y);
}

static void
bn_backward_train (MtBnShare *share, const float *x, int n, int c, int hw, const float *gamma,
                   const float *save_mean, const float *save_invstd, const float *y, const float *dy, float *dx,
                   float *dgamma, float *dbeta)
{
  if (blocked (c, hw)) {
    mt_cpu_batchnorm_blocked_backward_train (share, x, n, c, hw, gamma, save_mean, save_invstd, y, dy, dx, dgamma,
                                             dbeta);
    return;
  }
  g_autofree float *g = NULL;
  if (y) {
    gsize len = (gsize) n * c * hw;
    g = g_new (float, len);
    mt_cpu_relu_backward (y, dy, len, g);
  }
  mt_cpu_batchnorm_backward_train (share, x, n, c, hw, gamma, save_mean, save_invstd, y ? g : dy, dx, dgamma, dbeta);
}

static void
cpu_bn_forward_train (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw,
                      const float *gamma, const float *beta, float *y, float *save_mean, float *save_invstd,
                      float *running_mean, float *running_var)
{
  bn_forward_train (s, NULL, FALSE, x, n, c, hw, gamma, beta, y, save_mean, save_invstd, running_mean, running_var);
}

static void
cpu_bn_forward_eval (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw,
                     const float *gamma, const float *beta, float *y, const float *running_mean,
                     const float *running_var)
{
  if (blocked (c, hw))
    mt_cpu_batchnorm_blocked_forward_eval (s, x, n, c, hw, gamma, beta, FALSE, y, running_mean, running_var);
  else
    mt_cpu_batchnorm_forward_eval (s, x, n, c, hw, gamma, beta, y, running_mean, running_var);
}

static void
cpu_bn_backward_train (MtBackend *be, const float *x, int n, int c, int hw, const float *gamma,
                       const float *save_mean, const float *save_invstd, const float *dy, float *dx,
                       float *dgamma, float *dbeta)
{
  bn_backward_train (NULL, x, n, c, hw, gamma, save_mean, save_invstd, NULL, dy, dx, dgamma, dbeta);
}

static void
cpu_bn_backward_eval (MtBackend *be, const MtBnSpec *s, int n, int c, int hw, const float *gamma,
                      const float *running_var, const float *dy, float *dx)
{
  if (blocked (c, hw))
    mt_cpu_batchnorm_blocked_backward_eval (s, n, c, hw, gamma, running_var, NULL, dy, dx);
  else
    mt_cpu_batchnorm_backward_eval (s, n, c, hw, gamma, running_var, dy, dx);
}

static void
cpu_relu_forward (MtBackend *be, const float *x, gsize len, float *y)
{
  mt_cpu_relu_forward (x, len, y);
}

static void
cpu_relu_backward (MtBackend *be, const float *y, const float *dy, gsize len, float *dx)
{
  mt_cpu_relu_backward (y, dy, len, dx);
}

static void
cpu_maxpool2_forward (MtBackend *be, const float *x, int n, int c, int h, int w, float *y, gint32 *argmax)
{
  if (blocked (c, (gsize) h * w))
    mt_cpu_maxpool2_blocked_forward (x, n, c, h, w, y, argmax);
  else
    mt_cpu_maxpool2_forward (x, n, c, h, w, y, argmax);
}

static void
cpu_maxpool2_backward (MtBackend *be, const gint32 *argmax, int n, int c, int h, int w, const float *dy, float *dx)
{
  if (blocked (c, (gsize) h * w))
    mt_cpu_maxpool2_blocked_backward (argmax, n, c, h, w, dy, dx);
  else
    mt_cpu_maxpool2_backward (argmax, n, c, h, w, dy, dx);
}

static void
cpu_linear_forward (MtBackend *be, const float *x, int n, int in, int out, const float *weight,
                    const float *bias, float *y)
{
  mt_cpu_linear_forward (x, n, in, out, weight, bias, y);
}

static void
cpu_linear_backward (MtBackend *be, const float *x, int n, int in, int out, const float *weight,
                     const float *dy, float *dx, float *dweight, float *dbias)
{
  mt_cpu_linear_backward (x, n, in, out, weight, dy, dx, dweight, dbias);
}

static void
cpu_cross_entropy (MtBackend *be, const float *logits, const gint64 *labels, int n, int classes,
                   float *dlogits, double *loss, gint64 *correct)
{
  int right = 0;
  *loss = mt_cpu_cross_entropy (logits, labels, n, classes, dlogits, &right);
  if (correct)
    *correct = right;
}

static void
cpu_sgd_step (MtBackend *be, const MtSgdSpec *s, float *param, const float *grad, float *momentum_buf, gsize len,
              gboolean first_step)
{
  mt_cpu_sgd_step (s, param, grad, momentum_buf, len, first_step);
}

static void
cpu_adam_step (MtBackend *be, const MtAdamSpec *s, float *param, const float *grad, float *exp_avg,
               float *exp_avg_sq, gsize len)
{
  mt_cpu_adam_step (s, param, grad, exp_avg, exp_avg_sq, len);
}

static void
cpu_maxpool_forward (MtBackend *be, const MtPoolSpec *s, const float *x, int n, int c, int h, int w, float *y,
                     gint32 *argmax)
{
  if (blocked (c, (gsize) h * w))
    mt_cpu_maxpool_blocked_forward (s, x, n, c, h, w, y, argmax);
  else
    mt_cpu_maxpool_forward (s, x, n, c, h, w, y, argmax);
}

static void
cpu_maxpool_backward (MtBackend *be, const MtPoolSpec *s, const gint32 *argmax, int n, int c, int h, int w,
                      const float *dy, float *dx)
{
  if (blocked (c, (gsize) h * w))
    mt_cpu_maxpool_blocked_backward (s, argmax, n, c, h, w, dy, dx);
  else
    mt_cpu_maxpool_backward (s, argmax, n, c, h, w, dy, dx);
}

static void
cpu_avgpool_forward (MtBackend *be, const float *x, int n, int c, int hw, float *y)
{
  if (blocked (c, hw))
    mt_cpu_avgpool_blocked_forward (x, n, c, hw, y);
  else
    mt_cpu_avgpool_forward (x, n, c, hw, y);
}

static void
cpu_avgpool_backward (MtBackend *be, const float *dy, int n, int c, int hw, float *dx)
{
  if (blocked (c, hw))
    mt_cpu_avgpool_blocked_backward (dy, n, c, hw, dx);
  else
    mt_cpu_avgpool_backward (dy, n, c, hw, dx);
}

static void
cpu_add (MtBackend *be, const float *a, const float *b, gsize len, float *y)
{
  mt_cpu_add (a, b, len, y);
}

static void
cpu_shortcut_forward (MtBackend *be, const float *x, int n, int c, int h, int w, int out_c, int stride, float *y)
{
  if (blocked (c, (gsize) h * w) || blocked (out_c, (gsize) mt_shortcut_out (h, stride) * mt_shortcut_out (w, stride)))
    mt_cpu_shortcut_layout_forward (x, n, c, h, w, out_c, stride, y);
  else
    mt_cpu_shortcut_forward (x, n, c, h, w, out_c, stride, y);
}

static void
cpu_shortcut_backward (MtBackend *be, const float *dy, int n, int c, int h, int w, int out_c, int stride, float *dx)
{
  if (blocked (c, (gsize) h * w) || blocked (out_c, (gsize) mt_shortcut_out (h, stride) * mt_shortcut_out (w, stride)))
    mt_cpu_shortcut_layout_backward (dy, n, c, h, w, out_c, stride, dx);
  else
    mt_cpu_shortcut_backward (dy, n, c, h, w, out_c, stride, dx);
}

/* Fused batch norm and ReLU: one pass on blocked activations; elsewhere the two plain
 * ops. */
static void
cpu_bn_relu_forward_train (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw,
                           const float *gamma, const float *beta, float *y, float *save_mean, float *save_invstd,
                           float *running_mean, float *running_var)
{
  bn_forward_train (s, NULL, TRUE, x, n, c, hw, gamma, beta, y, save_mean, save_invstd, running_mean, running_var);
}

static void
cpu_bn_relu_forward_eval (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw,
                          const float *gamma, const float *beta, float *y, const float *running_mean,
                          const float *running_var)
{
  if (blocked (c, hw)) {
    mt_cpu_batchnorm_blocked_forward_eval (s, x, n, c, hw, gamma, beta, TRUE, y, running_mean, running_var);
    return;
  }
  mt_cpu_batchnorm_forward_eval (s, x, n, c, hw, gamma, beta, y, running_mean, running_var);
  mt_cpu_relu_forward (y, (gsize) n * c * hw, y);
}

static void
cpu_bn_relu_backward_train (MtBackend *be, const float *x, int n, int c, int hw, const float *gamma,
                            const float *save_mean, const float *save_invstd, const float *y, const float *dy,
                            float *dx, float *dgamma, float *dbeta)
{
  bn_backward_train (NULL, x, n, c, hw, gamma, save_mean, save_invstd, y, dy, dx, dgamma, dbeta);
}

/* ---- batch-slice threading ---- */

static int
cpu_threads (MtBackend *be)
{
  return mt_cpu_threads ();
}

static void
cpu_run_alone (MtBackend *be, gboolean alone)
{
  mt_cpu_set_thread_alone (alone);
}

static void
cpu_bn_forward_train_sliced (MtBackend *be, const MtBnSpec *s, MtBnShare *share, gboolean relu, const float *x,
                             int n, int c, int hw, const float *gamma, const float *beta, float *y, float *save_mean,
                             float *save_invstd, float *running_mean, float *running_var)
{
  bn_forward_train (s, share, relu, x, n, c, hw, gamma, beta, y, save_mean, save_invstd, running_mean, running_var);
}

static void
cpu_bn_backward_train_sliced (MtBackend *be, MtBnShare *share, const float *x, int n, int c, int hw,
                              const float *gamma, const float *save_mean, const float *save_invstd, const float *y,
                              const float *dy, float *dx, float *dgamma, float *dbeta)
{
  bn_backward_train (share, x, n, c, hw, gamma, save_mean, save_invstd, y, dy, dx, dgamma, dbeta);
}

static void
cpu_bn_relu_backward_eval (MtBackend *be, const MtBnSpec *s, int n, int c, int hw, const float *gamma,
                           const float *running_var, const float *y, const float *dy, float *dx)
{
  if (blocked (c, hw)) {
    mt_cpu_batchnorm_blocked_backward_eval (s, n, c, hw, gamma, running_var, y, dy, dx);
    return;
  }
  gsize len = (gsize) n * c * hw;
  g_autofree float *g = g_new (float, len);
  mt_cpu_relu_backward (y, dy, len, g);
  mt_cpu_batchnorm_backward_eval (s, n, c, hw, gamma, running_var, g, dx);
}

static gboolean
cpu_layout_is_nchw (MtBackend *be, int c, int h, int w)
{
  return !blocked (c, (gsize) h * w);
}

static void
cpu_layout_from_nchw (MtBackend *be, const float *x, int n, int c, int h, int w, float *y)
{
  mt_layout_from_nchw (x, n, c, h * w, y);
}

static void
cpu_layout_to_nchw (MtBackend *be, const float *x, int n, int c, int h, int w, float *y)
{
  mt_layout_to_nchw (x, n, c, h * w, y);
}

static void
cpu_fold_batchnorm (MtBackend *be, const MtBnSpec *s, int oc, gsize per, const float *weight, const float *bias,
                    const float *gamma, const float *beta, const float *running_mean, const float *running_var,
                    float *fold_w, float *fold_b)
{
  mt_cpu_fold_batchnorm (s, oc, per, weight, bias, gamma, beta, running_mean, running_var, fold_w, fold_b);
}

static void
cpu_gather_batch (MtBackend *be, const MtInputSpec *s, const guint8 *images, const gint64 *labels, const gint64 *idx,
                  int n, float *x, gint64 *y)
{
  mt_cpu_gather_batch (s, images, labels, idx, n, x, y);
}

static void
cpu_cam_seed (MtBackend *be, const float *logits, const gint64 *labels, int n, int classes, float *dlogits)
{
  mt_cpu_cam_seed (logits, labels, n, classes, dlogits);
}

static void
cpu_cam_maps (MtBackend *be, MtCamMethod method, const float *a, const float *g, int n, int c, int h, int w, int oh,
              int ow, float *work, float *maps)
{
  mt_cam_maps (method, a, g, n, c, h, w, oh, ow, work, maps);
}

static void
cpu_mask_maps (MtBackend *be, const MtMaskRule *rule, const float *heat, int n, int len, guint8 *keep)
{
  mt_cpu_mask_maps (rule, heat, n, len, keep);
}

static const MtBackendOps cpu_ops = {
  .alloc = cpu_alloc,
  .free = cpu_free,
  .upload = cpu_copy,
  .download = cpu_copy,
  .copy = cpu_copy,
  .zero = cpu_zero,
  .sync = cpu_sync,
  .destroy = cpu_destroy,
  .conv2d_workspace = cpu_conv2d_workspace,
  .conv2d_forward = cpu_conv2d_forward,
  .conv2d_backward = cpu_conv2d_backward,
  .batchnorm_forward_train = cpu_bn_forward_train,
  .batchnorm_forward_eval = cpu_bn_forward_eval,
  .batchnorm_backward_train = cpu_bn_backward_train,
  .batchnorm_backward_eval = cpu_bn_backward_eval,
  .relu_forward = cpu_relu_forward,
  .relu_backward = cpu_relu_backward,
  .maxpool2_forward = cpu_maxpool2_forward,
  .maxpool2_backward = cpu_maxpool2_backward,
  .linear_forward = cpu_linear_forward,
  .linear_backward = cpu_linear_backward,
  .cross_entropy = cpu_cross_entropy,
  .gather_batch = cpu_gather_batch,
  .cam_seed = cpu_cam_seed,
  .cam_maps = cpu_cam_maps,
  .mask_maps = cpu_mask_maps,
  .sgd_step = cpu_sgd_step,
  .adam_step = cpu_adam_step,
  .maxpool_forward = cpu_maxpool_forward,
  .maxpool_backward = cpu_maxpool_backward,
  .avgpool_forward = cpu_avgpool_forward,
  .avgpool_backward = cpu_avgpool_backward,
  .add = cpu_add,
  .shortcut_forward = cpu_shortcut_forward,
  .shortcut_backward = cpu_shortcut_backward,
  .conv2d_forward_relu = cpu_conv2d_forward_relu,
  .fold_batchnorm = cpu_fold_batchnorm,
  .batchnorm_relu_forward_train = cpu_bn_relu_forward_train,
  .batchnorm_relu_forward_eval = cpu_bn_relu_forward_eval,
  .batchnorm_relu_backward_train = cpu_bn_relu_backward_train,
  .batchnorm_relu_backward_eval = cpu_bn_relu_backward_eval,
  .threads = cpu_threads,
  .run_alone = cpu_run_alone,
  .batchnorm_forward_train_sliced = cpu_bn_forward_train_sliced,
  .batchnorm_backward_train_sliced = cpu_bn_backward_train_sliced,
  .layout_is_nchw = cpu_layout_is_nchw,
  .layout_from_nchw = cpu_layout_from_nchw,
  .layout_to_nchw = cpu_layout_to_nchw,
};

/* The processor's name, as the kernel gives it. */
static char *
cpu_model (void)
{
  g_autofree char *info = NULL;
  if (g_file_get_contents ("/proc/cpuinfo", &info, NULL, NULL)) {
    g_auto (GStrv) lines = g_strsplit (info, "\n", -1);
    for (guint i = 0; lines[i]; i++)
      if (g_str_has_prefix (lines[i], "model name")) {
        const char *colon = strchr (lines[i], ':');
        if (colon)
          return g_strstrip (g_strdup (colon + 1));
      }
  }
  return g_strdup ("unknown");
}

/* oneDNN's name for the instruction set its kernels use here. */
static const char *
dnnl_isa_name (dnnl_cpu_isa_t isa)
{
  static const struct {
    dnnl_cpu_isa_t isa;
    const char *name;
  } names[] = {
    { dnnl_cpu_isa_sse41, "sse41" }, { dnnl_cpu_isa_avx, "avx" }, { dnnl_cpu_isa_avx2, "avx2" },
    { dnnl_cpu_isa_avx2_vnni, "avx2_vnni" }, { dnnl_cpu_isa_avx512_core, "avx512_core" },
    { dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni" }, { dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16" },
    { dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (names[i].isa == isa)
      return names[i].name;
  return "other";
}

GStrv
mt_cpu_backend_environment (void)
{
  const dnnl_version_t *v = dnnl_version ();
  g_autofree char *model = cpu_model ();
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  g_autofree char *device = g_strdup_printf ("device=%s", model);
  g_autofree char *threads = g_strdup_printf ("threads=%d", mt_cpu_threads ());
  /* The thread count sets the batch slices, and so the gradients' sums. */
  g_autofree char *threading = g_strdup_printf ("threading=%s", mt_slices_threading ());
  g_autofree char *isa = g_strdup_printf ("isa=%s (blocked ops), %d-channel blocks", mt_cpu_isa_name (mt_cpu_isa ()),
                                          mt_layout_block ());
  gboolean hash = v->hash && *v->hash && strcmp (v->hash, "N/A") != 0;
  g_autofree char *onednn = g_strdup_printf ("onednn=%d.%d.%d%s%s%s, kernels %s", v->major, v->minor, v->patch,
                                             hash ? " (" : "", hash ? v->hash : "", hash ? ")" : "",
                                             dnnl_isa_name (dnnl_get_effective_cpu_isa ()));
  g_strv_builder_add (b, device);
  g_strv_builder_add (b, threads);
  g_strv_builder_add (b, threading);
  g_strv_builder_add (b, isa);
  g_strv_builder_add (b, onednn);
  return g_strv_builder_end (b);
}

MtBackend *
mt_cpu_backend_new (GError **error)
{
  MtBackend *be = g_new0 (MtBackend, 1);
  be->ops = &cpu_ops;
  be->name = "cpu";
  be->host_memory = TRUE;
  return be;
}
