/* The simulated device's CUDA runtime (mt-cuda-sim.h): memory, streams, events, graphs
 * and kernel launches, the calls ml/cuda/ makes, with the CUDA runtime's own prototypes. */
#define _GNU_SOURCE  /* memmem */
#include "ml/cuda/sim/mt-cuda-sim.h"
#include "ml/cuda/emu/mt-cuda-emu.h"

#include <cuda_runtime_api.h>
#include <elf.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* One lock for the device: queued work runs under it, one op at a time, and memory
 * changes hands under it. */
static pthread_mutex_t device_lock = PTHREAD_MUTEX_INITIALIZER;
static int sticky;  /* the context's error once queued work faulted */

/* ---- memory ----------------------------------------------------------------------- */

typedef struct {
  char *map;        /* the mapping: the allocation's pages, then a guard page */
  gsize map_len;
  char *user;       /* what the caller got: its end 16 bytes before the guard page */
  gsize size;
  gpointer pool;
} Alloc;

static GTree *allocs;      /* user address -> Alloc, live device memory */
static GHashTable *handles; /* streams, events and pools not destroyed: as on a GPU, a
                             * handle the program drops is no leak of its own memory */
static GHashTable *pinned; /* host address -> size, from cudaHostAlloc */
static gsize page;

static gint
addr_cmp (gconstpointer a, gconstpointer b, gpointer unused)
{
  return (guintptr) a < (guintptr) b ? -1 : (guintptr) a > (guintptr) b;
}

static void
memory_init_locked (void)
{
  if (allocs)
    return;
  allocs = g_tree_new_full (addr_cmp, NULL, NULL, g_free);
  pinned = g_hash_table_new (NULL, NULL);
  handles = g_hash_table_new (NULL, NULL);
  page = (gsize) sysconf (_SC_PAGESIZE);
}

/* The live allocation holding @p, or NULL. */
static Alloc *
alloc_at_locked (const void *p)
{
  memory_init_locked ();
  GTreeNode *n = g_tree_upper_bound (allocs, p);
  n = n ? g_tree_node_previous (n) : g_tree_node_last (allocs);
  if (!n)
    return NULL;
  Alloc *a = g_tree_node_value (n);
  return (const char *) p >= a->user && (const char *) p < a->user + MAX (a->size, 1) ? a : NULL;
}

static gboolean
protect (Alloc *a, int prot, gpointer unused)
{
  mprotect (a->map, a->map_len - page, prot);
  return FALSE;
}

static gboolean
open_one (gpointer key, gpointer value, gpointer unused)
{
  return protect (value, PROT_READ | PROT_WRITE, NULL);
}

static gboolean
close_one (gpointer key, gpointer value, gpointer unused)
{
  return protect (value, PROT_NONE, NULL);
}

/* Device memory is readable only while queued work runs. */
static void
device_open_locked (void)
{
  memory_init_locked ();
  g_tree_foreach (allocs, open_one, NULL);
}

static void
device_close_locked (void)
{
  g_tree_foreach (allocs, close_one, NULL);
}

gboolean
mt_sim_device_span (const void *p, gsize bytes, const char *what)
{
  pthread_mutex_lock (&device_lock);
  Alloc *a = alloc_at_locked (p);
  gboolean ok = a && (const char *) p + bytes <= a->user + a->size;
  pthread_mutex_unlock (&device_lock);
  if (!ok)
    fprintf (stderr, "CUDA simulator: %s: %zu bytes at %p are not inside one live device allocation\n", what,
             (size_t) bytes, p);
  return ok;
}

static void *
device_alloc (gsize bytes, gpointer pool)
{
  pthread_mutex_lock (&device_lock);
  memory_init_locked ();
  gsize size = (MAX (bytes, 1) + 15) & ~(gsize) 15;
  gsize len = (size + page - 1) / page * page + page;
  char *map = mmap (NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) {
    pthread_mutex_unlock (&device_lock);
    return NULL;
  }
  Alloc *a = g_new0 (Alloc, 1);
  a->map = map;
  a->map_len = len;
  a->size = bytes;
  a->user = map + len - page - size;
  a->pool = pool;
  /* New memory is NaN bytes, as no real GPU promises zeros: a read before a write shows. */
  memset (map, 0xff, len - page);
  mprotect (map + len - page, page, PROT_NONE);
  protect (a, PROT_NONE, NULL);
  g_tree_insert (allocs, a->user, a);
  pthread_mutex_unlock (&device_lock);
  return a->user;
}

