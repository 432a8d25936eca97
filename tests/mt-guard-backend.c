#include "tests/mt-guard-backend.h"

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

/* The guarded range and its shadow: the same offsets, one with no access (the addresses
 * handed out), one readable and writable (where the data is). Reserved once, lazily
 * backed: pages cost memory only once written. */
#define GUARD_SPAN ((gsize) 16 << 30)
#define GUARD_PAGE ((gsize) 4096)

static guint8 *guarded, *shadow;
static gsize next_off, in_use;
static GHashTable *sizes;   /* offset -> bytes of each live allocation */
/* A POSIX lock, which ThreadSanitizer sees (GLib's futex lock it does not): guard
 * backends allocate from several threads at once (.ci/run's pool case under TSan). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void
reserve (void)
{
  if (guarded)
    return;
  guarded = mmap (NULL, GUARD_SPAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  shadow = mmap (NULL, GUARD_SPAN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (guarded == MAP_FAILED || shadow == MAP_FAILED)
    g_error ("guard backend: cannot reserve %" G_GSIZE_FORMAT " bytes of address space", GUARD_SPAN);
  sizes = g_hash_table_new (g_direct_hash, g_direct_equal);
}

gboolean
mt_guard_backend_owns (const void *p)
{
  return guarded && (const guint8 *) p >= guarded && (const guint8 *) p < guarded + GUARD_SPAN;
}

gsize
mt_guard_backend_in_use (void)
{
  pthread_mutex_lock (&lock);
  gsize n = in_use;
  pthread_mutex_unlock (&lock);
  return n;
}

/* Where the data of guarded address @p is; NULL stays NULL. A host pointer is a bug in
 * the caller: named, and fatal. */
static void *
real (const void *p, const char *op)
{
  if (!p)
    return NULL;
  if (!mt_guard_backend_owns (p))
    g_error ("guard backend: %s was given host memory %p where backend memory belongs", op, p);
  return shadow + ((const guint8 *) p - guarded);
}

#define R(p) ((__typeof__ (p)) real ((p), G_STRFUNC))
#define CPU (mt_backend_cpu ())

/* ---- recording (a CUDA graph's semantics, on the host) ---- */

/* One recorded op: its arguments by value, as a CUDA graph keeps a kernel's: the
 * (guarded) pointers and numbers, and a copy of its spec. */
typedef struct {
  gsize op;                   /* the op's offset in MtBackendOps */
  union {
    MtConvSpec conv;
    MtBnSpec bn;
    MtPoolSpec pool;
    MtSgdSpec sgd;
    MtAdamSpec adam;
    MtInputSpec input;
    MtMaskRule mask;
  } s;
  const void *p[12];
  gint64 i[8];
} Call;

typedef struct {
  MtBackend parent;
  GArray *recording;          /* Call, between capture_begin and capture_end */
  guint64 memory;             /* allocations and frees so far */
  guint64 capture_memory;     /* ... when the recording began */
} GuardBackend;

struct _MtGraph {
  GArray *calls;              /* Call */
  guint64 memory;
};

#define GUARD(be) ((GuardBackend *) (be))
#define OP(name) G_STRUCT_OFFSET (MtBackendOps, name)
/* In an op: while recording, keeps the call (its arguments as designated initialisers of
 * a Call) instead of running it. */
#define RECORDING(be, name, ...) record ((be), &(Call) { .op = OP (name), __VA_ARGS__ })

static gboolean
record (MtBackend *be, const Call *c)
{
  if (!GUARD (be)->recording)
    return FALSE;
  g_array_append_vals (GUARD (be)->recording, c, 1);
  return TRUE;
}

/* Only ops may be called while recording; anything else is the caller's bug. */
static void
not_recording (MtBackend *be, const char *what)
{
  if (GUARD (be)->recording)
    g_error ("guard backend: %s while a graph is recorded", what);
}

static void *
guard_alloc (MtBackend *be, gsize bytes)
{
  not_recording (be, "an allocation");
  GUARD (be)->memory++;
  pthread_mutex_lock (&lock);
  reserve ();
  gsize len = (MAX (bytes, 1) + GUARD_PAGE - 1) / GUARD_PAGE * GUARD_PAGE;
  if (next_off + len > GUARD_SPAN)
    g_error ("guard backend: out of its %" G_GSIZE_FORMAT " bytes of address space", GUARD_SPAN);
  gsize off = next_off;
  next_off += len;
  in_use += len;
  g_hash_table_insert (sizes, GSIZE_TO_POINTER (off + 1), GSIZE_TO_POINTER (len));
  pthread_mutex_unlock (&lock);
  return guarded + off;   /* fresh pages of the shadow read as zeros */
}

