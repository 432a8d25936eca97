#include "ml/cuda/mt-cuda-kernels.h"

#include <string.h>

/* The PTX type NVRTC gives a parameter of each C type (pointers are 64-bit addresses). */
#define PTX_TYPE(x) _Generic ((x), gint64: "u64", int: "u32", float: "f32", double: "f64", guint8: "u8", \
                              default: "u64")
#define ADDR(x) ((void *) &(x))

/* F applied to each of up to 16 arguments, comma-separated. */
#define NARGS(...) NARGS_ (__VA_ARGS__, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define NARGS_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, n, ...) n
#define CAT(a, b) CAT_ (a, b)
#define CAT_(a, b) a##b
#define EACH(F, ...) CAT (EACH_, NARGS (__VA_ARGS__)) (F, __VA_ARGS__)
#define EACH_1(F, x) F (x)
#define EACH_2(F, x, ...) F (x), EACH_1 (F, __VA_ARGS__)
#define EACH_3(F, x, ...) F (x), EACH_2 (F, __VA_ARGS__)
#define EACH_4(F, x, ...) F (x), EACH_3 (F, __VA_ARGS__)
#define EACH_5(F, x, ...) F (x), EACH_4 (F, __VA_ARGS__)
#define EACH_6(F, x, ...) F (x), EACH_5 (F, __VA_ARGS__)
#define EACH_7(F, x, ...) F (x), EACH_6 (F, __VA_ARGS__)
#define EACH_8(F, x, ...) F (x), EACH_7 (F, __VA_ARGS__)
#define EACH_9(F, x, ...) F (x), EACH_8 (F, __VA_ARGS__)
#define EACH_10(F, x, ...) F (x), EACH_9 (F, __VA_ARGS__)
#define EACH_11(F, x, ...) F (x), EACH_10 (F, __VA_ARGS__)
#define EACH_12(F, x, ...) F (x), EACH_11 (F, __VA_ARGS__)
#define EACH_13(F, x, ...) F (x), EACH_12 (F, __VA_ARGS__)
#define EACH_14(F, x, ...) F (x), EACH_13 (F, __VA_ARGS__)
#define EACH_15(F, x, ...) F (x), EACH_14 (F, __VA_ARGS__)
#define EACH_16(F, x, ...) F (x), EACH_15 (F, __VA_ARGS__)

/* The launcher's body: its parameters, by address and by PTX type, to launch(). */
#define LAUNCH(l, name, error, ...) G_STMT_START { \
    void *args_[] = { EACH (ADDR, __VA_ARGS__) }; \
    const char *types_[] = { EACH (PTX_TYPE, __VA_ARGS__) }; \
    return launch (l, name, args_, types_, G_N_ELEMENTS (types_), error); \
  } G_STMT_END

void
mt_cuda_grid_size (gsize n, guint *blocks, guint *threads)
{
  *threads = 256;
  *blocks = (guint) CLAMP ((n + 255) / 256, 1, (gsize) 65535 * 8);
}

static gboolean
launch (MtCudaLaunch *l, const char *name, void **args, const char *const *types, guint n, GError **error)
{
  if (!l->kernels && l->host)
    return l->host (name, l->n, l->blocks, l->threads, args, types, n, error);
  if (!l->kernels) {
    g_free (l->signature);
    GString *s = g_string_new (NULL);
    for (guint i = 0; i < n; i++)
      g_string_append_printf (s, "%s%s", i ? " " : "", types[i]);
    l->signature = g_string_free (s, FALSE);
    return TRUE;
  }
  return mt_cuda_launch (l->kernels, name, l->n, l->blocks, l->threads, args, l->stream, error);
}

gboolean
mt_cuda_run_gather_batch (MtCudaLaunch *l, const guint8 *images, const gint64 *labels, const gint64 *idx, float *x,
                          gint64 *y, int n, int c, gint64 hw, int plain, float mean0, float mean1, float mean2,
                          float inv0, float inv1, float inv2, GError **error)
{
  LAUNCH (l, "mt_gather_batch", error, images, labels, idx, x, y, n, c, hw, plain, mean0, mean1, mean2, inv0, inv1,
          inv2);
}

gboolean
mt_cuda_run_u8_to_f32 (MtCudaLaunch *l, const guint8 *x, float *y, gint64 n, GError **error)
{
  LAUNCH (l, "mt_u8_to_f32", error, x, y, n);
}

