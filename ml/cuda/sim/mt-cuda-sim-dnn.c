/* The simulated device's cuDNN (mt-cuda-sim.h): descriptors, the algorithm queries, and
 * the convolution, bias and fill calls ml/cuda/mt-cuda-ops.c makes, with cuDNN's own
 * semantics (NCHW tensors, KCRS filters, cross-correlation, y = alpha op + beta y, beta 0
 * not reading y), summed in double. */
#include "ml/cuda/sim/mt-cuda-sim.h"

#include <cudnn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

struct cudnnContext {
  cudaStream_t stream;
};

struct cudnnTensorStruct {
  int set, n, c, h, w;
};

struct cudnnFilterStruct {
  int set, k, c, r, s;
};

struct cudnnConvolutionStruct {
  int set, pad_h, pad_w, u, v, dil_h, dil_w;
  cudnnConvolutionMode_t mode;
  cudnnMathType_t math;
};

/* The algorithms the queries offer, fastest first, as cuDNN lists them: for each
 * direction one that the backend must refuse (non-deterministic, or tensor-op math) ahead
 * of a deterministic FMA one that needs a workspace of its own size. */
#define FWD_WORKSPACE ((size_t) 3 << 20)
#define FILTER_WORKSPACE ((size_t) 5 << 20)
#define DATA_WORKSPACE ((size_t) 1 << 20)