/* Freed memory is never mapped again: a later touch faults. */
static void
device_free_locked (Alloc *a)
{
  mprotect (a->map, a->map_len, PROT_NONE);
  madvise (a->map, a->map_len, MADV_DONTNEED);
  g_tree_remove (allocs, a->user);
}

static void
handle_add (gpointer h)
{
  pthread_mutex_lock (&device_lock);
  memory_init_locked ();
  g_hash_table_add (handles, h);
  pthread_mutex_unlock (&device_lock);
}

static void
handle_remove (gpointer h)
{
  pthread_mutex_lock (&device_lock);
  memory_init_locked ();
  g_hash_table_remove (handles, h);
  pthread_mutex_unlock (&device_lock);
}

/* ---- faults and errors ------------------------------------------------------------ */

void
mt_sim_fault (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "CUDA simulator: device fault: %s\n", msg);
  g_free (msg);
  sticky = cudaErrorLaunchFailure;
}

int
mt_sim_sticky (void)
{
  return sticky;
}

const char *
cudaGetErrorString (cudaError_t e)
{
  switch (e) {
  case cudaSuccess: return "no error";
  case cudaErrorInvalidValue: return "invalid argument (CUDA simulator)";
  case cudaErrorMemoryAllocation: return "out of memory (CUDA simulator)";
  case cudaErrorInvalidConfiguration: return "invalid configuration argument (CUDA simulator)";
  case cudaErrorInvalidResourceHandle: return "invalid resource handle (CUDA simulator)";
  case cudaErrorLaunchFailure: return "unspecified launch failure (CUDA simulator: a device fault, see stderr)";
  case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing (CUDA simulator)";
  case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture (CUDA simulator)";
  case cudaErrorIllegalState: return "the operation is not permitted in this state (CUDA simulator)";
  case cudaErrorSymbolNotFound: return "named symbol not found (CUDA simulator)";
  case cudaErrorInvalidKernelImage: return "device kernel image is invalid (CUDA simulator)";
  default: return "an error of the CUDA simulator";
  }
}

/* ---- streams ---------------------------------------------------------------------- */

enum { CAPTURE_NONE, CAPTURE_ACTIVE, CAPTURE_INVALID };

struct _MtSimStream {
  pthread_mutex_t mu;
  GQueue queue;        /* MtSimOp, to run */
  guint64 queued, done;
  int capture;
  GPtrArray *graph;    /* ops recorded while capturing */
};

static MtSimStream legacy = { PTHREAD_MUTEX_INITIALIZER };

static MtSimStream *
stream_of (gpointer s)
{
  /* NULL, cudaStreamLegacy and cudaStreamPerThread: the one default stream here. */
  return (guintptr) s <= 2 ? &legacy : s;
}

MtSimOp *
mt_sim_op_new (const char *what, MtSimOpRun run, gpointer data, GDestroyNotify free_data)
{
  MtSimOp *op = g_new0 (MtSimOp, 1);
  op->what = what;
  op->run = run;
  op->data = data;
  op->free_data = free_data;
  op->refs = 1;
  return op;
}

static MtSimOp *
op_ref (MtSimOp *op)
{
  g_atomic_int_inc (&op->refs);
  return op;
}

static void
op_unref (gpointer p)
{
  MtSimOp *op = p;
  if (op && g_atomic_int_dec_and_test (&op->refs)) {
    if (op->free_data)
      op->free_data (op->data);
    g_free (op);
  }
}

int
mt_sim_enqueue (gpointer stream, MtSimOp *op)
{
  MtSimStream *s = stream_of (stream);
  if (sticky) {
    op_unref (op);
    return sticky;
  }
  pthread_mutex_lock (&s->mu);
  if (s->capture == CAPTURE_ACTIVE)
    g_ptr_array_add (s->graph, op);
  else if (s->capture == CAPTURE_INVALID)
    op_unref (op);
  else {
    g_queue_push_tail (&s->queue, op);
    s->queued++;
  }
  pthread_mutex_unlock (&s->mu);
  return cudaSuccess;
}

