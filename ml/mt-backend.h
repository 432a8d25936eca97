/* The compute backend interface: the one table of operations every backend implements
 * (the CPU's in ml/cpu/, CUDA's in ml/cuda/), with their shapes. The model, the training
 * loop and the tests reach the ops only through it.
 *
 * Semantics are PyTorch's, and the plain double-precision references of ml/cpu/mt-ref-ops.h
 * define them. Tensors are contiguous float arrays (NCHW, or for activations the layout
 * the backend says, below) in the backend's memory (host
 * memory on the CPU, device memory on CUDA), allocated with the backend's alloc. Ops
 * return nothing: a backend that can fail keeps its first error until mt_backend_sync()
 * reports it (as CUDA reports asynchronous errors). An op a backend does not have is
 * NULL in its table: mt_backend_has() says which. */
#pragma once

#include <glib.h>

#include "ml/mt-mask.h"
#include "ml/mt-saliency.h"

G_BEGIN_DECLS

/* ---- shapes ------------------------------------------------------------------------ */

/* 2-D convolution: y[n, oc] = b[oc] + sum_c,kh,kw w[oc, c, kh, kw] * x[n, c, ...] */
typedef struct {
  int in_c, out_c, k, stride, pad;
} MtConvSpec;

static inline int mt_conv_out (int in, int k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }

/* Batch normalisation over (N, H, W) per channel; 1-D is the case hw = 1. */
typedef struct {
  double momentum;   /* 0.1 */
  double eps;        /* 1e-5 */
} MtBnSpec;

/* Max-pooling with a k x k window (PyTorch MaxPool2d(k, stride, padding): padding never
 * wins, output sizes floor). */
typedef struct {
  int k, stride, pad;
} MtPoolSpec;

static inline int mt_pool_out (int in, const MtPoolSpec *p) { return (in + 2 * p->pad - p->k) / p->stride + 1; }
/* The option-A shortcut keeps x[::stride]: ceil(in / stride) rows. */
static inline int mt_shortcut_out (int in, int stride) { return (in + stride - 1) / stride; }

/* torch.optim.SGD (dampening 0). */
typedef struct {
  double lr, momentum, weight_decay;
  gboolean nesterov;
} MtSgdSpec;

/* torch.optim.Adam (amsgrad off; weight decay added to the gradient, not AdamW's). */
typedef struct {
  double lr, beta1, beta2, eps, weight_decay;
  gint64 step;        /* 1 at the first update: the bias corrections use it */
} MtAdamSpec;

/* Batch norm over a batch that several threads run in slices (batch-slice threading,
 * ml/mt-slices.h). Each slice's op writes per-image sums of its own images into a table
 * the slices share, waits until every slice has, then adds all the rows up in image
 * order; the op on a whole batch sums in that order too, so each slice normalises with
 * the whole batch's statistics, rounded as the whole batch's op rounds them. Each slice
 * has its own MtBnShare; the tables and the barrier are common to them. */
typedef struct {
  int offset;             /* this slice's first image in the batch */
  int total;              /* images in the whole batch */
  double *tables[2];      /* shared, [total, 2 * channels] each, used in turn: an exchange
                             writes one while a slower slice may still read the other */
  guint turn;             /* this slice's exchanges so far */
  void (*wait) (gpointer data);  /* returns when every slice has called it */
  gpointer wait_data;
} MtBnShare;

/* The table of the next exchange. */
static inline double *mt_bn_share_next (MtBnShare *sh) { return sh->tables[sh->turn++ % 2]; }

/* How uint8 images become a model's input (mt_ew_input_pixel): @c channels of @hw
 * pixels; channel k > 2 takes channel 2's mean and 1 / std. */
typedef struct {
  int c;
  gint64 hw;
  gboolean plain;       /* pixel / 255 only */
  float mean[3], inv_std[3];
} MtInputSpec;

typedef struct _MtBackend MtBackend;
/* A recorded sequence of ops (capture_begin .. capture_end below). */
typedef struct _MtGraph MtGraph;