static void
guard_free (MtBackend *be, void *p)
{
  if (!p)
    return;
  not_recording (be, "a free");
  GUARD (be)->memory++;
  pthread_mutex_lock (&lock);
  gsize off = (guint8 *) real (p, "free") - shadow;
  gpointer len;
  if (!g_hash_table_lookup_extended (sizes, GSIZE_TO_POINTER (off + 1), NULL, &len))
    g_error ("guard backend: free of %p, which is not an allocation's start", p);
  g_hash_table_remove (sizes, GSIZE_TO_POINTER (off + 1));
  in_use -= GPOINTER_TO_SIZE (len);
  /* The pages go back; addresses are never reused, so a stale pointer stays caught. */
  madvise (shadow + off, GPOINTER_TO_SIZE (len), MADV_DONTNEED);
  mprotect (shadow + off, GPOINTER_TO_SIZE (len), PROT_NONE);
  pthread_mutex_unlock (&lock);
}

static void
guard_upload (MtBackend *be, void *dst, const void *src, gsize bytes)
{
  not_recording (be, "an upload");
  g_assert (!mt_guard_backend_owns (src));
  memcpy (R (dst), src, bytes);
}

static void
guard_download (MtBackend *be, void *dst, const void *src, gsize bytes)
{
  not_recording (be, "a download");
  g_assert (!mt_guard_backend_owns (dst));
  memcpy (dst, R (src), bytes);
}

static void
guard_copy (MtBackend *be, void *dst, const void *src, gsize bytes)
{
  if (RECORDING (be, copy, .p = { dst, src }, .i = { bytes }))
    return;
  memcpy (R (dst), R (src), bytes);
}

static void
guard_zero (MtBackend *be, void *p, gsize bytes)
{
  if (RECORDING (be, zero, .p = { p }, .i = { bytes }))
    return;
  memset (R (p), 0, bytes);
}

static gboolean
guard_sync (MtBackend *be, GError **error)
{
  not_recording (be, "a sync");
  return TRUE;
}

static void
guard_destroy (MtBackend *be)
{
  if (GUARD (be)->recording)
    g_array_unref (GUARD (be)->recording);
  g_free (be);
}

static gsize
guard_conv2d_workspace (MtBackend *be, const MtConvSpec *s, int n, int h, int w)
{
  return CPU->ops->conv2d_workspace (CPU, s, n, h, w);
}

static void
guard_conv2d_forward (MtBackend *be, const MtConvSpec *s, const float *x, int n, int h, int w, const float *weight,
                      const float *bias, float *y, float *work)
{
  if (RECORDING (be, conv2d_forward, .s.conv = *s, .p = { x, weight, bias, y, work }, .i = { n, h, w }))
    return;
  CPU->ops->conv2d_forward (CPU, s, R (x), n, h, w, R (weight), R (bias), R (y), R (work));
}

static void
guard_conv2d_backward (MtBackend *be, const MtConvSpec *s, const float *x, int n, int h, int w, const float *weight,
                       const float *dy, float *dx, float *dweight, float *dbias, float *work)
{
  if (RECORDING (be, conv2d_backward, .s.conv = *s, .p = { x, weight, dy, dx, dweight, dbias, work }, .i = { n, h,
                 w }))
    return;
  CPU->ops->conv2d_backward (CPU, s, R (x), n, h, w, R (weight), R (dy), R (dx), R (dweight), R (dbias), R (work));
}

static void
guard_bn_forward_train (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw, const float *gamma,
                        const float *beta, float *y, float *save_mean, float *save_invstd, float *running_mean,
                        float *running_var)
{
  if (RECORDING (be, batchnorm_forward_train, .s.bn = *s, .p = { x, gamma, beta, y, save_mean, save_invstd,
                 running_mean, running_var }, .i = { n, c, hw }))
    return;
  CPU->ops->batchnorm_forward_train (CPU, s, R (x), n, c, hw, R (gamma), R (beta), R (y), R (save_mean),
                                     R (save_invstd), R (running_mean), R (running_var));
}

