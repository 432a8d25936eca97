/* The host's CUDA simulator (ml/cuda/sim/) itself: what it is there to catch in the CUDA
 * backend's host code, it catches (tests/test-cuda-sim.sh runs the backend on it). Linked
 * against the simulator in place of the CUDA runtime, cuBLAS and cuDNN. */
#include "tests/mt-test-util.h"
#include "ml/cuda/mt-cuda.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <math.h>
#include <signal.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static cudaStream_t
new_stream (void)
{
  cudaStream_t s = NULL;
  ck_assert_int_eq (cudaStreamCreateWithFlags (&s, cudaStreamNonBlocking), cudaSuccess);
  return s;
}

static cudaMemPool_t
new_pool (void)
{
  struct cudaMemPoolProps props;
  memset (&props, 0, sizeof props);
  props.allocType = cudaMemAllocationTypePinned;
  props.location.type = cudaMemLocationTypeDevice;
  cudaMemPool_t pool = NULL;
  ck_assert_int_eq (cudaMemPoolCreate (&pool, &props), cudaSuccess);
  return pool;
}

static float *
device_floats (cudaMemPool_t pool, cudaStream_t s, gsize n)
{
  void *p = NULL;
  ck_assert_int_eq (cudaMallocFromPoolAsync (&p, n * sizeof (float), pool, s), cudaSuccess);
  return p;
}

/* Work runs when the host waits for it: a copy into pinned memory is not there before a
 * sync, and a pageable download waits by itself. */
START_TEST (work_runs_when_waited_for)
{
  cudaStream_t s = new_stream ();
  cudaMemPool_t pool = new_pool ();
  float *d = device_floats (pool, s, 4), host[4] = { 1, 2, 3, 4 }, *pinned = NULL, back[4] = { 0 };
  ck_assert_int_eq (cudaHostAlloc ((void **) &pinned, sizeof host, cudaHostAllocDefault), cudaSuccess);
  memset (pinned, 0, sizeof host);
  ck_assert_int_eq (cudaMemcpyAsync (d, host, sizeof host, cudaMemcpyHostToDevice, s), cudaSuccess);
  ck_assert_int_eq (cudaMemcpyAsync (pinned, d, sizeof host, cudaMemcpyDeviceToHost, s), cudaSuccess);
  ck_assert (pinned[3] == 0);  /* not yet */
  ck_assert_int_eq (cudaStreamSynchronize (s), cudaSuccess);
  ck_assert (pinned[3] == 4);
  /* A pinned source is read when the copy runs: changed before, the change is copied. */
  pinned[0] = 9;
  ck_assert_int_eq (cudaMemcpyAsync (d, pinned, sizeof host, cudaMemcpyHostToDevice, s), cudaSuccess);
  pinned[0] = 7;
  ck_assert_int_eq (cudaMemcpyAsync (back, d, sizeof host, cudaMemcpyDeviceToHost, s), cudaSuccess);
  ck_assert (back[0] == 7);
  /* An event waits for the work before it only. */
  cudaEvent_t e;
  ck_assert_int_eq (cudaEventCreateWithFlags (&e, cudaEventDisableTiming), cudaSuccess);
  ck_assert_int_eq (cudaMemsetAsync (d, 0, sizeof host, s), cudaSuccess);
  ck_assert_int_eq (cudaEventRecord (e, s), cudaSuccess);
  ck_assert_int_eq (cudaMemcpyAsync (pinned, d, sizeof host, cudaMemcpyDeviceToHost, s), cudaSuccess);
  ck_assert_int_eq (cudaEventSynchronize (e), cudaSuccess);
  ck_assert (pinned[0] == 7);  /* the copy after the event has not run */
  ck_assert_int_eq (cudaStreamSynchronize (s), cudaSuccess);
  ck_assert (pinned[0] == 0);
  cudaEventDestroy (e);
  cudaFreeAsync (d, s);
  cudaStreamSynchronize (s);
  cudaFreeHost (pinned);
  cudaStreamDestroy (s);
}
END_TEST

