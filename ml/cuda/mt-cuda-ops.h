/* The CUDA backend's library-backed layers: convolutions through cuDNN, linear layers
 * through cuBLAS. Same shapes and semantics as the CPU ops of
 * ml/mt-backend.h (PyTorch's), on device pointers, in the context's stream. The
 * element-wise ops are the NVRTC kernels of mt-cuda.h. */
#pragma once

#include "ml/cuda/mt-cuda.h"
#include "ml/mt-backend.h"

G_BEGIN_DECLS

/* cuBLAS and cuDNN handles bound to one stream, cuBLAS's fixed workspace, cuDNN's
 * grow-only one (stream-ordered), a vector of ones (bias sums) and a plan per
 * convolution shape. One per stream; not thread-safe. Its buffers come from @pool (a
 * cudaMemPool_t: the instance's own) in @stream's order. */
typedef struct _MtCudaContext MtCudaContext;

MtCudaContext *mt_cuda_context_new  (gpointer stream, gpointer pool, GError **error);
void           mt_cuda_context_free (MtCudaContext *ctx);
/* How often the context's own buffers (workspace, the vector of ones) have moved: a
 * graph recorded before a move holds stale pointers. */
guint64        mt_cuda_context_reallocs (MtCudaContext *ctx);

/* One cuBLAS SGEMM's arguments (column-major: C [m, n] = op(A) [m, k] op(B) [k, n]). */
typedef struct {
  gboolean trans_a, trans_b;
  int m, n, k, lda, ldb, ldc;
} MtCudaGemm;

enum { MT_CUDA_GEMM_FORWARD, MT_CUDA_GEMM_DATA, MT_CUDA_GEMM_WEIGHT };

/* The three SGEMMs of a linear layer on row-major tensors: forward (A = W, B = x, C = y),
 * data gradient (A = W, B = dy, C = dx) and weight gradient (A = x, B = dy, C = dW). Host
 * only: the tests run them through a column-major reference GEMM. */
void     mt_cuda_linear_gemms    (int n, int in, int out, MtCudaGemm gemm[3]);

/* y = x W^T + b; x [n, in], W [out, in]. */
gboolean mt_cuda_linear_forward  (MtCudaContext *ctx, const float *x, int n, int in, int out,
                                  const float *weight, const float *bias, float *y, GError **error);
/* dx may be NULL; dweight and dbias are overwritten. */
gboolean mt_cuda_linear_backward (MtCudaContext *ctx, const float *x, int n, int in, int out,
                                  const float *weight, const float *dy, float *dx, float *dweight,
                                  float *dbias, GError **error);

/* Host only: builds the convolution's cuDNN descriptors and holds the output shape cuDNN
 * derives from them to the CPU's (mt_conv_out). */
gboolean mt_cuda_conv2d_check_descriptors (const MtConvSpec *s, int n, int h, int w, GError **error);

gboolean mt_cuda_conv2d_forward  (MtCudaContext *ctx, const MtConvSpec *s, const float *x, int n, int h, int w,
                                  const float *weight, const float *bias, float *y, GError **error);
gboolean mt_cuda_conv2d_backward (MtCudaContext *ctx, const MtConvSpec *s, const float *x, int n, int h, int w,
                                  const float *weight, const float *dy, float *dx, float *dweight,
                                  float *dbias, GError **error);

/* Batch norm is not here: it is our own kernels (kernels/mt-batchnorm.cu). */

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtCudaContext, mt_cuda_context_free)

G_END_DECLS
