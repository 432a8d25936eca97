/* The CUDA backend's table: device memory, cuDNN/cuBLAS layers (mt-cuda-ops.c) and the
 * NVRTC kernels (kernels/, one .cu per op, batch norm's included), all on one non-blocking
 * stream per instance. Ops it does not have are NULL. Built with the toolkit only; needs
 * a GPU to create. */
#include "config.h"
#include "ml/mt-backend.h"
#include "ml/cuda/mt-cuda.h"
#include "ml/cuda/mt-cuda-ops.h"
#include "ml/cuda/mt-cuda-kernels.h"
#include "base/mt-error.h"

#include <gmodule.h>
#include <math.h>
#include <string.h>
#include <cuda_runtime_api.h>
#include <cublas_v2.h>
#include <cudnn.h>
#include <nvrtc.h>

/* Uploads go through pinned buffers, a ring of UPLOAD_SLOTS: the source is copied into
 * the next one (so the caller may reuse it at once), its copy to the device queued on the
 * stream and an event recorded after it; a buffer is refilled once its event has fired.
 * An upload then does not wait for the stream (a pageable copy waits for the copy itself,
 * and ours waited for the whole stream). Larger than UPLOAD_PINNED_MAX (a dataset sent
 * once): straight from the caller's memory, waiting. */
#define UPLOAD_SLOTS 3
#define UPLOAD_PINNED_MAX ((gsize) 64 << 20)

typedef struct {
  void *host;          /* pinned */
  gsize cap;
  cudaEvent_t done;    /* after its last copy */
  gboolean pending;
} UploadSlot;

typedef struct {
  MtBackend parent;
  cudaStream_t stream;
  /* The instance's own memory arena: only its stream allocates and frees there, so the
   * allocator never makes another instance's stream wait to reuse memory (in a pool that
   * streams share it may insert such dependencies, serialising branches that should run
   * side by side). It keeps what is freed until the instance goes. */
  cudaMemPool_t pool;
  MtCudaContext *ctx;
  MtCudaKernels *kernels;  /* the process's (shared_device) */
  UploadSlot up[UPLOAD_SLOTS];
  guint up_next;
  double *loss;        /* per-sample scratch of cross_entropy */
  int *correct;
  int scratch_n;
  gboolean capturing;  /* between capture_begin and capture_end */
  guint64 allocs;      /* allocations and frees so far (recorded graphs go stale) */
  guint64 capture_memory;  /* cuda_be_memory () when the recording began */
} CudaBackend;

#define CUDA_BE(be) ((CudaBackend *) (be))

struct _MtGraph {
  cudaGraphExec_t exec;
  guint64 memory;      /* cuda_be_memory () when it was recorded */
};

/* Changes whenever memory was allocated or freed on the backend, its context's included. */
static guint64
cuda_be_memory (CudaBackend *cb)
{
  return cb->allocs + mt_cuda_context_reallocs (cb->ctx);
}

/* While a graph is recorded only ops may be called: anything else is an error. */
static gboolean
cuda_be_not_capturing (MtBackend *be, const char *what)
{
  if (!CUDA_BE (be)->capturing)
    return TRUE;
  mt_backend_set_error (be, g_error_new (MT_ERROR, MT_ERROR_FAILED, "%s while a CUDA graph is recorded", what));
  return FALSE;
}

/* Records a failed call as the backend's error; TRUE when it succeeded. */
static gboolean
cuda_be_ok (MtBackend *be, cudaError_t e, const char *what)
{
  if (e == cudaSuccess)
    return TRUE;
  mt_backend_set_error (be, g_error_new (MT_ERROR, MT_ERROR_FAILED, "%s: %s", what, cudaGetErrorString (e)));
  return FALSE;
}

/* Runs typed launcher @fn (ml/cuda/mt-cuda-kernels.h) on the backend's stream, unless an
 * earlier op failed; a failure becomes the backend's error. The grid: @blocks blocks of
 * @threads, or with @blocks 0 one over @n items. */
#define CUDA_LAUNCH(be, n, blocks, threads, fn, ...) G_STMT_START { \
    MtCudaLaunch l_ = { CUDA_BE (be)->kernels, CUDA_BE (be)->stream, (n), (blocks), (threads), NULL }; \
    GError *e_ = NULL; \
    if (!(be)->error && !fn (&l_, __VA_ARGS__, &e_)) \
      mt_backend_set_error ((be), e_); \
  } G_STMT_END