typedef struct {
  /* Memory in the backend's address space: zeroed, 64-byte aligned. */
  void    *(*alloc)    (MtBackend *be, gsize bytes);
  void     (*free)     (MtBackend *be, void *p);
  void     (*upload)   (MtBackend *be, void *dst, const void *src, gsize bytes);
  void     (*download) (MtBackend *be, void *dst, const void *src, gsize bytes);
  /* Within the backend's memory (the regions do not overlap), and zeroing part of it. */
  void     (*copy)     (MtBackend *be, void *dst, const void *src, gsize bytes);
  void     (*zero)     (MtBackend *be, void *p, gsize bytes);
  /* Waits for the work queued so far; FALSE with the first error since the last sync. */
  gboolean (*sync)     (MtBackend *be, GError **error);
  void     (*destroy)  (MtBackend *be);

  /* Scratch floats conv2d needs for a batch of @n (0: none); pass them as @work. */
  gsize  (*conv2d_workspace)  (MtBackend *be, const MtConvSpec *s, int n, int h, int w);
  void   (*conv2d_forward)    (MtBackend *be, const MtConvSpec *s, const float *x, int n, int h, int w,
                               const float *weight, const float *bias, float *y, float *work);
  /* dx may be NULL (the first layer needs none); dweight and dbias are overwritten; bias and
   * dbias may be NULL (a convolution without bias, as in the ResNets). */
  void   (*conv2d_backward)   (MtBackend *be, const MtConvSpec *s, const float *x, int n, int h, int w,
                               const float *weight, const float *dy, float *dx,
                               float *dweight, float *dbias, float *work);

  /* Training: the batch's mean and biased variance; saves mean and 1/std for backward and
   * updates the running statistics (running variance unbiased). */
  void   (*batchnorm_forward_train)  (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw,
                                      const float *gamma, const float *beta, float *y,
                                      float *save_mean, float *save_invstd,
                                      float *running_mean, float *running_var);
  /* Evaluation: the running statistics. */
  void   (*batchnorm_forward_eval)   (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw,
                                      const float *gamma, const float *beta, float *y,
                                      const float *running_mean, const float *running_var);
  void   (*batchnorm_backward_train) (MtBackend *be, const float *x, int n, int c, int hw, const float *gamma,
                                      const float *save_mean, const float *save_invstd, const float *dy,
                                      float *dx, float *dgamma, float *dbeta);
  /* Through the evaluation-mode normalisation (a per-channel affine map). */
  void   (*batchnorm_backward_eval)  (MtBackend *be, const MtBnSpec *s, int n, int c, int hw, const float *gamma,
                                      const float *running_var, const float *dy, float *dx);

  /* ReLU; in place allowed. Backward uses the forward's output: dx = dy where y > 0. */
  void   (*relu_forward)      (MtBackend *be, const float *x, gsize len, float *y);
  void   (*relu_backward)     (MtBackend *be, const float *y, const float *dy, gsize len, float *dx);

  /* 2x2 max-pooling, stride 2 (MaxPool2d(2)); argmax saves the winners (ties: first). */
  void   (*maxpool2_forward)  (MtBackend *be, const float *x, int n, int c, int h, int w, float *y, gint32 *argmax);
  void   (*maxpool2_backward) (MtBackend *be, const gint32 *argmax, int n, int c, int h, int w,
                               const float *dy, float *dx);

  /* y = x W^T + b, W is [out, in]; dx may be NULL, and dweight and dbias together (only the
   * input's gradient is wanted). */
  void   (*linear_forward)    (MtBackend *be, const float *x, int n, int in, int out, const float *weight,
                               const float *bias, float *y);
  void   (*linear_backward)   (MtBackend *be, const float *x, int n, int in, int out, const float *weight,
                               const float *dy, float *dx, float *dweight, float *dbias);

  /* Softmax cross-entropy, mean over the batch: writes the loss to *@loss, d loss / d
   * logits when @dlogits is not NULL and the count of correct argmaxes to *@correct when
   * not NULL. @labels, @loss and @correct are in the backend's memory, so that a step
   * never waits for a device to learn its loss: callers read the values of many batches
   * at once (a training epoch's at its end). */
  void   (*cross_entropy)     (MtBackend *be, const float *logits, const gint64 *labels, int n, int classes,
                               float *dlogits, double *loss, gint64 *correct);

  /* SGD, PyTorch's rule: g = grad + wd * p; with momentum, buf = g (first step) or
   * momentum * buf + g and p -= lr * (nesterov ? g + momentum * buf : buf); without,
   * p -= lr * g and the buffer is not touched. */
  void   (*sgd_step)          (MtBackend *be, const MtSgdSpec *s, float *param, const float *grad,
                               float *momentum_buf, gsize len, gboolean first_step);
  /* Adam, PyTorch's rule: g = grad + wd * p; m += (1 - b1) (g - m); v = b2 v + (1 - b2) g^2;
   * p -= lr / (1 - b1^t) * m / (sqrt (v) / sqrt (1 - b2^t) + eps). */
  void   (*adam_step)         (MtBackend *be, const MtAdamSpec *s, float *param, const float *grad,
                               float *exp_avg, float *exp_avg_sq, gsize len);

  /* ---- the residual networks' ops ---- */
  /* General max-pooling; argmax saves each winner's index in its input plane (ties: the
   * first in row-major order, as PyTorch). */
  void   (*maxpool_forward)   (MtBackend *be, const MtPoolSpec *s, const float *x, int n, int c, int h, int w,
                               float *y, gint32 *argmax);
  void   (*maxpool_backward)  (MtBackend *be, const MtPoolSpec *s, const gint32 *argmax, int n, int c, int h, int w,
                               const float *dy, float *dx);
  /* Global average pooling (AdaptiveAvgPool2d(1)): y[n, c] is the mean of the plane. */
  void   (*avgpool_forward)   (MtBackend *be, const float *x, int n, int c, int hw, float *y);
  void   (*avgpool_backward)  (MtBackend *be, const float *dy, int n, int c, int hw, float *dx);
  /* y = a + b elementwise (the residual add); y may be a or b. */
  void   (*add)               (MtBackend *be, const float *a, const float *b, gsize len, float *y);
  /* The CIFAR ResNets' option-A shortcut: y = x[:, :, ::stride, ::stride] with (out_c - c) / 2
   * zero channels on each side; backward scatters dy back (dx zero elsewhere). */
  void   (*shortcut_forward)  (MtBackend *be, const float *x, int n, int c, int h, int w, int out_c, int stride,
                               float *y);
  void   (*shortcut_backward) (MtBackend *be, const float *dy, int n, int c, int h, int w, int out_c, int stride,
                               float *dx);

  /* ---- a convolution with the ReLU after it (optional: NULL, the two ops) ---- */
  /* y = max (conv (x) + bias, 0): what evaluation runs for a convolution with the batch
   * norm after it folded into its weights and bias, and the ReLU after that. */
  void   (*conv2d_forward_relu) (MtBackend *be, const MtConvSpec *s, const float *x, int n, int h, int w,
                                 const float *weight, const float *bias, float *y, float *work);
  /* Those weights and bias: for each of @oc output channels, with g = gamma / sqrt (var +
   * eps) and b = beta - mean * g rounded to float as batchnorm_forward_eval rounds its
   * scale and shift, fold_w = weight * g (@per weights a channel) and fold_b = bias * g + b
   * (@bias NULL: b). Optional with conv2d_forward_relu: a backend without either does not
   * fold. */
  void   (*fold_batchnorm)    (MtBackend *be, const MtBnSpec *s, int oc, gsize per, const float *weight,
                               const float *bias, const float *gamma, const float *beta, const float *running_mean,
                               const float *running_var, float *fold_w, float *fold_b);

  /* ---- batch norm with the ReLU after it, in one pass (optional: NULL, the two ops) ---- */
  /* y = max (batchnorm (x), 0); statistics, saved values and running ones as above. */
  void   (*batchnorm_relu_forward_train)  (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw,
                                           const float *gamma, const float *beta, float *y,
                                           float *save_mean, float *save_invstd,
                                           float *running_mean, float *running_var);
  void   (*batchnorm_relu_forward_eval)   (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw,
                                           const float *gamma, const float *beta, float *y,
                                           const float *running_mean, const float *running_var);
  /* From @dy at the ReLU's output and that output @y: batch norm's gradients where y > 0
   * (dx may be NULL: only dgamma and dbeta). */
  void   (*batchnorm_relu_backward_train) (MtBackend *be, const float *x, int n, int c, int hw, const float *gamma,
                                           const float *save_mean, const float *save_invstd, const float *y,
                                           const float *dy, float *dx, float *dgamma, float *dbeta);
  void   (*batchnorm_relu_backward_eval)  (MtBackend *be, const MtBnSpec *s, int n, int c, int hw,
                                           const float *gamma, const float *running_var, const float *y,
                                           const float *dy, float *dx);

  /* ---- batch-slice threading (optional: NULL where the backend threads only its ops) ---- */
  /* The threads the ops use. */
  int    (*threads)           (MtBackend *be);
  /* From now on the ops called by this thread run on it alone (@alone), or again on the
   * backend's threads: each slice's thread runs its slice with one thread. */
  void   (*run_alone)         (MtBackend *be, gboolean alone);
  /* Training-mode batch norm of one slice (@n images) of a batch of share->total, with the
   * ReLU after it when @relu: statistics, saved values and running ones as the whole
   * batch's op makes them; running_mean and running_var NULL: not updated (one slice
   * updates the statistics the slices share). */
  void   (*batchnorm_forward_train_sliced)  (MtBackend *be, const MtBnSpec *s, MtBnShare *share, gboolean relu,
                                             const float *x, int n, int c, int hw, const float *gamma,
                                             const float *beta, float *y, float *save_mean, float *save_invstd,
                                             float *running_mean, float *running_var);
  /* Its backward; @y is the fused ReLU's output (NULL: no ReLU); dgamma and dbeta are the
   * whole batch's, the same in every slice; dx may be NULL. */
  void   (*batchnorm_backward_train_sliced) (MtBackend *be, MtBnShare *share, const float *x, int n, int c, int hw,
                                             const float *gamma, const float *save_mean, const float *save_invstd,
                                             const float *y, const float *dy, float *dx, float *dgamma,
                                             float *dbeta);

  /* ---- batches gathered from a dataset in backend memory ---- */
  /* For i < @n: x[i] = the uint8 image images[idx[i]] as the model's input floats (NCHW,
   * by mt_ew_input_pixel) and y[i] = labels[idx[i]]: a device that holds the dataset
   * makes each batch itself, from indices the host drew. All in the backend's memory. */
  void   (*gather_batch)      (MtBackend *be, const MtInputSpec *s, const guint8 *images, const gint64 *labels,
                               const gint64 *idx, int n, float *x, gint64 *y);

  /* ---- class-activation maps (ml/mt-saliency.h) ---- */
  /* The seed of a saliency backward: dlogits [n, classes] all 0 but 1 at each sample's
   * class, labels[i] clamped to [0, classes) or, where @labels is NULL, the first largest
   * of its logits (mt_ew_cam_target). */
  void   (*cam_seed)          (MtBackend *be, const float *logits, const gint64 *labels, int n, int classes,
                               float *dlogits);
  /* mt_cam_maps: @n samples' maps by @method from the activation @a and its gradient @g
   * [n, c, h, w] (NCHW, whatever the layout), scaled and, unless [oh, ow] is [h, w],
   * resized into @maps [n, oh, ow]; @work: mt_cam_work_floats (n, c, h, w) floats. */
  void   (*cam_maps)          (MtBackend *be, MtCamMethod method, const float *a, const float *g, int n, int c,
                               int h, int w, int oh, int ow, float *work, float *maps);

  /* ---- masks (ml/mt-mask.h) ---- */
  /* keep [n, len] (1: kept, 0: masked) of @n heat maps [n, len] by @rule: each map's
   * mt_mask_compute. The maps must be finite (mt_mask_find_nonfinite). */
  void   (*mask_maps)         (MtBackend *be, const MtMaskRule *rule, const float *heat, int n, int len,
                               guint8 *keep);

  /* ---- the layout of 4-D activations ---- */
  /* The ops above take and give [n, c, h, w] activations (x, y, dy, dx of convolution, 2-D
   * batch norm, pooling, shortcut) in the backend's own layout, of n * c * h * w floats;
   * elementwise ops (ReLU, add) do not care. NCHW unless layout_is_nchw says otherwise
   * (the CPU's keeps channels that fill blocks of 8 as oneDNN's nChw8c); NULL: always
   * NCHW. A tensor with h = w = 1 is NCHW in every layout. */
  gboolean (*layout_is_nchw)  (MtBackend *be, int c, int h, int w);
  void     (*layout_from_nchw) (MtBackend *be, const float *x, int n, int c, int h, int w, float *y);
  void     (*layout_to_nchw)  (MtBackend *be, const float *x, int n, int c, int h, int w, float *y);

  /* ---- recorded sequences of ops (optional: NULL, every op runs when it is called) ---- */
  /* From capture_begin to capture_end the ops called on @be are recorded, not run, with
   * their arguments as they are then: pointers and values, not the memory behind them
   * (a CUDA graph). Meanwhile nothing else may be asked of @be: an alloc, free, upload,
   * download or sync is an error, which capture_end reports (NULL; the recorded ops did
   * not run). graph_replay runs the recording on the memory as it is then, as the ops
   * would have run in order; it refuses (FALSE, nothing runs) once @be has allocated or
   * freed memory since the recording began, since a recorded pointer may be stale: the
   * caller records again. A failure inside the replay is @be's error, as an op's. */
  gboolean (*capture_begin)   (MtBackend *be, GError **error);
  MtGraph *(*capture_end)     (MtBackend *be, GError **error);
  gboolean (*graph_replay)    (MtBackend *be, MtGraph *g);
  void     (*graph_free)      (MtBackend *be, MtGraph *g);
} MtBackendOps;

