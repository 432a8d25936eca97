#include "tests/mt-guard-backend.h"

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
static GMutex lock;

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
  g_mutex_lock (&lock);
  gsize n = in_use;
  g_mutex_unlock (&lock);
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

static void *
guard_alloc (MtBackend *be, gsize bytes)
{
  g_mutex_lock (&lock);
  reserve ();
  gsize len = (MAX (bytes, 1) + GUARD_PAGE - 1) / GUARD_PAGE * GUARD_PAGE;
  if (next_off + len > GUARD_SPAN)
    g_error ("guard backend: out of its %" G_GSIZE_FORMAT " bytes of address space", GUARD_SPAN);
  gsize off = next_off;
  next_off += len;
  in_use += len;
  g_hash_table_insert (sizes, GSIZE_TO_POINTER (off + 1), GSIZE_TO_POINTER (len));
  g_mutex_unlock (&lock);
  return guarded + off;   /* fresh pages of the shadow read as zeros */
}

static void
guard_free (MtBackend *be, void *p)
{
  if (!p)
    return;
  g_mutex_lock (&lock);
  gsize off = (guint8 *) real (p, "free") - shadow;
  gpointer len;
  if (!g_hash_table_lookup_extended (sizes, GSIZE_TO_POINTER (off + 1), NULL, &len))
    g_error ("guard backend: free of %p, which is not an allocation's start", p);
  g_hash_table_remove (sizes, GSIZE_TO_POINTER (off + 1));
  in_use -= GPOINTER_TO_SIZE (len);
  /* The pages go back; addresses are never reused, so a stale pointer stays caught. */
  madvise (shadow + off, GPOINTER_TO_SIZE (len), MADV_DONTNEED);
  mprotect (shadow + off, GPOINTER_TO_SIZE (len), PROT_NONE);
  g_mutex_unlock (&lock);
}

static void
guard_upload (MtBackend *be, void *dst, const void *src, gsize bytes)
{
  g_assert (!mt_guard_backend_owns (src));
  memcpy (R (dst), src, bytes);
}

static void
guard_download (MtBackend *be, void *dst, const void *src, gsize bytes)
{
  g_assert (!mt_guard_backend_owns (dst));
  memcpy (dst, R (src), bytes);
}

static void
guard_copy (MtBackend *be, void *dst, const void *src, gsize bytes)
{
  memcpy (R (dst), R (src), bytes);
}

static void
guard_zero (MtBackend *be, void *p, gsize bytes)
{
  memset (R (p), 0, bytes);
}

static gboolean
guard_sync (MtBackend *be, GError **error)
{
  return TRUE;
}

static void
guard_destroy (MtBackend *be)
{
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
  CPU->ops->conv2d_forward (CPU, s, R (x), n, h, w, R (weight), R (bias), R (y), R (work));
}

static void
guard_conv2d_backward (MtBackend *be, const MtConvSpec *s, const float *x, int n, int h, int w, const float *weight,
                       const float *dy, float *dx, float *dweight, float *dbias, float *work)
{
  CPU->ops->conv2d_backward (CPU, s, R (x), n, h, w, R (weight), R (dy), R (dx), R (dweight), R (dbias), R (work));
}

static void
guard_bn_forward_train (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw, const float *gamma,
                        const float *beta, float *y, float *save_mean, float *save_invstd, float *running_mean,
                        float *running_var)
{
  CPU->ops->batchnorm_forward_train (CPU, s, R (x), n, c, hw, R (gamma), R (beta), R (y), R (save_mean),
                                     R (save_invstd), R (running_mean), R (running_var));
}

static void
guard_bn_forward_eval (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw, const float *gamma,
                       const float *beta, float *y, const float *running_mean, const float *running_var)
{
  CPU->ops->batchnorm_forward_eval (CPU, s, R (x), n, c, hw, R (gamma), R (beta), R (y), R (running_mean),
                                    R (running_var));
}