/* Over @n items (grid-stride kernels). */
#define CUDA_RUN(be, n, fn, ...) CUDA_LAUNCH (be, n, 0, 256, fn, __VA_ARGS__)
/* @blocks blocks of @threads (one block per channel, per map). */
#define CUDA_RUN_BLOCKS(be, blocks, threads, fn, ...) CUDA_LAUNCH (be, 0, blocks, threads, fn, __VA_ARGS__)

static void *
cuda_be_alloc (MtBackend *be, gsize bytes)
{
  void *p = NULL;
  if (!cuda_be_not_capturing (be, "an allocation"))
    return NULL;
  CUDA_BE (be)->allocs++;
  if (!cuda_be_ok (be, cudaMallocFromPoolAsync (&p, MAX (bytes, 64), CUDA_BE (be)->pool, CUDA_BE (be)->stream),
                   "cudaMallocFromPoolAsync"))
    return NULL;
  cuda_be_ok (be, cudaMemsetAsync (p, 0, MAX (bytes, 64), CUDA_BE (be)->stream), "cudaMemsetAsync");
  return p;
}

static void
cuda_be_free (MtBackend *be, void *p)
{
  if (!p || !cuda_be_not_capturing (be, "a free"))
    return;
  CUDA_BE (be)->allocs++;
  cuda_be_ok (be, cudaFreeAsync (p, CUDA_BE (be)->stream), "cudaFreeAsync");
}

static void
cuda_be_upload (MtBackend *be, void *dst, const void *src, gsize bytes)
{
  if (!cuda_be_not_capturing (be, "an upload"))
    return;
  CudaBackend *cb = CUDA_BE (be);
  if (bytes > UPLOAD_PINNED_MAX) {
    /* The host buffer may be reused as soon as we return. */
    if (cuda_be_ok (be, cudaMemcpyAsync (dst, src, bytes, cudaMemcpyHostToDevice, cb->stream), "upload"))
      cuda_be_ok (be, cudaStreamSynchronize (cb->stream), "upload");
    return;
  }
  UploadSlot *u = &cb->up[cb->up_next++ % UPLOAD_SLOTS];
  if (u->pending && !cuda_be_ok (be, cudaEventSynchronize (u->done), "upload"))
    return;
  u->pending = FALSE;
  if (u->cap < bytes) {
    if (u->host)
      cudaFreeHost (u->host);
    u->host = NULL;
    u->cap = 0;
    if (!cuda_be_ok (be, cudaHostAlloc (&u->host, MAX (bytes, 4096), cudaHostAllocDefault), "cudaHostAlloc"))
      return;
    u->cap = MAX (bytes, 4096);
  }
  memcpy (u->host, src, bytes);
  if (cuda_be_ok (be, cudaMemcpyAsync (dst, u->host, bytes, cudaMemcpyHostToDevice, cb->stream), "upload") &&
      cuda_be_ok (be, cudaEventRecord (u->done, cb->stream), "upload"))
    u->pending = TRUE;
}

static void
cuda_be_download (MtBackend *be, void *dst, const void *src, gsize bytes)
{
  if (!cuda_be_not_capturing (be, "a download"))
    return;
  cuda_be_ok (be, cudaMemcpyAsync (dst, src, bytes, cudaMemcpyDeviceToHost, CUDA_BE (be)->stream), "download");
  cuda_be_ok (be, cudaStreamSynchronize (CUDA_BE (be)->stream), "download");
}

static void
cuda_be_copy (MtBackend *be, void *dst, const void *src, gsize bytes)
{
  cuda_be_ok (be, cudaMemcpyAsync (dst, src, bytes, cudaMemcpyDeviceToDevice, CUDA_BE (be)->stream), "copy");
}

static void
cuda_be_zero (MtBackend *be, void *p, gsize bytes)
{
  cuda_be_ok (be, cudaMemsetAsync (p, 0, bytes, CUDA_BE (be)->stream), "zero");
}

static gboolean
cuda_be_sync (MtBackend *be, GError **error)
{
  if (!cuda_be_not_capturing (be, "a sync"))
    return TRUE;  /* mt_backend_sync() reports it */
  cuda_be_ok (be, cudaStreamSynchronize (CUDA_BE (be)->stream), "cudaStreamSynchronize");
  return TRUE;  /* mt_backend_sync() reports be->error */
}

