#include "config.h"
#include "ml/cuda/mt-cuda-ops.h"
#include "base/mt-error.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

struct _MtCudaContext {
  cudaStream_t stream;
  cublasHandle_t blas;
  cudnnHandle_t dnn;
  void *workspace;
  gsize workspace_size;
  float *ones;
  gsize n_ones;
};

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

MtCudaContext *
mt_cuda_context_new (gpointer stream, GError **error)
{
  g_autofree MtCudaContext *ctx = g_new0 (MtCudaContext, 1);
  ctx->stream = stream;
  if (!cuda_check (LIB_CUBLAS, cublasCreate (&ctx->blas), "cublasCreate", error))
    return NULL;
  if (!cuda_check (LIB_CUDNN, cudnnCreate (&ctx->dnn), "cudnnCreate", error)) {
    cublasDestroy (ctx->blas);
    return NULL;
  }
  cublasSetStream (ctx->blas, ctx->stream);
  cudnnSetStream (ctx->dnn, ctx->stream);
  /* Bit-for-bit float32 products: no TF32, so CPU parity holds to float rounding. */
  cublasSetMathMode (ctx->blas, CUBLAS_PEDANTIC_MATH);
  return g_steal_pointer (&ctx);
}

void
mt_cuda_context_free (MtCudaContext *ctx)
{
  if (!ctx)
    return;
  cudaFree (ctx->workspace);
  cudaFree (ctx->ones);
  cudnnDestroy (ctx->dnn);
  cublasDestroy (ctx->blas);
  g_free (ctx);
}

static gboolean
ensure_workspace (MtCudaContext *ctx, gsize bytes, GError **error)
{
  if (bytes <= ctx->workspace_size)
    return TRUE;
  cudaFree (ctx->workspace);
  ctx->workspace = NULL;
  ctx->workspace_size = 0;
  if (!cuda_check (LIB_RUNTIME, cudaMalloc (&ctx->workspace, bytes), "workspace", error))
    return FALSE;
  ctx->workspace_size = bytes;
  return TRUE;
}

/* A device vector of @n ones, for bias sums with gemv/ger. */
static const float *
ones (MtCudaContext *ctx, gsize n, GError **error)
{
  if (n > ctx->n_ones) {
    cudaFree (ctx->ones);
    ctx->ones = NULL;
    ctx->n_ones = 0;
    g_autofree float *host = g_new (float, n);
    for (gsize i = 0; i < n; i++)
      host[i] = 1.0f;
    if (!cuda_check (LIB_RUNTIME, cudaMalloc ((void **) &ctx->ones, n * sizeof (float)), "ones", error) ||
        !cuda_check (LIB_RUNTIME, cudaMemcpy (ctx->ones, host, n * sizeof (float), cudaMemcpyHostToDevice), "ones", error))
      return NULL;
    ctx->n_ones = n;
  }
  return ctx->ones;
}

/* ---- linear (cuBLAS is column-major: a row-major [r, c] matrix is its transpose) ---- */

gboolean
mt_cuda_linear_forward (MtCudaContext *ctx, const float *x, int n, int in, int out, const float *weight,
                        const float *bias, float *y, GError **error)
{
  const float one = 1.0f, zero = 0.0f;
  /* y^T [out, n] = W [out, in] x^T [in, n] */
  if (!cuda_check (LIB_CUBLAS, cublasSgemm (ctx->blas, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &one, weight, in, x, in, &zero, y, out),
                "linear forward", error))
    return FALSE;
  if (!bias)
    return TRUE;
  const float *o = ones (ctx, (gsize) n, error);
  return o && cuda_check (LIB_CUBLAS, cublasSger (ctx->blas, out, n, &one, bias, 1, o, 1, y, out), "linear bias", error);
}

gboolean
mt_cuda_linear_backward (MtCudaContext *ctx, const float *x, int n, int in, int out, const float *weight,
                         const float *dy, float *dx, float *dweight, float *dbias, GError **error)
{
  const float one = 1.0f, zero = 0.0f;
  /* dx^T [in, n] = W^T [in, out] dy^T [out, n] */
  if (dx && !cuda_check (LIB_CUBLAS, cublasSgemm (ctx->blas, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one, weight, in, dy, out, &zero,
                                   dx, in), "linear backward (input)", error))
    return FALSE;
  /* dW^T [in, out] = x^T [in, n] dy [n, out] */
  if (!cuda_check (LIB_CUBLAS, cublasSgemm (ctx->blas, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, x, in, dy, out, &zero,
                             dweight, in), "linear backward (weight)", error))
    return FALSE;
  const float *o = ones (ctx, (gsize) n, error);
  return o && cuda_check (LIB_CUBLAS, cublasSgemv (ctx->blas, CUBLAS_OP_N, out, n, &one, dy, out, o, 1, &zero, dbias, 1),
                       "linear backward (bias)", error);
}