static void
guard_bn_forward_eval (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw, const float *gamma,
                       const float *beta, float *y, const float *running_mean, const float *running_var)
{
  if (RECORDING (be, batchnorm_forward_eval, .s.bn = *s, .p = { x, gamma, beta, y, running_mean, running_var },
                 .i = { n, c, hw }))
    return;
  CPU->ops->batchnorm_forward_eval (CPU, s, R (x), n, c, hw, R (gamma), R (beta), R (y), R (running_mean),
                                    R (running_var));
}

static void
guard_bn_backward_train (MtBackend *be, const float *x, int n, int c, int hw, const float *gamma,
                         const float *save_mean, const float *save_invstd, const float *dy, float *dx, float *dgamma,
                         float *dbeta)
{
  if (RECORDING (be, batchnorm_backward_train, .p = { x, gamma, save_mean, save_invstd, dy, dx, dgamma, dbeta },
                 .i = { n, c, hw }))
    return;
  CPU->ops->batchnorm_backward_train (CPU, R (x), n, c, hw, R (gamma), R (save_mean), R (save_invstd), R (dy), R (dx),
                                      R (dgamma), R (dbeta));
}

static void
guard_bn_backward_eval (MtBackend *be, const MtBnSpec *s, int n, int c, int hw, const float *gamma,
                        const float *running_var, const float *dy, float *dx)
{
  if (RECORDING (be, batchnorm_backward_eval, .s.bn = *s, .p = { gamma, running_var, dy, dx }, .i = { n, c, hw }))
    return;
  CPU->ops->batchnorm_backward_eval (CPU, s, n, c, hw, R (gamma), R (running_var), R (dy), R (dx));
}

static void
guard_bn_relu_forward_train (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw,
                             const float *gamma, const float *beta, float *y, float *save_mean, float *save_invstd,
                             float *running_mean, float *running_var)
{
  if (RECORDING (be, batchnorm_relu_forward_train, .s.bn = *s, .p = { x, gamma, beta, y, save_mean, save_invstd,
                 running_mean, running_var }, .i = { n, c, hw }))
    return;
  CPU->ops->batchnorm_relu_forward_train (CPU, s, R (x), n, c, hw, R (gamma), R (beta), R (y), R (save_mean),
                                          R (save_invstd), R (running_mean), R (running_var));
}

static void
guard_bn_relu_forward_eval (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw,
                            const float *gamma, const float *beta, float *y, const float *running_mean,
                            const float *running_var)
{
  if (RECORDING (be, batchnorm_relu_forward_eval, .s.bn = *s, .p = { x, gamma, beta, y, running_mean, running_var },
                 .i = { n, c, hw }))
    return;
  CPU->ops->batchnorm_relu_forward_eval (CPU, s, R (x), n, c, hw, R (gamma), R (beta), R (y), R (running_mean),
                                         R (running_var));
}

static void
guard_bn_relu_backward_train (MtBackend *be, const float *x, int n, int c, int hw, const float *gamma,
                              const float *save_mean, const float *save_invstd, const float *y, const float *dy,
                              float *dx, float *dgamma, float *dbeta)
{
  if (RECORDING (be, batchnorm_relu_backward_train, .p = { x, gamma, save_mean, save_invstd, y, dy, dx, dgamma,
                 dbeta }, .i = { n, c, hw }))
    return;
  CPU->ops->batchnorm_relu_backward_train (CPU, R (x), n, c, hw, R (gamma), R (save_mean), R (save_invstd), R (y),
                                           R (dy), R (dx), R (dgamma), R (dbeta));
}

static void
guard_bn_relu_backward_eval (MtBackend *be, const MtBnSpec *s, int n, int c, int hw, const float *gamma,
                             const float *running_var, const float *y, const float *dy, float *dx)
{
  if (RECORDING (be, batchnorm_relu_backward_eval, .s.bn = *s, .p = { gamma, running_var, y, dy, dx }, .i = { n, c,
                 hw }))
    return;
  CPU->ops->batchnorm_relu_backward_eval (CPU, s, n, c, hw, R (gamma), R (running_var), R (y), R (dy), R (dx));
}

static void
guard_relu_forward (MtBackend *be, const float *x, gsize len, float *y)
{
  if (RECORDING (be, relu_forward, .p = { x, y }, .i = { len }))
    return;
  CPU->ops->relu_forward (CPU, R (x), len, R (y));
}

