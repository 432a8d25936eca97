// Kernels with the bugs the host emulation of CUDA launches is there to find, for
// tests/test-cuda-emu.c: barriers that not every thread of a block reaches, and a block
// reduction that is right only for power-of-two block sizes (the bug ml/cuda/kernels/
// once had).
#include "ml/cuda/emu/mt-cuda-emu-device.h"

namespace {

__global__ void
divergent_barrier (int *out)
{
  if (threadIdx.x % 2)
    __syncthreads ();
  else
    __syncthreads ();
  out[threadIdx.x] = 1;
}

__global__ void
barrier_after_return (int *out, int n)
{
  if ((int) threadIdx.x >= n)
    return;
  __syncthreads ();
  out[threadIdx.x] = 1;
}

// The classic halving: drops the odd element out at every step a size is odd.
__global__ void
halving_block_sum (const float *x, float *sum)
{
  __shared__ float part[1024];
  part[threadIdx.x] = x[threadIdx.x];
  __syncthreads ();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s)
      part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads ();
  }
  if (threadIdx.x == 0)
    *sum = part[0];
}

}  // namespace

extern "C" gboolean mt_test_emu_divergent_barrier (guint threads, int *out, GError **error);
extern "C" gboolean mt_test_emu_barrier_after_return (guint threads, int *out, int n, GError **error);
extern "C" gboolean mt_test_emu_halving_block_sum (guint threads, const float *x, float *sum, GError **error);
extern "C" gboolean mt_test_emu_barrier_called_elementwise (guint threads, int *out, GError **error);

gboolean
mt_test_emu_divergent_barrier (guint threads, int *out, GError **error)
{
  void *args[] = { &out };
  return mt_emu::run (MT_EMU_KERNEL (divergent_barrier), 1, threads, args, error);
}

gboolean
mt_test_emu_barrier_after_return (guint threads, int *out, int n, GError **error)
{
  void *args[] = { &out, &n };
  return mt_emu::run (MT_EMU_KERNEL (barrier_after_return), 1, threads, args, error);
}

gboolean
mt_test_emu_halving_block_sum (guint threads, const float *x, float *sum, GError **error)
{
  void *args[] = { &x, &sum };
  return mt_emu::run (MT_EMU_KERNEL (halving_block_sum), 1, threads, args, error);
}

// A kernel with a barrier that the table would call element-wise.
gboolean
mt_test_emu_barrier_called_elementwise (guint threads, int *out, GError **error)
{
  int n = (int) threads;
  void *args[] = { &out, &n };
  return mt_emu::run (MT_EMU_ELEMENTWISE (barrier_after_return), 1, threads, args, error);
}