/* ---- convolution (cuDNN) ---- */

typedef struct {
  cudnnTensorDescriptor_t x, y, bias;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv;
} ConvDescs;

static void
conv_descs_clear (ConvDescs *d)
{
  if (d->x) cudnnDestroyTensorDescriptor (d->x);
  if (d->y) cudnnDestroyTensorDescriptor (d->y);
  if (d->bias) cudnnDestroyTensorDescriptor (d->bias);
  if (d->w) cudnnDestroyFilterDescriptor (d->w);
  if (d->conv) cudnnDestroyConvolutionDescriptor (d->conv);
}

static gboolean
conv_descs (const MtConvSpec *s, int n, int h, int w, ConvDescs *d, GError **error)
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
mt_cuda_conv2d_forward (MtCudaContext *ctx, const MtConvSpec *s, const float *x, int n, int h, int w,
                        const float *weight, const float *bias, float *y, GError **error)
{
  ConvDescs d = { 0 };
  gboolean ok = conv_descs (s, n, h, w, &d, error);
  cudnnConvolutionFwdAlgoPerf_t perf[8];
  int found = 0;
  ok = ok && cuda_check (LIB_CUDNN, cudnnGetConvolutionForwardAlgorithm_v7 (ctx->dnn, d.x, d.w, d.conv, d.y, 8, &found, perf),
                     "choosing a forward algorithm", error);
  int pick = -1;
  for (int i = 0; ok && i < found && pick < 0; i++)
    if (perf[i].status == CUDNN_STATUS_SUCCESS)
      pick = i;
  if (ok && pick < 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "cuDNN has no forward algorithm for this convolution");
    ok = FALSE;
  }
  const float one = 1.0f, zero = 0.0f;
  ok = ok && ensure_workspace (ctx, perf[pick].memory, error) &&
       cuda_check (LIB_CUDNN, cudnnConvolutionForward (ctx->dnn, &one, d.x, x, d.w, weight, d.conv, perf[pick].algo, ctx->workspace,
                                        ctx->workspace_size, &zero, d.y, y), "convolution forward", error) &&
       (!bias || cuda_check (LIB_CUDNN, cudnnAddTensor (ctx->dnn, &one, d.bias, bias, &one, d.y, y), "convolution bias", error));
  conv_descs_clear (&d);
  return ok;
}

gboolean
mt_cuda_conv2d_backward (MtCudaContext *ctx, const MtConvSpec *s, const float *x, int n, int h, int w,
                         const float *weight, const float *dy, float *dx, float *dweight, float *dbias,
                         GError **error)
{
  ConvDescs d = { 0 };
  gboolean ok = conv_descs (s, n, h, w, &d, error);
  const float one = 1.0f, zero = 0.0f;
  cudnnConvolutionBwdFilterAlgoPerf_t fperf[8];
  int found = 0, pick = -1;
  ok = ok && cuda_check (LIB_CUDNN, cudnnGetConvolutionBackwardFilterAlgorithm_v7 (ctx->dnn, d.x, d.y, d.conv, d.w, 8, &found, fperf),
                     "choosing a filter-gradient algorithm", error);
  for (int i = 0; ok && i < found && pick < 0; i++)
    if (fperf[i].status == CUDNN_STATUS_SUCCESS)
      pick = i;
  if (ok && pick < 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "cuDNN has no filter-gradient algorithm for this convolution");
    ok = FALSE;
  }
  ok = ok && ensure_workspace (ctx, fperf[pick].memory, error) &&
       cuda_check (LIB_CUDNN, cudnnConvolutionBackwardFilter (ctx->dnn, &one, d.x, x, d.y, dy, d.conv, fperf[pick].algo, ctx->workspace,
                                               ctx->workspace_size, &zero, d.w, dweight), "filter gradient", error) &&
       cuda_check (LIB_CUDNN, cudnnConvolutionBackwardBias (ctx->dnn, &one, d.y, dy, &zero, d.bias, dbias), "bias gradient", error);
  if (ok && dx) {
    cudnnConvolutionBwdDataAlgoPerf_t dperf[8];
    pick = -1;
    ok = cuda_check (LIB_CUDNN, cudnnGetConvolutionBackwardDataAlgorithm_v7 (ctx->dnn, d.w, d.y, d.conv, d.x, 8, &found, dperf),
                 "choosing a data-gradient algorithm", error);
    for (int i = 0; ok && i < found && pick < 0; i++)
      if (dperf[i].status == CUDNN_STATUS_SUCCESS)
        pick = i;
    if (ok && pick < 0) {
      g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "cuDNN has no data-gradient algorithm for this convolution");
      ok = FALSE;
    }
    ok = ok && ensure_workspace (ctx, dperf[pick].memory, error) &&
         cuda_check (LIB_CUDNN, cudnnConvolutionBackwardData (ctx->dnn, &one, d.w, weight, d.y, dy, d.conv, dperf[pick].algo,
                                               ctx->workspace, ctx->workspace_size, &zero, d.x, dx),
                 "data gradient", error);
  }
  conv_descs_clear (&d);
  return ok;
}