static void
cuda_be_destroy (MtBackend *be)
{
  CudaBackend *cb = CUDA_BE (be);
  if (cb->stream) {
    if (cb->loss)
      cudaFreeAsync (cb->loss, cb->stream);
    if (cb->correct)
      cudaFreeAsync (cb->correct, cb->stream);
  }
  mt_cuda_context_free (cb->ctx);  /* frees in stream order, then waits for the stream */
  if (cb->stream)
    cudaStreamSynchronize (cb->stream);
  for (int i = 0; i < UPLOAD_SLOTS; i++) {
    if (cb->up[i].host)
      cudaFreeHost (cb->up[i].host);
    if (cb->up[i].done)
      cudaEventDestroy (cb->up[i].done);
  }
  /* Memory a node left allocated keeps the pool until it is freed (cudaMemPoolDestroy). */
  if (cb->pool)
    cudaMemPoolDestroy (cb->pool);
  if (cb->stream)
    cudaStreamDestroy (cb->stream);
  g_free (cb);
}

/* ---- CUDA graphs ---- */

static gboolean
cuda_be_capture_begin (MtBackend *be, GError **error)
{
  CudaBackend *cb = CUDA_BE (be);
  if (mt_cuda_sync_each_launch ()) {
    g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "MT_CUDA_SYNC=1 runs every kernel as it comes");
    return FALSE;
  }
  if (be->error) {
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "an earlier op failed: %s", be->error->message);
    return FALSE;
  }
  /* Thread-local: other threads' streams (other nodes) go on while this one records. */
  cudaError_t e = cudaStreamBeginCapture (cb->stream, cudaStreamCaptureModeThreadLocal);
  if (e != cudaSuccess) {
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "cudaStreamBeginCapture: %s", cudaGetErrorString (e));
    return FALSE;
  }
  cb->capturing = TRUE;
  cb->capture_memory = cuda_be_memory (cb);
  return TRUE;
}

static MtGraph *
cuda_be_capture_end (MtBackend *be, GError **error)
{
  CudaBackend *cb = CUDA_BE (be);
  g_return_val_if_fail (cb->capturing, NULL);
  cb->capturing = FALSE;
  cudaGraph_t graph = NULL;
  cudaError_t e = cudaStreamEndCapture (cb->stream, &graph);
  if (be->error) {
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "recording a CUDA graph: %s", be->error->message);
  } else if (e != cudaSuccess) {
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "cudaStreamEndCapture: %s", cudaGetErrorString (e));
  } else {
    MtGraph *g = g_new0 (MtGraph, 1);
    /* Memory that moved during the recording: this graph can never replay. */
    g->memory = cb->capture_memory;
    e = cudaGraphInstantiate (&g->exec, graph, 0);
    cudaGraphDestroy (graph);
    if (e == cudaSuccess)
      return g;
    g_free (g);
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "cudaGraphInstantiate: %s", cudaGetErrorString (e));
    return NULL;
  }
  if (graph)
    cudaGraphDestroy (graph);
  return NULL;
}

static gboolean
cuda_be_graph_replay (MtBackend *be, MtGraph *g)
{
  CudaBackend *cb = CUDA_BE (be);
  if (g->memory != cuda_be_memory (cb))
    return FALSE;
  if (!be->error)
    cuda_be_ok (be, cudaGraphLaunch (g->exec, cb->stream), "cudaGraphLaunch");
  return TRUE;
}

static void
cuda_be_graph_free (MtBackend *be, MtGraph *g)
{
  if (!g)
    return;
  /* Its last launch may still run. */
  cuda_be_ok (be, cudaStreamSynchronize (CUDA_BE (be)->stream), "cudaStreamSynchronize");
  cudaGraphExecDestroy (g->exec);
  g_free (g);
}

/* cuDNN picks its own workspace. */
static gsize
cuda_be_conv2d_workspace (MtBackend *be, const MtConvSpec *s, int n, int h, int w)
{
  return 0;
}

#define CUDA_BE_CALL(be, call) G_STMT_START { \
    GError *err_ = NULL; \
    if (!(be)->error && !(call)) \
      mt_backend_set_error ((be), err_); } G_STMT_END

static void
cuda_be_conv2d_forward (MtBackend *be, const MtConvSpec *s, const float *x, int n, int h, int w,
                        const float *weight, const float *bias, float *y, float *work)
{
  CUDA_BE_CALL (be, mt_cuda_conv2d_forward (CUDA_BE (be)->ctx, s, x, n, h, w, weight, bias, y, &err_));
}

static void
cuda_be_gather_batch (MtBackend *be, const MtInputSpec *s, const guint8 *images, const gint64 *labels,
                      const gint64 *idx, int n, float *x, gint64 *y)
{
  CUDA_RUN (be, (gsize) n * s->c * s->hw, mt_cuda_run_gather_batch, images, labels, idx, x, y, n, s->c, s->hw,
            s->plain, s->mean[0], s->mean[1], s->mean[2], s->inv_std[0], s->inv_std[1], s->inv_std[2]);
}