/* Runs @s's work up to position @upto. */
static int
flush_to (MtSimStream *s, guint64 upto)
{
  pthread_mutex_lock (&device_lock);
  pthread_mutex_lock (&s->mu);
  if (s->done < upto && !g_queue_is_empty (&s->queue)) {
    device_open_locked ();
    while (s->done < upto && !g_queue_is_empty (&s->queue)) {
      MtSimOp *op = g_queue_pop_head (&s->queue);
      if (!sticky)
        op->run (op);
      op_unref (op);
      s->done++;
    }
    device_close_locked ();
  }
  pthread_mutex_unlock (&s->mu);
  pthread_mutex_unlock (&device_lock);
  return sticky;
}

int
mt_sim_flush (gpointer stream)
{
  return flush_to (stream_of (stream), G_MAXUINT64);
}

gboolean
mt_sim_capturing (gpointer stream)
{
  MtSimStream *s = stream_of (stream);
  pthread_mutex_lock (&s->mu);
  gboolean c = s->capture != CAPTURE_NONE;
  pthread_mutex_unlock (&s->mu);
  return c;
}

void
mt_sim_invalidate_capture (gpointer stream, const char *why)
{
  MtSimStream *s = stream_of (stream);
  pthread_mutex_lock (&s->mu);
  if (s->capture == CAPTURE_ACTIVE) {
    fprintf (stderr, "CUDA simulator: %s while a graph is captured: the capture is invalidated\n", why);
    s->capture = CAPTURE_INVALID;
  }
  pthread_mutex_unlock (&s->mu);
}

/* A call that a capturing stream refuses: FALSE after invalidating the capture. */
static gboolean
capture_allows (gpointer stream, const char *what)
{
  if (!mt_sim_capturing (stream))
    return TRUE;
  mt_sim_invalidate_capture (stream, what);
  return FALSE;
}

cudaError_t
cudaStreamCreateWithFlags (cudaStream_t *stream, unsigned int flags)
{
  MtSimStream *s = g_new0 (MtSimStream, 1);
  pthread_mutex_init (&s->mu, NULL);
  g_queue_init (&s->queue);
  handle_add (s);
  *stream = (cudaStream_t) s;
  return cudaSuccess;
}

cudaError_t
cudaStreamDestroy (cudaStream_t stream)
{
  if ((guintptr) stream <= 2)
    return cudaErrorInvalidResourceHandle;
  MtSimStream *s = (MtSimStream *) stream;
  /* Its work still runs, as CUDA finishes it after the call returns. */
  flush_to (s, G_MAXUINT64);
  if (s->graph)
    g_ptr_array_unref (s->graph);
  pthread_mutex_destroy (&s->mu);
  handle_remove (s);
  g_free (s);
  return cudaSuccess;
}

cudaError_t
cudaStreamSynchronize (cudaStream_t stream)
{
  if (!capture_allows (stream, "cudaStreamSynchronize"))
    return cudaErrorStreamCaptureUnsupported;
  return (cudaError_t) mt_sim_flush (stream);
}

/* ---- events ----------------------------------------------------------------------- */

typedef struct {
  MtSimStream *stream;
  guint64 position;
} Event;

cudaError_t
cudaEventCreateWithFlags (cudaEvent_t *event, unsigned int flags)
{
  *event = (cudaEvent_t) g_new0 (Event, 1);
  handle_add (*event);
  return cudaSuccess;
}

cudaError_t
cudaEventDestroy (cudaEvent_t event)
{
  handle_remove (event);
  g_free (event);
  return cudaSuccess;
}

cudaError_t
cudaEventRecord (cudaEvent_t event, cudaStream_t stream)
{
  if (!capture_allows (stream, "cudaEventRecord"))
    return cudaErrorStreamCaptureUnsupported;
  Event *e = (Event *) event;
  MtSimStream *s = stream_of (stream);
  pthread_mutex_lock (&s->mu);
  e->stream = s;
  e->position = s->queued;
  pthread_mutex_unlock (&s->mu);
  return cudaSuccess;
}