/* ---- batch normalisation (cuDNN, spatial mode: one statistic per channel) ---- */

typedef struct {
  cudnnTensorDescriptor_t x, stats;
} BnDescs;

static gboolean
bn_descs (int n, int c, int hw, BnDescs *d, GError **error)
{
  return cuda_check (LIB_CUDNN, cudnnCreateTensorDescriptor (&d->x), "descriptor", error) &&
         cuda_check (LIB_CUDNN, cudnnCreateTensorDescriptor (&d->stats), "descriptor", error) &&
         cuda_check (LIB_CUDNN, cudnnSetTensor4dDescriptor (d->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, hw, 1), "x", error) &&
         cuda_check (LIB_CUDNN, cudnnDeriveBNTensorDescriptor (d->stats, d->x, CUDNN_BATCHNORM_SPATIAL), "stats", error);
}

static void
bn_descs_clear (BnDescs *d)
{
  if (d->x) cudnnDestroyTensorDescriptor (d->x);
  if (d->stats) cudnnDestroyTensorDescriptor (d->stats);
}

gboolean
mt_cuda_batchnorm_forward_train (MtCudaContext *ctx, const MtBnSpec *s, const float *x, int n, int c, int hw,
                                 const float *gamma, const float *beta, float *y, float *save_mean,
                                 float *save_invstd, float *running_mean, float *running_var, GError **error)
{
  BnDescs d = { 0 };
  const float one = 1.0f, zero = 0.0f;
  /* cuDNN, like PyTorch, updates the running variance with the unbiased estimate. */
  gboolean ok = bn_descs (n, c, hw, &d, error) &&
    cuda_check (LIB_CUDNN, cudnnBatchNormalizationForwardTraining (ctx->dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x, x, d.x, y,
                                                    d.stats, gamma, beta, s->momentum, running_mean, running_var,
                                                    s->eps, save_mean, save_invstd),
            "batch norm forward", error);
  bn_descs_clear (&d);
  return ok;
}

gboolean
mt_cuda_batchnorm_forward_eval (MtCudaContext *ctx, const MtBnSpec *s, const float *x, int n, int c, int hw,
                                const float *gamma, const float *beta, float *y, const float *running_mean,
                                const float *running_var, GError **error)
{
  BnDescs d = { 0 };
  const float one = 1.0f, zero = 0.0f;
  gboolean ok = bn_descs (n, c, hw, &d, error) &&
    cuda_check (LIB_CUDNN, cudnnBatchNormalizationForwardInference (ctx->dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x, x, d.x, y,
                                                     d.stats, gamma, beta, running_mean, running_var, s->eps),
            "batch norm inference", error);
  bn_descs_clear (&d);
  return ok;
}

gboolean
mt_cuda_batchnorm_backward_train (MtCudaContext *ctx, const MtBnSpec *s, const float *x, int n, int c, int hw,
                                  const float *gamma, const float *save_mean, const float *save_invstd,
                                  const float *dy, float *dx, float *dgamma, float *dbeta, GError **error)
{
  BnDescs d = { 0 };
  const float one = 1.0f, zero = 0.0f;
  gboolean ok = bn_descs (n, c, hw, &d, error) &&
    cuda_check (LIB_CUDNN, cudnnBatchNormalizationBackward (ctx->dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, d.x, x,
                                             d.x, dy, d.x, dx, d.stats, gamma, dgamma, dbeta, s->eps, save_mean,
                                             save_invstd),
            "batch norm backward", error);
  bn_descs_clear (&d);
  return ok;
}