static void
guard_relu_backward (MtBackend *be, const float *y, const float *dy, gsize len, float *dx)
{
  if (RECORDING (be, relu_backward, .p = { y, dy, dx }, .i = { len }))
    return;
  CPU->ops->relu_backward (CPU, R (y), R (dy), len, R (dx));
}

static void
guard_maxpool2_forward (MtBackend *be, const float *x, int n, int c, int h, int w, float *y, gint32 *argmax)
{
  if (RECORDING (be, maxpool2_forward, .p = { x, y, argmax }, .i = { n, c, h, w }))
    return;
  CPU->ops->maxpool2_forward (CPU, R (x), n, c, h, w, R (y), R (argmax));
}

static void
guard_maxpool2_backward (MtBackend *be, const gint32 *argmax, int n, int c, int h, int w, const float *dy, float *dx)
{
  if (RECORDING (be, maxpool2_backward, .p = { argmax, dy, dx }, .i = { n, c, h, w }))
    return;
  CPU->ops->maxpool2_backward (CPU, R (argmax), n, c, h, w, R (dy), R (dx));
}

static void
guard_linear_forward (MtBackend *be, const float *x, int n, int in, int out, const float *weight, const float *bias,
                      float *y)
{
  if (RECORDING (be, linear_forward, .p = { x, weight, bias, y }, .i = { n, in, out }))
    return;
  CPU->ops->linear_forward (CPU, R (x), n, in, out, R (weight), R (bias), R (y));
}

static void
guard_linear_backward (MtBackend *be, const float *x, int n, int in, int out, const float *weight, const float *dy,
                       float *dx, float *dweight, float *dbias)
{
  if (RECORDING (be, linear_backward, .p = { x, weight, dy, dx, dweight, dbias }, .i = { n, in, out }))
    return;
  CPU->ops->linear_backward (CPU, R (x), n, in, out, R (weight), R (dy), R (dx), R (dweight), R (dbias));
}

static void
guard_cross_entropy (MtBackend *be, const float *logits, const gint64 *labels, int n, int classes, float *dlogits,
                     double *loss, gint64 *correct)
{
  if (RECORDING (be, cross_entropy, .p = { logits, labels, dlogits, loss, correct }, .i = { n, classes }))
    return;
  CPU->ops->cross_entropy (CPU, R (logits), R (labels), n, classes, R (dlogits), R (loss), R (correct));
}

static void
guard_gather_batch (MtBackend *be, const MtInputSpec *s, const guint8 *images, const gint64 *labels,
                    const gint64 *idx, int n, float *x, gint64 *y)
{
  if (RECORDING (be, gather_batch, .s.input = *s, .p = { images, labels, idx, x, y }, .i = { n }))
    return;
  CPU->ops->gather_batch (CPU, s, R (images), R (labels), R (idx), n, R (x), R (y));
}

static void
guard_cam_seed (MtBackend *be, const float *logits, const gint64 *labels, int n, int classes, float *dlogits)
{
  if (RECORDING (be, cam_seed, .p = { logits, labels, dlogits }, .i = { n, classes }))
    return;
  CPU->ops->cam_seed (CPU, R (logits), R (labels), n, classes, R (dlogits));
}

static void
guard_cam_maps (MtBackend *be, MtCamMethod method, const float *a, const float *g, int n, int c, int h, int w,
                int oh, int ow, float *work, float *maps)
{
  if (RECORDING (be, cam_maps, .p = { a, g, work, maps }, .i = { method, n, c, h, w, oh, ow }))
    return;
  CPU->ops->cam_maps (CPU, method, R (a), R (g), n, c, h, w, oh, ow, R (work), R (maps));
}

static gint optimizer_ops;

guint
mt_guard_backend_optimizer_ops (void)
{
  return (guint) g_atomic_int_get (&optimizer_ops);
}

static void
guard_mask_maps (MtBackend *be, const MtMaskRule *rule, const float *heat, int n, int len, guint8 *keep)
{
  if (RECORDING (be, mask_maps, .p = { heat, keep }, .i = { n, len }, .s.mask = *rule))
    return;
  CPU->ops->mask_maps (CPU, rule, R (heat), n, len, R (keep));
}

static void
guard_sgd_step (MtBackend *be, const MtSgdSpec *s, float *param, const float *grad, float *momentum_buf, gsize len,
                gboolean first_step)
{
  if (RECORDING (be, sgd_step, .s.sgd = *s, .p = { param, grad, momentum_buf }, .i = { len, first_step }))
    return;
  g_atomic_int_inc (&optimizer_ops);
  CPU->ops->sgd_step (CPU, s, R (param), R (grad), R (momentum_buf), len, first_step);
}

