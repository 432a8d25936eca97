// Shared by every kernel: 64-bit indices, grid-stride loops and block reductions.
#pragma once
typedef long long i64;
#define GRID_STRIDE(i, n) for (i64 i = blockIdx.x * (i64) blockDim.x + threadIdx.x; i < (n); \
                               i += (i64) blockDim.x * gridDim.x)

// Block-wide sum of one double per thread; blockDim.x is a power of two <= 1024.
__device__ double block_sum (double v) {
  __shared__ double part[1024];
  part[threadIdx.x] = v;
  __syncthreads ();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads ();
  }
  double r = part[0];
  __syncthreads ();
  return r;
}
// Block-wide min or max of one float per thread.
struct MinOp { __device__ float operator() (float a, float b) const { return fminf (a, b); } };
struct MaxOp { __device__ float operator() (float a, float b) const { return fmaxf (a, b); } };
template <class Op> __device__ float block_reduce (float v, Op op) {
  __shared__ float part[1024];
  part[threadIdx.x] = v;
  __syncthreads ();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) part[threadIdx.x] = op (part[threadIdx.x], part[threadIdx.x + s]);
    __syncthreads ();
  }
  float r = part[0];
  __syncthreads ();
  return r;
}