static void
cuda_be_cam_seed (MtBackend *be, const float *logits, const gint64 *labels, int n, int classes, float *dlogits)
{
  CUDA_RUN (be, (gsize) n, mt_cuda_run_cam_seed, logits, labels, dlogits, n, classes);
}

/* The weights, one thread per (sample, channel); the maps, one thread per pixel; their
 * scaling, one block per map; then the resizing, one thread per output pixel. */
static void
cuda_be_cam_maps (MtBackend *be, MtCamMethod method, const float *a, const float *g, int n, int c, int h, int w,
                  int oh, int ow, float *work, float *maps)
{
  gboolean resize = oh != h || ow != w;
  float *weights = work, *cam = resize ? work + (gsize) n * c : maps;
  int hw = h * w;
  if (n < 1)
    return;
  if (method != MT_CAM_LAYERCAM)
    CUDA_RUN (be, (gsize) n * c, mt_cuda_run_cam_weights, a, g, weights, (gint64) n * c, hw, (int) method);
  CUDA_RUN (be, (gsize) n * hw, mt_cuda_run_cam_combine, a, g, weights, cam, n, c, hw, (int) method);
  CUDA_RUN_BLOCKS (be, n, MIN (256, (hw + 31) / 32 * 32), mt_cuda_run_cam_scale, cam, hw);
  if (resize)
    CUDA_RUN (be, (gsize) n * oh * ow, mt_cuda_run_resize_bilinear, cam, h, w, maps, oh, ow, n);
}

/* The cut rules one thread per map, top_k one block per map. */
static void
cuda_be_mask_maps (MtBackend *be, const MtMaskRule *rule, const float *heat, int n, int len, guint8 *keep)
{
  if (n < 1)
    return;
  if (rule->method == MT_MASK_TOP_K)
    CUDA_RUN_BLOCKS (be, n, MIN (256, (len + 31) / 32 * 32), mt_cuda_run_mask_top_k, heat, keep, len,
                     mt_ew_mask_top_count (rule->fraction, len));
  else
    CUDA_RUN (be, (gsize) n, mt_cuda_run_mask_cut, heat, keep, (gint64) n, len, (int) rule->method,
              mt_mask_rule_param (rule));
}

/* Evaluation's folded convolution and the ReLU after it: cuDNN's convolution, then the
 * ReLU kernel in place. */
static void
cuda_be_conv2d_forward_relu (MtBackend *be, const MtConvSpec *s, const float *x, int n, int h, int w,
                             const float *weight, const float *bias, float *y, float *work)
{
  cuda_be_conv2d_forward (be, s, x, n, h, w, weight, bias, y, work);
  gsize len = (gsize) n * s->out_c * mt_conv_out (h, s->k, s->stride, s->pad) * mt_conv_out (w, s->k, s->stride, s->pad);
  CUDA_RUN (be, len, mt_cuda_run_relu_forward, y, y, (gint64) len);
}

static void
cuda_be_fold_batchnorm (MtBackend *be, const MtBnSpec *s, int oc, gsize per, const float *weight, const float *bias,
                        const float *gamma, const float *beta, const float *running_mean, const float *running_var,
                        float *fold_w, float *fold_b)
{
  CUDA_RUN (be, (gsize) oc * per, mt_cuda_run_fold_batchnorm, weight, bias, gamma, beta, running_mean, running_var,
            fold_w, fold_b, oc, (gint64) per, s->eps);
}

static void
cuda_be_conv2d_backward (MtBackend *be, const MtConvSpec *s, const float *x, int n, int h, int w,
                         const float *weight, const float *dy, float *dx, float *dweight, float *dbias, float *work)
{
  CUDA_BE_CALL (be, mt_cuda_conv2d_backward (CUDA_BE (be)->ctx, s, x, n, h, w, weight, dy, dx, dweight, dbias, &err_));
}

/* Batch norm: our kernels (kernels/mt-batchnorm.cu), deterministic, the ReLU fused when
 * asked. The per-channel passes run one 256-thread block per channel. */
#define BN_THREADS 256

static void
bn_forward_train (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw, const float *gamma,
                  const float *beta, float *y, float *save_mean, float *save_invstd, float *running_mean,
                  float *running_var, int relu)
{
  CUDA_RUN_BLOCKS (be, c, BN_THREADS, mt_cuda_run_bn_forward_train, x, gamma, beta, y, save_mean, save_invstd,
                   running_mean, running_var, n, c, hw, s->eps, s->momentum, relu);
}

static void
cuda_be_bn_forward_train (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw,
                          const float *gamma, const float *beta, float *y, float *save_mean, float *save_invstd,
                          float *running_mean, float *running_var)
{
  bn_forward_train (be, s, x, n, c, hw, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, 0);
}

