/* One typed launcher per kernel of ml/cuda/kernels/: its C parameters are the kernel's,
 * so that a call cannot hand an int to a kernel that reads a 64-bit count (the generic
 * mt_cuda_launch takes untyped argument pointers). test-cuda checks every launcher's
 * parameter types against the kernel's .entry in the compiled PTX. */
#pragma once

#include "ml/cuda/mt-cuda.h"

G_BEGIN_DECLS

/* A launcher for the host instead of the GPU (mt_cuda_emu_launch, the tests' emulator):
 * the launch as mt_cuda_launch() takes it, with the arguments' PTX types. */
typedef gboolean (*MtCudaHostLaunch) (const char *name, gsize n, guint blocks, guint threads, void **args,
                                      const char *const *types, guint n_args, GError **error);

typedef struct {
  MtCudaKernels *kernels;  /* NULL: record the parameter types only (the tests), or run on host */
  gpointer stream;         /* NULL: the default stream */
  gsize n;                 /* items a grid-stride kernel covers (with blocks 0) */
  guint blocks, threads;   /* blocks 0: enough 256-thread blocks for n */
  char *signature;         /* recorded: the PTX parameter types, "u64 u64 f32 ..." */
  MtCudaHostLaunch host;   /* with kernels NULL: runs the kernel with this instead */
} MtCudaLaunch;

/* Over @n * @c * @hw input values: gather_batch (the means and 1 / std of channels 0..2). */
gboolean mt_cuda_run_gather_batch     (MtCudaLaunch *l, const guint8 *images, const gint64 *labels, const gint64 *idx,
                                       float *x, gint64 *y, int n, int c, gint64 hw, int plain, float mean0,
                                       float mean1, float mean2, float inv0, float inv1, float inv2, GError **error);
gboolean mt_cuda_run_u8_to_f32        (MtCudaLaunch *l, const guint8 *x, float *y, gint64 n, GError **error);
gboolean mt_cuda_run_relu_forward     (MtCudaLaunch *l, const float *x, float *y, gint64 n, GError **error);
gboolean mt_cuda_run_relu_backward    (MtCudaLaunch *l, const float *y, const float *dy, float *dx, gint64 n,
                                       GError **error);
gboolean mt_cuda_run_maxpool2_forward (MtCudaLaunch *l, const float *x, float *y, int *argmax, int planes, int h,
                                       int w, GError **error);
gboolean mt_cuda_run_maxpool2_backward (MtCudaLaunch *l, const int *argmax, const float *dy, float *dx, int planes,
                                        int h, int w, GError **error);
/* General max-pooling (@k, @stride, @pad; output @oh x @ow); backward writes every dx. */
gboolean mt_cuda_run_maxpool_forward  (MtCudaLaunch *l, const float *x, float *y, int *argmax, int planes, int h,
                                       int w, int k, int stride, int pad, int oh, int ow, GError **error);
gboolean mt_cuda_run_maxpool_backward (MtCudaLaunch *l, const int *argmax, const float *dy, float *dx, int planes,
                                       int h, int w, int k, int stride, int pad, int oh, int ow, GError **error);
/* The residual networks' add, global average pooling and option-A shortcut. */
gboolean mt_cuda_run_add              (MtCudaLaunch *l, const float *a, const float *b, float *y, gint64 n,
                                       GError **error);
gboolean mt_cuda_run_avgpool_forward  (MtCudaLaunch *l, const float *x, float *y, gint64 planes, int hw,
                                       GError **error);
gboolean mt_cuda_run_avgpool_backward (MtCudaLaunch *l, const float *dy, float *dx, gint64 planes, int hw,
                                       GError **error);
gboolean mt_cuda_run_shortcut_forward (MtCudaLaunch *l, const float *x, float *y, int n, int c, int h, int w,
                                       int out_c, int stride, GError **error);
gboolean mt_cuda_run_shortcut_backward (MtCudaLaunch *l, const float *dy, float *dx, int n, int c, int h, int w,
                                        int out_c, int stride, GError **error);
gboolean mt_cuda_run_cross_entropy    (MtCudaLaunch *l, const float *logits, const gint64 *labels, float *dlogits,
                                       double *loss, int *correct, int n, int classes, GError **error);
