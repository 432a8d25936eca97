/* A host emulation of CUDA launches for the kernels of ml/cuda/kernels/, so that they run
 * (and are checked against the CPU ops) on machines without a GPU, in CI under ASan,
 * UBSan and TSan. The kernels are the same source NVRTC compiles, compiled here by the
 * host C++ compiler with ml/cuda/emu/mt-cuda-emu-device.h standing in for CUDA's
 * built-ins.
 *
 * A kernel with barriers runs each block's threads as fibers of the launching thread
 * (mt-cuda-emu-fibers.cc: a __syncthreads switches to the next, nanoseconds), or, with
 * MT_CUDA_EMU_THREADS=1 and always under ThreadSanitizer, as host threads meeting at a
 * barrier, which TSan watches for races within a block. An element-wise kernel (no
 * barrier, no shared memory) runs thread after thread. __shared__ memory is one copy per
 * block (blocks run one after another, so races across blocks are not seen). The
 * emulator reports, as a launch error, what a GPU would do undefined things with: a
 * __syncthreads reached by some threads after others returned, or threads of one block
 * waiting at different __syncthreads; a block size of 0 or over 1024; arguments whose
 * number or types are not the kernel's. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Runs kernel @name as mt_cuda_launch() would on a GPU: @blocks blocks of @threads, or
 * with @blocks 0 the grid mt_cuda_grid_size() gives for @n. @args: pointers to each
 * argument; @types: their PTX types as the typed launchers record them ("u64", "f32"). */
gboolean mt_cuda_emu_launch (const char *name, gsize n, guint blocks, guint threads, void **args,
                             const char *const *types, guint n_args, GError **error);

/* Kernel @name's parameter types ("u64", "f32", ...; @n_params of them), or NULL when the
 * emulator has no such kernel. */
const char *const *mt_cuda_emu_kernel_types (const char *name, guint *n_params);

/* The kernels the emulator has, NULL-terminated (the tests compare it with
 * mt_cuda_kernel_names()). */
const char *const *mt_cuda_emu_kernel_names (void);

G_END_DECLS
