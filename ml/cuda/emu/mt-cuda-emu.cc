// The host emulation of CUDA launches (mt-cuda-emu.h): the kernels of ml/cuda/kernels/,
// compiled by the host compiler, run with one host thread per CUDA thread of a block.
#include "ml/cuda/emu/mt-cuda-emu.h"
#include "ml/cuda/emu/mt-cuda-emu-device.h"
#include "ml/cuda/emu/mt-cuda-emu-private.h"
#include "ml/cuda/mt-cuda.h"
#include "base/mt-error.h"

#include <pthread.h>
#include <string.h>

#include <atomic>
#include <string>

// The kernels, in a namespace of their own: their names are the CPU ops' too.
namespace mt_emu_kernels {
#include "mt-cuda-common.cuh"
#include "mt-convert.cu"
#include "mt-loss.cu"
#include "mt-mask.cu"
#include "mt-maxpool.cu"
#include "mt-patch.cu"
#include "mt-relu.cu"
#include "mt-saliency.cu"
#include "mt-sgd.cu"
#include "mt-batchnorm.cu"
#include "mt-residual.cu"
}  // namespace mt_emu_kernels

thread_local mt_emu_dim3 mt_emu_thread_idx, mt_emu_block_idx;
mt_emu_dim3 mt_emu_block_dim, mt_emu_grid_dim;

