#include "config.h"
#include "ml/cuda/mt-cuda-ops.h"
#include "base/mt-error.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <string.h>

struct _MtCudaContext {
  cudaStream_t stream;
  cudaMemPool_t pool;       /* where its buffers come from */
  cublasHandle_t blas;
  cudnnHandle_t dnn;
  void *workspace;          /* cuDNN's, as large as the largest plan's */
  gsize workspace_size;
  void *blas_workspace;     /* cuBLAS's own, fixed: no allocation inside its calls */
  float *ones;
  int n_ones;
  GHashTable *conv_plans;   /* ConvKey -> ConvPlan */
  guint64 reallocs;         /* times workspace or ones moved (recorded graphs go stale) */
};

/* cuBLAS's workspace: what it asks for on Hopper (32 MiB), set once so that its calls
 * never allocate (which graph capture forbids) and pick their kernels deterministically. */
#define BLAS_WORKSPACE_BYTES (32u << 20)

/* The status codes of the three libraries, checked in one place. */
typedef enum { LIB_RUNTIME, LIB_CUBLAS, LIB_CUDNN } CudaLib;

static gboolean
cuda_check (CudaLib lib, int status, const char *what, GError **error)
{
  const char *text = NULL;
  switch (lib) {
  case LIB_RUNTIME:
    if (status != cudaSuccess)
      text = cudaGetErrorString ((cudaError_t) status);
    break;
  case LIB_CUBLAS:
    if (status != CUBLAS_STATUS_SUCCESS)
      text = cublasGetStatusString ((cublasStatus_t) status);
    break;
  case LIB_CUDNN:
    if (status != CUDNN_STATUS_SUCCESS)
      text = cudnnGetErrorString ((cudnnStatus_t) status);
    break;
  }
  if (!text)
    return TRUE;
  g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "%s: %s", what, text);
  return FALSE;
}

static void conv_plan_free (gpointer p);