/* One block of one thread: the per-sample values above added in sample order. */
gboolean mt_cuda_run_loss_total       (MtCudaLaunch *l, const double *loss, const int *correct, int n, double *mean,
                                       gint64 *right, GError **error);
gboolean mt_cuda_run_sgd_step         (MtCudaLaunch *l, float *p, const float *grad, float *buf, gint64 n, float lr,
                                       float momentum, float wd, int first, int nesterov, GError **error);
gboolean mt_cuda_run_adam_step        (MtCudaLaunch *l, float *p, const float *grad, float *m, float *v, gint64 n,
                                       float step_size, float bc2_sqrt, float w1, float b2, float w2, float wd,
                                       float eps, int decay, GError **error);
/* Over @n samples: cam_seed (@labels NULL: the largest logit). */
gboolean mt_cuda_run_cam_seed         (MtCudaLaunch *l, const float *logits, const gint64 *labels, float *dlogits,
                                       int n, int classes, GError **error);
/* Over @nc (sample, channel) pairs: mt_ew_cam_weight by @method (an MtCamMethod). */
gboolean mt_cuda_run_cam_weights      (MtCudaLaunch *l, const float *a, const float *g, float *weights, gint64 nc,
                                       int hw, int method, GError **error);
/* Over @n * @hw pixels: mt_ew_cam_pixel. */
gboolean mt_cuda_run_cam_combine      (MtCudaLaunch *l, const float *a, const float *g, const float *weights,
                                       float *cam, int n, int c, int hw, int method, GError **error);
/* One block per map. */
gboolean mt_cuda_run_cam_scale        (MtCudaLaunch *l, float *cam, int hw, GError **error);
gboolean mt_cuda_run_resize_bilinear  (MtCudaLaunch *l, const float *in, int ih, int iw, float *out, int oh, int ow,
                                       int maps, GError **error);
/* Over @n maps of @len pixels: mt_ew_mask_cut by @method (an MtMaskMethod but top_k). */
gboolean mt_cuda_run_mask_cut         (MtCudaLaunch *l, const float *heat, guint8 *keep, gint64 n, int len, int method,
                                       double param, GError **error);
/* One block per map: the @m hottest of @len pixels masked. */
gboolean mt_cuda_run_mask_top_k       (MtCudaLaunch *l, const float *heat, guint8 *keep, int len, int m,
                                       GError **error);
gboolean mt_cuda_run_apply_mask       (MtCudaLaunch *l, guint8 *images, const guint8 *keep, int n, int c, int hw,
                                       GError **error);
gboolean mt_cuda_run_plant_square     (MtCudaLaunch *l, guint8 *images, const guint8 *patched, int n, int h, int w,
                                       int y0, int x0, int size, guint8 r, guint8 g, guint8 b, GError **error);
/* Batch norm (kernels/mt-batchnorm.cu): the training forward and backward are one block
 * per channel (blocks = c); @relu / @y fuse the ReLU after it; @y NULL: no ReLU. */
gboolean mt_cuda_run_bn_forward_train (MtCudaLaunch *l, const float *x, const float *gamma, const float *beta,
                                       float *y, float *save_mean, float *save_invstd, float *running_mean,
                                       float *running_var, int n, int c, int hw, double eps, double momentum, int relu,
                                       GError **error);
gboolean mt_cuda_run_bn_forward_eval  (MtCudaLaunch *l, const float *x, const float *gamma, const float *beta,
                                       float *y, const float *running_mean, const float *running_var, int n, int c,
                                       int hw, double eps, int relu, GError **error);
/* Over @oc * @per weights; @bias may be NULL. */
gboolean mt_cuda_run_fold_batchnorm   (MtCudaLaunch *l, const float *weight, const float *bias, const float *gamma,
                                       const float *beta, const float *running_mean, const float *running_var,
                                       float *fold_w, float *fold_b, int oc, gint64 per, double eps, GError **error);
gboolean mt_cuda_run_bn_backward_train (MtCudaLaunch *l, const float *x, const float *y, const float *dy,
                                        const float *gamma, const float *save_mean, const float *save_invstd,
                                        float *dx, float *dgamma, float *dbeta, int n, int c, int hw, GError **error);
gboolean mt_cuda_run_bn_backward_eval  (MtCudaLaunch *l, const float *y, const float *dy, const float *gamma,
                                        const float *running_var, float *dx, int n, int c, int hw, double eps,
                                        GError **error);

G_END_DECLS