static void
cuda_be_bn_relu_forward_train (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw,
                               const float *gamma, const float *beta, float *y, float *save_mean,
                               float *save_invstd, float *running_mean, float *running_var)
{
  bn_forward_train (be, s, x, n, c, hw, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, 1);
}

static void
cuda_be_bn_forward_eval (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw,
                         const float *gamma, const float *beta, float *y, const float *running_mean,
                         const float *running_var)
{
  CUDA_RUN (be, (gsize) n * c * hw, mt_cuda_run_bn_forward_eval, x, gamma, beta, y, running_mean, running_var, n, c,
            hw, s->eps, 0);
}

static void
cuda_be_bn_relu_forward_eval (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw,
                              const float *gamma, const float *beta, float *y, const float *running_mean,
                              const float *running_var)
{
  CUDA_RUN (be, (gsize) n * c * hw, mt_cuda_run_bn_forward_eval, x, gamma, beta, y, running_mean, running_var, n, c,
            hw, s->eps, 1);
}

static void
cuda_be_bn_backward_train (MtBackend *be, const float *x, int n, int c, int hw, const float *gamma,
                           const float *save_mean, const float *save_invstd, const float *dy, float *dx,
                           float *dgamma, float *dbeta)
{
  CUDA_RUN_BLOCKS (be, c, BN_THREADS, mt_cuda_run_bn_backward_train, x, NULL, dy, gamma, save_mean, save_invstd, dx,
                   dgamma, dbeta, n, c, hw);
}

static void
cuda_be_bn_relu_backward_train (MtBackend *be, const float *x, int n, int c, int hw, const float *gamma,
                                const float *save_mean, const float *save_invstd, const float *y, const float *dy,
                                float *dx, float *dgamma, float *dbeta)
{
  CUDA_RUN_BLOCKS (be, c, BN_THREADS, mt_cuda_run_bn_backward_train, x, y, dy, gamma, save_mean, save_invstd, dx,
                   dgamma, dbeta, n, c, hw);
}

static void
cuda_be_bn_backward_eval (MtBackend *be, const MtBnSpec *s, int n, int c, int hw, const float *gamma,
                          const float *running_var, const float *dy, float *dx)
{
  CUDA_RUN (be, (gsize) n * c * hw, mt_cuda_run_bn_backward_eval, NULL, dy, gamma, running_var, dx, n, c, hw, s->eps);
}

static void
cuda_be_bn_relu_backward_eval (MtBackend *be, const MtBnSpec *s, int n, int c, int hw, const float *gamma,
                               const float *running_var, const float *y, const float *dy, float *dx)
{
  CUDA_RUN (be, (gsize) n * c * hw, mt_cuda_run_bn_backward_eval, y, dy, gamma, running_var, dx, n, c, hw, s->eps);
}

static void
cuda_be_relu_forward (MtBackend *be, const float *x, gsize len, float *y)
{
  CUDA_RUN (be, len, mt_cuda_run_relu_forward, x, y, (gint64) len);
}

static void
cuda_be_relu_backward (MtBackend *be, const float *y, const float *dy, gsize len, float *dx)
{
  CUDA_RUN (be, len, mt_cuda_run_relu_backward, y, dy, dx, (gint64) len);
}

static void
cuda_be_maxpool2_forward (MtBackend *be, const float *x, int n, int c, int h, int w, float *y, gint32 *argmax)
{
  int planes = n * c;
  CUDA_RUN (be, (gsize) planes * (h / 2) * (w / 2), mt_cuda_run_maxpool2_forward, x, y, argmax, planes, h, w);
}

static void
cuda_be_maxpool2_backward (MtBackend *be, const gint32 *argmax, int n, int c, int h, int w, const float *dy,
                           float *dx)
{
  int planes = n * c;
  cuda_be_zero (be, dx, (gsize) planes * h * w * sizeof (float));
  CUDA_RUN (be, (gsize) planes * (h / 2) * (w / 2), mt_cuda_run_maxpool2_backward, argmax, dy, dx, planes, h, w);
}

static void
cuda_be_maxpool_forward (MtBackend *be, const MtPoolSpec *s, const float *x, int n, int c, int h, int w, float *y,
                         gint32 *argmax)
{
  int planes = n * c, oh = mt_pool_out (h, s), ow = mt_pool_out (w, s);
  CUDA_RUN (be, (gsize) planes * oh * ow, mt_cuda_run_maxpool_forward, x, y, argmax, planes, h, w, s->k, s->stride,
            s->pad, oh, ow);
}