struct _MtBackend {
  const MtBackendOps *ops;
  const char *name;   /* "cpu", "cuda" */
  GError *error;      /* first failure since the last sync */
  gboolean host_memory;  /* its memory is the host's (the CPU's): host code may read and
                            write it in place, and staging copies are skipped */
  const char *pool_name; /* from mt_backend_open, the name it was opened by (interned):
                            mt_backend_free hands it back to that name's idle ones */
};

/* The names of the backends this build has ("cpu", and "cuda" when built with CUDA). */
const char *const *mt_backend_names (void);
/* TRUE when backend @name can run here; otherwise @error says why. @description: a line
 * for people ("NVIDIA H200 (sm_90, 139 GiB)"). */
gboolean    mt_backend_probe  (const char *name, char **description, GError **error);
/* A new instance (on CUDA: its own stream, handles and workspace). */
MtBackend  *mt_backend_new    (const char *name, GError **error);
void        mt_backend_free   (MtBackend *be);
/* Adds backend @name, made by @new_fn, for mt_backend_new() and mt_backend_probe() (a
 * test's stand-in for a device; not "cpu" or "cuda"). */
void        mt_backend_register (const char *name, MtBackend *(*new_fn) (GError **error));
/* The instance a node's models run on for the run's backend @name: the process-wide
 * one for "cpu", else one no other node holds (on CUDA its own stream, handles,
 * workspace, staging buffers and per-shape plans, so nodes that run side by side run
 * concurrently on the device). mt_backend_free hands it back, synchronised, to a pool
 * that the next mt_backend_open of that name takes from: a run of -j N workers makes at
 * most N instances, each made once and kept warm from node to node (an instance that
 * failed is destroyed instead, not handed on). */