gboolean
mt_cuda_run_relu_forward (MtCudaLaunch *l, const float *x, float *y, gint64 n, GError **error)
{
  LAUNCH (l, "mt_relu_forward", error, x, y, n);
}

gboolean
mt_cuda_run_relu_backward (MtCudaLaunch *l, const float *y, const float *dy, float *dx, gint64 n, GError **error)
{
  LAUNCH (l, "mt_relu_backward", error, y, dy, dx, n);
}

gboolean
mt_cuda_run_maxpool2_forward (MtCudaLaunch *l, const float *x, float *y, int *argmax, int planes, int h, int w,
                              GError **error)
{
  LAUNCH (l, "mt_maxpool2_forward", error, x, y, argmax, planes, h, w);
}

gboolean
mt_cuda_run_maxpool2_backward (MtCudaLaunch *l, const int *argmax, const float *dy, float *dx, int planes, int h,
                               int w, GError **error)
{
  LAUNCH (l, "mt_maxpool2_backward", error, argmax, dy, dx, planes, h, w);
}

gboolean
mt_cuda_run_cross_entropy (MtCudaLaunch *l, const float *logits, const gint64 *labels, float *dlogits, double *loss,
                           int *correct, int n, int classes, GError **error)
{
  LAUNCH (l, "mt_cross_entropy", error, logits, labels, dlogits, loss, correct, n, classes);
}

gboolean
mt_cuda_run_loss_total (MtCudaLaunch *l, const double *loss, const int *correct, int n, double *mean, gint64 *right,
                        GError **error)
{
  LAUNCH (l, "mt_loss_total", error, loss, correct, n, mean, right);
}

gboolean
mt_cuda_run_sgd_step (MtCudaLaunch *l, float *p, const float *grad, float *buf, gint64 n, float lr, float momentum,
                      float wd, int first, int nesterov, GError **error)
{
  LAUNCH (l, "mt_sgd_step", error, p, grad, buf, n, lr, momentum, wd, first, nesterov);
}

gboolean
mt_cuda_run_adam_step (MtCudaLaunch *l, float *p, const float *grad, float *m, float *v, gint64 n, float step_size,
                       float bc2_sqrt, float w1, float b2, float w2, float wd, float eps, int decay, GError **error)
{
  LAUNCH (l, "mt_adam_step", error, p, grad, m, v, n, step_size, bc2_sqrt, w1, b2, w2, wd, eps, decay);
}

gboolean
mt_cuda_run_cam_seed (MtCudaLaunch *l, const float *logits, const gint64 *labels, float *dlogits, int n, int classes,
                      GError **error)
{
  LAUNCH (l, "mt_cam_seed", error, logits, labels, dlogits, n, classes);
}

gboolean
mt_cuda_run_cam_weights (MtCudaLaunch *l, const float *a, const float *g, float *weights, gint64 nc, int hw,
                         int method, GError **error)
{
  LAUNCH (l, "mt_cam_weights", error, a, g, weights, nc, hw, method);
}

gboolean
mt_cuda_run_cam_combine (MtCudaLaunch *l, const float *a, const float *g, const float *weights, float *cam, int n,
                         int c, int hw, int method, GError **error)
{
  LAUNCH (l, "mt_cam_combine", error, a, g, weights, cam, n, c, hw, method);
}

gboolean
mt_cuda_run_cam_scale (MtCudaLaunch *l, float *cam, int hw, GError **error)
{
  LAUNCH (l, "mt_cam_scale", error, cam, hw);
}

gboolean
mt_cuda_run_resize_bilinear (MtCudaLaunch *l, const float *in, int ih, int iw, float *out, int oh, int ow, int maps,
                             GError **error)
{
  LAUNCH (l, "mt_resize_bilinear", error, in, ih, iw, out, oh, ow, maps);
}

gboolean
mt_cuda_run_mask_cut (MtCudaLaunch *l, const float *heat, guint8 *keep, gint64 n, int len, int method, double param,
                      GError **error)
{
  LAUNCH (l, "mt_mask_cut", error, heat, keep, n, len, method, param);
}

gboolean
mt_cuda_run_mask_top_k (MtCudaLaunch *l, const float *heat, guint8 *keep, int len, int m, GError **error)
{
  LAUNCH (l, "mt_mask_top_k", error, heat, keep, len, m);
}

gboolean
mt_cuda_run_apply_mask (MtCudaLaunch *l, guint8 *images, const guint8 *keep, int n, int c, int hw, GError **error)
{
  LAUNCH (l, "mt_apply_mask", error, images, keep, n, c, hw);
}

