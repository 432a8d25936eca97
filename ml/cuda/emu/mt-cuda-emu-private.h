// The emulator's ways of running a block (mt-cuda-emu.cc): threads, fibers
// (mt-cuda-emu-fibers.cc), or, for element-wise kernels, one thread after another.
#pragma once

#include "ml/cuda/emu/mt-cuda-emu-device.h"

namespace mt_emu {

// FALSE under ThreadSanitizer, which would need to be told of every switch.
bool fibers_available ();
// Runs @k's @blocks blocks, each CUDA thread a fiber of the calling host thread.
gboolean run_fibers (const Kernel &k, guint blocks, guint threads, void **args, GError **error);
// __syncthreads in a fiber: waits for the block's other fibers and returns TRUE; FALSE
// when the caller is no fiber.
bool fiber_syncthreads (const char *file, int line);

}  // namespace mt_emu
