/* Plain double-precision references of the backend ops (ml/mt-backend.h): direct loops,
 * no tricks, written from the definitions, each in the
 * file of the CPU op it defines. test-ops checks their gradients against central finite
 * differences; test-backend-ops holds every backend's ops to them. */
#pragma once

#include "ml/cpu/mt-ops.h"

G_BEGIN_DECLS

/* Element (n, c, h, w) of an NCHW array of shape [*, C, H, W]. */
#define X4(a, n, c, h, w, C, H, W) (a)[(((gsize) (n) * (C) + (c)) * (H) + (h)) * (W) + (w)]

void   mt_ref_conv2d_forward  (const MtConvSpec *s, const double *x, int n, int h, int w,
                               const double *weight, const double *bias, double *y);
void   mt_ref_conv2d_backward (const MtConvSpec *s, const double *x, int n, int h, int w,
                               const double *weight, const double *dy, double *dx,
                               double *dweight, double *dbias);
void   mt_ref_batchnorm_forward  (double eps, const double *x, int n, int c, int hw,
                                  const double *gamma, const double *beta, double *y);
void   mt_ref_batchnorm_backward (double eps, const double *x, int n, int c, int hw,
                                  const double *gamma, const double *dy, double *dx,
                                  double *dgamma, double *dbeta);
/* The mean and 1/std the training forward saves. */
void   mt_ref_batchnorm_saved (double eps, const double *x, int n, int c, int hw, double *mean, double *invstd);
/* The running statistics after one training-mode forward (momentum as in MtBnSpec). */
void   mt_ref_batchnorm_update_running (double momentum, const double *x, int n, int c, int hw,
                                        double *running_mean, double *running_var);
void   mt_ref_batchnorm_forward_eval  (double eps, const double *x, int n, int c, int hw,
                                       const double *gamma, const double *beta,
                                       const double *running_mean, const double *running_var, double *y);
void   mt_ref_fold_batchnorm (double eps, int oc, gsize per, const double *weight, const double *bias,
                              const double *gamma, const double *beta, const double *running_mean,
                              const double *running_var, double *fold_w, double *fold_b);
void   mt_ref_batchnorm_backward_eval (double eps, int n, int c, int hw, const double *gamma,
                                       const double *running_var, const double *dy, double *dx);
/* gather_batch's images in double: (pixel / 255 - mean) / std, or pixel / 255. */
void   mt_ref_gather_images (int c, gint64 hw, gboolean plain, const double mean[3], const double std[3],
                             const guint8 *images, const gint64 *idx, int n, double *x);
/* cam_maps in double: weights, combination, ReLU, scaling and resizing (maps [n, oh, ow]). */
void   mt_ref_cam_maps (MtCamMethod method, const double *a, const double *g, int n, int c, int h, int w, int oh,
                        int ow, double *maps);
/* mask_maps from the rules' definitions: top_k by ranks, mean_std's variance as
 * E[x^2] - E[x]^2; @cuts (may be NULL) gets each map's cut (top_k, or none: infinity). */
void   mt_ref_mask_maps (const MtMaskRule *rule, const float *heat, int n, int len, guint8 *keep, double *cuts);
void   mt_ref_relu_forward  (const double *x, gsize len, double *y);
void   mt_ref_relu_backward (const double *x, const double *dy, gsize len, double *dx);
void   mt_ref_maxpool2_forward  (const double *x, int n, int c, int h, int w, double *y);
void   mt_ref_maxpool2_backward (const double *x, int n, int c, int h, int w, const double *dy, double *dx);
void   mt_ref_maxpool_forward  (const MtPoolSpec *s, const double *x, int n, int c, int h, int w, double *y);
void   mt_ref_maxpool_backward (const MtPoolSpec *s, const double *x, int n, int c, int h, int w,
                                const double *dy, double *dx);
void   mt_ref_avgpool_forward  (const double *x, int n, int c, int hw, double *y);
void   mt_ref_avgpool_backward (const double *dy, int n, int c, int hw, double *dx);
void   mt_ref_add              (const double *a, const double *b, gsize len, double *y);
void   mt_ref_shortcut_forward  (const double *x, int n, int c, int h, int w, int out_c, int stride, double *y);
void   mt_ref_shortcut_backward (const double *dy, int n, int c, int h, int w, int out_c, int stride, double *dx);
void   mt_ref_linear_forward  (const double *x, int n, int in, int out, const double *weight,
                               const double *bias, double *y);
void   mt_ref_linear_backward (const double *x, int n, int in, int out, const double *weight,
                               const double *dy, double *dx, double *dweight, double *dbias);
void   mt_ref_sgd_step  (const MtSgdSpec *s, double *param, const double *grad, double *buf, gsize len,
                         gboolean first_step);
void   mt_ref_adam_step (const MtAdamSpec *s, double *param, const double *grad, double *exp_avg,
                         double *exp_avg_sq, gsize len);
double mt_ref_cross_entropy   (const double *logits, const gint64 *labels, int n, int classes,
                               double *dlogits);

G_END_DECLS