static void
guard_adam_step (MtBackend *be, const MtAdamSpec *s, float *param, const float *grad, float *exp_avg,
                 float *exp_avg_sq, gsize len)
{
  if (RECORDING (be, adam_step, .s.adam = *s, .p = { param, grad, exp_avg, exp_avg_sq }, .i = { len }))
    return;
  g_atomic_int_inc (&optimizer_ops);
  CPU->ops->adam_step (CPU, s, R (param), R (grad), R (exp_avg), R (exp_avg_sq), len);
}

static void
guard_maxpool_forward (MtBackend *be, const MtPoolSpec *s, const float *x, int n, int c, int h, int w, float *y,
                       gint32 *argmax)
{
  if (RECORDING (be, maxpool_forward, .s.pool = *s, .p = { x, y, argmax }, .i = { n, c, h, w }))
    return;
  CPU->ops->maxpool_forward (CPU, s, R (x), n, c, h, w, R (y), R (argmax));
}

static void
guard_maxpool_backward (MtBackend *be, const MtPoolSpec *s, const gint32 *argmax, int n, int c, int h, int w,
                        const float *dy, float *dx)
{
  if (RECORDING (be, maxpool_backward, .s.pool = *s, .p = { argmax, dy, dx }, .i = { n, c, h, w }))
    return;
  CPU->ops->maxpool_backward (CPU, s, R (argmax), n, c, h, w, R (dy), R (dx));
}

static void
guard_avgpool_forward (MtBackend *be, const float *x, int n, int c, int hw, float *y)
{
  if (RECORDING (be, avgpool_forward, .p = { x, y }, .i = { n, c, hw }))
    return;
  CPU->ops->avgpool_forward (CPU, R (x), n, c, hw, R (y));
}

static void
guard_avgpool_backward (MtBackend *be, const float *dy, int n, int c, int hw, float *dx)
{
  if (RECORDING (be, avgpool_backward, .p = { dy, dx }, .i = { n, c, hw }))
    return;
  CPU->ops->avgpool_backward (CPU, R (dy), n, c, hw, R (dx));
}

static void
guard_add (MtBackend *be, const float *a, const float *b, gsize len, float *y)
{
  if (RECORDING (be, add, .p = { a, b, y }, .i = { len }))
    return;
  CPU->ops->add (CPU, R (a), R (b), len, R (y));
}

static void
guard_shortcut_forward (MtBackend *be, const float *x, int n, int c, int h, int w, int out_c, int stride, float *y)
{
  if (RECORDING (be, shortcut_forward, .p = { x, y }, .i = { n, c, h, w, out_c, stride }))
    return;
  CPU->ops->shortcut_forward (CPU, R (x), n, c, h, w, out_c, stride, R (y));
}

static void
guard_shortcut_backward (MtBackend *be, const float *dy, int n, int c, int h, int w, int out_c, int stride, float *dx)
{
  if (RECORDING (be, shortcut_backward, .p = { dy, dx }, .i = { n, c, h, w, out_c, stride }))
    return;
  CPU->ops->shortcut_backward (CPU, R (dy), n, c, h, w, out_c, stride, R (dx));
}

static void
guard_conv2d_forward_relu (MtBackend *be, const MtConvSpec *s, const float *x, int n, int h, int w,
                           const float *weight, const float *bias, float *y, float *work)
{
  if (RECORDING (be, conv2d_forward_relu, .s.conv = *s, .p = { x, weight, bias, y, work }, .i = { n, h, w }))
    return;
  CPU->ops->conv2d_forward_relu (CPU, s, R (x), n, h, w, R (weight), R (bias), R (y), R (work));
}

static void
guard_fold_batchnorm (MtBackend *be, const MtBnSpec *s, int oc, gsize per, const float *weight, const float *bias,
                      const float *gamma, const float *beta, const float *running_mean, const float *running_var,
                      float *fold_w, float *fold_b)
{
  if (RECORDING (be, fold_batchnorm, .s.bn = *s, .p = { weight, bias, gamma, beta, running_mean, running_var, fold_w,
                 fold_b }, .i = { oc, per }))
    return;
  CPU->ops->fold_batchnorm (CPU, s, oc, per, R (weight), R (bias), R (gamma), R (beta), R (running_mean),
                            R (running_var), R (fold_w), R (fold_b));
}