static void
guard_bn_backward_train (MtBackend *be, const float *x, int n, int c, int hw, const float *gamma,
                         const float *save_mean, const float *save_invstd, const float *dy, float *dx, float *dgamma,
                         float *dbeta)
{
  CPU->ops->batchnorm_backward_train (CPU, R (x), n, c, hw, R (gamma), R (save_mean), R (save_invstd), R (dy), R (dx),
                                      R (dgamma), R (dbeta));
}

static void
guard_bn_backward_eval (MtBackend *be, const MtBnSpec *s, int n, int c, int hw, const float *gamma,
                        const float *running_var, const float *dy, float *dx)
{
  CPU->ops->batchnorm_backward_eval (CPU, s, n, c, hw, R (gamma), R (running_var), R (dy), R (dx));
}

static void
guard_bn_relu_forward_train (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw,
                             const float *gamma, const float *beta, float *y, float *save_mean, float *save_invstd,
                             float *running_mean, float *running_var)
{
  CPU->ops->batchnorm_relu_forward_train (CPU, s, R (x), n, c, hw, R (gamma), R (beta), R (y), R (save_mean),
                                          R (save_invstd), R (running_mean), R (running_var));
}

static void
guard_bn_relu_forward_eval (MtBackend *be, const MtBnSpec *s, const float *x, int n, int c, int hw,
                            const float *gamma, const float *beta, float *y, const float *running_mean,
                            const float *running_var)
{
  CPU->ops->batchnorm_relu_forward_eval (CPU, s, R (x), n, c, hw, R (gamma), R (beta), R (y), R (running_mean),
                                         R (running_var));
}

static void
guard_bn_relu_backward_train (MtBackend *be, const float *x, int n, int c, int hw, const float *gamma,
                              const float *save_mean, const float *save_invstd, const float *y, const float *dy,
                              float *dx, float *dgamma, float *dbeta)
{
  CPU->ops->batchnorm_relu_backward_train (CPU, R (x), n, c, hw, R (gamma), R (save_mean), R (save_invstd), R (y),
                                           R (dy), R (dx), R (dgamma), R (dbeta));
}

static void
guard_bn_relu_backward_eval (MtBackend *be, const MtBnSpec *s, int n, int c, int hw, const float *gamma,
                             const float *running_var, const float *y, const float *dy, float *dx)
{
  CPU->ops->batchnorm_relu_backward_eval (CPU, s, n, c, hw, R (gamma), R (running_var), R (y), R (dy), R (dx));
}

static void
guard_relu_forward (MtBackend *be, const float *x, gsize len, float *y)
{
  CPU->ops->relu_forward (CPU, R (x), len, R (y));
}

static void
guard_relu_backward (MtBackend *be, const float *y, const float *dy, gsize len, float *dx)
{
  CPU->ops->relu_backward (CPU, R (y), R (dy), len, R (dx));
}

static void
guard_maxpool2_forward (MtBackend *be, const float *x, int n, int c, int h, int w, float *y, gint32 *argmax)
{
  CPU->ops->maxpool2_forward (CPU, R (x), n, c, h, w, R (y), R (argmax));
}

static void
guard_maxpool2_backward (MtBackend *be, const gint32 *argmax, int n, int c, int h, int w, const float *dy, float *dx)
{
  CPU->ops->maxpool2_backward (CPU, R (argmax), n, c, h, w, R (dy), R (dx));
}

static void
guard_linear_forward (MtBackend *be, const float *x, int n, int in, int out, const float *weight, const float *bias,
                      float *y)
{
  CPU->ops->linear_forward (CPU, R (x), n, in, out, R (weight), R (bias), R (y));
}

static void
guard_linear_backward (MtBackend *be, const float *x, int n, int in, int out, const float *weight, const float *dy,
                       float *dx, float *dweight, float *dbias)
{
  CPU->ops->linear_backward (CPU, R (x), n, in, out, R (weight), R (dy), R (dx), R (dweight), R (dbias));
}