/* New device memory is NaN bytes, and copies out of bounds are refused. */
START_TEST (device_memory_is_checked)
{
  cudaStream_t s = new_stream ();
  cudaMemPool_t pool = new_pool ();
  float *d = device_floats (pool, s, 4), back[8];
  ck_assert_int_eq (cudaMemcpyAsync (back, d, 4 * sizeof (float), cudaMemcpyDeviceToHost, s), cudaSuccess);
  ck_assert (isnan (back[0]) && isnan (back[3]));
  ck_assert_int_eq (cudaMemcpyAsync (back, d, 5 * sizeof (float), cudaMemcpyDeviceToHost, s), cudaErrorInvalidValue);
  ck_assert_int_eq (cudaMemsetAsync (d + 1, 0, 4 * sizeof (float), s), cudaErrorInvalidValue);
  ck_assert_int_eq (cudaFreeAsync (d + 1, s), cudaErrorInvalidValue);
  ck_assert_int_eq (cudaFreeAsync (d, s), cudaSuccess);
  ck_assert_int_eq (cudaStreamSynchronize (s), cudaSuccess);
  ck_assert_int_eq (cudaFreeAsync (d, s), cudaErrorInvalidValue);  /* twice */
  ck_assert_int_eq (cudaMemsetAsync (d, 0, 4, s), cudaErrorInvalidValue);  /* after the free */
}
END_TEST

/* The host touching device memory faults at once, as on a GPU. */
START_TEST (host_cannot_touch_device_memory)
{
  signal (SIGSEGV, SIG_DFL);  /* the fault itself, not a sanitizer's report of it */
  cudaStream_t s = new_stream ();
  float *d = device_floats (new_pool (), s, 4);
  volatile float v = d[0];
  (void) v;
}
END_TEST

/* A kernel writing past its buffer hits the guard page after it. */
START_TEST (kernels_out_of_bounds_fault)
{
  signal (SIGSEGV, SIG_DFL);
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) code = mt_cuda_build_kernels (9, 0, NULL, FALSE, NULL, &err);
  ck_assert_msg (code, "%s", err ? err->message : "");
  g_autoptr (MtCudaKernels) k = mt_cuda_kernels_load (g_bytes_get_data (code, NULL), &err);
  ck_assert_msg (k, "%s", err ? err->message : "");
  cudaStream_t s = new_stream ();
  cudaMemPool_t pool = new_pool ();
  float *x = device_floats (pool, s, 1024), *y = device_floats (pool, s, 16);
  gint64 n = 1024;
  void *args[] = { &x, &y, &n };
  ck_assert (mt_cuda_launch (k, "mt_relu_forward", (gsize) n, 0, 0, args, s, &err));
  cudaStreamSynchronize (s);
}
END_TEST

/* A launch the GPU would refuse is refused; a capture refuses what a graph cannot hold and
 * replays exactly what was recorded. */
