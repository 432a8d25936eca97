/* The CPU backend's float32 operations, each forward beside its backward, with the
 * semantics and shapes of ml/mt-backend.h (the table that exposes them is
 * ml/cpu/mt-cpu-backend.c; nothing else calls them). A plain double-precision reference
 * of each lives beside it in the same file (declared in mt-ref-ops.h); the tests hold the
 * two together and check the references against finite differences. */
#pragma once

#include "ml/mt-backend.h"

G_BEGIN_DECLS

/* ---- 2-D convolution: y[n, oc] = b[oc] + sum_c,kh,kw w[oc, c, kh, kw] * x[n, c, ...] */
/* Scratch floats the convolution needs for a batch of @n (im2col columns, per thread). */
gsize mt_cpu_conv2d_workspace (const MtConvSpec *s, int n, int h, int w);
void  mt_cpu_conv2d_forward   (const MtConvSpec *s, const float *x, int n, int h, int w,
                           const float *weight, const float *bias, float *y, float *work);
/* dx may be NULL (the first layer needs none); dweight and dbias are overwritten; bias and
 * dbias may be NULL (a convolution without bias, as in the ResNets). */
void  mt_cpu_conv2d_backward  (const MtConvSpec *s, const float *x, int n, int h, int w,
                           const float *weight, const float *dy, float *dx,
                           float *dweight, float *dbias, float *work);

/* ---- batch normalisation over (N, H, W) per channel; 1-D is the case h = w = 1 */
/* Training: normalise with the batch's mean and biased variance, save mean and 1/std
 * for backward, and update the running statistics (running variance unbiased). With
 * @share (NULL: the batch is whole), the @n images are one slice of a batch
 * (mt-backend.h: MtBnShare) and the statistics are the whole batch's. */
void mt_cpu_batchnorm_forward_train (const MtBnSpec *s, MtBnShare *share, const float *x, int n, int c, int hw,
                                 const float *gamma, const float *beta, float *y,
                                 float *save_mean, float *save_invstd,
                                 float *running_mean, float *running_var);
/* The statistics from the per-image sums ([total, c] tables, rows added in image order),
 * shared by the plain and the blocked ops so that both round alike: the channel sums and
 * float means; then, with the squared deviations' table, the saved mean and 1/std, the
 * affine map y = x * g + b and the running statistics (NULL: not updated); backward,
 * dgamma and dbeta and the coefficients of dx = k * (dy - mdy - xhat * mdx). */
void mt_cpu_bn_means      (const double *sums, int total, int c, gsize m, double *sum, float *mean_f);
void mt_cpu_bn_statistics (const MtBnSpec *s, const double *sum, const double *sqs, int total, int c, gsize m,
                           const float *gamma, const float *beta, float *save_mean, float *save_invstd, float *g,
                           float *b, float *running_mean, float *running_var);
void mt_cpu_bn_gradients  (const double *dy_sums, const double *dy_xhat_sums, int total, int c, gsize m,
                           const float *gamma, const float *save_invstd, float *dgamma, float *dbeta, float *k,
                           float *mdy, float *mdx);
/* A training op's table for its next exchange of sums: @share's (one slice of a batch),
 * or its own; and the wait for the other slices (none without a share). */
static inline double *mt_cpu_bn_table (MtBnShare *share, double *own) { return share ? mt_bn_share_next (share) : own; }
static inline void    mt_cpu_bn_wait  (MtBnShare *share) { if (share) share->wait (share->wait_data); }
/* Evaluation: normalise with the running statistics. */
void mt_cpu_batchnorm_forward_eval  (const MtBnSpec *s, const float *x, int n, int c, int hw,
                                 const float *gamma, const float *beta, float *y,
                                 const float *running_mean, const float *running_var);
/* The evaluation batch norm folded into the convolution before it (mt-backend.h). */
void mt_cpu_fold_batchnorm (const MtBnSpec *s, int oc, gsize per, const float *weight, const float *bias,
                            const float *gamma, const float *beta, const float *running_mean,
                            const float *running_var, float *fold_w, float *fold_b);
void mt_cpu_batchnorm_backward_train (MtBnShare *share, const float *x, int n, int c, int hw, const float *gamma,
                                  const float *save_mean, const float *save_invstd, const float *dy,
                                  float *dx, float *dgamma, float *dbeta);
/* Backward through the evaluation-mode normalisation (a per-channel affine map). */
void mt_cpu_batchnorm_backward_eval (const MtBnSpec *s, int n, int c, int hw, const float *gamma,
                                 const float *running_var, const float *dy, float *dx);

/* ---- ReLU (in place allowed) ---- */
void mt_cpu_relu_forward  (const float *x, gsize len, float *y);
/* Uses the forward's output: dx = dy where y > 0. */
void mt_cpu_relu_backward (const float *y, const float *dy, gsize len, float *dx);

/* ---- 2x2 max-pooling, stride 2 (PyTorch MaxPool2d(2)); argmax saves the winners ---- */
void mt_cpu_maxpool2_forward  (const float *x, int n, int c, int h, int w, float *y, gint32 *argmax);
void mt_cpu_maxpool2_backward (const gint32 *argmax, int n, int c, int h, int w, const float *dy, float *dx);