MtBackend  *mt_backend_open  (const char *name, GError **error);
/* Destroys the pool's idle instances (mtrun does before it exits); instances still held
 * go when they are freed. Returns how many it destroyed. */
guint       mt_backend_release_idle (void);
/* The process-wide CPU backend (stateless; never freed). */
MtBackend  *mt_backend_cpu    (void);

/* TRUE when @be's memory is host memory (see MtBackend.host_memory). */
static inline gboolean mt_backend_is_host (const MtBackend *be) { return be->host_memory; }

/* TRUE when @be keeps [n, @c, @h, @w] activations as NCHW (see layout_is_nchw). */
gboolean    mt_backend_layout_is_nchw (MtBackend *be, int c, int h, int w);
/* Between NCHW and the backend's layout, where they differ (callers alias the tensor
 * where they do not); @x and @y do not overlap. */
void        mt_backend_from_nchw (MtBackend *be, const float *x, int n, int c, int h, int w, float *y);
void        mt_backend_to_nchw   (MtBackend *be, const float *x, int n, int c, int h, int w, float *y);

/* TRUE when @be implements the op at @offset (G_STRUCT_OFFSET (MtBackendOps, relu_forward)). */
gboolean    mt_backend_has    (const MtBackend *be, gsize offset);
gboolean    mt_backend_sync   (MtBackend *be, GError **error);
/* Records @error as the backend's (the first one is kept); for implementations. */
void        mt_backend_set_error (MtBackend *be, GError *error);