static gboolean
guard_layout_is_nchw (MtBackend *be, int c, int h, int w)
{
  return mt_backend_layout_is_nchw (CPU, c, h, w);
}

static void
guard_layout_from_nchw (MtBackend *be, const float *x, int n, int c, int h, int w, float *y)
{
  if (RECORDING (be, layout_from_nchw, .p = { x, y }, .i = { n, c, h, w }))
    return;
  mt_backend_from_nchw (CPU, R (x), n, c, h, w, R (y));
}

static void
guard_layout_to_nchw (MtBackend *be, const float *x, int n, int c, int h, int w, float *y)
{
  if (RECORDING (be, layout_to_nchw, .p = { x, y }, .i = { n, c, h, w }))
    return;
  mt_backend_to_nchw (CPU, R (x), n, c, h, w, R (y));
}


static gboolean
guard_capture_begin (MtBackend *be, GError **error)
{
  g_assert (!GUARD (be)->recording);
  GUARD (be)->recording = g_array_new (FALSE, FALSE, sizeof (Call));
  GUARD (be)->capture_memory = GUARD (be)->memory;
  return TRUE;
}

static MtGraph *
guard_capture_end (MtBackend *be, GError **error)
{
  g_assert (GUARD (be)->recording);
  MtGraph *g = g_new0 (MtGraph, 1);
  g->calls = g_steal_pointer (&GUARD (be)->recording);
  g->memory = GUARD (be)->capture_memory;
  return g;
}