MtCudaContext *
mt_cuda_context_new (gpointer stream, gpointer pool, GError **error)
{
  g_autoptr (MtCudaContext) ctx = g_new0 (MtCudaContext, 1);
  ctx->stream = stream;
  ctx->pool = pool;
  ctx->conv_plans = g_hash_table_new_full (g_bytes_hash, g_bytes_equal, (GDestroyNotify) g_bytes_unref, conv_plan_free);
  if (!cuda_check (LIB_CUBLAS, cublasCreate (&ctx->blas), "cublasCreate", error))
    return NULL;
  if (!cuda_check (LIB_CUDNN, cudnnCreate (&ctx->dnn), "cudnnCreate", error))
    return NULL;
  /* Bit-for-bit float32 products: no TF32, so CPU parity holds to float rounding. */
  if (!cuda_check (LIB_CUBLAS, cublasSetStream (ctx->blas, ctx->stream), "cublasSetStream", error) ||
      !cuda_check (LIB_CUDNN, cudnnSetStream (ctx->dnn, ctx->stream), "cudnnSetStream", error) ||
      !cuda_check (LIB_CUBLAS, cublasSetMathMode (ctx->blas, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode", error) ||
      !cuda_check (LIB_RUNTIME,
                   cudaMallocFromPoolAsync (&ctx->blas_workspace, BLAS_WORKSPACE_BYTES, ctx->pool, ctx->stream),
                   "cuBLAS workspace", error) ||
      !cuda_check (LIB_CUBLAS, cublasSetWorkspace (ctx->blas, ctx->blas_workspace, BLAS_WORKSPACE_BYTES),
                   "cublasSetWorkspace", error))
    return NULL;
  return g_steal_pointer (&ctx);
}

void
mt_cuda_context_free (MtCudaContext *ctx)
{
  if (!ctx)
    return;
  g_clear_pointer (&ctx->conv_plans, g_hash_table_unref);
  /* In stream order, after whatever queued work still uses them. */
  void *buffers[] = { ctx->workspace, ctx->blas_workspace, ctx->ones };
  for (guint i = 0; i < G_N_ELEMENTS (buffers); i++)
    if (buffers[i])
      cudaFreeAsync (buffers[i], ctx->stream);
  if (ctx->stream)
    cudaStreamSynchronize (ctx->stream);
  if (ctx->dnn)
    cudnnDestroy (ctx->dnn);
  if (ctx->blas)
    cublasDestroy (ctx->blas);
  g_free (ctx);
}

guint64
mt_cuda_context_reallocs (MtCudaContext *ctx)
{
  return ctx->reallocs;
}

/* A buffer that moved inside a recorded graph would be the graph's own allocation,
 * invalid outside it: buffers grow in the eager steps before any recording, never in one. */
static gboolean
not_capturing (MtCudaContext *ctx, const char *what, GError **error)
{
  enum cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (!cuda_check (LIB_RUNTIME, cudaStreamIsCapturing (ctx->stream, &status), "cudaStreamIsCapturing", error))
    return FALSE;
  if (status == cudaStreamCaptureStatusNone)
    return TRUE;
  g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "%s would grow while a CUDA graph is recorded", what);
  return FALSE;
}

/* Grows cuDNN's workspace in stream order (from the pool: no device-wide stall, and legal
 * while a graph is captured). Plans size it when they are made, before any capture. */
static gboolean
ensure_workspace (MtCudaContext *ctx, gsize bytes, GError **error)
{
  if (bytes <= ctx->workspace_size)
    return TRUE;
  if (!not_capturing (ctx, "cuDNN's workspace", error))
    return FALSE;
  if (ctx->workspace && !cuda_check (LIB_RUNTIME, cudaFreeAsync (ctx->workspace, ctx->stream), "workspace", error))
    return FALSE;
  ctx->workspace = NULL;
  ctx->workspace_size = 0;
  ctx->reallocs++;
  if (!cuda_check (LIB_RUNTIME, cudaMallocFromPoolAsync (&ctx->workspace, bytes, ctx->pool, ctx->stream), "workspace",
                   error))
    return FALSE;
  ctx->workspace_size = bytes;
  return TRUE;
}

/* A device vector of @n ones, for bias sums with gemv/ger: made and filled on the device
 * in the context's own stream (cuDNN's fill kernel: no host buffer, no copy), ordered
 * before the work that reads it. */
static const float *
ones (MtCudaContext *ctx, int n, GError **error)
{
  if (n > ctx->n_ones) {
    if (!not_capturing (ctx, "the vector of ones", error))
      return NULL;
    if (ctx->ones && !cuda_check (LIB_RUNTIME, cudaFreeAsync (ctx->ones, ctx->stream), "ones", error))
      return NULL;
    ctx->ones = NULL;
    ctx->n_ones = 0;
    ctx->reallocs++;
    gsize bytes = (gsize) n * sizeof (float);
    if (!cuda_check (LIB_RUNTIME, cudaMallocFromPoolAsync ((void **) &ctx->ones, bytes, ctx->pool, ctx->stream),
                     "ones", error))
      return NULL;
    const float one = 1.0f;
    cudnnTensorDescriptor_t d = NULL;
    gboolean filled =
      cuda_check (LIB_CUDNN, cudnnCreateTensorDescriptor (&d), "ones", error) &&
      cuda_check (LIB_CUDNN, cudnnSetTensor4dDescriptor (d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 1, 1, n),
                  "ones", error) &&
      cuda_check (LIB_CUDNN, cudnnSetTensor (ctx->dnn, d, ctx->ones, &one), "ones", error);
    if (d)
      cudnnDestroyTensorDescriptor (d);  /* read when the fill was queued */
    if (!filled)
      return NULL;
    ctx->n_ones = n;
  }
  return ctx->ones;
}

/* ---- linear (cuBLAS is column-major: a row-major [r, c] matrix is its transpose) ---- */

void
mt_cuda_linear_gemms (int n, int in, int out, MtCudaGemm gemm[3])
{
  /* y^T [out, n] = W [out, in] x^T [in, n]: W is W^T column-major, so op T. */
  gemm[MT_CUDA_GEMM_FORWARD] = (MtCudaGemm) { TRUE, FALSE, out, n, in, in, in, out };
  /* dx^T [in, n] = W^T [in, out] dy^T [out, n] */
  gemm[MT_CUDA_GEMM_DATA] = (MtCudaGemm) { FALSE, FALSE, in, n, out, in, out, in };
  /* dW^T [in, out] = x^T [in, n] dy [n, out] */
  gemm[MT_CUDA_GEMM_WEIGHT] = (MtCudaGemm) { FALSE, TRUE, in, out, n, in, out, in };
}

static gboolean
run_gemm (MtCudaContext *ctx, const MtCudaGemm *g, const float *a, const float *b, float *c, const char *what,
          GError **error)
{
  const float one = 1.0f, zero = 0.0f;
  return cuda_check (LIB_CUBLAS, cublasSgemm (ctx->blas, g->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                              g->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, g->m, g->n, g->k, &one, a, g->lda,
                                              b, g->ldb, &zero, c, g->ldc), what, error);
}

gboolean
mt_cuda_linear_forward (MtCudaContext *ctx, const float *x, int n, int in, int out, const float *weight,
                        const float *bias, float *y, GError **error)
{
  const float one = 1.0f;
  MtCudaGemm g[3];
  mt_cuda_linear_gemms (n, in, out, g);
  if (!run_gemm (ctx, &g[MT_CUDA_GEMM_FORWARD], weight, x, y, "linear forward", error))
    return FALSE;
  if (!bias)
    return TRUE;
  const float *o = ones (ctx, n, error);
  return o && cuda_check (LIB_CUBLAS, cublasSger (ctx->blas, out, n, &one, bias, 1, o, 1, y, out), "linear bias", error);
}

gboolean
mt_cuda_linear_backward (MtCudaContext *ctx, const float *x, int n, int in, int out, const float *weight,
                         const float *dy, float *dx, float *dweight, float *dbias, GError **error)
{
  const float one = 1.0f, zero = 0.0f;
  MtCudaGemm g[3];
  mt_cuda_linear_gemms (n, in, out, g);
  if (dx && !run_gemm (ctx, &g[MT_CUDA_GEMM_DATA], weight, dy, dx, "linear backward (input)", error))
    return FALSE;
  if (!dweight)
    return TRUE;  /* only the input's gradient wanted */
  if (!run_gemm (ctx, &g[MT_CUDA_GEMM_WEIGHT], x, dy, dweight, "linear backward (weight)", error))
    return FALSE;
  const float *o = ones (ctx, n, error);
  return o && cuda_check (LIB_CUBLAS, cublasSgemv (ctx->blas, CUBLAS_OP_N, out, n, &one, dy, out, o, 1, &zero, dbias, 1),
                       "linear backward (bias)", error);
}

/* ---- convolution (cuDNN) ---- */

/* Per shape, made once: the five descriptors and the algorithm of each direction, chosen
 * among cuDNN's for this shape as the fastest that is deterministic (no atomics: reruns
 * give the same bytes) and computes in plain FP32 FMA (no TF32, no tensor-op conversion). */
typedef struct {
  MtConvSpec s;
  int n, h, w;
} ConvKey;

typedef struct {
  cudnnTensorDescriptor_t x, y, bias;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv;
  cudnnConvolutionFwdAlgo_t fwd;
  cudnnConvolutionBwdFilterAlgo_t bwd_filter;
  cudnnConvolutionBwdDataAlgo_t bwd_data;
  gboolean has_bwd_data;
  gsize workspace;
} ConvPlan;

static void
conv_plan_free (gpointer p)
{
  ConvPlan *d = p;
  if (d->x) cudnnDestroyTensorDescriptor (d->x);
  if (d->y) cudnnDestroyTensorDescriptor (d->y);
  if (d->bias) cudnnDestroyTensorDescriptor (d->bias);
  if (d->w) cudnnDestroyFilterDescriptor (d->w);
  if (d->conv) cudnnDestroyConvolutionDescriptor (d->conv);
  g_free (d);
}

static gboolean
conv_descs (const MtConvSpec *s, int n, int h, int w, ConvPlan *d, GError **error)
{
  int oh = mt_conv_out (h, s->k, s->stride, s->pad), ow = mt_conv_out (w, s->k, s->stride, s->pad);
  return cuda_check (LIB_CUDNN, cudnnCreateTensorDescriptor (&d->x), "descriptor", error) &&
         cuda_check (LIB_CUDNN, cudnnCreateTensorDescriptor (&d->y), "descriptor", error) &&
         cuda_check (LIB_CUDNN, cudnnCreateTensorDescriptor (&d->bias), "descriptor", error) &&
         cuda_check (LIB_CUDNN, cudnnCreateFilterDescriptor (&d->w), "descriptor", error) &&
         cuda_check (LIB_CUDNN, cudnnCreateConvolutionDescriptor (&d->conv), "descriptor", error) &&
         cuda_check (LIB_CUDNN, cudnnSetTensor4dDescriptor (d->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, s->in_c, h, w), "x", error) &&
         cuda_check (LIB_CUDNN, cudnnSetTensor4dDescriptor (d->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, s->out_c, oh, ow), "y", error) &&
         cuda_check (LIB_CUDNN, cudnnSetTensor4dDescriptor (d->bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, s->out_c, 1, 1), "bias", error) &&
         cuda_check (LIB_CUDNN, cudnnSetFilter4dDescriptor (d->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s->out_c, s->in_c, s->k, s->k), "w", error) &&
         cuda_check (LIB_CUDNN, cudnnSetConvolution2dDescriptor (d->conv, s->pad, s->pad, s->stride, s->stride, 1, 1,
                                                  CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), "conv", error) &&
         cuda_check (LIB_CUDNN, cudnnSetConvolutionMathType (d->conv, CUDNN_FMA_MATH), "math type", error);
}

gboolean
mt_cuda_conv2d_check_descriptors (const MtConvSpec *s, int n, int h, int w, GError **error)
{
  ConvPlan *d = g_new0 (ConvPlan, 1);
  int on = 0, oc = 0, oh = 0, ow = 0;
  gboolean ok = conv_descs (s, n, h, w, d, error) &&
    cuda_check (LIB_CUDNN, cudnnGetConvolution2dForwardOutputDim (d->conv, d->x, d->w, &on, &oc, &oh, &ow),
                "output size", error);
  int want_h = mt_conv_out (h, s->k, s->stride, s->pad), want_w = mt_conv_out (w, s->k, s->stride, s->pad);
  if (ok && (on != n || oc != s->out_c || oh != want_h || ow != want_w)) {
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "cuDNN makes [%d, %d, %d, %d] of this convolution, the CPU [%d, %d, "
                 "%d, %d]", on, oc, oh, ow, n, s->out_c, want_h, want_w);
    ok = FALSE;
  }
  conv_plan_free (d);
  return ok;
}