/* What results made on backend @name depend on beyond a run's inputs, for manifests:
 * "key=value" lines in a fixed order ("device=...", the thread count and threading, the
 * instruction set and libraries: oneDNN's version on the CPU; the GPU, its driver, CUDA,
 * cuDNN and cuBLAS versions on CUDA). Two runs with the same environment give the same
 * bytes; runs that differ in it may differ in the last bits. Free with g_strfreev. */
GStrv       mt_backend_environment (const char *name);

/* Entry points of the implementations, for mt_backend_new(). */
MtBackend  *mt_cpu_backend_new  (GError **error);
GStrv       mt_cpu_backend_environment (void);
/* CUDA's, from its module (libmt-cuda.so), loaded on first use. */
MtBackend  *mt_cuda_backend_new (GError **error);
gboolean    mt_cuda_backend_probe (char **description, GError **error);
GStrv       mt_cuda_backend_environment (void);

/* ---- which backend a run uses ---------------------------------------------------------- */

typedef enum {
  MT_DEVICE_CHOICE_AUTO,  /* the CPU for now (mt_device_resolve says why); later CUDA where a GPU is */
  MT_DEVICE_CHOICE_CPU,
  MT_DEVICE_CHOICE_CUDA,
} MtDeviceChoice;

gboolean    mt_device_choice_from_string (const char *s, MtDeviceChoice *out);
/* The backend a run uses for @choice: "cpu" or "cuda". When auto falls back to the CPU
 * on a build with CUDA, *notice says why in one line. */
const char *mt_device_resolve (MtDeviceChoice choice, char **notice, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtBackend, mt_backend_free)

G_END_DECLS
