/* The simulated device's cuBLAS (mt-cuda-sim.h): handles, and the three level-1..3 calls
 * ml/cuda/mt-cuda-ops.c makes, column-major as cuBLAS documents them, summed in double. */
#include "ml/cuda/sim/mt-cuda-sim.h"

#include <cublas_v2.h>
#include <stdio.h>

typedef struct {
  cudaStream_t stream;
  void *workspace;
  gsize workspace_size;
  cublasMath_t math;
} Handle;

cublasStatus_t
cublasCreate (cublasHandle_t *handle)
{
  Handle *h = g_new0 (Handle, 1);
  h->math = CUBLAS_DEFAULT_MATH;
  *handle = (cublasHandle_t) h;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t
cublasDestroy (cublasHandle_t handle)
{
  g_free (handle);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t
cublasSetStream (cublasHandle_t handle, cudaStream_t stream)
{
  ((Handle *) handle)->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t
cublasSetMathMode (cublasHandle_t handle, cublasMath_t mode)
{
  ((Handle *) handle)->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t
cublasSetWorkspace (cublasHandle_t handle, void *workspace, size_t bytes)
{
  if (bytes && !mt_sim_device_span (workspace, bytes, "cublasSetWorkspace"))
    return CUBLAS_STATUS_INVALID_VALUE;
  ((Handle *) handle)->workspace = workspace;
  ((Handle *) handle)->workspace_size = bytes;
  return CUBLAS_STATUS_SUCCESS;
}

const char *
cublasGetStatusString (cublasStatus_t status)
{
  switch (status) {
  case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
  case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE (CUDA simulator: see stderr)";
  case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED (CUDA simulator)";
  case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED (CUDA simulator)";
  default: return "a cuBLAS status of the CUDA simulator";
  }
}

cublasStatus_t
cublasGetProperty (libraryPropertyType type, int *value)
{
  *value = type == MAJOR_VERSION ? CUBLAS_VER_MAJOR : type == MINOR_VERSION ? CUBLAS_VER_MINOR : CUBLAS_VER_PATCH;
  return CUBLAS_STATUS_SUCCESS;
}

/* What a call needs before it is queued: a handle with a stream's worth of setup (the
 * backend sets its workspace, so that no call allocates), pedantic FP32 math. */
static gboolean
handle_ready (Handle *h, const char *what)
{
  if (!h->workspace) {
    fprintf (stderr, "CUDA simulator: %s on a cuBLAS handle without cublasSetWorkspace\n", what);
    return FALSE;
  }
  return TRUE;
}

/* A column-major @rows x @cols matrix with leading dimension @ld at @p: in one allocation. */
static gboolean
matrix_span (const float *p, int rows, int cols, int ld, const char *what)
{
  if (rows == 0 || cols == 0)
    return TRUE;
  return mt_sim_device_span (p, ((gsize) ld * (cols - 1) + rows) * sizeof (float), what);
}

static gboolean
vector_span (const float *p, int n, int inc, const char *what)
{
  if (n == 0)
    return TRUE;
  return inc > 0 && mt_sim_device_span (p, ((gsize) inc * (n - 1) + 1) * sizeof (float), what);
}

typedef struct {
  int trans_a, trans_b, m, n, k, lda, ldb, ldc, incx, incy;
  float alpha, beta;
  const float *a, *b;
  float *c;
} Call;

static double
elem (const float *p, int ld, int trans, int r, int c)
{
  return trans ? p[(gsize) r * ld + c] : p[(gsize) c * ld + r];
}

/* C = alpha op(A) op(B) + beta C; beta 0 does not read C. */
static void
run_gemm (MtSimOp *op)
{
  Call *g = op->data;
  for (int j = 0; j < g->n; j++)
    for (int i = 0; i < g->m; i++) {
      double s = 0;
      for (int l = 0; l < g->k; l++)
        s += elem (g->a, g->lda, g->trans_a, i, l) * elem (g->b, g->ldb, g->trans_b, l, j);
      float *c = &g->c[(gsize) j * g->ldc + i];
      *c = (float) (g->alpha * s + (g->beta != 0 ? g->beta * (double) *c : 0));
    }
}

cublasStatus_t
cublasSgemm (cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
             const float *alpha, const float *a, int lda, const float *b, int ldb, const float *beta, float *c, int ldc)
{
  Handle *h = (Handle *) handle;
  if (!handle_ready (h, "cublasSgemm"))
    return CUBLAS_STATUS_NOT_INITIALIZED;
  gboolean tra = ta != CUBLAS_OP_N, trb = tb != CUBLAS_OP_N;
  /* cuBLAS's own argument rules. */
  if (m < 0 || n < 0 || k < 0 || lda < MAX (1, tra ? k : m) || ldb < MAX (1, trb ? n : k) || ldc < MAX (1, m)) {
    fprintf (stderr, "CUDA simulator: cublasSgemm (%c%c, m %d n %d k %d, lda %d ldb %d ldc %d): invalid\n",
             tra ? 'T' : 'N', trb ? 'T' : 'N', m, n, k, lda, ldb, ldc);
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (!matrix_span (a, tra ? k : m, tra ? m : k, lda, "cublasSgemm's A") ||
      !matrix_span (b, trb ? n : k, trb ? k : n, ldb, "cublasSgemm's B") ||
      !matrix_span (c, m, n, ldc, "cublasSgemm's C"))
    return CUBLAS_STATUS_INVALID_VALUE;
  Call *g = g_new0 (Call, 1);
  *g = (Call) { tra, trb, m, n, k, lda, ldb, ldc, 0, 0, *alpha, *beta, a, b, c };
  return mt_sim_enqueue (h->stream, mt_sim_op_new ("cublasSgemm", run_gemm, g, g_free)) ? CUBLAS_STATUS_EXECUTION_FAILED
                                                                                        : CUBLAS_STATUS_SUCCESS;
}

/* y = alpha op(A) x + beta y, A m x n. */
static void
run_gemv (MtSimOp *op)
{
  Call *g = op->data;
  int rows = g->trans_a ? g->n : g->m, len = g->trans_a ? g->m : g->n;
  for (int i = 0; i < rows; i++) {
    double s = 0;
    for (int l = 0; l < len; l++)
      s += elem (g->a, g->lda, g->trans_a, i, l) * g->b[(gsize) l * g->incx];
    float *y = &g->c[(gsize) i * g->incy];
    *y = (float) (g->alpha * s + (g->beta != 0 ? g->beta * (double) *y : 0));
  }
}

cublasStatus_t
cublasSgemv (cublasHandle_t handle, cublasOperation_t trans, int m, int n, const float *alpha, const float *a, int lda,
             const float *x, int incx, const float *beta, float *y, int incy)
{
  Handle *h = (Handle *) handle;
  if (!handle_ready (h, "cublasSgemv"))
    return CUBLAS_STATUS_NOT_INITIALIZED;
  gboolean tr = trans != CUBLAS_OP_N;
  if (m < 0 || n < 0 || lda < MAX (1, m) || incx == 0 || incy == 0) {
    fprintf (stderr, "CUDA simulator: cublasSgemv (m %d n %d lda %d): invalid\n", m, n, lda);
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (!matrix_span (a, m, n, lda, "cublasSgemv's A") || !vector_span (x, tr ? m : n, incx, "cublasSgemv's x") ||
      !vector_span (y, tr ? n : m, incy, "cublasSgemv's y"))
    return CUBLAS_STATUS_INVALID_VALUE;
  Call *g = g_new0 (Call, 1);
  *g = (Call) { tr, 0, m, n, 0, lda, 0, 0, incx, incy, *alpha, *beta, a, x, y };
  return mt_sim_enqueue (h->stream, mt_sim_op_new ("cublasSgemv", run_gemv, g, g_free)) ? CUBLAS_STATUS_EXECUTION_FAILED
                                                                                        : CUBLAS_STATUS_SUCCESS;
}

/* A += alpha x y^T, A m x n. */
static void
run_ger (MtSimOp *op)
{
  Call *g = op->data;
  for (int j = 0; j < g->n; j++)
    for (int i = 0; i < g->m; i++) {
      float *p = &g->c[(gsize) j * g->lda + i];
      *p = (float) ((double) *p + g->alpha * (double) g->a[(gsize) i * g->incx] * (double) g->b[(gsize) j * g->incy]);
    }
}

cublasStatus_t
cublasSger (cublasHandle_t handle, int m, int n, const float *alpha, const float *x, int incx, const float *y,
            int incy, float *a, int lda)
{
  Handle *h = (Handle *) handle;
  if (!handle_ready (h, "cublasSger"))
    return CUBLAS_STATUS_NOT_INITIALIZED;
  if (m < 0 || n < 0 || lda < MAX (1, m) || incx == 0 || incy == 0) {
    fprintf (stderr, "CUDA simulator: cublasSger (m %d n %d lda %d): invalid\n", m, n, lda);
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (!vector_span (x, m, incx, "cublasSger's x") || !vector_span (y, n, incy, "cublasSger's y") ||
      !matrix_span (a, m, n, lda, "cublasSger's A"))
    return CUBLAS_STATUS_INVALID_VALUE;
  Call *g = g_new0 (Call, 1);
  *g = (Call) { 0, 0, m, n, 0, lda, 0, 0, incx, incy, *alpha, 0, x, y, a };
  return mt_sim_enqueue (h->stream, mt_sim_op_new ("cublasSger", run_ger, g, g_free)) ? CUBLAS_STATUS_EXECUTION_FAILED
                                                                                      : CUBLAS_STATUS_SUCCESS;
}
