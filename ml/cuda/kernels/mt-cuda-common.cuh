// Shared by every kernel: 64-bit indices, grid-stride loops and block reductions.
//
// The same source is compiled twice: by NVRTC for the GPU, and by the host C++ compiler
// for the emulator of ml/cuda/emu/, which defines MT_KERNEL and the CUDA built-ins
// (threadIdx, __syncthreads, __shared__, ...) before including it.
#pragma once
#ifndef MT_KERNEL
// A kernel: unmangled, so that the host finds it by name in the module.
#define MT_KERNEL extern "C" __global__
#endif
typedef long long i64;
#define GRID_STRIDE(i, n) for (i64 i = blockIdx.x * (i64) blockDim.x + threadIdx.x; i < (n); \
                               i += (i64) blockDim.x * gridDim.x)

// Block-wide sum of one double per thread, for any blockDim.x <= 1024: each step folds
// the upper ceil(n/2)..n-1 onto the lower half (for a power of two, the classic halving,
// so its order and results are unchanged).
__device__ double block_sum (double v) {
  __shared__ double part[1024];
  part[threadIdx.x] = v;
  __syncthreads ();
  for (unsigned n = blockDim.x, s = (n + 1) / 2; n > 1; n = s, s = (s + 1) / 2) {
    if (threadIdx.x < n - s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads ();
  }
  double r = part[0];
  __syncthreads ();
  return r;
}
// Block-wide min or max of one float per thread, for any blockDim.x <= 1024.
struct MinOp { __device__ float operator() (float a, float b) const { return fminf (a, b); } };
struct MaxOp { __device__ float operator() (float a, float b) const { return fmaxf (a, b); } };
template <class Op> __device__ float block_reduce (float v, Op op) {
  __shared__ float part[1024];
  part[threadIdx.x] = v;
  __syncthreads ();
  for (unsigned n = blockDim.x, s = (n + 1) / 2; n > 1; n = s, s = (s + 1) / 2) {
    if (threadIdx.x < n - s) part[threadIdx.x] = op (part[threadIdx.x], part[threadIdx.x + s]);
    __syncthreads ();
  }
  float r = part[0];
  __syncthreads ();
  return r;
}