static void
cuda_be_maxpool_backward (MtBackend *be, const MtPoolSpec *s, const gint32 *argmax, int n, int c, int h, int w,
                          const float *dy, float *dx)
{
  int planes = n * c, oh = mt_pool_out (h, s), ow = mt_pool_out (w, s);
  CUDA_RUN (be, (gsize) planes * h * w, mt_cuda_run_maxpool_backward, argmax, dy, dx, planes, h, w, s->k, s->stride,
            s->pad, oh, ow);
}

static void
cuda_be_avgpool_forward (MtBackend *be, const float *x, int n, int c, int hw, float *y)
{
  CUDA_RUN (be, (gsize) n * c, mt_cuda_run_avgpool_forward, x, y, (gint64) n * c, hw);
}

static void
cuda_be_avgpool_backward (MtBackend *be, const float *dy, int n, int c, int hw, float *dx)
{
  CUDA_RUN (be, (gsize) n * c * hw, mt_cuda_run_avgpool_backward, dy, dx, (gint64) n * c, hw);
}

static void
cuda_be_add (MtBackend *be, const float *a, const float *b, gsize len, float *y)
{
  CUDA_RUN (be, len, mt_cuda_run_add, a, b, y, (gint64) len);
}

static void
cuda_be_shortcut_forward (MtBackend *be, const float *x, int n, int c, int h, int w, int out_c, int stride, float *y)
{
  CUDA_RUN (be, (gsize) n * out_c * mt_shortcut_out (h, stride) * mt_shortcut_out (w, stride),
            mt_cuda_run_shortcut_forward, x, y, n, c, h, w, out_c, stride);
}

static void
cuda_be_shortcut_backward (MtBackend *be, const float *dy, int n, int c, int h, int w, int out_c, int stride,
                           float *dx)
{
  CUDA_RUN (be, (gsize) n * c * h * w, mt_cuda_run_shortcut_backward, dy, dx, n, c, h, w, out_c, stride);
}

static void
cuda_be_linear_forward (MtBackend *be, const float *x, int n, int in, int out, const float *weight,
                        const float *bias, float *y)
{
  CUDA_BE_CALL (be, mt_cuda_linear_forward (CUDA_BE (be)->ctx, x, n, in, out, weight, bias, y, &err_));
}

static void
cuda_be_linear_backward (MtBackend *be, const float *x, int n, int in, int out, const float *weight,
                         const float *dy, float *dx, float *dweight, float *dbias)
{
  CUDA_BE_CALL (be, mt_cuda_linear_backward (CUDA_BE (be)->ctx, x, n, in, out, weight, dy, dx, dweight, dbias, &err_));
}

/* Per-sample losses and hits, then their sums in sample order by one thread (the CPU's
 * order, so its bits), all on the device: nothing waits for the host. */
static void
cuda_be_cross_entropy (MtBackend *be, const float *logits, const gint64 *labels, int n, int classes,
                       float *dlogits, double *loss, gint64 *correct)
{
  CudaBackend *cb = CUDA_BE (be);
  if (n > cb->scratch_n) {
    cuda_be_free (be, cb->loss);
    cuda_be_free (be, cb->correct);
    cb->loss = cuda_be_alloc (be, n * sizeof (double));
    cb->correct = cuda_be_alloc (be, n * sizeof (int));
    if (!cb->loss || !cb->correct)
      return;
    cb->scratch_n = n;
  }
  CUDA_RUN (be, (gsize) n, mt_cuda_run_cross_entropy, logits, labels, dlogits, cb->loss, cb->correct, n, classes);
  CUDA_RUN_BLOCKS (be, 1, 1, mt_cuda_run_loss_total, cb->loss, cb->correct, n, loss, correct);
}

static void
cuda_be_sgd_step (MtBackend *be, const MtSgdSpec *s, float *param, const float *grad, float *momentum_buf,
                  gsize len, gboolean first_step)
{
  CUDA_RUN (be, len, mt_cuda_run_sgd_step, param, grad, momentum_buf, (gint64) len, (float) s->lr,
            (float) s->momentum, (float) s->weight_decay, first_step ? 1 : 0, s->nesterov ? 1 : 0);
}