namespace {

using mt_emu::Kernel;
using namespace mt_emu_kernels;

// The four kernels with block reductions run as threads; the others one thread after
// another (MT_EMU_ELEMENTWISE).
const Kernel kernels[] = {
  MT_EMU_ELEMENTWISE (mt_u8_to_f32), MT_EMU_ELEMENTWISE (mt_cross_entropy), MT_EMU_ELEMENTWISE (mt_mask_cut),
  MT_EMU_KERNEL (mt_mask_top_k), MT_EMU_ELEMENTWISE (mt_apply_mask), MT_EMU_ELEMENTWISE (mt_maxpool2_forward),
  MT_EMU_ELEMENTWISE (mt_maxpool2_backward), MT_EMU_ELEMENTWISE (mt_plant_square),
  MT_EMU_ELEMENTWISE (mt_relu_forward), MT_EMU_ELEMENTWISE (mt_relu_backward), MT_EMU_ELEMENTWISE (mt_cam_seed),
  MT_EMU_ELEMENTWISE (mt_cam_weights), MT_EMU_ELEMENTWISE (mt_cam_combine), MT_EMU_KERNEL (mt_cam_scale),
  MT_EMU_ELEMENTWISE (mt_resize_bilinear), MT_EMU_ELEMENTWISE (mt_sgd_step), MT_EMU_ELEMENTWISE (mt_adam_step),
  MT_EMU_KERNEL (mt_bn_forward_train), MT_EMU_ELEMENTWISE (mt_bn_forward_eval), MT_EMU_KERNEL (mt_bn_backward_train),
  MT_EMU_ELEMENTWISE (mt_bn_backward_eval), MT_EMU_ELEMENTWISE (mt_maxpool_forward),
  MT_EMU_ELEMENTWISE (mt_maxpool_backward), MT_EMU_ELEMENTWISE (mt_add), MT_EMU_ELEMENTWISE (mt_avgpool_forward),
  MT_EMU_ELEMENTWISE (mt_avgpool_backward), MT_EMU_ELEMENTWISE (mt_shortcut_forward),
  MT_EMU_ELEMENTWISE (mt_shortcut_backward), MT_EMU_ELEMENTWISE (mt_loss_total),
  MT_EMU_ELEMENTWISE (mt_fold_batchnorm), MT_EMU_ELEMENTWISE (mt_gather_batch),
};

const char *const *
names ()
{
  static const char *list[G_N_ELEMENTS (kernels) + 1];
  for (unsigned i = 0; i < G_N_ELEMENTS (kernels); i++)
    list[i] = kernels[i].name;
  return list;
}

// ---- the block: its threads, its barrier, and what it did wrong -----------------------

// The counts are kept under the mutex; a thread waits for a round to end outside it, on
// an atomic (a futex: one wake-up for all, no herd contending for the mutex after it).
struct Block {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;  // the start gate
  const Kernel *kernel = nullptr;
  void **args = nullptr;
  unsigned threads = 0, grid = 0;
  unsigned live = 0, arrived = 0, returned = 0, finished = 0;  // of the block running now
  std::atomic<unsigned> barrier_round { 0 }, block_round { 0 };
  bool open = false;  // the gate: every thread has started
  const char *site_file = nullptr;
  int site_line = 0;
  std::string error;
};

Block block;
pthread_mutex_t launch_lock = PTHREAD_MUTEX_INITIALIZER;  // one launch at a time

void
fail_locked (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
void
fail_locked (const char *fmt, ...)
{
  if (!block.error.empty ())
    return;
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  block.error = msg;
  g_free (msg);
}

void
end_round_locked (std::atomic<unsigned> &round)
{
  round.store (round.load (std::memory_order_relaxed) + 1, std::memory_order_release);
  round.notify_all ();
}

// Waits (with the mutex released) until @round has moved on from @seen.
void
wait_round_unlock (std::atomic<unsigned> &round, unsigned seen)
{
  pthread_mutex_unlock (&block.mu);
  while (round.load (std::memory_order_acquire) == seen)
    round.wait (seen, std::memory_order_acquire);
}

void
release_barrier_locked ()
{
  block.arrived = 0;
  end_round_locked (block.barrier_round);
}

// A thread left the kernel: the threads still in it no longer wait for it. Threads waiting
// at a barrier then are the same bug as one reaching a barrier after a return, whichever
// the host's scheduling made happen first.
void
kernel_returned ()
{
  pthread_mutex_lock (&block.mu);
  if (block.arrived > 0)
    fail_locked ("block %u: __syncthreads at %s:%d reached after others of its %u threads returned",
                 mt_emu_block_idx.x, block.site_file, block.site_line, block.threads);
  block.returned++;
  block.live--;
  if (block.arrived > 0 && block.arrived >= block.live)
    release_barrier_locked ();
  pthread_mutex_unlock (&block.mu);
}

// Every thread of the block is done: the next block may start (and reuse shared memory).
void
block_finished ()
{
  pthread_mutex_lock (&block.mu);
  if (++block.finished == block.threads) {
    block.finished = block.returned = block.arrived = 0;
    block.live = block.threads;
    end_round_locked (block.block_round);
    pthread_mutex_unlock (&block.mu);
  } else {
    wait_round_unlock (block.block_round, block.block_round.load (std::memory_order_relaxed));
  }
}

void *
thread_main (void *p)
{
  unsigned t = (unsigned) GPOINTER_TO_UINT (p);
  pthread_mutex_lock (&block.mu);
  while (!block.open)
    pthread_cond_wait (&block.cv, &block.mu);
  unsigned grid = block.grid;
  pthread_mutex_unlock (&block.mu);
  for (unsigned b = 0; b < grid; b++) {
    mt_emu_block_idx = { b, 0, 0 };
    mt_emu_thread_idx = { t, 0, 0 };
    block.kernel->run (block.args);
    kernel_returned ();
    block_finished ();
  }
  return nullptr;
}

std::string
join_types (const char *const *types, unsigned n)
{
  std::string s;
  for (unsigned i = 0; i < n; i++)
    s += (i ? " " : "") + std::string (types[i]);
  return s;
}

// Set while a barrier-free kernel's threads run one after another on this thread.
thread_local bool sequential;
thread_local char *sequential_error;  // what went wrong in one (a plain pointer: no TLS init)

bool
threads_forced ()
{
  return g_strcmp0 (g_getenv ("MT_CUDA_EMU_THREADS"), "1") == 0;
}

// A barrier-free kernel: block after block, thread after thread, on the caller's thread.
gboolean
run_sequential (const Kernel *k, guint blocks, guint threads, void **args, GError **error)
{
  sequential = true;
  g_clear_pointer (&sequential_error, g_free);
  for (unsigned b = 0; b < blocks && !sequential_error; b++)
    for (unsigned t = 0; t < threads; t++) {
      mt_emu_block_idx = { b, 0, 0 };
      mt_emu_thread_idx = { t, 0, 0 };
      k->run (args);
    }
  sequential = false;
  if (!sequential_error)
    return TRUE;
  g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "%s: %s", k->name, sequential_error);
  g_clear_pointer (&sequential_error, g_free);
  return FALSE;
}

}  // namespace