cudnnStatus_t
cudnnCreate (cudnnHandle_t *handle)
{
  *handle = g_new0 (struct cudnnContext, 1);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t
cudnnDestroy (cudnnHandle_t handle)
{
  g_free (handle);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t
cudnnSetStream (cudnnHandle_t handle, cudaStream_t stream)
{
  handle->stream = stream;
  return CUDNN_STATUS_SUCCESS;
}

size_t
cudnnGetVersion (void)
{
  return CUDNN_VERSION;
}

const char *
cudnnGetErrorString (cudnnStatus_t status)
{
  switch (status) {
  case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
  case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM (CUDA simulator: see stderr)";
  case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED (CUDA simulator: see stderr)";
  case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED (CUDA simulator)";
  default: return "a cuDNN status of the CUDA simulator";
  }
}

static cudnnStatus_t
bad (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
static cudnnStatus_t
bad (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "CUDA simulator: cuDNN: %s\n", msg);
  g_free (msg);
  return CUDNN_STATUS_BAD_PARAM;
}

/* ---- descriptors ---- */

cudnnStatus_t
cudnnCreateTensorDescriptor (cudnnTensorDescriptor_t *d)
{
  *d = g_new0 (struct cudnnTensorStruct, 1);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t
cudnnDestroyTensorDescriptor (cudnnTensorDescriptor_t d)
{
  g_free (d);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t
cudnnSetTensor4dDescriptor (cudnnTensorDescriptor_t d, cudnnTensorFormat_t format, cudnnDataType_t type, int n, int c,
                            int h, int w)
{
  if (format != CUDNN_TENSOR_NCHW || type != CUDNN_DATA_FLOAT)
    return bad ("a tensor descriptor other than NCHW float (the simulator has only those)");
  if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
    return bad ("a tensor descriptor [%d, %d, %d, %d]", n, c, h, w);
  *d = (struct cudnnTensorStruct) { 1, n, c, h, w };
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t
cudnnCreateFilterDescriptor (cudnnFilterDescriptor_t *d)
{
  *d = g_new0 (struct cudnnFilterStruct, 1);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t
cudnnDestroyFilterDescriptor (cudnnFilterDescriptor_t d)
{
  g_free (d);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t
cudnnSetFilter4dDescriptor (cudnnFilterDescriptor_t d, cudnnDataType_t type, cudnnTensorFormat_t format, int k, int c,
                            int r, int s)
{
  if (format != CUDNN_TENSOR_NCHW || type != CUDNN_DATA_FLOAT)
    return bad ("a filter descriptor other than KCRS float");
  if (k <= 0 || c <= 0 || r <= 0 || s <= 0)
    return bad ("a filter descriptor [%d, %d, %d, %d]", k, c, r, s);
  *d = (struct cudnnFilterStruct) { 1, k, c, r, s };
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t
cudnnCreateConvolutionDescriptor (cudnnConvolutionDescriptor_t *d)
{
  *d = g_new0 (struct cudnnConvolutionStruct, 1);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t
cudnnDestroyConvolutionDescriptor (cudnnConvolutionDescriptor_t d)
{
  g_free (d);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t
cudnnSetConvolution2dDescriptor (cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int u, int v, int dil_h,
                                 int dil_w, cudnnConvolutionMode_t mode, cudnnDataType_t compute)
{
  if (pad_h < 0 || pad_w < 0 || u <= 0 || v <= 0 || dil_h <= 0 || dil_w <= 0)
    return bad ("a convolution descriptor (pad %d %d, stride %d %d, dilation %d %d)", pad_h, pad_w, u, v, dil_h, dil_w);
  if (compute != CUDNN_DATA_FLOAT)
    return bad ("a convolution that does not compute in float");
  *d = (struct cudnnConvolutionStruct) { 1, pad_h, pad_w, u, v, dil_h, dil_w, mode, CUDNN_DEFAULT_MATH };
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t
cudnnSetConvolutionMathType (cudnnConvolutionDescriptor_t d, cudnnMathType_t math)
{
  d->math = math;
  return CUDNN_STATUS_SUCCESS;
}

static int
out_size (int in, int pad, int k, int dil, int stride)
{
  return 1 + (in + 2 * pad - ((k - 1) * dil + 1)) / stride;
}

cudnnStatus_t
cudnnGetConvolution2dForwardOutputDim (const cudnnConvolutionDescriptor_t conv, const cudnnTensorDescriptor_t x,
                                       const cudnnFilterDescriptor_t w, int *n, int *c, int *h, int *ow)
{
  if (!conv->set || !x->set || !w->set)
    return bad ("an output size from a descriptor that was never set");
  if (x->c != w->c)
    return bad ("input channels %d, filter channels %d", x->c, w->c);
  *n = x->n;
  *c = w->k;
  *h = out_size (x->h, conv->pad_h, w->r, conv->dil_h, conv->u);
  *ow = out_size (x->w, conv->pad_w, w->s, conv->dil_w, conv->v);
  return *h > 0 && *ow > 0 ? CUDNN_STATUS_SUCCESS : bad ("a convolution with no output");
}

/* The four descriptors agree, as cuDNN requires of every convolution call. */
static cudnnStatus_t
check_shapes (const cudnnTensorDescriptor_t x, const cudnnFilterDescriptor_t w, const cudnnConvolutionDescriptor_t conv,
              const cudnnTensorDescriptor_t y, const char *what)
{
  int n, c, h, ow;
  cudnnStatus_t s = cudnnGetConvolution2dForwardOutputDim (conv, x, w, &n, &c, &h, &ow);
  if (s != CUDNN_STATUS_SUCCESS)
    return s;
  if (!y->set || y->n != n || y->c != c || y->h != h || y->w != ow)
    return bad ("%s: the output descriptor is [%d, %d, %d, %d], the convolution makes [%d, %d, %d, %d]", what, y->n,
                y->c, y->h, y->w, n, c, h, ow);
  if (conv->mode != CUDNN_CROSS_CORRELATION)
    return bad ("%s: CUDNN_CONVOLUTION mode (PyTorch's convolutions are cross-correlations)", what);
  return CUDNN_STATUS_SUCCESS;
}

#define PERF(t, a, st, mem, det, math) ((t) { .algo = (a), .status = (st), .time = 0, .memory = (mem), \
                                              .determinism = (det), .mathType = (math) })

cudnnStatus_t
cudnnGetConvolutionForwardAlgorithm_v7 (cudnnHandle_t h, const cudnnTensorDescriptor_t x,
                                        const cudnnFilterDescriptor_t w, const cudnnConvolutionDescriptor_t conv,
                                        const cudnnTensorDescriptor_t y, const int requested, int *returned,
                                        cudnnConvolutionFwdAlgoPerf_t *perf)
{
  cudnnStatus_t s = check_shapes (x, w, conv, y, "cudnnGetConvolutionForwardAlgorithm_v7");
  if (s != CUDNN_STATUS_SUCCESS)
    return s;
  cudnnConvolutionFwdAlgoPerf_t all[] = {
    PERF (cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED, CUDNN_STATUS_SUCCESS, 0,
          CUDNN_DETERMINISTIC, CUDNN_TENSOR_OP_MATH),
    PERF (cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, CUDNN_STATUS_SUCCESS,
          FWD_WORKSPACE, CUDNN_DETERMINISTIC, CUDNN_FMA_MATH),
  };
  *returned = MIN (requested, (int) G_N_ELEMENTS (all));
  memcpy (perf, all, *returned * sizeof *perf);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t
cudnnGetConvolutionBackwardFilterAlgorithm_v7 (cudnnHandle_t h, const cudnnTensorDescriptor_t x,
                                               const cudnnTensorDescriptor_t dy,
                                               const cudnnConvolutionDescriptor_t conv,
                                               const cudnnFilterDescriptor_t dw, const int requested, int *returned,
                                               cudnnConvolutionBwdFilterAlgoPerf_t *perf)
{
  cudnnStatus_t s = check_shapes (x, dw, conv, dy, "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
  if (s != CUDNN_STATUS_SUCCESS)
    return s;
  cudnnConvolutionBwdFilterAlgoPerf_t all[] = {
    PERF (cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, CUDNN_STATUS_SUCCESS, 0,
          CUDNN_NON_DETERMINISTIC, CUDNN_FMA_MATH),
    PERF (cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, CUDNN_STATUS_SUCCESS,
          FILTER_WORKSPACE, CUDNN_DETERMINISTIC, CUDNN_FMA_MATH),
  };
  *returned = MIN (requested, (int) G_N_ELEMENTS (all));
  memcpy (perf, all, *returned * sizeof *perf);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t
cudnnGetConvolutionBackwardDataAlgorithm_v7 (cudnnHandle_t h, const cudnnFilterDescriptor_t w,
                                             const cudnnTensorDescriptor_t dy, const cudnnConvolutionDescriptor_t conv,
                                             const cudnnTensorDescriptor_t dx, const int requested, int *returned,
                                             cudnnConvolutionBwdDataAlgoPerf_t *perf)
{
  cudnnStatus_t s = check_shapes (dx, w, conv, dy, "cudnnGetConvolutionBackwardDataAlgorithm_v7");
  if (s != CUDNN_STATUS_SUCCESS)
    return s;
  cudnnConvolutionBwdDataAlgoPerf_t all[] = {
    PERF (cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, CUDNN_STATUS_SUCCESS, 0,
          CUDNN_NON_DETERMINISTIC, CUDNN_FMA_MATH),
    PERF (cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, CUDNN_STATUS_SUCCESS, DATA_WORKSPACE,
          CUDNN_DETERMINISTIC, CUDNN_FMA_MATH),
  };
  *returned = MIN (requested, (int) G_N_ELEMENTS (all));
  memcpy (perf, all, *returned * sizeof *perf);
  return CUDNN_STATUS_SUCCESS;
}

/* ---- the calls ---- */

typedef struct {
  struct cudnnTensorStruct x, y;
  struct cudnnFilterStruct w;
  struct cudnnConvolutionStruct conv;
  float alpha, beta;
  const float *a, *b;  /* the inputs: x and w, dy and w, or x and dy */
  float *out;
} Conv;

static gsize
tensor_bytes (const struct cudnnTensorStruct *t)
{
  return (gsize) t->n * t->c * t->h * t->w * sizeof (float);
}

static gsize
filter_bytes (const struct cudnnFilterStruct *f)
{
  return (gsize) f->k * f->c * f->r * f->s * sizeof (float);
}

static void
store (float *p, double v, float alpha, float beta)
{
  *p = (float) (alpha * v + (beta != 0 ? beta * (double) *p : 0));
}

/* The outputs [*lo, *hi) along one axis whose tap @t reads inside an input of @in (input
 * o * stride - pad + t * dil). */
static void
valid_range (int out, int in, int stride, int pad, int t, int dil, int *lo, int *hi)
{
  int off = t * dil - pad;
  *lo = 0;
  while (*lo < out && *lo * stride + off < 0)
    (*lo)++;
  *hi = out;
  while (*hi > *lo && (*hi - 1) * stride + off >= in)
    (*hi)--;
}

/* The loops of all three directions: for each image, output channel, input channel and
 * tap, the outputs that tap sees inside the input; BODY with their indices xi, yi, wi. */
#define CONV_LOOPS(c, BODY)                                                                                 \
  for (int n = 0; n < (c)->y.n; n++)                                                                      \
    for (int k = 0; k < (c)->y.c; k++)                                                                    \
      for (int ch = 0; ch < (c)->x.c; ch++)                                                               \
        for (int ky = 0; ky < (c)->w.r; ky++) {                                                           \
          int y_lo, y_hi;                                                                                 \
          valid_range ((c)->y.h, (c)->x.h, (c)->conv.u, (c)->conv.pad_h, ky, (c)->conv.dil_h, &y_lo, &y_hi); \
          for (int kx = 0; kx < (c)->w.s; kx++) {                                                         \
            int x_lo, x_hi;                                                                               \
            valid_range ((c)->y.w, (c)->x.w, (c)->conv.v, (c)->conv.pad_w, kx, (c)->conv.dil_w, &x_lo, &x_hi); \
            gsize wi = (((gsize) k * (c)->w.c + ch) * (c)->w.r + ky) * (c)->w.s + kx;                      \
            for (int oy = y_lo; oy < y_hi; oy++) {                                                        \
              int iy = oy * (c)->conv.u - (c)->conv.pad_h + ky * (c)->conv.dil_h;                         \
              gsize xrow = (((gsize) n * (c)->x.c + ch) * (c)->x.h + iy) * (c)->x.w;                      \
              gsize yrow = (((gsize) n * (c)->y.c + k) * (c)->y.h + oy) * (c)->y.w;                       \
              for (int ox = x_lo; ox < x_hi; ox++) {                                                      \
                gsize xi = xrow + (gsize) (ox * (c)->conv.v - (c)->conv.pad_w + kx * (c)->conv.dil_w);    \
                gsize yi = yrow + (gsize) ox;                                                             \
                BODY;                                                                                     \
              }                                                                                           \
            }                                                                                             \
          }                                                                                               \
        }

static gsize
elems (const struct cudnnTensorStruct *t)
{
  return (gsize) t->n * t->c * t->h * t->w;
}

/* y = conv (x, w): a is x, b is w. */
static void
run_forward (MtSimOp *op)
{
  Conv *c = op->data;
  double *acc = g_new0 (double, elems (&c->y));
  CONV_LOOPS (c, acc[yi] += (double) c->a[xi] * c->b[wi]);
  for (gsize i = 0; i < elems (&c->y); i++)
    store (&c->out[i], acc[i], c->alpha, c->beta);
  g_free (acc);
}

/* dx: each input pixel's sum over the outputs that saw it; a is dy, b is w. */
static void
run_backward_data (MtSimOp *op)
{
  Conv *c = op->data;
  double *acc = g_new0 (double, elems (&c->x));
  CONV_LOOPS (c, acc[xi] += (double) c->a[yi] * c->b[wi]);
  for (gsize i = 0; i < elems (&c->x); i++)
    store (&c->out[i], acc[i], c->alpha, c->beta);
  g_free (acc);
}

/* dw: each tap's sum over the images and outputs; a is x, b is dy. */
static void
run_backward_filter (MtSimOp *op)
{
  Conv *c = op->data;
  gsize len = (gsize) c->w.k * c->w.c * c->w.r * c->w.s;
  double *acc = g_new0 (double, len);
  CONV_LOOPS (c, acc[wi] += (double) c->a[xi] * c->b[yi]);
  for (gsize i = 0; i < len; i++)
    store (&c->out[i], acc[i], c->alpha, c->beta);
  g_free (acc);
}

/* What every convolution call checks: handle, shapes, math, algorithm, workspace, and
 * the spans of its buffers. */
static cudnnStatus_t
conv_call (cudnnHandle_t h, const char *what, const cudnnTensorDescriptor_t x, const cudnnFilterDescriptor_t w,
           const cudnnConvolutionDescriptor_t conv, const cudnnTensorDescriptor_t y, gboolean deterministic,
           size_t needed, void *workspace, size_t workspace_size, const void *alpha, const void *beta,
           const float *a, gsize a_bytes, const float *b, gsize b_bytes, float *out, gsize out_bytes, MtSimOpRun run)
{
  cudnnStatus_t s = check_shapes (x, w, conv, y, what);
  if (s != CUDNN_STATUS_SUCCESS)
    return s;
  if (!deterministic)
    return bad ("%s: an algorithm the queries call non-deterministic, or one they did not offer", what);
  if (conv->math != CUDNN_FMA_MATH && conv->math != CUDNN_DEFAULT_MATH)
    return bad ("%s: math type %d (tensor-op math rounds inputs to TF32)", what, conv->math);
  if (workspace_size < needed)
    return bad ("%s: a workspace of %zu bytes; the algorithm needs %zu", what, workspace_size, needed);
  if (needed && !mt_sim_device_span (workspace, workspace_size, what))
    return CUDNN_STATUS_BAD_PARAM;
  if (!mt_sim_device_span (a, a_bytes, what) || !mt_sim_device_span (b, b_bytes, what) ||
      !mt_sim_device_span (out, out_bytes, what))
    return CUDNN_STATUS_BAD_PARAM;
  Conv *c = g_new0 (Conv, 1);
  c->x = *x;
  c->y = *y;
  c->w = *w;
  c->conv = *conv;
  c->alpha = *(const float *) alpha;
  c->beta = *(const float *) beta;
  c->a = a;
  c->b = b;
  c->out = out;
  return mt_sim_enqueue (h->stream, mt_sim_op_new (what, run, c, g_free)) ? CUDNN_STATUS_EXECUTION_FAILED
                                                                         : CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t
cudnnConvolutionForward (cudnnHandle_t h, const void *alpha, const cudnnTensorDescriptor_t xd, const void *x,
                         const cudnnFilterDescriptor_t wd, const void *w, const cudnnConvolutionDescriptor_t conv,
                         cudnnConvolutionFwdAlgo_t algo, void *ws, size_t ws_size, const void *beta,
                         const cudnnTensorDescriptor_t yd, void *y)
{
  return conv_call (h, "cudnnConvolutionForward", xd, wd, conv, yd,
                    algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, FWD_WORKSPACE, ws, ws_size, alpha, beta,
                    x, tensor_bytes (xd), w, filter_bytes (wd), y, tensor_bytes (yd), run_forward);
}

cudnnStatus_t
cudnnConvolutionBackwardData (cudnnHandle_t h, const void *alpha, const cudnnFilterDescriptor_t wd, const void *w,
                              const cudnnTensorDescriptor_t dyd, const void *dy,
                              const cudnnConvolutionDescriptor_t conv, cudnnConvolutionBwdDataAlgo_t algo, void *ws,
                              size_t ws_size, const void *beta, const cudnnTensorDescriptor_t dxd, void *dx)
{
  return conv_call (h, "cudnnConvolutionBackwardData", dxd, wd, conv, dyd, algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
                    DATA_WORKSPACE, ws, ws_size, alpha, beta, dy, tensor_bytes (dyd), w, filter_bytes (wd), dx,
                    tensor_bytes (dxd), run_backward_data);
}

cudnnStatus_t
cudnnConvolutionBackwardFilter (cudnnHandle_t h, const void *alpha, const cudnnTensorDescriptor_t xd, const void *x,
                                const cudnnTensorDescriptor_t dyd, const void *dy,
                                const cudnnConvolutionDescriptor_t conv, cudnnConvolutionBwdFilterAlgo_t algo,
                                void *ws, size_t ws_size, const void *beta, const cudnnFilterDescriptor_t dwd,
                                void *dw)
{
  return conv_call (h, "cudnnConvolutionBackwardFilter", xd, dwd, conv, dyd,
                    algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, FILTER_WORKSPACE, ws, ws_size, alpha, beta, x,
                    tensor_bytes (xd), dy, tensor_bytes (dyd), dw, filter_bytes (dwd), run_backward_filter);
}

/* ---- bias, fill ---- */

typedef struct {
  struct cudnnTensorStruct a, c;
  float alpha, beta;
  const float *src;
  float *dst;
} Tensor;

/* db [1, C, 1, 1] = sum of dy over n, h, w. */
static void
run_bias_grad (MtSimOp *op)
{
  Tensor *t = op->data;
  for (int ch = 0; ch < t->a.c; ch++) {
    double s = 0;
    for (int n = 0; n < t->a.n; n++)
      for (gsize p = 0; p < (gsize) t->a.h * t->a.w; p++)
        s += t->src[((gsize) n * t->a.c + ch) * t->a.h * t->a.w + p];
    store (&t->dst[ch], s, t->alpha, t->beta);
  }
}

/* c = alpha a (broadcast over its size-1 dimensions) + beta c. */
static void
run_add (MtSimOp *op)
{
  Tensor *t = op->data;
  for (int n = 0; n < t->c.n; n++)
    for (int ch = 0; ch < t->c.c; ch++)
      for (int y = 0; y < t->c.h; y++)
        for (int x = 0; x < t->c.w; x++) {
          gsize i = (((gsize) (t->a.n == 1 ? 0 : n) * t->a.c + (t->a.c == 1 ? 0 : ch)) * t->a.h +
                     (t->a.h == 1 ? 0 : y)) * t->a.w + (t->a.w == 1 ? 0 : x);
          store (&t->dst[(((gsize) n * t->c.c + ch) * t->c.h + y) * t->c.w + x], t->src[i], t->alpha, t->beta);
        }
}

static void
run_fill (MtSimOp *op)
{
  Tensor *t = op->data;
  for (gsize i = 0; i < tensor_bytes (&t->c) / sizeof (float); i++)
    t->dst[i] = t->alpha;
}

static cudnnStatus_t
tensor_call (cudnnHandle_t h, const char *what, const struct cudnnTensorStruct *a, const void *src,
             const struct cudnnTensorStruct *c, void *dst, float alpha, float beta, MtSimOpRun run)
{
  if ((a && !mt_sim_device_span (src, tensor_bytes (a), what)) || !mt_sim_device_span (dst, tensor_bytes (c), what))
    return CUDNN_STATUS_BAD_PARAM;
  Tensor *t = g_new0 (Tensor, 1);
  if (a)
    t->a = *a;
  t->c = *c;
  t->alpha = alpha;
  t->beta = beta;
  t->src = src;
  t->dst = dst;
  return mt_sim_enqueue (h->stream, mt_sim_op_new (what, run, t, g_free)) ? CUDNN_STATUS_EXECUTION_FAILED
                                                                         : CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t
cudnnConvolutionBackwardBias (cudnnHandle_t h, const void *alpha, const cudnnTensorDescriptor_t dyd, const void *dy,
                              const void *beta, const cudnnTensorDescriptor_t dbd, void *db)
{
  if (!dyd->set || !dbd->set || dbd->n != 1 || dbd->c != dyd->c || dbd->h != 1 || dbd->w != 1)
    return bad ("cudnnConvolutionBackwardBias: dy [%d, %d, %d, %d], db [%d, %d, %d, %d]", dyd->n, dyd->c, dyd->h,
                dyd->w, dbd->n, dbd->c, dbd->h, dbd->w);
  return tensor_call (h, "cudnnConvolutionBackwardBias", dyd, dy, dbd, db, *(const float *) alpha,
                      *(const float *) beta, run_bias_grad);
}

cudnnStatus_t
cudnnAddTensor (cudnnHandle_t h, const void *alpha, const cudnnTensorDescriptor_t ad, const void *a, const void *beta,
                const cudnnTensorDescriptor_t cd, void *c)
{
  /* Each dimension of A is C's or 1. */
  if (!ad->set || !cd->set || (ad->n != cd->n && ad->n != 1) || (ad->c != cd->c && ad->c != 1) ||
      (ad->h != cd->h && ad->h != 1) || (ad->w != cd->w && ad->w != 1))
    return bad ("cudnnAddTensor: A [%d, %d, %d, %d] does not broadcast to C [%d, %d, %d, %d]", ad->n, ad->c, ad->h,
                ad->w, cd->n, cd->c, cd->h, cd->w);
  return tensor_call (h, "cudnnAddTensor", ad, a, cd, c, *(const float *) alpha, *(const float *) beta, run_add);
}

cudnnStatus_t
cudnnSetTensor (cudnnHandle_t h, const cudnnTensorDescriptor_t yd, void *y, const void *value)
{
  if (!yd->set)
    return bad ("cudnnSetTensor on a descriptor that was never set");
  return tensor_call (h, "cudnnSetTensor", NULL, NULL, yd, y, *(const float *) value, 0, run_fill);
}