static void
cuda_be_adam_step (MtBackend *be, const MtAdamSpec *s, float *param, const float *grad, float *exp_avg,
                   float *exp_avg_sq, gsize len)
{
  /* The scalars as ml/cpu/mt-adam.c makes them. */
  float step_size = (float) (s->lr / (1 - pow (s->beta1, (double) s->step)));
  float bc2_sqrt = (float) sqrt (1 - pow (s->beta2, (double) s->step));
  float w1 = (float) (1 - s->beta1), b2 = (float) s->beta2, w2 = (float) (1 - s->beta2);
  float wd = (float) s->weight_decay, eps = (float) s->eps;
  int decay = s->weight_decay != 0;
  CUDA_RUN (be, len, mt_cuda_run_adam_step, param, grad, exp_avg, exp_avg_sq, (gint64) len, step_size, bc2_sqrt, w1, b2,
            w2, wd, eps, decay);
}

static const MtBackendOps cuda_ops = {
  .alloc = cuda_be_alloc,
  .free = cuda_be_free,
  .upload = cuda_be_upload,
  .download = cuda_be_download,
  .copy = cuda_be_copy,
  .zero = cuda_be_zero,
  .sync = cuda_be_sync,
  .destroy = cuda_be_destroy,
  .conv2d_workspace = cuda_be_conv2d_workspace,
  .conv2d_forward = cuda_be_conv2d_forward,
  .conv2d_backward = cuda_be_conv2d_backward,
  .conv2d_forward_relu = cuda_be_conv2d_forward_relu,
  .fold_batchnorm = cuda_be_fold_batchnorm,
  .batchnorm_forward_train = cuda_be_bn_forward_train,
  .batchnorm_forward_eval = cuda_be_bn_forward_eval,
  .batchnorm_backward_train = cuda_be_bn_backward_train,
  .batchnorm_backward_eval = cuda_be_bn_backward_eval,
  .relu_forward = cuda_be_relu_forward,
  .relu_backward = cuda_be_relu_backward,
  .maxpool2_forward = cuda_be_maxpool2_forward,
  .maxpool2_backward = cuda_be_maxpool2_backward,
  .linear_forward = cuda_be_linear_forward,
  .linear_backward = cuda_be_linear_backward,
  .cross_entropy = cuda_be_cross_entropy,
  .gather_batch = cuda_be_gather_batch,
  .cam_seed = cuda_be_cam_seed,
  .cam_maps = cuda_be_cam_maps,
  .mask_maps = cuda_be_mask_maps,
  .sgd_step = cuda_be_sgd_step,
  .adam_step = cuda_be_adam_step,
  .maxpool_forward = cuda_be_maxpool_forward,
  .maxpool_backward = cuda_be_maxpool_backward,
  .avgpool_forward = cuda_be_avgpool_forward,
  .avgpool_backward = cuda_be_avgpool_backward,
  .add = cuda_be_add,
  .shortcut_forward = cuda_be_shortcut_forward,
  .shortcut_backward = cuda_be_shortcut_backward,
  .batchnorm_relu_forward_train = cuda_be_bn_relu_forward_train,
  .batchnorm_relu_forward_eval = cuda_be_bn_relu_forward_eval,
  .batchnorm_relu_backward_train = cuda_be_bn_relu_backward_train,
  .batchnorm_relu_backward_eval = cuda_be_bn_relu_backward_eval,
  .capture_begin = cuda_be_capture_begin,
  .capture_end = cuda_be_capture_end,
  .graph_replay = cuda_be_graph_replay,
  .graph_free = cuda_be_graph_free,
};

/* The module's entry points, which ml/mt-backend.c looks up after loading it (named apart
 * from its wrappers, mt_cuda_backend_*, so that neither binds to the other). */
G_MODULE_EXPORT gboolean mt_cuda_module_probe (char **description, GError **error);
G_MODULE_EXPORT MtBackend *mt_cuda_module_new (GError **error);

/* What every instance shares, made once per process: device 0's kernels, built (NVRTC
 * takes seconds; a cubin compiled before is taken from the kernel cache) and loaded. A
 * cached cubin the driver refuses is compiled anew, once. A failure is not kept: the
 * next instance tries again. */
static MtCudaKernels *
shared_device (const struct cudaDeviceProp *prop, GError **error)
{
  static GMutex lock;
  static MtCudaKernels *kernels;
  g_mutex_lock (&lock);
  if (!kernels) {
    g_autofree char *cache = mt_cuda_kernel_cache_dir ();
    for (int refresh = 0; refresh <= (cache != NULL) && !kernels; refresh++) {
      g_clear_error (error);
      g_autoptr (GBytes) code = mt_cuda_build_kernels (prop->major, prop->minor, cache, refresh, NULL, error);
      kernels = code ? mt_cuda_kernels_load (g_bytes_get_data (code, NULL), error) : NULL;
    }
  }
  MtCudaKernels *k = kernels;
  g_mutex_unlock (&lock);
  return k;
}
G_MODULE_EXPORT GStrv mt_cuda_module_environment (void);

