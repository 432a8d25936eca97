/* 2-D convolution with oneDNN (forward, backward data, backward weights) on tensors in the
 * CPU backend's activation layout (mt-layout.h: nChw16c or nChw8c where the channels fill
 * the blocks, else NCHW). Primitives, their memory descriptors and the reorders of the weights between
 * PyTorch's OIHW and the layout oneDNN picks for them are made once per shape and kept;
 * each call then only wraps its pointers in memory objects and runs them. The scratch a
 * call needs (oneDNN's scratchpad, the reordered weights) is the caller's @work, so calls
 * from several threads share the plans but nothing they write. */
#include "config.h"
#include "ml/cpu/mt-dnnl.h"
#include "ml/cpu/mt-layout.h"
#include "ml/cpu/mt-cpu.h"

#include <dnnl.h>
#include <pthread.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* oneDNN splits the work over the threads it has when the primitive is made: the thread
 * count is part of the shape, as the layout's block size is. */
typedef struct {
  MtConvSpec s;
  int n, h, w, threads, block;
} PlanKey;

typedef struct {
  PlanKey key;
  dnnl_memory_desc_t x_md, y_md, w_md, b_md;      /* ours: activation layout, OIHW, [out_c] */
  dnnl_primitive_t fwd, bwd_data, bwd_weights;
  dnnl_primitive_t fwd_relu;                          /* inference, ReLU as a post-op; NULL: none */
  dnnl_memory_desc_t fwd_w_md, bwdd_w_md, bwdw_w_md, fwd_pad_md, bwdd_pad_md, bwdw_pad_md;
  dnnl_primitive_t w_to_fwd, w_to_bwdd, dw_to_ours;   /* NULL where the layouts agree */
  gsize fwd_scratch, fwd_relu_scratch, bwdd_scratch, bwdw_scratch;  /* bytes */
  gsize fwd_w_bytes, bwdd_w_bytes, bwdw_w_bytes;
  float *zero_bias;                                   /* for convolutions without bias */
} Plan;

/* A POSIX lock, which ThreadSanitizer sees (GLib's own futex lock it does not): slices'
 * threads look plans up at once. */
static pthread_mutex_t plans_lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *plans;   /* PlanKey -> Plan, for the life of the process */
static dnnl_engine_t engine;

static guint
key_hash (gconstpointer p)
{
  const PlanKey *k = p;
  guint hsh = 17;
  const int v[] = { k->s.in_c, k->s.out_c, k->s.k, k->s.stride, k->s.pad, k->n, k->h, k->w, k->threads, k->block };
  for (guint i = 0; i < G_N_ELEMENTS (v); i++)
    hsh = hsh * 31 + (guint) v[i];
  return hsh;
}

static gboolean
key_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, sizeof (PlanKey)) == 0;
}

/* oneDNN failing on shapes we checked is a bug of ours or of the library: fatal. */
#define DNNL_OK(call)                                                                            \
  G_STMT_START {                                                                                 \
    dnnl_status_t st_ = (call);                                                                  \
    if (st_ != dnnl_success)                                                                     \
      g_error ("oneDNN: %s failed (status %d)", #call, (int) st_);                               \
  } G_STMT_END

static dnnl_engine_t
engine_init (void)
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    DNNL_OK (dnnl_engine_create (&engine, dnnl_cpu, 0));
    g_once_init_leave (&once, 1);
  }
  return engine;
}

static void
activation_md (dnnl_memory_desc_t *md, int n, int c, int h, int w)
{
  dnnl_dims_t dims = { n, c, h, w };
  dnnl_format_tag_t tag = !mt_layout_blocked (c) ? dnnl_nchw : mt_layout_block () == 16 ? dnnl_nChw16c : dnnl_nChw8c;
  DNNL_OK (dnnl_memory_desc_init_by_tag (md, 4, dims, dnnl_f32, tag));
}

/* A primitive from @pd, with its scratchpad size. (DNNL_VERBOSE=1 names the
 * implementation oneDNN chose: jit:avx512_core, jit:avx2, ...) */
static dnnl_primitive_t
make (dnnl_primitive_desc_t pd, gsize *scratch)
{
  dnnl_primitive_t p;
  DNNL_OK (dnnl_primitive_create (&p, pd));
  *scratch = dnnl_memory_desc_get_size (dnnl_primitive_desc_query_md (pd, dnnl_query_scratchpad_md, 0));
  return p;
}

/* The reorder from @src to @dst, or NULL when they are the same layout. */
static dnnl_primitive_t
reorder (const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst)
{
  if (dnnl_memory_desc_equal (src, dst))
    return NULL;
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t p;
  DNNL_OK (dnnl_reorder_primitive_desc_create (&pd, src, engine, dst, engine, NULL));
  DNNL_OK (dnnl_primitive_create (&p, pd));
  dnnl_primitive_desc_destroy (pd);
  return p;
}