START_TEST (launches_and_graphs_follow_cuda_rules)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) code = mt_cuda_build_kernels (9, 0, NULL, FALSE, NULL, &err);
  g_autoptr (MtCudaKernels) k = mt_cuda_kernels_load (g_bytes_get_data (code, NULL), &err);
  ck_assert_msg (k, "%s", err ? err->message : "");
  cudaStream_t s = new_stream ();
  cudaMemPool_t pool = new_pool ();
  float *x = device_floats (pool, s, 4), *y = device_floats (pool, s, 4), host[4] = { -1, 2, -3, 4 }, back[4];
  gint64 n = 4;
  void *args[] = { &x, &y, &n };
  ck_assert (!mt_cuda_launch (k, "mt_relu_forward", 4, 1, 1025, args, s, &err));
  ck_assert_msg (strstr (err->message, "invalid configuration"), "%s", err->message);
  g_clear_error (&err);
  ck_assert_int_eq (cudaMemcpyAsync (x, host, sizeof host, cudaMemcpyHostToDevice, s), cudaSuccess);
  ck_assert_int_eq (cudaStreamBeginCapture (s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  ck_assert (mt_cuda_launch (k, "mt_relu_forward", 4, 0, 0, args, s, &err));
  cudaGraph_t g = NULL;
  ck_assert_int_eq (cudaStreamEndCapture (s, &g), cudaSuccess);
  cudaGraphExec_t exec = NULL;
  ck_assert_int_eq (cudaGraphInstantiate (&exec, g, 0), cudaSuccess);
  ck_assert_int_eq (cudaMemcpyAsync (back, y, sizeof back, cudaMemcpyDeviceToHost, s), cudaSuccess);
  ck_assert (isnan (back[1]));  /* recorded, not run */
  ck_assert_int_eq (cudaGraphLaunch (exec, s), cudaSuccess);
  ck_assert_int_eq (cudaMemcpyAsync (back, y, sizeof back, cudaMemcpyDeviceToHost, s), cudaSuccess);
  ck_assert (back[0] == 0 && back[1] == 2 && back[3] == 4);
  /* Waiting, allocating or a pageable copy while capturing: refused, the capture lost. */
  ck_assert_int_eq (cudaStreamBeginCapture (s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  ck_assert_int_eq (cudaStreamSynchronize (s), cudaErrorStreamCaptureUnsupported);
  cudaGraph_t lost = NULL;
  ck_assert_int_eq (cudaStreamEndCapture (s, &lost), cudaErrorStreamCaptureInvalidated);
  ck_assert_ptr_null (lost);
  ck_assert_int_eq (cudaStreamBeginCapture (s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  void *p = NULL;
  ck_assert_int_eq (cudaMallocFromPoolAsync (&p, 64, pool, s), cudaErrorStreamCaptureUnsupported);
  ck_assert_int_eq (cudaStreamEndCapture (s, &lost), cudaErrorStreamCaptureInvalidated);
  ck_assert_int_eq (cudaStreamBeginCapture (s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  ck_assert_int_eq (cudaMemcpyAsync (x, host, sizeof host, cudaMemcpyHostToDevice, s), cudaErrorStreamCaptureUnsupported);
  ck_assert_int_eq (cudaStreamEndCapture (s, &lost), cudaErrorStreamCaptureInvalidated);
  cudaGraphExecDestroy (exec);
  cudaGraphDestroy (g);
}
END_TEST

/* cuBLAS's argument rules, a matrix that runs past its allocation, a handle without its
 * workspace; cuDNN's descriptors that do not agree, algorithms the queries did not offer
 * as deterministic, a workspace smaller than the algorithm's. */
START_TEST (library_calls_are_checked)
{
  cudaStream_t s = new_stream ();
  cudaMemPool_t pool = new_pool ();
  float *a = device_floats (pool, s, 6), *b = device_floats (pool, s, 6), *c = device_floats (pool, s, 4);
  const float one = 1, zero = 0;
  cublasHandle_t h;
  ck_assert_int_eq (cublasCreate (&h), CUBLAS_STATUS_SUCCESS);
  ck_assert_int_eq (cublasSetStream (h, s), CUBLAS_STATUS_SUCCESS);
  ck_assert_int_eq (cublasSgemm (h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, a, 2, b, 3, &zero, c, 2),
                    CUBLAS_STATUS_NOT_INITIALIZED);
  float *ws = device_floats (pool, s, 1024);
  ck_assert_int_eq (cublasSetWorkspace (h, ws, 4096), CUBLAS_STATUS_SUCCESS);
  ck_assert_int_eq (cublasSgemm (h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, a, 2, b, 3, &zero, c, 2),
                    CUBLAS_STATUS_SUCCESS);
  ck_assert_int_eq (cublasSgemm (h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, a, 1, b, 3, &zero, c, 2),
                    CUBLAS_STATUS_INVALID_VALUE);  /* lda < m */
  ck_assert_int_eq (cublasSgemm (h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, a, 3, b, 3, &zero, c, 2),
                    CUBLAS_STATUS_INVALID_VALUE);  /* A spans 3 * 2 + 2 floats of 6 */
  /* The product itself: A [2, 3] B [3, 2], column-major. */
  float ha[6] = { 1, 2, 3, 4, 5, 6 }, hb[6] = { 1, 0, 0, 0, 1, 1 }, hc[4];
  cudaMemcpyAsync (a, ha, sizeof ha, cudaMemcpyHostToDevice, s);
  cudaMemcpyAsync (b, hb, sizeof hb, cudaMemcpyHostToDevice, s);
  ck_assert_int_eq (cublasSgemm (h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, a, 2, b, 3, &zero, c, 2),
                    CUBLAS_STATUS_SUCCESS);
  cudaMemcpyAsync (hc, c, sizeof hc, cudaMemcpyDeviceToHost, s);
  ck_assert (hc[0] == 1 && hc[1] == 2 && hc[2] == 8 && hc[3] == 10);
  cublasDestroy (h);

  cudnnHandle_t dnn;
  ck_assert_int_eq (cudnnCreate (&dnn), CUDNN_STATUS_SUCCESS);
  cudnnSetStream (dnn, s);
  cudnnTensorDescriptor_t x, y;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv;
  cudnnCreateTensorDescriptor (&x);
  cudnnCreateTensorDescriptor (&y);
  cudnnCreateFilterDescriptor (&w);
  cudnnCreateConvolutionDescriptor (&conv);
  cudnnSetTensor4dDescriptor (x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 1, 3, 3);
  cudnnSetFilter4dDescriptor (w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 1, 1, 2, 2);
  cudnnSetConvolution2dDescriptor (conv, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
  cudnnSetConvolutionMathType (conv, CUDNN_FMA_MATH);
  cudnnSetTensor4dDescriptor (y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 1, 3, 3);  /* should be 2 x 2 */
  int found = 0;
  cudnnConvolutionFwdAlgoPerf_t perf[8];
  ck_assert_int_eq (cudnnGetConvolutionForwardAlgorithm_v7 (dnn, x, w, conv, y, 8, &found, perf),
                    CUDNN_STATUS_BAD_PARAM);
  cudnnSetTensor4dDescriptor (y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 1, 2, 2);
  ck_assert_int_eq (cudnnGetConvolutionForwardAlgorithm_v7 (dnn, x, w, conv, y, 8, &found, perf),
                    CUDNN_STATUS_SUCCESS);
  ck_assert_int_ge (found, 2);
  /* The first offered uses tensor-op math; the second is deterministic FMA. */
  ck_assert_int_ne (perf[0].mathType, CUDNN_FMA_MATH);
  ck_assert (perf[1].determinism == CUDNN_DETERMINISTIC && perf[1].mathType == CUDNN_FMA_MATH);
  float *dx = device_floats (pool, s, 9), *dw = device_floats (pool, s, 4), *dy = device_floats (pool, s, 4);
  gsize need = perf[1].memory;
  float *big = device_floats (pool, s, need / sizeof (float) + 1);
  ck_assert_int_eq (cudnnConvolutionForward (dnn, &one, x, dx, w, dw, conv, perf[0].algo, big, need, &zero, y, dy),
                    CUDNN_STATUS_BAD_PARAM);
  ck_assert_int_eq (cudnnConvolutionForward (dnn, &one, x, dx, w, dw, conv, perf[1].algo, big, need - 4, &zero, y, dy),
                    CUDNN_STATUS_BAD_PARAM);
  float hx[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, hw[4] = { 1, 0, 0, 1 }, hy[4];
  cudaMemcpyAsync (dx, hx, sizeof hx, cudaMemcpyHostToDevice, s);
  cudaMemcpyAsync (dw, hw, sizeof hw, cudaMemcpyHostToDevice, s);
  ck_assert_int_eq (cudnnConvolutionForward (dnn, &one, x, dx, w, dw, conv, perf[1].algo, big, need, &zero, y, dy),
                    CUDNN_STATUS_SUCCESS);
  cudaMemcpyAsync (hy, dy, sizeof hy, cudaMemcpyDeviceToHost, s);
  ck_assert (hy[0] == 6 && hy[1] == 8 && hy[2] == 12 && hy[3] == 14);
  cudnnDestroyTensorDescriptor (x);
  cudnnDestroyTensorDescriptor (y);
  cudnnDestroyFilterDescriptor (w);
  cudnnDestroyConvolutionDescriptor (conv);
  cudnnDestroy (dnn);
}
END_TEST

static Suite *
cuda_sim_suite (void)
{
  Suite *s = suite_create ("cuda-sim");
  TCase *tc = tcase_create ("sim");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, work_runs_when_waited_for);
  tcase_add_test (tc, device_memory_is_checked);
  tcase_add_test_raise_signal (tc, host_cannot_touch_device_memory, SIGSEGV);
  tcase_add_test_raise_signal (tc, kernels_out_of_bounds_fault, SIGSEGV);
  tcase_add_test (tc, launches_and_graphs_follow_cuda_rules);
  tcase_add_test (tc, library_calls_are_checked);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return mt_test_run_suite (cuda_sim_suite ());
}