gboolean
mt_cuda_run_plant_square (MtCudaLaunch *l, guint8 *images, const guint8 *patched, int n, int h, int w, int y0, int x0,
                          int size, guint8 r, guint8 g, guint8 b, GError **error)
{
  LAUNCH (l, "mt_plant_square", error, images, patched, n, h, w, y0, x0, size, r, g, b);
}

gboolean
mt_cuda_run_bn_forward_train (MtCudaLaunch *l, const float *x, const float *gamma, const float *beta, float *y,
                              float *save_mean, float *save_invstd, float *running_mean, float *running_var, int n,
                              int c, int hw, double eps, double momentum, int relu, GError **error)
{
  LAUNCH (l, "mt_bn_forward_train", error, x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, n, c,
          hw, eps, momentum, relu);
}

gboolean
mt_cuda_run_bn_forward_eval (MtCudaLaunch *l, const float *x, const float *gamma, const float *beta, float *y,
                             const float *running_mean, const float *running_var, int n, int c, int hw, double eps,
                             int relu, GError **error)
{
  LAUNCH (l, "mt_bn_forward_eval", error, x, gamma, beta, y, running_mean, running_var, n, c, hw, eps, relu);
}

gboolean
mt_cuda_run_fold_batchnorm (MtCudaLaunch *l, const float *weight, const float *bias, const float *gamma,
                            const float *beta, const float *running_mean, const float *running_var, float *fold_w,
                            float *fold_b, int oc, gint64 per, double eps, GError **error)
{
  LAUNCH (l, "mt_fold_batchnorm", error, weight, bias, gamma, beta, running_mean, running_var, fold_w, fold_b, oc, per,
          eps);
}

gboolean
mt_cuda_run_bn_backward_train (MtCudaLaunch *l, const float *x, const float *y, const float *dy, const float *gamma,
                               const float *save_mean, const float *save_invstd, float *dx, float *dgamma,
                               float *dbeta, int n, int c, int hw, GError **error)
{
  LAUNCH (l, "mt_bn_backward_train", error, x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, n, c, hw);
}

gboolean
mt_cuda_run_bn_backward_eval (MtCudaLaunch *l, const float *y, const float *dy, const float *gamma,
                              const float *running_var, float *dx, int n, int c, int hw, double eps, GError **error)
{
  LAUNCH (l, "mt_bn_backward_eval", error, y, dy, gamma, running_var, dx, n, c, hw, eps);
}

gboolean
mt_cuda_run_maxpool_forward (MtCudaLaunch *l, const float *x, float *y, int *argmax, int planes, int h, int w, int k,
                             int stride, int pad, int oh, int ow, GError **error)
{
  LAUNCH (l, "mt_maxpool_forward", error, x, y, argmax, planes, h, w, k, stride, pad, oh, ow);
}

gboolean
mt_cuda_run_maxpool_backward (MtCudaLaunch *l, const int *argmax, const float *dy, float *dx, int planes, int h,
                              int w, int k, int stride, int pad, int oh, int ow, GError **error)
{
  LAUNCH (l, "mt_maxpool_backward", error, argmax, dy, dx, planes, h, w, k, stride, pad, oh, ow);
}

gboolean
mt_cuda_run_add (MtCudaLaunch *l, const float *a, const float *b, float *y, gint64 n, GError **error)
{
  LAUNCH (l, "mt_add", error, a, b, y, n);
}

gboolean
mt_cuda_run_avgpool_forward (MtCudaLaunch *l, const float *x, float *y, gint64 planes, int hw, GError **error)
{
  LAUNCH (l, "mt_avgpool_forward", error, x, y, planes, hw);
}

gboolean
mt_cuda_run_avgpool_backward (MtCudaLaunch *l, const float *dy, float *dx, gint64 planes, int hw, GError **error)
{
  LAUNCH (l, "mt_avgpool_backward", error, dy, dx, planes, hw);
}

gboolean
mt_cuda_run_shortcut_forward (MtCudaLaunch *l, const float *x, float *y, int n, int c, int h, int w, int out_c,
                              int stride, GError **error)
{
  LAUNCH (l, "mt_shortcut_forward", error, x, y, n, c, h, w, out_c, stride);
}

gboolean
mt_cuda_run_shortcut_backward (MtCudaLaunch *l, const float *dy, float *dx, int n, int c, int h, int w, int out_c,
                               int stride, GError **error)
{
  LAUNCH (l, "mt_shortcut_backward", error, dy, dx, n, c, h, w, out_c, stride);
}