/* The index in @found results (cuDNN's order: fastest first) of the first usable one. */
#define PICK_ALGO(perf, found, pick)                                                          \
  G_STMT_START {                                                                              \
    (pick) = -1;                                                                              \
    for (int i_ = 0; i_ < (found) && (pick) < 0; i_++)                                        \
      if ((perf)[i_].status == CUDNN_STATUS_SUCCESS && (perf)[i_].determinism == CUDNN_DETERMINISTIC && \
          ((perf)[i_].mathType == CUDNN_FMA_MATH || (perf)[i_].mathType == CUDNN_DEFAULT_MATH)) \
        (pick) = i_;                                                                          \
  } G_STMT_END

static gboolean
no_algo (const char *what, GError **error)
{
  g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "cuDNN has no deterministic FP32 %s algorithm for this convolution",
               what);
  return FALSE;
}

static ConvPlan *
conv_plan (MtCudaContext *ctx, const MtConvSpec *s, int n, int h, int w, GError **error)
{
  ConvKey key;
  memset (&key, 0, sizeof key);  /* hashed as bytes */
  key.s = *s;
  key.n = n;
  key.h = h;
  key.w = w;
  g_autoptr (GBytes) kb = g_bytes_new (&key, sizeof key);
  ConvPlan *found_plan = g_hash_table_lookup (ctx->conv_plans, kb);
  if (found_plan)
    return found_plan;
  ConvPlan *d = g_new0 (ConvPlan, 1);
  cudnnConvolutionFwdAlgoPerf_t fperf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  cudnnConvolutionBwdFilterAlgoPerf_t wperf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  cudnnConvolutionBwdDataAlgoPerf_t dperf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  int nf = 0, nw = 0, nd = 0, pf, pw, pd;
  gboolean ok = conv_descs (s, n, h, w, d, error) &&
    cuda_check (LIB_CUDNN, cudnnGetConvolutionForwardAlgorithm_v7 (ctx->dnn, d->x, d->w, d->conv, d->y,
                                                                   G_N_ELEMENTS (fperf), &nf, fperf),
                "choosing a forward algorithm", error) &&
    cuda_check (LIB_CUDNN, cudnnGetConvolutionBackwardFilterAlgorithm_v7 (ctx->dnn, d->x, d->y, d->conv, d->w,
                                                                          G_N_ELEMENTS (wperf), &nw, wperf),
                "choosing a filter-gradient algorithm", error) &&
    cuda_check (LIB_CUDNN, cudnnGetConvolutionBackwardDataAlgorithm_v7 (ctx->dnn, d->w, d->y, d->conv, d->x,
                                                                        G_N_ELEMENTS (dperf), &nd, dperf),
                "choosing a data-gradient algorithm", error);
  if (ok) {
    PICK_ALGO (fperf, nf, pf);
    PICK_ALGO (wperf, nw, pw);
    PICK_ALGO (dperf, nd, pd);
    ok = (pf >= 0 || no_algo ("forward", error)) && (pw >= 0 || no_algo ("filter-gradient", error));
  }
  if (!ok) {
    conv_plan_free (d);
    return NULL;
  }
  d->fwd = fperf[pf].algo;
  d->bwd_filter = wperf[pw].algo;
  d->has_bwd_data = pd >= 0;  /* checked when a data gradient is asked for */
  d->bwd_data = pd >= 0 ? dperf[pd].algo : 0;
  d->workspace = MAX (fperf[pf].memory, wperf[pw].memory);
  if (pd >= 0)
    d->workspace = MAX (d->workspace, dperf[pd].memory);
  if (!ensure_workspace (ctx, d->workspace, error)) {
    conv_plan_free (d);
    return NULL;
  }
  g_hash_table_insert (ctx->conv_plans, g_steal_pointer (&kb), d);
  return d;
}