static gboolean
guard_graph_replay (MtBackend *be, MtGraph *g)
{
  not_recording (be, "a replay");
  if (g->memory != GUARD (be)->memory)
    return FALSE;
  for (guint k = 0; k < g->calls->len; k++) {
    const Call *c = &g_array_index (g->calls, Call, k);
    switch (c->op) {
    case OP (copy):
      guard_copy (be, (void *) c->p[0], c->p[1], c->i[0]);
      break;
    case OP (zero):
      guard_zero (be, (void *) c->p[0], c->i[0]);
      break;
    case OP (conv2d_forward):
      guard_conv2d_forward (be, &c->s.conv, c->p[0], c->i[0], c->i[1], c->i[2], c->p[1], c->p[2], (float *) c->p[3],
                            (float *) c->p[4]);
      break;
    case OP (conv2d_backward):
      guard_conv2d_backward (be, &c->s.conv, c->p[0], c->i[0], c->i[1], c->i[2], c->p[1], c->p[2], (float *) c->p[3],
                             (float *) c->p[4], (float *) c->p[5], (float *) c->p[6]);
      break;
    case OP (batchnorm_forward_train):
      guard_bn_forward_train (be, &c->s.bn, c->p[0], c->i[0], c->i[1], c->i[2], c->p[1], c->p[2], (float *) c->p[3],
                              (float *) c->p[4], (float *) c->p[5], (float *) c->p[6], (float *) c->p[7]);
      break;
    case OP (batchnorm_forward_eval):
      guard_bn_forward_eval (be, &c->s.bn, c->p[0], c->i[0], c->i[1], c->i[2], c->p[1], c->p[2], (float *) c->p[3],
                             c->p[4], c->p[5]);
      break;
    case OP (batchnorm_backward_train):
      guard_bn_backward_train (be, c->p[0], c->i[0], c->i[1], c->i[2], c->p[1], c->p[2], c->p[3], c->p[4],
                               (float *) c->p[5], (float *) c->p[6], (float *) c->p[7]);
      break;
    case OP (batchnorm_backward_eval):
      guard_bn_backward_eval (be, &c->s.bn, c->i[0], c->i[1], c->i[2], c->p[0], c->p[1], c->p[2], (float *) c->p[3]);
      break;
    case OP (relu_forward):
      guard_relu_forward (be, c->p[0], c->i[0], (float *) c->p[1]);
      break;
    case OP (relu_backward):
      guard_relu_backward (be, c->p[0], c->p[1], c->i[0], (float *) c->p[2]);
      break;
    case OP (maxpool2_forward):
      guard_maxpool2_forward (be, c->p[0], c->i[0], c->i[1], c->i[2], c->i[3], (float *) c->p[1], (gint32 *) c->p[2]);
      break;
    case OP (maxpool2_backward):
      guard_maxpool2_backward (be, c->p[0], c->i[0], c->i[1], c->i[2], c->i[3], c->p[1], (float *) c->p[2]);
      break;
    case OP (linear_forward):
      guard_linear_forward (be, c->p[0], c->i[0], c->i[1], c->i[2], c->p[1], c->p[2], (float *) c->p[3]);
      break;
    case OP (linear_backward):
      guard_linear_backward (be, c->p[0], c->i[0], c->i[1], c->i[2], c->p[1], c->p[2], (float *) c->p[3],
                             (float *) c->p[4], (float *) c->p[5]);
      break;
    case OP (cross_entropy):
      guard_cross_entropy (be, c->p[0], c->p[1], c->i[0], c->i[1], (float *) c->p[2], (double *) c->p[3],
                           (gint64 *) c->p[4]);
      break;
    case OP (gather_batch):
      guard_gather_batch (be, &c->s.input, c->p[0], c->p[1], c->p[2], c->i[0], (float *) c->p[3], (gint64 *) c->p[4]);
      break;
    case OP (cam_seed):
      guard_cam_seed (be, c->p[0], c->p[1], c->i[0], c->i[1], (float *) c->p[2]);
      break;
    case OP (cam_maps):
      guard_cam_maps (be, c->i[0], c->p[0], c->p[1], c->i[1], c->i[2], c->i[3], c->i[4], c->i[5], c->i[6],
                      (float *) c->p[2], (float *) c->p[3]);
      break;
    case OP (mask_maps):
      guard_mask_maps (be, &c->s.mask, c->p[0], c->i[0], c->i[1], (guint8 *) c->p[1]);
      break;
    case OP (sgd_step):
      guard_sgd_step (be, &c->s.sgd, (float *) c->p[0], c->p[1], (float *) c->p[2], c->i[0], c->i[1]);
      break;
    case OP (adam_step):
      guard_adam_step (be, &c->s.adam, (float *) c->p[0], c->p[1], (float *) c->p[2], (float *) c->p[3], c->i[0]);
      break;
    case OP (maxpool_forward):
      guard_maxpool_forward (be, &c->s.pool, c->p[0], c->i[0], c->i[1], c->i[2], c->i[3], (float *) c->p[1],
                             (gint32 *) c->p[2]);
      break;
    case OP (maxpool_backward):
      guard_maxpool_backward (be, &c->s.pool, c->p[0], c->i[0], c->i[1], c->i[2], c->i[3], c->p[1], (float *) c->p[2]);
      break;
    case OP (avgpool_forward):
      guard_avgpool_forward (be, c->p[0], c->i[0], c->i[1], c->i[2], (float *) c->p[1]);
      break;
    case OP (avgpool_backward):
      guard_avgpool_backward (be, c->p[0], c->i[0], c->i[1], c->i[2], (float *) c->p[1]);
      break;
    case OP (add):
      guard_add (be, c->p[0], c->p[1], c->i[0], (float *) c->p[2]);
      break;
    case OP (shortcut_forward):
      guard_shortcut_forward (be, c->p[0], c->i[0], c->i[1], c->i[2], c->i[3], c->i[4], c->i[5], (float *) c->p[1]);
      break;
    case OP (shortcut_backward):
      guard_shortcut_backward (be, c->p[0], c->i[0], c->i[1], c->i[2], c->i[3], c->i[4], c->i[5], (float *) c->p[1]);
      break;
    case OP (conv2d_forward_relu):
      guard_conv2d_forward_relu (be, &c->s.conv, c->p[0], c->i[0], c->i[1], c->i[2], c->p[1], c->p[2],
                                 (float *) c->p[3], (float *) c->p[4]);
      break;
    case OP (fold_batchnorm):
      guard_fold_batchnorm (be, &c->s.bn, c->i[0], c->i[1], c->p[0], c->p[1], c->p[2], c->p[3], c->p[4], c->p[5],
                            (float *) c->p[6], (float *) c->p[7]);
      break;
    case OP (batchnorm_relu_forward_train):
      guard_bn_relu_forward_train (be, &c->s.bn, c->p[0], c->i[0], c->i[1], c->i[2], c->p[1], c->p[2],
                                   (float *) c->p[3], (float *) c->p[4], (float *) c->p[5], (float *) c->p[6],
                                   (float *) c->p[7]);
      break;
    case OP (batchnorm_relu_forward_eval):
      guard_bn_relu_forward_eval (be, &c->s.bn, c->p[0], c->i[0], c->i[1], c->i[2], c->p[1], c->p[2], (float *) c->p[3],
                                  c->p[4], c->p[5]);
      break;
    case OP (batchnorm_relu_backward_train):
      guard_bn_relu_backward_train (be, c->p[0], c->i[0], c->i[1], c->i[2], c->p[1], c->p[2], c->p[3], c->p[4], c->p[5],
                                    (float *) c->p[6], (float *) c->p[7], (float *) c->p[8]);
      break;
    case OP (batchnorm_relu_backward_eval):
      guard_bn_relu_backward_eval (be, &c->s.bn, c->i[0], c->i[1], c->i[2], c->p[0], c->p[1], c->p[2], c->p[3],
                                   (float *) c->p[4]);
      break;
    case OP (layout_from_nchw):
      guard_layout_from_nchw (be, c->p[0], c->i[0], c->i[1], c->i[2], c->i[3], (float *) c->p[1]);
      break;
    case OP (layout_to_nchw):
      guard_layout_to_nchw (be, c->p[0], c->i[0], c->i[1], c->i[2], c->i[3], (float *) c->p[1]);
      break;

    default:
      g_error ("guard backend: no replay for the op at offset %" G_GSIZE_FORMAT, c->op);
    }
  }
  return TRUE;
}