/* The device and the versions of what runs on it (mt_backend_environment). */
GStrv
mt_cuda_module_environment (void)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  g_autofree char *device = NULL;
  if (!mt_cuda_probe (&device, NULL)) {
    g_strv_builder_add (b, "device=none");
    return g_strv_builder_end (b);
  }
  int driver = 0, runtime = 0, nvrtc_major = 0, nvrtc_minor = 0, cublas = 0;
  cudaDriverGetVersion (&driver);
  cudaRuntimeGetVersion (&runtime);
  nvrtcVersion (&nvrtc_major, &nvrtc_minor);
  cublasGetProperty (MAJOR_VERSION, &cublas);
  int cublas_minor = 0, cublas_patch = 0;
  cublasGetProperty (MINOR_VERSION, &cublas_minor);
  cublasGetProperty (PATCH_LEVEL, &cublas_patch);
  size_t cudnn = cudnnGetVersion ();
  g_autofree char *lines = g_strdup_printf (
    "device=%s\ndriver=CUDA %d.%d\nruntime=CUDA %d.%d\nnvrtc=%d.%d\ncublas=%d.%d.%d\ncudnn=%zu.%zu.%zu", device,
    driver / 1000, driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10, nvrtc_major, nvrtc_minor, cublas,
    cublas_minor, cublas_patch, cudnn / 10000, cudnn % 10000 / 100, cudnn % 100);
  g_auto (GStrv) parts = g_strsplit (lines, "\n", -1);
  for (guint i = 0; parts[i]; i++)
    g_strv_builder_add (b, parts[i]);
  return g_strv_builder_end (b);
}

gboolean
mt_cuda_module_probe (char **description, GError **error)
{
  return mt_cuda_probe (description, error);
}

/* The instance's memory pool on device 0, told to keep what is freed (a pool returns it
 * to the system at each synchronisation by default, so every epoch's allocations would
 * be new ones). */
static gboolean
instance_pool (CudaBackend *cb, GError **error)
{
  int supported = 0;
  cudaError_t e = cudaDeviceGetAttribute (&supported, cudaDevAttrMemoryPoolsSupported, 0);
  if (e != cudaSuccess || !supported) {
    g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "CUDA device 0 has no stream-ordered memory pools%s%s",
                 e != cudaSuccess ? ": " : "", e != cudaSuccess ? cudaGetErrorString (e) : "");
    return FALSE;
  }
  struct cudaMemPoolProps props;
  memset (&props, 0, sizeof props);
  props.allocType = cudaMemAllocationTypePinned;
  props.handleTypes = cudaMemHandleTypeNone;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = 0;
  guint64 keep = G_MAXUINT64;
  if ((e = cudaMemPoolCreate (&cb->pool, &props)) != cudaSuccess ||
      (e = cudaMemPoolSetAttribute (cb->pool, cudaMemPoolAttrReleaseThreshold, &keep)) != cudaSuccess) {
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "a memory pool on CUDA device 0: %s", cudaGetErrorString (e));
    return FALSE;
  }
  return TRUE;
}

MtBackend *
mt_cuda_module_new (GError **error)
{
  if (!mt_cuda_probe (NULL, error))
    return NULL;
  struct cudaDeviceProp prop;
  cudaError_t e = cudaGetDeviceProperties (&prop, 0);
  if (e != cudaSuccess) {
    g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "CUDA device 0: %s", cudaGetErrorString (e));
    return NULL;
  }
  MtCudaKernels *kernels = shared_device (&prop, error);
  if (!kernels)
    return NULL;
  CudaBackend *cb = g_new0 (CudaBackend, 1);
  cb->kernels = kernels;
  cb->parent.ops = &cuda_ops;
  cb->parent.name = "cuda";
  e = cudaStreamCreateWithFlags (&cb->stream, cudaStreamNonBlocking);
  if (e != cudaSuccess) {
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "cudaStreamCreate: %s", cudaGetErrorString (e));
    cuda_be_destroy (&cb->parent);
    return NULL;
  }
  for (int i = 0; i < UPLOAD_SLOTS && e == cudaSuccess; i++)
    e = cudaEventCreateWithFlags (&cb->up[i].done, cudaEventDisableTiming);
  if (e != cudaSuccess) {
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "cudaEventCreate: %s", cudaGetErrorString (e));
    cuda_be_destroy (&cb->parent);
    return NULL;
  }
  if (!instance_pool (cb, error) || !(cb->ctx = mt_cuda_context_new (cb->stream, cb->pool, error))) {
    cuda_be_destroy (&cb->parent);
    return NULL;
  }
  return &cb->parent;
}