cudaError_t
cudaEventSynchronize (cudaEvent_t event)
{
  Event *e = (Event *) event;
  return e->stream ? (cudaError_t) flush_to (e->stream, e->position) : cudaSuccess;
}

/* ---- device memory, pools, pinned host memory ------------------------------------ */

typedef struct {
  int destroyed;
} Pool;

cudaError_t
cudaMemPoolCreate (cudaMemPool_t *pool, const struct cudaMemPoolProps *props)
{
  if (props->allocType != cudaMemAllocationTypePinned || props->location.type != cudaMemLocationTypeDevice ||
      props->location.id != 0)
    return cudaErrorInvalidValue;
  *pool = (cudaMemPool_t) g_new0 (Pool, 1);
  handle_add (*pool);
  return cudaSuccess;
}

cudaError_t
cudaMemPoolSetAttribute (cudaMemPool_t pool, enum cudaMemPoolAttr attr, void *value)
{
  return pool ? cudaSuccess : cudaErrorInvalidValue;
}

cudaError_t
cudaMemPoolDestroy (cudaMemPool_t pool)
{
  /* CUDA keeps a pool until what was taken from it is freed: so does this. */
  if (!pool)
    return cudaErrorInvalidValue;
  ((Pool *) pool)->destroyed = 1;
  return cudaSuccess;
}

cudaError_t
cudaMallocFromPoolAsync (void **ptr, size_t size, cudaMemPool_t pool, cudaStream_t stream)
{
  if (sticky)
    return sticky;
  if (!pool || ((Pool *) pool)->destroyed)
    return cudaErrorInvalidValue;
  /* The backend never allocates in a graph (its memory would be the graph's own). */
  if (!capture_allows (stream, "cudaMallocFromPoolAsync"))
    return cudaErrorStreamCaptureUnsupported;
  *ptr = device_alloc (size, pool);
  return *ptr ? cudaSuccess : cudaErrorMemoryAllocation;
}

static void
run_free (MtSimOp *op)
{
  Alloc *a = alloc_at_locked (op->data);
  if (a && a->user == op->data)
    device_free_locked (a);
  else
    mt_sim_fault ("cudaFreeAsync of %p, which is not a live allocation when the free runs", op->data);
}

cudaError_t
cudaFreeAsync (void *p, cudaStream_t stream)
{
  if (!p)
    return cudaSuccess;
  pthread_mutex_lock (&device_lock);
  Alloc *a = alloc_at_locked (p);
  gboolean start = a && a->user == p;
  pthread_mutex_unlock (&device_lock);
  if (!start) {
    fprintf (stderr, "CUDA simulator: cudaFreeAsync of %p, which is not the start of a live allocation\n", p);
    return cudaErrorInvalidValue;
  }
  if (!capture_allows (stream, "cudaFreeAsync"))
    return cudaErrorStreamCaptureUnsupported;
  return (cudaError_t) mt_sim_enqueue (stream, mt_sim_op_new ("free", run_free, p, NULL));
}

cudaError_t
cudaHostAlloc (void **ptr, size_t size, unsigned int flags)
{
  *ptr = g_malloc (MAX (size, 1));
  pthread_mutex_lock (&device_lock);
  memory_init_locked ();
  g_hash_table_insert (pinned, *ptr, GSIZE_TO_POINTER (size));
  pthread_mutex_unlock (&device_lock);
  return cudaSuccess;
}

cudaError_t
cudaFreeHost (void *ptr)
{
  pthread_mutex_lock (&device_lock);
  gboolean known = pinned && g_hash_table_remove (pinned, ptr);
  pthread_mutex_unlock (&device_lock);
  if (!known)
    return cudaErrorInvalidValue;
  g_free (ptr);
  return cudaSuccess;
}

/* Inside one cudaHostAlloc buffer: a copy from or to it runs when the stream gets there. */
static gboolean
is_pinned (const void *p, gsize bytes)
{
  pthread_mutex_lock (&device_lock);
  memory_init_locked ();
  GHashTableIter it;
  gpointer k, v;
  gboolean in = FALSE;
  g_hash_table_iter_init (&it, pinned);
  while (!in && g_hash_table_iter_next (&it, &k, &v))
    in = (const char *) p >= (const char *) k && (const char *) p + bytes <= (const char *) k + GPOINTER_TO_SIZE (v);
  pthread_mutex_unlock (&device_lock);
  return in;
}