static void
guard_graph_free (MtBackend *be, MtGraph *g)
{
  if (!g)
    return;
  g_array_unref (g->calls);
  g_free (g);
}

/* Every op of the CPU's but batch-slice threading, which is for host backends. */
static const MtBackendOps guard_ops = {
  .alloc = guard_alloc,
  .free = guard_free,
  .upload = guard_upload,
  .download = guard_download,
  .copy = guard_copy,
  .zero = guard_zero,
  .sync = guard_sync,
  .destroy = guard_destroy,
  .conv2d_workspace = guard_conv2d_workspace,
  .conv2d_forward = guard_conv2d_forward,
  .conv2d_backward = guard_conv2d_backward,
  .batchnorm_forward_train = guard_bn_forward_train,
  .batchnorm_forward_eval = guard_bn_forward_eval,
  .batchnorm_backward_train = guard_bn_backward_train,
  .batchnorm_backward_eval = guard_bn_backward_eval,
  .relu_forward = guard_relu_forward,
  .relu_backward = guard_relu_backward,
  .maxpool2_forward = guard_maxpool2_forward,
  .maxpool2_backward = guard_maxpool2_backward,
  .linear_forward = guard_linear_forward,
  .linear_backward = guard_linear_backward,
  .cross_entropy = guard_cross_entropy,
  .gather_batch = guard_gather_batch,
  .cam_seed = guard_cam_seed,
  .cam_maps = guard_cam_maps,
  .mask_maps = guard_mask_maps,
  .sgd_step = guard_sgd_step,
  .adam_step = guard_adam_step,
  .maxpool_forward = guard_maxpool_forward,
  .maxpool_backward = guard_maxpool_backward,
  .avgpool_forward = guard_avgpool_forward,
  .avgpool_backward = guard_avgpool_backward,
  .add = guard_add,
  .shortcut_forward = guard_shortcut_forward,
  .shortcut_backward = guard_shortcut_backward,
  .conv2d_forward_relu = guard_conv2d_forward_relu,
  .fold_batchnorm = guard_fold_batchnorm,
  .batchnorm_relu_forward_train = guard_bn_relu_forward_train,
  .batchnorm_relu_forward_eval = guard_bn_relu_forward_eval,
  .batchnorm_relu_backward_train = guard_bn_relu_backward_train,
  .batchnorm_relu_backward_eval = guard_bn_relu_backward_eval,
  .layout_is_nchw = guard_layout_is_nchw,
  .layout_from_nchw = guard_layout_from_nchw,
  .layout_to_nchw = guard_layout_to_nchw,
  .capture_begin = guard_capture_begin,
  .capture_end = guard_capture_end,
  .graph_replay = guard_graph_replay,
  .graph_free = guard_graph_free,
};

MtBackend *
mt_guard_backend_new (void)
{
  GuardBackend *gb = g_new0 (GuardBackend, 1);
  gb->parent.ops = &guard_ops;
  gb->parent.name = "guard";
  return &gb->parent;
}