gboolean
mt_cuda_conv2d_forward (MtCudaContext *ctx, const MtConvSpec *s, const float *x, int n, int h, int w,
                        const float *weight, const float *bias, float *y, GError **error)
{
  ConvPlan *d = conv_plan (ctx, s, n, h, w, error);
  const float one = 1.0f, zero = 0.0f;
  return d &&
         cuda_check (LIB_CUDNN, cudnnConvolutionForward (ctx->dnn, &one, d->x, x, d->w, weight, d->conv, d->fwd,
                                                         ctx->workspace, ctx->workspace_size, &zero, d->y, y),
                     "convolution forward", error) &&
         (!bias || cuda_check (LIB_CUDNN, cudnnAddTensor (ctx->dnn, &one, d->bias, bias, &one, d->y, y),
                               "convolution bias", error));
}

gboolean
mt_cuda_conv2d_backward (MtCudaContext *ctx, const MtConvSpec *s, const float *x, int n, int h, int w,
                         const float *weight, const float *dy, float *dx, float *dweight, float *dbias,
                         GError **error)
{
  ConvPlan *d = conv_plan (ctx, s, n, h, w, error);
  const float one = 1.0f, zero = 0.0f;
  if (!d)
    return FALSE;
  if (!cuda_check (LIB_CUDNN, cudnnConvolutionBackwardFilter (ctx->dnn, &one, d->x, x, d->y, dy, d->conv, d->bwd_filter,
                                                              ctx->workspace, ctx->workspace_size, &zero, d->w, dweight),
                   "filter gradient", error))
    return FALSE;
  if (dbias && !cuda_check (LIB_CUDNN, cudnnConvolutionBackwardBias (ctx->dnn, &one, d->y, dy, &zero, d->bias, dbias),
                            "bias gradient", error))
    return FALSE;
  if (!dx)
    return TRUE;
  if (!d->has_bwd_data)
    return no_algo ("data-gradient", error);
  return cuda_check (LIB_CUDNN, cudnnConvolutionBackwardData (ctx->dnn, &one, d->w, weight, d->y, dy, d->conv, d->bwd_data,
                                                              ctx->workspace, ctx->workspace_size, &zero, d->x, dx),
                     "data gradient", error);
}