typedef struct {
  void *dst;
  const void *src;
  gsize bytes;
  void *owned;  /* a snapshot of pageable source memory */
  int value;
} Copy;

static void
copy_free (gpointer p)
{
  Copy *c = p;
  g_free (c->owned);
  g_free (c);
}

static void
run_copy (MtSimOp *op)
{
  Copy *c = op->data;
  memmove (c->dst, c->owned ? c->owned : c->src, c->bytes);
}

static void
run_set (MtSimOp *op)
{
  Copy *c = op->data;
  memset (c->dst, c->value, c->bytes);
}

cudaError_t
cudaMemcpyAsync (void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind, cudaStream_t stream)
{
  if (sticky)
    return sticky;
  if (!bytes)
    return cudaSuccess;
  gboolean dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  gboolean src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (kind != cudaMemcpyHostToDevice && kind != cudaMemcpyDeviceToHost && kind != cudaMemcpyDeviceToDevice)
    return cudaErrorInvalidValue;  /* the backend always says which way */
  if ((dst_dev && !mt_sim_device_span (dst, bytes, "cudaMemcpyAsync's destination")) ||
      (src_dev && !mt_sim_device_span (src, bytes, "cudaMemcpyAsync's source")))
    return cudaErrorInvalidValue;
  gboolean host_pinned = kind == cudaMemcpyDeviceToDevice ||
                         is_pinned (kind == cudaMemcpyHostToDevice ? src : dst, bytes);
  if (!host_pinned && !capture_allows (stream, "a copy from or to pageable memory"))
    return cudaErrorStreamCaptureUnsupported;
  Copy *c = g_new0 (Copy, 1);
  c->dst = dst;
  c->src = src;
  c->bytes = bytes;
  if (kind == cudaMemcpyDeviceToHost && !host_pinned) {
    /* To pageable memory CUDA returns once the copy is done: the stream's work first. */
    int e = mt_sim_enqueue (stream, mt_sim_op_new ("download", run_copy, c, copy_free));
    return (cudaError_t) (e ? e : mt_sim_flush (stream));
  }
  if (kind == cudaMemcpyHostToDevice && !host_pinned)
    c->owned = g_memdup2 (src, bytes);  /* pageable: staged at the call */
  return (cudaError_t) mt_sim_enqueue (stream, mt_sim_op_new ("copy", run_copy, c, copy_free));
}

cudaError_t
cudaMemsetAsync (void *p, int value, size_t bytes, cudaStream_t stream)
{
  if (sticky)
    return sticky;
  if (bytes && !mt_sim_device_span (p, bytes, "cudaMemsetAsync"))
    return cudaErrorInvalidValue;
  Copy *c = g_new0 (Copy, 1);
  c->dst = p;
  c->bytes = bytes;
  c->value = value;
  return (cudaError_t) mt_sim_enqueue (stream, mt_sim_op_new ("memset", run_set, c, copy_free));
}

/* ---- the device ------------------------------------------------------------------- */

cudaError_t
cudaGetDeviceCount (int *count)
{
  *count = 1;
  return cudaSuccess;
}

cudaError_t
cudaGetDeviceProperties (struct cudaDeviceProp *prop, int device)
{
  if (device != 0)
    return cudaErrorInvalidValue;
  memset (prop, 0, sizeof *prop);
  g_strlcpy (prop->name, "masktune's CUDA simulator (host)", sizeof prop->name);
  prop->major = 9;
  prop->minor = 0;
  prop->totalGlobalMem = (size_t) 16 << 30;
  prop->multiProcessorCount = 1;
  prop->maxThreadsPerBlock = 1024;
  prop->warpSize = 32;
  return cudaSuccess;
}

cudaError_t
cudaDeviceGetAttribute (int *value, enum cudaDeviceAttr attr, int device)
{
  if (device != 0)
    return cudaErrorInvalidValue;
  *value = attr == cudaDevAttrMemoryPoolsSupported ? 1 : 0;
  return cudaSuccess;
}