/* ---- linear: y = x W^T + b, W is [out, in] ---- */
void mt_cpu_linear_forward  (const float *x, int n, int in, int out, const float *weight,
                         const float *bias, float *y);
/* dx may be NULL; so may dweight and dbias, together. */
void mt_cpu_linear_backward (const float *x, int n, int in, int out, const float *weight,
                         const float *dy, float *dx, float *dweight, float *dbias);

/* ---- softmax cross-entropy, mean over the batch ---- */
/* Returns the loss; writes d loss / d logits when dlogits is not NULL; counts correct
 * argmax predictions in *correct when not NULL. */
double mt_cpu_cross_entropy (const float *logits, const gint64 *labels, int n, int classes,
                         float *dlogits, int *correct);

/* ---- the optimizers' updates, PyTorch's rules (see MtBackendOps.sgd_step, adam_step) ---- */
void mt_cpu_sgd_step  (const MtSgdSpec *s, float *param, const float *grad, float *momentum_buf, gsize len,
                       gboolean first_step);
void mt_cpu_adam_step (const MtAdamSpec *s, float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                       gsize len);

/* ---- general max-pooling (MaxPool2d(k, stride, padding)) and global average pooling ---- */
void mt_cpu_maxpool_forward  (const MtPoolSpec *s, const float *x, int n, int c, int h, int w, float *y, gint32 *argmax);
void mt_cpu_maxpool_backward (const MtPoolSpec *s, const gint32 *argmax, int n, int c, int h, int w,
                              const float *dy, float *dx);
void mt_cpu_avgpool_forward  (const float *x, int n, int c, int hw, float *y);
void mt_cpu_avgpool_backward (const float *dy, int n, int c, int hw, float *dx);

/* ---- batches from a dataset (mt-backend.h: gather_batch) ---- */
void mt_cpu_gather_batch (const MtInputSpec *s, const guint8 *images, const gint64 *labels, const gint64 *idx, int n,
                          float *x, gint64 *y);

/* ---- class-activation maps (mt-backend.h: cam_seed; cam_maps is ml/mt-saliency.h's mt_cam_maps) ---- */
void mt_cpu_cam_seed (const float *logits, const gint64 *labels, int n, int classes, float *dlogits);

/* ---- masks (mt-backend.h: mask_maps), the maps spread over the op threads ---- */
void mt_cpu_mask_maps (const MtMaskRule *rule, const float *heat, int n, int len, guint8 *keep);

/* ---- residual add and the option-A shortcut ---- */
void mt_cpu_add               (const float *a, const float *b, gsize len, float *y);
void mt_cpu_shortcut_forward  (const float *x, int n, int c, int h, int w, int out_c, int stride, float *y);
void mt_cpu_shortcut_backward (const float *dy, int n, int c, int h, int w, int out_c, int stride, float *dx);

/* ---- the same ops on nChw8c activations (mt-layout.h; c a multiple of 8) ---- */
/* Batch norm, with the ReLU after it fused when @relu (forward) or @y is its output
 * (backward: dy counts only where y > 0; NULL: no ReLU). */
void mt_cpu_batchnorm_blocked_forward_train  (const MtBnSpec *s, MtBnShare *share, const float *x, int n, int c, int hw,
                                              const float *gamma, const float *beta, gboolean relu, float *y,
                                              float *save_mean, float *save_invstd,
                                              float *running_mean, float *running_var);
void mt_cpu_batchnorm_blocked_forward_eval   (const MtBnSpec *s, const float *x, int n, int c, int hw,
                                              const float *gamma, const float *beta, gboolean relu, float *y,
                                              const float *running_mean, const float *running_var);
void mt_cpu_batchnorm_blocked_backward_train (MtBnShare *share, const float *x, int n, int c, int hw, const float *gamma,
                                              const float *save_mean, const float *save_invstd, const float *y,
                                              const float *dy, float *dx, float *dgamma, float *dbeta);
void mt_cpu_batchnorm_blocked_backward_eval  (const MtBnSpec *s, int n, int c, int hw, const float *gamma,
                                              const float *running_var, const float *y, const float *dy, float *dx);
void mt_cpu_maxpool2_blocked_forward  (const float *x, int n, int c, int h, int w, float *y, gint32 *argmax);
void mt_cpu_maxpool2_blocked_backward (const gint32 *argmax, int n, int c, int h, int w, const float *dy, float *dx);
void mt_cpu_maxpool_blocked_forward   (const MtPoolSpec *s, const float *x, int n, int c, int h, int w, float *y,
                                       gint32 *argmax);
void mt_cpu_maxpool_blocked_backward  (const MtPoolSpec *s, const gint32 *argmax, int n, int c, int h, int w,
                                       const float *dy, float *dx);
void mt_cpu_avgpool_blocked_forward   (const float *x, int n, int c, int hw, float *y);
void mt_cpu_avgpool_blocked_backward  (const float *dy, int n, int c, int hw, float *dx);
/* The shortcut with input and output each in its own channel count's layout. */
void mt_cpu_shortcut_layout_forward   (const float *x, int n, int c, int h, int w, int out_c, int stride, float *y);
void mt_cpu_shortcut_layout_backward  (const float *dy, int n, int c, int h, int w, int out_c, int stride, float *dx);

G_END_DECLS