static dnnl_primitive_attr_t
user_scratchpad (void)
{
  dnnl_primitive_attr_t attr;
  DNNL_OK (dnnl_primitive_attr_create (&attr));
  DNNL_OK (dnnl_primitive_attr_set_scratchpad_mode (attr, dnnl_scratchpad_mode_user));
  return attr;
}

static Plan *
plan_new (const PlanKey *key)
{
  const MtConvSpec *s = &key->s;
  Plan *p = g_new0 (Plan, 1);
  p->key = *key;
  int oh = mt_conv_out (key->h, s->k, s->stride, s->pad), ow = mt_conv_out (key->w, s->k, s->stride, s->pad);
  activation_md (&p->x_md, key->n, s->in_c, key->h, key->w);
  activation_md (&p->y_md, key->n, s->out_c, oh, ow);
  dnnl_dims_t wd = { s->out_c, s->in_c, s->k, s->k }, bd = { s->out_c };
  DNNL_OK (dnnl_memory_desc_init_by_tag (&p->w_md, 4, wd, dnnl_f32, dnnl_oihw));
  DNNL_OK (dnnl_memory_desc_init_by_tag (&p->b_md, 1, bd, dnnl_f32, dnnl_x));
  dnnl_memory_desc_t w_any;
  DNNL_OK (dnnl_memory_desc_init_by_tag (&w_any, 4, wd, dnnl_f32, dnnl_format_tag_any));
  dnnl_dims_t strides = { s->stride, s->stride }, pad = { s->pad, s->pad };
  /* PyTorch floors the output size: the bottom/right padding oneDNN wants is what the
   * last window actually covers. */
  dnnl_dims_t pad_r = { (oh - 1) * s->stride + s->k - key->h - s->pad, (ow - 1) * s->stride + s->k - key->w - s->pad };
  dnnl_primitive_attr_t attr = user_scratchpad ();

  dnnl_convolution_desc_t fd, bdd, bwd;
  DNNL_OK (dnnl_convolution_forward_desc_init (&fd, dnnl_forward_training, dnnl_convolution_direct, &p->x_md, &w_any,
                                               &p->b_md, &p->y_md, strides, pad, pad_r));
  dnnl_primitive_desc_t fpd, bdpd, bwpd;
  DNNL_OK (dnnl_primitive_desc_create (&fpd, &fd, attr, engine, NULL));
  p->fwd = make (fpd, &p->fwd_scratch);
  p->fwd_w_md = *dnnl_primitive_desc_query_md (fpd, dnnl_query_weights_md, 0);

  /* The inference forward with the ReLU after it as a post-op (a convolution with batch
   * norm folded in, in evaluation), on the training forward's weight layout so that both
   * share its reorder. Where oneDNN has no such primitive, the ReLU runs apart. */
  dnnl_convolution_desc_t rd;
  dnnl_post_ops_t po;
  dnnl_primitive_attr_t rattr = user_scratchpad ();
  DNNL_OK (dnnl_post_ops_create (&po));
  DNNL_OK (dnnl_post_ops_append_eltwise (po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
  DNNL_OK (dnnl_primitive_attr_set_post_ops (rattr, po));
  dnnl_primitive_desc_t rpd = NULL;
  if (dnnl_convolution_forward_desc_init (&rd, dnnl_forward_inference, dnnl_convolution_direct, &p->x_md,
                                          &p->fwd_w_md, &p->b_md, &p->y_md, strides, pad, pad_r) == dnnl_success &&
      dnnl_primitive_desc_create (&rpd, &rd, rattr, engine, NULL) == dnnl_success &&
      dnnl_memory_desc_equal (dnnl_primitive_desc_query_md (rpd, dnnl_query_weights_md, 0), &p->fwd_w_md))
    p->fwd_relu = make (rpd, &p->fwd_relu_scratch);
  if (rpd)
    dnnl_primitive_desc_destroy (rpd);
  dnnl_post_ops_destroy (po);
  dnnl_primitive_attr_destroy (rattr);

  DNNL_OK (dnnl_convolution_backward_data_desc_init (&bdd, dnnl_convolution_direct, &p->x_md, &w_any, &p->y_md,
                                                     strides, pad, pad_r));
  DNNL_OK (dnnl_primitive_desc_create (&bdpd, &bdd, attr, engine, fpd));
  p->bwd_data = make (bdpd, &p->bwdd_scratch);
  p->bwdd_w_md = *dnnl_primitive_desc_query_md (bdpd, dnnl_query_weights_md, 0);

  DNNL_OK (dnnl_convolution_backward_weights_desc_init (&bwd, dnnl_convolution_direct, &p->x_md, &w_any, &p->b_md,
                                                        &p->y_md, strides, pad, pad_r));
  DNNL_OK (dnnl_primitive_desc_create (&bwpd, &bwd, attr, engine, fpd));
  p->bwd_weights = make (bwpd, &p->bwdw_scratch);
  p->bwdw_w_md = *dnnl_primitive_desc_query_md (bwpd, dnnl_query_diff_weights_md, 0);

  p->w_to_fwd = reorder (&p->w_md, &p->fwd_w_md);
  p->w_to_bwdd = reorder (&p->w_md, &p->bwdd_w_md);
  p->dw_to_ours = reorder (&p->bwdw_w_md, &p->w_md);
  p->fwd_w_bytes = p->w_to_fwd ? dnnl_memory_desc_get_size (&p->fwd_w_md) : 0;
  p->bwdd_w_bytes = p->w_to_bwdd ? dnnl_memory_desc_get_size (&p->bwdd_w_md) : 0;
  p->bwdw_w_bytes = p->dw_to_ours ? dnnl_memory_desc_get_size (&p->bwdw_w_md) : 0;
  p->zero_bias = g_new0 (float, s->out_c);
  dnnl_primitive_desc_destroy (fpd);
  dnnl_primitive_desc_destroy (bdpd);
  dnnl_primitive_desc_destroy (bwpd);
  dnnl_primitive_attr_destroy (attr);
  return p;
}

static Plan *
plan_get (const MtConvSpec *s, int n, int h, int w)
{
  engine_init ();
  PlanKey key;
  memset (&key, 0, sizeof key);  /* hashed and compared as bytes */
  key.s = *s;
  key.n = n;
  key.h = h;
  key.w = w;
  key.threads = mt_cpu_threads ();
  key.block = mt_layout_block ();
#ifdef _OPENMP
  omp_set_num_threads (key.threads);
#endif
  pthread_mutex_lock (&plans_lock);
  if (!plans)
    plans = g_hash_table_new (key_hash, key_equal);
  Plan *p = g_hash_table_lookup (plans, &key);
  if (!p) {
    p = plan_new (&key);
    g_hash_table_insert (plans, &p->key, p);
  }
  pthread_mutex_unlock (&plans_lock);
  return p;
}

/* Slices of @work, each 64-byte aligned. */
static gsize
up64 (gsize b)
{
  return (b + 63) & ~(gsize) 63;
}

gsize
mt_dnnl_conv2d_workspace (const MtConvSpec *s, int n, int h, int w)
{
  Plan *p = plan_get (s, n, h, w);
  gsize fwd = up64 (p->fwd_w_bytes) + up64 (MAX (p->fwd_scratch, p->fwd_relu_scratch));
  gsize bwd = up64 (p->bwdd_w_bytes) + up64 (p->bwdw_w_bytes) + up64 ((gsize) s->out_c * sizeof (float)) +
              up64 (MAX (p->bwdd_scratch, p->bwdw_scratch));
  return (MAX (fwd, bwd) + sizeof (float) - 1) / sizeof (float);
}

typedef struct {
  dnnl_memory_t mem[12];
  int n;
} Mems;

static dnnl_memory_t
wrap (Mems *ms, const dnnl_memory_desc_t *md, const void *ptr)
{
  dnnl_memory_t m;
  DNNL_OK (dnnl_memory_create (&m, md, engine, (void *) ptr));
  g_assert (ms->n < (int) G_N_ELEMENTS (ms->mem));
  ms->mem[ms->n++] = m;
  return m;
}

/* @bytes of scratchpad at @ptr. */
static dnnl_memory_t
wrap_bytes (Mems *ms, void *ptr, gsize bytes)
{
  dnnl_memory_desc_t md;
  dnnl_dims_t d = { (dnnl_dim_t) MAX (bytes, 1) };
  DNNL_OK (dnnl_memory_desc_init_by_tag (&md, 1, d, dnnl_u8, dnnl_x));
  return wrap (ms, &md, ptr);
}

static void
mems_free (Mems *ms)
{
  for (int i = 0; i < ms->n; i++)
    dnnl_memory_destroy (ms->mem[i]);
  ms->n = 0;
}

static void
run (dnnl_stream_t stream, dnnl_primitive_t prim, int nargs, const dnnl_exec_arg_t *args)
{
  DNNL_OK (dnnl_primitive_execute (prim, stream, nargs, args));
}

static void
run_reorder (dnnl_stream_t stream, dnnl_primitive_t prim, dnnl_memory_t from, dnnl_memory_t to)
{
  dnnl_exec_arg_t args[] = { { DNNL_ARG_FROM, from }, { DNNL_ARG_TO, to } };
  run (stream, prim, 2, args);
}

static dnnl_stream_t
stream_new (void)
{
  dnnl_stream_t st;
#ifdef _OPENMP
  /* oneDNN's OpenMP regions take the calling thread's thread count. */
  omp_set_num_threads (mt_cpu_threads ());
#endif
  DNNL_OK (dnnl_stream_create (&st, engine, dnnl_stream_default_flags));
  return st;
}

gboolean
mt_dnnl_conv2d_forward (const MtConvSpec *s, const float *x, int n, int h, int w, const float *weight,
                        const float *bias, gboolean relu, float *y, float *work)
{
  Plan *p = plan_get (s, n, h, w);
  Mems ms = { 0 };
  dnnl_stream_t st = stream_new ();
  char *wk = (char *) work;
  dnnl_memory_t wm = wrap (&ms, &p->w_md, weight);
  if (p->w_to_fwd) {
    dnnl_memory_t wr = wrap (&ms, &p->fwd_w_md, wk);
    run_reorder (st, p->w_to_fwd, wm, wr);
    wm = wr;
    wk += up64 (p->fwd_w_bytes);
  }
  dnnl_exec_arg_t args[] = {
    { DNNL_ARG_SRC, wrap (&ms, &p->x_md, x) },
    { DNNL_ARG_WEIGHTS, wm },
    { DNNL_ARG_BIAS, wrap (&ms, &p->b_md, bias ? bias : p->zero_bias) },
    { DNNL_ARG_DST, wrap (&ms, &p->y_md, y) },
    { DNNL_ARG_SCRATCHPAD, NULL },
  };
  int nargs = 4;
  gboolean post_op = relu && p->fwd_relu;
  gsize scratch = post_op ? p->fwd_relu_scratch : p->fwd_scratch;
  if (scratch)
    args[nargs++].memory = wrap_bytes (&ms, wk, scratch);
  run (st, post_op ? p->fwd_relu : p->fwd, nargs, args);
  dnnl_stream_wait (st);
  dnnl_stream_destroy (st);
  mems_free (&ms);
  return post_op;
}

void
mt_dnnl_conv2d_backward (const MtConvSpec *s, const float *x, int n, int h, int w, const float *weight,
                         const float *dy, float *dx, float *dweight, float *dbias, float *work)
{
  Plan *p = plan_get (s, n, h, w);
  Mems ms = { 0 };
  dnnl_stream_t st = stream_new ();
  char *wk = (char *) work;
  char *wbdd = wk;
  wk += up64 (p->bwdd_w_bytes);
  char *wbdw = wk;
  wk += up64 (p->bwdw_w_bytes);
  char *db_spare = wk;
  wk += up64 ((gsize) s->out_c * sizeof (float));
  dnnl_memory_t scratch = wrap_bytes (&ms, wk, MAX (p->bwdd_scratch, p->bwdw_scratch));
  dnnl_memory_t dym = wrap (&ms, &p->y_md, dy);

  if (dx) {
    dnnl_memory_t wm = wrap (&ms, &p->w_md, weight);
    if (p->w_to_bwdd) {
      dnnl_memory_t wr = wrap (&ms, &p->bwdd_w_md, wbdd);
      run_reorder (st, p->w_to_bwdd, wm, wr);
      wm = wr;
    }
    dnnl_exec_arg_t args[] = {
      { DNNL_ARG_DIFF_DST, dym }, { DNNL_ARG_WEIGHTS, wm }, { DNNL_ARG_DIFF_SRC, wrap (&ms, &p->x_md, dx) },
      { DNNL_ARG_SCRATCHPAD, scratch },
    };
    run (st, p->bwd_data, p->bwdd_scratch ? 4 : 3, args);
  }

  dnnl_memory_t dwm = wrap (&ms, &p->w_md, dweight);
  dnnl_memory_t dw_theirs = p->dw_to_ours ? wrap (&ms, &p->bwdw_w_md, wbdw) : dwm;
  dnnl_exec_arg_t args[] = {
    { DNNL_ARG_SRC, wrap (&ms, &p->x_md, x) }, { DNNL_ARG_DIFF_DST, dym }, { DNNL_ARG_DIFF_WEIGHTS, dw_theirs },
    { DNNL_ARG_DIFF_BIAS, wrap (&ms, &p->b_md, dbias ? dbias : (float *) db_spare) },
    { DNNL_ARG_SCRATCHPAD, scratch },
  };
  run (st, p->bwd_weights, p->bwdw_scratch ? 5 : 4, args);
  if (p->dw_to_ours)
    run_reorder (st, p->dw_to_ours, dw_theirs, dwm);
  dnnl_stream_wait (st);
  dnnl_stream_destroy (st);
  mems_free (&ms);
}