cudaError_t
cudaDriverGetVersion (int *version)
{
  *version = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t
cudaRuntimeGetVersion (int *version)
{
  *version = CUDART_VERSION;
  return cudaSuccess;
}

/* ---- kernels ---------------------------------------------------------------------- */

typedef struct {
  GBytes *image;
  GPtrArray *kernels;  /* Kernel, freed with the library */
} Library;

typedef struct {
  char *name;
  const char *const *types;
  guint n_params;
} Kernel;

static void
kernel_free (gpointer p)
{
  Kernel *k = p;
  g_free (k->name);
  g_free (k);
}

/* The image's size: PTX is text; a cubin an ELF file for the CUDA machine, ending with
 * its section headers. 0 when it is neither. */
static gsize
image_size (const void *code)
{
  const unsigned char *b = code;
  if (memcmp (b, ELFMAG, SELFMAG) != 0)
    return g_str_has_prefix (code, "//") ? strlen (code) + 1 : 0;
  const Elf64_Ehdr *h = code;
  if (b[EI_CLASS] != ELFCLASS64 || h->e_machine != 190 /* EM_CUDA */)
    return 0;
  return MAX ((gsize) h->e_shoff + (gsize) h->e_shnum * h->e_shentsize, (gsize) h->e_phoff + (gsize) h->e_phnum * h->e_phentsize);
}

cudaError_t
cudaLibraryLoadData (cudaLibrary_t *library, const void *code, enum cudaJitOption *jit_options, void **jit_values,
                     unsigned int n_jit, enum cudaLibraryOption *lib_options, void **lib_values, unsigned int n_lib)
{
  gsize size = code ? image_size (code) : 0;
  if (!size)
    return cudaErrorInvalidKernelImage;
  Library *l = g_new0 (Library, 1);
  l->image = g_bytes_new (code, size);
  l->kernels = g_ptr_array_new_with_free_func (kernel_free);
  *library = (cudaLibrary_t) l;
  return cudaSuccess;
}

cudaError_t
cudaLibraryUnload (cudaLibrary_t library)
{
  Library *l = (Library *) library;
  if (!l)
    return cudaErrorInvalidValue;
  g_bytes_unref (l->image);
  g_ptr_array_unref (l->kernels);
  g_free (l);
  return cudaSuccess;
}

cudaError_t
cudaLibraryGetKernel (cudaKernel_t *kernel, cudaLibrary_t library, const char *name)
{
  Library *l = (Library *) library;
  gsize size = 0;
  const char *image = g_bytes_get_data (l->image, &size);
  guint n = 0;
  const char *const *types = mt_cuda_emu_kernel_types (name, &n);
  /* In the compiled image (its symbol table, or PTX's .entry), and emulated here. */
  if (!types || !memmem (image, size, name, strlen (name)))
    return cudaErrorSymbolNotFound;
  Kernel *k = g_new0 (Kernel, 1);
  k->name = g_strdup (name);
  k->types = types;
  k->n_params = n;
  g_ptr_array_add (l->kernels, k);
  *kernel = (cudaKernel_t) k;
  return cudaSuccess;
}

static gsize
type_size (const char *t)
{
  return strcmp (t, "u8") == 0 ? 1 : strcmp (t, "u32") == 0 || strcmp (t, "f32") == 0 ? 4 : 8;
}

typedef struct {
  Kernel *kernel;
  guint blocks, threads;
  guint64 values[16];  /* each argument's bytes, copied at the launch as CUDA does */
} Launch;

static void
run_launch (MtSimOp *op)
{
  Launch *l = op->data;
  void *args[16];
  for (guint i = 0; i < l->kernel->n_params; i++)
    args[i] = &l->values[i];
  GError *error = NULL;
  if (!mt_cuda_emu_launch (l->kernel->name, 0, l->blocks, l->threads, args, l->kernel->types, l->kernel->n_params,
                           &error)) {
    mt_sim_fault ("kernel %s (%u blocks of %u threads): %s", l->kernel->name, l->blocks, l->threads, error->message);
    g_error_free (error);
  }
}

cudaError_t
cudaLaunchKernel (const void *func, dim3 grid, dim3 block, void **args, size_t shared, cudaStream_t stream)
{
  if (sticky)
    return sticky;
  Kernel *k = (Kernel *) func;
  if (!k || k->n_params > 16)
    return cudaErrorInvalidValue;
  if (block.x == 0 || block.x > 1024 || block.y != 1 || block.z != 1 || grid.x == 0 || grid.x > G_MAXINT32 ||
      grid.y != 1 || grid.z != 1 || shared != 0)
    return cudaErrorInvalidConfiguration;
  Launch *l = g_new0 (Launch, 1);
  l->kernel = k;
  l->blocks = grid.x;
  l->threads = block.x;
  for (guint i = 0; i < k->n_params; i++)
    memcpy (&l->values[i], args[i], type_size (k->types[i]));
  return (cudaError_t) mt_sim_enqueue (stream, mt_sim_op_new (k->name, run_launch, l, g_free));
}

/* ---- graphs ----------------------------------------------------------------------- */

cudaError_t
cudaStreamBeginCapture (cudaStream_t stream, enum cudaStreamCaptureMode mode)
{
  if ((guintptr) stream <= 2)
    return cudaErrorStreamCaptureUnsupported;  /* the legacy stream cannot be captured */
  MtSimStream *s = (MtSimStream *) stream;
  pthread_mutex_lock (&s->mu);
  cudaError_t e = cudaSuccess;
  if (s->capture != CAPTURE_NONE)
    e = cudaErrorIllegalState;
  else {
    s->capture = CAPTURE_ACTIVE;
    s->graph = g_ptr_array_new_with_free_func (op_unref);
  }
  pthread_mutex_unlock (&s->mu);
  return e;
}

cudaError_t
cudaStreamIsCapturing (cudaStream_t stream, enum cudaStreamCaptureStatus *status)
{
  MtSimStream *s = stream_of (stream);
  pthread_mutex_lock (&s->mu);
  *status = s->capture == CAPTURE_NONE ? cudaStreamCaptureStatusNone :
            s->capture == CAPTURE_ACTIVE ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusInvalidated;
  pthread_mutex_unlock (&s->mu);
  return cudaSuccess;
}

cudaError_t
cudaStreamEndCapture (cudaStream_t stream, cudaGraph_t *graph)
{
  MtSimStream *s = stream_of (stream);
  pthread_mutex_lock (&s->mu);
  cudaError_t e = cudaSuccess;
  *graph = NULL;
  if (s->capture == CAPTURE_NONE)
    e = cudaErrorIllegalState;
  else if (s->capture == CAPTURE_INVALID)
    e = cudaErrorStreamCaptureInvalidated;
  else
    *graph = (cudaGraph_t) g_ptr_array_ref (s->graph);
  g_clear_pointer (&s->graph, g_ptr_array_unref);
  s->capture = CAPTURE_NONE;
  pthread_mutex_unlock (&s->mu);
  return e;
}

cudaError_t
cudaGraphInstantiate (cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags)
{
  GPtrArray *ops = (GPtrArray *) graph, *copy = g_ptr_array_new_with_free_func (op_unref);
  for (guint i = 0; i < ops->len; i++)
    g_ptr_array_add (copy, op_ref (ops->pdata[i]));
  *exec = (cudaGraphExec_t) copy;
  return cudaSuccess;
}

cudaError_t
cudaGraphDestroy (cudaGraph_t graph)
{
  g_ptr_array_unref ((GPtrArray *) graph);
  return cudaSuccess;
}

cudaError_t
cudaGraphExecDestroy (cudaGraphExec_t exec)
{
  g_ptr_array_unref ((GPtrArray *) exec);
  return cudaSuccess;
}

cudaError_t
cudaGraphLaunch (cudaGraphExec_t exec, cudaStream_t stream)
{
  if (sticky)
    return sticky;
  if (mt_sim_capturing (stream))
    return cudaErrorStreamCaptureUnsupported;
  GPtrArray *ops = (GPtrArray *) exec;
  for (guint i = 0; i < ops->len; i++) {
    int e = mt_sim_enqueue (stream, op_ref (ops->pdata[i]));
    if (e)
      return (cudaError_t) e;
  }
  return cudaSuccess;
}
