// Kernels with barriers as fibers (mt-cuda-emu-private.h): each CUDA thread of a block a
// coroutine of the launching host thread, switched by GCC's __builtin_setjmp and
// __builtin_longjmp (a stack pointer, a frame pointer and a label: no system call, no
// signal mask; a barrier costs nanoseconds per thread, where 256 host threads cost a
// context switch each). Fibers are made once per host thread, with makecontext, and parked at the top of
// their loop; a block starts each, then runs rounds: every fiber runs to its next
// __syncthreads or its return, and a round in which all reached the same barrier starts
// the next. What the threaded emulator reports as undefined (threads at different
// barriers, a barrier reached after others returned) is reported the same way.
//
// Under AddressSanitizer every switch is announced (__sanitizer_start_switch_fiber), so
// that it knows which stack runs. ThreadSanitizer needs its own fiber calls, which these
// are not worth: under it the threaded emulator runs (fibers_available () is false).
#include "ml/cuda/emu/mt-cuda-emu-private.h"
#include "base/mt-error.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define MT_EMU_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define MT_EMU_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define MT_EMU_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define MT_EMU_TSAN 1
#endif
#endif

namespace {

constexpr size_t kStack = 256 << 10;

enum class State { parked, barrier, done };

// A __builtin_setjmp buffer.
typedef void *Jump[5];

struct Fiber {
  ucontext_t start;      // used once, to enter the fiber's loop
  Jump top, resume;      // parked at the loop's top; waiting at a barrier
  char *stack = nullptr;
  State state = State::parked;
  const char *file = nullptr;
  int line = 0;
  void *fake_stack = nullptr;  // ASan's, while switched away
};

struct Host {
  std::vector<Fiber *> fibers;
  Jump scheduler;
  const void *stack_bottom = nullptr;  // the host thread's own stack (ASan)
  size_t stack_size = 0;
  void *fake_stack = nullptr;
  Fiber *current = nullptr;
  const mt_emu::Kernel *kernel = nullptr;
  void **args = nullptr;
};

// One per host thread (a fiber runs on the thread that made it), made on first use: a
// plain pointer, so that reaching it costs no thread-local initialisation check; freed
// with its fibers' stacks when the thread ends.
thread_local Host *host_of_thread;
pthread_key_t host_key;
pthread_once_t host_key_once = PTHREAD_ONCE_INIT;

void
host_free (void *p)
{
  Host *h = (Host *) p;
  for (Fiber *f : h->fibers) {
    munmap (f->stack, kStack);
    delete f;
  }
  delete h;
}

void
host_key_make ()
{
  pthread_key_create (&host_key, host_free);
}

Host &
this_host ()
{
  if (G_UNLIKELY (!host_of_thread)) {
    pthread_once (&host_key_once, host_key_make);
    host_of_thread = new Host;
    pthread_setspecific (host_key, host_of_thread);
  }
  return *host_of_thread;
}

// __builtin_longjmp may not be called from a function that calls __builtin_setjmp.
__attribute__ ((noinline, noreturn)) void
jump (Jump to)
{
  __builtin_longjmp (to, 1);
}

// Switches from the scheduler into @f (jumping to @to); returns when it switches back.
__attribute__ ((noinline)) void
enter (Host &host, Fiber *f, Jump to)
{
#ifdef MT_EMU_ASAN
  __sanitizer_start_switch_fiber (&host.fake_stack, f->stack, kStack);
#endif
  host.current = f;
  if (!__builtin_setjmp (host.scheduler))
    jump (to);
#ifdef MT_EMU_ASAN
  __sanitizer_finish_switch_fiber (host.fake_stack, nullptr, nullptr);
#endif
  host.current = nullptr;
}

// From the running fiber back to the scheduler; returns when resumed at @here.
__attribute__ ((noinline)) void
leave (Host &host, Fiber *f, Jump here)
{
#ifdef MT_EMU_ASAN
  __sanitizer_start_switch_fiber (&f->fake_stack, host.stack_bottom, host.stack_size);
#endif
  if (!__builtin_setjmp (here))
    jump (host.scheduler);
#ifdef MT_EMU_ASAN
  __sanitizer_finish_switch_fiber (f->fake_stack, nullptr, nullptr);
#endif
}

// A fiber's life: park, run the kernel when started, report its return, park again. Its
// top is set in this frame, which never returns, so that a start may jump there from
// anywhere (also past a kernel abandoned at a barrier by a failed launch).
void
fiber_main (unsigned lo, unsigned hi)
{
  Fiber *const f = (Fiber *) (((uintptr_t) hi << 32) | lo);
  Host &host = this_host ();
#ifdef MT_EMU_ASAN
  // Entered from make_fiber's swapcontext: learn the host thread's stack.
  __sanitizer_finish_switch_fiber (nullptr, &host.stack_bottom, &host.stack_size);
#endif
  for (;;) {
    if (!__builtin_setjmp (f->top)) {
#ifdef MT_EMU_ASAN
      __sanitizer_start_switch_fiber (&f->fake_stack, host.stack_bottom, host.stack_size);
#endif
      jump (host.scheduler);
    }
#ifdef MT_EMU_ASAN
    __sanitizer_finish_switch_fiber (f->fake_stack, nullptr, nullptr);
#endif
    host.kernel->run (host.args);
    f->state = State::done;
  }
}

Fiber *
make_fiber (Host &host)
{
  Fiber *f = new Fiber;
  f->stack = (char *) mmap (nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (f->stack == MAP_FAILED) {
    delete f;
    return nullptr;
  }
  getcontext (&f->start);
  f->start.uc_stack.ss_sp = f->stack;
  f->start.uc_stack.ss_size = kStack;
  f->start.uc_link = nullptr;
  uintptr_t p = (uintptr_t) f;
  makecontext (&f->start, (void (*) ()) fiber_main, 2, (unsigned) (p & 0xffffffffu), (unsigned) (p >> 32));
  // Run it to its first park (once per fiber: the only system call of its life). It
  // comes back by __builtin_longjmp, so setcontext, not swapcontext (which ASan would
  // warn of): nothing of this context needs keeping but what __builtin_setjmp keeps.
#ifdef MT_EMU_ASAN
  __sanitizer_start_switch_fiber (&host.fake_stack, f->stack, kStack);
#endif
  host.current = f;
  if (!__builtin_setjmp (host.scheduler))
    setcontext (&f->start);
#ifdef MT_EMU_ASAN
  __sanitizer_finish_switch_fiber (host.fake_stack, nullptr, nullptr);
#endif
  host.current = nullptr;
  return f;
}

}  // namespace

bool
mt_emu::fibers_available ()
{
#ifdef MT_EMU_TSAN
  return false;
#else
  return true;
#endif
}

bool
mt_emu::fiber_syncthreads (const char *file, int line)
{
  // A host thread of the threaded emulator has no Host, and needs none.
  if (!host_of_thread || !host_of_thread->current)
    return false;
  Host &host = *host_of_thread;
  Fiber *f = host.current;
  f->state = State::barrier;
  f->file = file;
  f->line = line;
  leave (host, f, f->resume);
  return true;
}

gboolean
mt_emu::run_fibers (const Kernel &k, guint blocks, guint threads, void **args, GError **error)
{
  Host &host = this_host ();
  while (host.fibers.size () < threads) {
    Fiber *f = make_fiber (host);
    if (!f) {
      g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "launching %s: no memory for %u fibers", k.name, threads);
      return FALSE;
    }
    host.fibers.push_back (f);
  }
  host.kernel = &k;
  host.args = args;
  std::string failure;
  for (unsigned b = 0; b < blocks && failure.empty (); b++) {
    bool first = true;
    for (;;) {
      // A round: each fiber from its park (the first) or its barrier to the next.
      for (unsigned t = 0; t < threads; t++) {
        Fiber *f = host.fibers[t];
        if (first)
          f->state = State::parked;
        else if (f->state != State::barrier)
          continue;
        mt_emu_block_idx = { b, 0, 0 };
        mt_emu_thread_idx = { t, 0, 0 };
        enter (host, f, first ? f->top : f->resume);
      }
      first = false;
      unsigned waiting = 0, returned = 0;
      const Fiber *site = nullptr;
      for (unsigned t = 0; t < threads; t++) {
        const Fiber *f = host.fibers[t];
        if (f->state == State::done) {
          returned++;
          continue;
        }
        waiting++;
        if (!site)
          site = f;
        else if (failure.empty () && (f->line != site->line ||
                                      (f->file != site->file && strcmp (f->file, site->file) != 0)))
          failure = "block " + std::to_string (b) + ": its threads wait at different __syncthreads (" + site->file +
                    ":" + std::to_string (site->line) + " and " + f->file + ":" + std::to_string (f->line) + ")";
      }
      if (waiting && returned && failure.empty ())
        failure = "block " + std::to_string (b) + ": __syncthreads at " + site->file + ":" +
                  std::to_string (site->line) + " reached after others of its " + std::to_string (threads) +
                  " threads returned";
      if (!waiting || !failure.empty ())
        break;
    }
  }
  // Fibers left at a barrier by a failure are parked again by their next start (which
  // jumps to the top of their loop, below the abandoned frames, whose redzones ASan is
  // told to forget).
#ifdef MT_EMU_ASAN
  if (!failure.empty ())
    for (unsigned t = 0; t < threads; t++)
      if (host.fibers[t]->state == State::barrier)
        __asan_unpoison_memory_region (host.fibers[t]->stack, kStack);
#endif
  host.kernel = nullptr;
  host.args = nullptr;
  if (failure.empty ())
    return TRUE;
  g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "%s: %s", k.name, failure.c_str ());
  return FALSE;
}