static double
guard_cross_entropy (MtBackend *be, const float *logits, const gint64 *labels, int n, int classes, float *dlogits,
                     int *correct)
{
  /* @correct is a host value, as the loss is. */
  return CPU->ops->cross_entropy (CPU, R (logits), R (labels), n, classes, R (dlogits), correct);
}

static void
guard_sgd_step (MtBackend *be, const MtSgdSpec *s, float *param, const float *grad, float *momentum_buf, gsize len,
                gboolean first_step)
{
  CPU->ops->sgd_step (CPU, s, R (param), R (grad), R (momentum_buf), len, first_step);
}

static void
guard_adam_step (MtBackend *be, const MtAdamSpec *s, float *param, const float *grad, float *exp_avg,
                 float *exp_avg_sq, gsize len)
{
  CPU->ops->adam_step (CPU, s, R (param), R (grad), R (exp_avg), R (exp_avg_sq), len);
}

static void
guard_maxpool_forward (MtBackend *be, const MtPoolSpec *s, const float *x, int n, int c, int h, int w, float *y,
                       gint32 *argmax)
{
  CPU->ops->maxpool_forward (CPU, s, R (x), n, c, h, w, R (y), R (argmax));
}

static void
guard_maxpool_backward (MtBackend *be, const MtPoolSpec *s, const gint32 *argmax, int n, int c, int h, int w,
                        const float *dy, float *dx)
{
  CPU->ops->maxpool_backward (CPU, s, R (argmax), n, c, h, w, R (dy), R (dx));
}

static void
guard_avgpool_forward (MtBackend *be, const float *x, int n, int c, int hw, float *y)
{
  CPU->ops->avgpool_forward (CPU, R (x), n, c, hw, R (y));
}

static void
guard_avgpool_backward (MtBackend *be, const float *dy, int n, int c, int hw, float *dx)
{
  CPU->ops->avgpool_backward (CPU, R (dy), n, c, hw, R (dx));
}

static void
guard_add (MtBackend *be, const float *a, const float *b, gsize len, float *y)
{
  CPU->ops->add (CPU, R (a), R (b), len, R (y));
}

static void
guard_shortcut_forward (MtBackend *be, const float *x, int n, int c, int h, int w, int out_c, int stride, float *y)
{
  CPU->ops->shortcut_forward (CPU, R (x), n, c, h, w, out_c, stride, R (y));
}

static void
guard_shortcut_backward (MtBackend *be, const float *dy, int n, int c, int h, int w, int out_c, int stride, float *dx)
{
  CPU->ops->shortcut_backward (CPU, R (dy), n, c, h, w, out_c, stride, R (dx));
}

static void
guard_conv2d_forward_relu (MtBackend *be, const MtConvSpec *s, const float *x, int n, int h, int w,
                           const float *weight, const float *bias, float *y, float *work)
{
  CPU->ops->conv2d_forward_relu (CPU, s, R (x), n, h, w, R (weight), R (bias), R (y), R (work));
}

static void
guard_fold_batchnorm (MtBackend *be, const MtBnSpec *s, int oc, gsize per, const float *weight, const float *bias,
                      const float *gamma, const float *beta, const float *running_mean, const float *running_var,
                      float *fold_w, float *fold_b)
{
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
  mt_backend_from_nchw (CPU, R (x), n, c, h, w, R (y));
}

static void
guard_layout_to_nchw (MtBackend *be, const float *x, int n, int c, int h, int w, float *y)
{
  mt_backend_to_nchw (CPU, R (x), n, c, h, w, R (y));
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
};

MtBackend *
mt_guard_backend_new (void)
{
  MtBackend *be = g_new0 (MtBackend, 1);
  be->ops = &guard_ops;
  be->name = "guard";
  return be;
}