void
mt_emu_syncthreads (const char *file, int line)
{
  if (sequential) {
    if (!sequential_error)
      sequential_error = g_strdup_printf ("__syncthreads at %s:%d in a kernel the emulator's table calls "
                                          "element-wise (MT_EMU_ELEMENTWISE)", file, line);
    return;
  }
  if (mt_emu::fiber_syncthreads (file, line))
    return;
  pthread_mutex_lock (&block.mu);
  if (block.returned)
    fail_locked ("block %u: __syncthreads at %s:%d reached after others of its %u threads returned",
                 mt_emu_block_idx.x, file, line, block.threads);
  if (block.arrived == 0) {
    block.site_file = file;
    block.site_line = line;
  } else if (line != block.site_line || strcmp (file, block.site_file) != 0) {
    fail_locked ("block %u: its threads wait at different __syncthreads (%s:%d and %s:%d)", mt_emu_block_idx.x,
                 block.site_file, block.site_line, file, line);
  }
  if (++block.arrived >= block.live) {
    release_barrier_locked ();
    pthread_mutex_unlock (&block.mu);
  } else {
    wait_round_unlock (block.barrier_round, block.barrier_round.load (std::memory_order_relaxed));
  }
}

const char *const *
mt_cuda_emu_kernel_names (void)
{
  static const char *const *list = names ();
  return list;
}

const char *const *
mt_cuda_emu_kernel_types (const char *name, guint *n_params)
{
  for (const Kernel &e : kernels)
    if (strcmp (e.name, name) == 0) {
      *n_params = e.n_params;
      return e.types;
    }
  return nullptr;
}

gboolean
mt_cuda_emu_launch (const char *name, gsize n, guint blocks, guint threads, void **args, const char *const *types,
                    guint n_args, GError **error)
{
  const Kernel *k = nullptr;
  for (const Kernel &e : kernels)
    if (strcmp (e.name, name) == 0)
      k = &e;
  if (!k) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "no kernel '%s'", name);
    return FALSE;
  }
  std::string want = join_types (k->types, k->n_params), got = join_types (types, n_args);
  if (want != got) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s takes (%s); the launch passes (%s)", name, want.c_str (),
                 got.c_str ());
    return FALSE;
  }
  if (blocks == 0)
    mt_cuda_grid_size (n, &blocks, &threads);
  return mt_emu::run (*k, blocks, threads, args, error);
}

gboolean
mt_emu::run (const Kernel &k_, guint blocks, guint threads, void **args, GError **error)
{
  const Kernel *k = &k_;
  const char *name = k->name;
  if (threads == 0 || threads > 1024) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "launching %s: invalid configuration (%u threads per block)",
                 name, threads);
    return FALSE;
  }

  pthread_mutex_lock (&launch_lock);
  mt_emu_block_dim = { threads, 1, 1 };
  mt_emu_grid_dim = { blocks, 1, 1 };
  if (!threads_forced () && (k->barrier_free || mt_emu::fibers_available ())) {
    gboolean ok = k->barrier_free ? run_sequential (k, blocks, threads, args, error)
                                  : mt_emu::run_fibers (*k, blocks, threads, args, error);
    pthread_mutex_unlock (&launch_lock);
    return ok;
  }
  block.kernel = k;
  block.args = args;
  block.threads = block.live = threads;
  block.grid = blocks;
  block.arrived = block.returned = block.finished = 0;
  block.error.clear ();
  block.open = false;
  mt_emu_block_dim = { threads, 1, 1 };
  mt_emu_grid_dim = { blocks, 1, 1 };

  pthread_attr_t attr;
  pthread_attr_init (&attr);
  pthread_attr_setstacksize (&attr, 1 << 20);
  pthread_t *tid = g_new (pthread_t, threads);
  guint started = 0;
  int rc = 0;
  for (; started < threads; started++)
    if ((rc = pthread_create (&tid[started], &attr, thread_main, GUINT_TO_POINTER (started))) != 0)
      break;
  pthread_attr_destroy (&attr);
  // The threads wait at the gate until all have started; if one cannot start, the
  // others are let through to a grid of no blocks.
  pthread_mutex_lock (&block.mu);
  if (started < threads)
    block.grid = 0;
  block.open = true;
  pthread_cond_broadcast (&block.cv);
  pthread_mutex_unlock (&block.mu);
  for (guint t = 0; t < started; t++)
    pthread_join (tid[t], nullptr);
  g_free (tid);
  std::string failure = block.error;
  pthread_mutex_unlock (&launch_lock);

  if (started < threads) {
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "launching %s: cannot start %u host threads: %s", name, threads,
                 g_strerror (rc));
    return FALSE;
  }
  if (!failure.empty ()) {
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "%s: %s", name, failure.c_str ());
    return FALSE;
  }
  return TRUE;
}
