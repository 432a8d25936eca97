// CUDA's built-ins, for compiling the kernels of ml/cuda/kernels/ with the host C++
// compiler (ml/cuda/emu/mt-cuda-emu.cc): thread and block indices are per host thread,
// __syncthreads is the emulator's block barrier, __shared__ variables are statics (one
// copy, used by one block at a time), __global__ and __device__ mean nothing.
#pragma once

#include <glib.h>
#include <math.h>

#include <algorithm>
#include <type_traits>
#include <utility>

struct mt_emu_dim3 { unsigned x, y, z; };

extern thread_local mt_emu_dim3 mt_emu_thread_idx, mt_emu_block_idx;
extern mt_emu_dim3 mt_emu_block_dim, mt_emu_grid_dim;
void mt_emu_syncthreads (const char *file, int line);

#define threadIdx mt_emu_thread_idx
#define blockIdx mt_emu_block_idx
#define blockDim mt_emu_block_dim
#define gridDim mt_emu_grid_dim
#define __syncthreads() mt_emu_syncthreads (__FILE__, __LINE__)
#define __global__
#define __device__
#define __shared__ static
// Kernels are plain C++ functions here, in the emulator's namespace.
#define MT_KERNEL

// Shared-memory counters (histograms): the host's atomics, which TSan also knows.
inline unsigned
atomicAdd (unsigned *p, unsigned v)
{
  return __atomic_fetch_add (p, v, __ATOMIC_RELAXED);
}

// CUDA's integer min and max are overloads in device code.
using std::max;
using std::min;

// ---- kernels as the emulator runs them ------------------------------------------------
namespace mt_emu {

// The PTX type NVRTC gives a parameter (as the typed launchers record them).
template <class T> constexpr const char *
ptx_type ()
{
  if constexpr (std::is_pointer_v<T> || std::is_same_v<T, long long>)
    return "u64";
  else if constexpr (std::is_same_v<T, int>)
    return "u32";
  else if constexpr (std::is_same_v<T, float>)
    return "f32";
  else if constexpr (std::is_same_v<T, double>)
    return "f64";
  else {
    static_assert (std::is_same_v<T, unsigned char>, "a kernel parameter type the emulator does not know");
    return "u8";
  }
}

template <class... A> constexpr const char *param_types[] = { ptx_type<A> ()..., nullptr };

// A kernel: its name, a call from untyped argument pointers, its parameters' types, and
// whether its threads may run one after another (no __syncthreads, no shared memory:
// the element-wise, grid-stride kernels).
struct Kernel {
  const char *name;
  void (*run) (void **args);
  const char *const *types;
  unsigned n_params;
  bool barrier_free;
};

template <class... A, std::size_t... I> void
invoke (void (*kernel) (A...), void **args, std::index_sequence<I...>)
{
  kernel (*static_cast<std::remove_cv_t<A> *> (args[I])...);
}

template <class... A> void
invoke (void (*kernel) (A...), void **args)
{
  invoke (kernel, args, std::index_sequence_for<A...> ());
}

template <class... A> constexpr Kernel
describe (const char *name, void (*run) (void **), void (*) (A...), bool barrier_free)
{
  return { name, run, param_types<A...>, sizeof...(A), barrier_free };
}

// Runs @k as a launch of @blocks blocks of @threads would; FALSE with @error for a bad
// configuration or for what the block did that CUDA leaves undefined.
gboolean run (const Kernel &k, guint blocks, guint threads, void **args, GError **error);

}  // namespace mt_emu

// The emulator's description of kernel F (a function in scope): its threads as host
// threads, meeting at each __syncthreads.
#define MT_EMU_KERNEL(F) mt_emu::describe (#F, [] (void **a) { mt_emu::invoke (F, a); }, F, false)
// An element-wise kernel F: without $MT_CUDA_EMU_THREADS=1 its threads run one after
// another on the launching thread (thousands of times faster for large grids); a
// __syncthreads in one is reported as a launch error.
#define MT_EMU_ELEMENTWISE(F) mt_emu::describe (#F, [] (void **a) { mt_emu::invoke (F, a); }, F, true)
