/* Every op of the backend interface (ml/mt-backend.h), forward and backward, on every
 * backend this build has, against the plain double-precision references (whose own
 * gradients test-ops checks against finite differences). In the spirit of ggml's
 * test-backend-ops: one table of op cases, run on each backend; a backend that cannot
 * run here (CUDA without a GPU) is skipped with its reason, an op a backend lacks is
 * reported, and a new op of the interface without a case fails the suite.
 *
 * Tolerances, relative to 1 + |reference|: the CPU 2e-5 (float32 sums of up to a few
 * hundred terms, as the references' own accuracy allows; convolution weight gradients,
 * sums over a whole batch, that times sqrt(terms / 256)); CUDA 1e-4 (cuDNN and cuBLAS in
 * FP32 without TF32 reorder those sums). Integer outputs (argmax, counts) are exact. */
#include "tests/mt-test-util.h"
#include "ml/cpu/mt-isa.h"
#include "ml/cpu/mt-layout.h"
#include "ml/cpu/mt-ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  MtBackend *be;
  double tol;
} Target;

static MtRng rng;

static double *
rnd (gsize n, double scale)
{
  return mt_test_random (&rng, n, scale);
}

/* A float copy of @a in the backend's memory. */
static float *
put (Target *t, const double *a, gsize n)
{
  g_autofree float *f = g_new (float, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    f[i] = (float) a[i];
  float *d = t->be->ops->alloc (t->be, n * sizeof (float));
  t->be->ops->upload (t->be, d, f, n * sizeof (float));
  return d;
}

static float *
zeros (Target *t, gsize n)
{
  return t->be->ops->alloc (t->be, n * sizeof (float));
}

static void
drop (Target *t, void *p)
{
  t->be->ops->free (t->be, p);
}

/* Downloads @dev and holds it to @want. */
static void
expect (Target *t, const float *dev, const double *want, gsize n, const char *what)
{
  g_autofree float *got = g_new (float, MAX (n, 1));
  t->be->ops->download (t->be, got, dev, n * sizeof (float));
  g_autoptr (GError) err = NULL;
  ck_assert_msg (mt_backend_sync (t->be, &err), "%s: %s: %s", t->be->name, what, err ? err->message : "");
  double worst = 0;
  for (gsize i = 0; i < n; i++) {
    double e = fabs ((double) got[i] - want[i]) / (1 + fabs (want[i]));
    ck_assert_msg (e <= t->tol, "%s %s[%" G_GSIZE_FORMAT "]: %.9g, reference %.9g (tolerance %g)", t->be->name,
                   what, i, got[i], want[i], t->tol);
    worst = MAX (worst, e);
  }
}

/* An [n, c, h, w] activation: @a in the backend's layout (mt-backend.h, layout_is_nchw). */
static float *
put_act (Target *t, const double *a, int n, int c, int h, int w)
{
  gsize len = (gsize) n * c * h * w;
  float *d = put (t, a, len);
  if (mt_backend_layout_is_nchw (t->be, c, h, w))
    return d;
  float *y = zeros (t, len);
  mt_backend_from_nchw (t->be, d, n, c, h, w, y);
  drop (t, d);
  return y;
}

/* Holds activation @dev (in the backend's layout) to @want (NCHW). */
static void
expect_act (Target *t, const float *dev, const double *want, int n, int c, int h, int w, const char *what)
{
  gsize len = (gsize) n * c * h * w;
  if (mt_backend_layout_is_nchw (t->be, c, h, w)) {
    expect (t, dev, want, len, what);
    return;
  }
  float *plain = zeros (t, len);
  mt_backend_to_nchw (t->be, dev, n, c, h, w, plain);
  expect (t, plain, want, len, what);
  drop (t, plain);
}

/* ---- the cases -------------------------------------------------------------------- */

typedef struct {
  MtConvSpec s;
  int n, h, w;
  gboolean with_dx;
  gboolean no_bias;   /* the ResNets' convolutions */
} ConvShape;

/* SmallCNN's layers (pad 0, the first without dx), a strided padded one, 1x1, and more
 * images than threads. */
static const ConvShape conv_shapes[] = {
  { { 3, 16, 3, 1, 0 }, 4, 28, 28, FALSE },
  { { 16, 16, 3, 1, 0 }, 3, 12, 12, TRUE },
  { { 2, 3, 3, 2, 1 }, 3, 6, 5, TRUE },
  { { 4, 6, 1, 1, 0 }, 2, 4, 4, TRUE },
  { { 5, 4, 3, 1, 1 }, 9, 7, 6, TRUE },
  { { 3, 8, 7, 2, 3 }, 2, 20, 19, TRUE, TRUE },   /* the ResNet stem */
  { { 6, 12, 1, 2, 0 }, 3, 9, 8, TRUE, TRUE },    /* a downsample */
  { { 8, 8, 3, 2, 1 }, 2, 8, 8, TRUE, TRUE },
  /* The CPU's blocked layout: MNIST's first layer (1 -> 16) with dx, 16 -> 32 on an odd
   * size, blocked to NCHW (8 -> 4), and a batch that is not a multiple of the threads. */
  { { 1, 16, 3, 1, 0 }, 3, 28, 28, TRUE },
  { { 16, 32, 3, 1, 0 }, 5, 11, 9, TRUE },
  { { 8, 4, 3, 1, 1 }, 3, 6, 7, TRUE },
  { { 32, 16, 1, 2, 0 }, 7, 9, 9, TRUE, TRUE },
};

/* which: 0 forward, 1 backward, 2 forward with the ReLU after it. */
static void
check_conv2d (Target *t, int which)
{
  gboolean backward = which == 1;
  for (guint c = 0; c < G_N_ELEMENTS (conv_shapes); c++) {
    const ConvShape *cs = &conv_shapes[c];
    const MtConvSpec *s = &cs->s;
    int oh = mt_conv_out (cs->h, s->k, s->stride, s->pad), ow = mt_conv_out (cs->w, s->k, s->stride, s->pad);
    gsize nx = (gsize) cs->n * s->in_c * cs->h * cs->w, nw = (gsize) s->out_c * s->in_c * s->k * s->k;
    gsize ny = (gsize) cs->n * s->out_c * oh * ow;
    g_autofree double *x = rnd (nx, 1), *wt = rnd (nw, 0.5), *b = rnd (s->out_c, 0.5), *dy = rnd (ny, 1);
    g_autofree double *y = g_new (double, ny), *dx = g_new (double, nx), *dw = g_new (double, nw);
    g_autofree double *db = g_new (double, s->out_c);
    if (cs->no_bias)
      memset (b, 0, s->out_c * sizeof (double));
    mt_ref_conv2d_forward (s, x, cs->n, cs->h, cs->w, wt, b, y);
    if (which == 2)
      mt_ref_relu_forward (y, ny, y);
    mt_ref_conv2d_backward (s, x, cs->n, cs->h, cs->w, wt, dy, dx, dw, db);
    float *dxd = put_act (t, x, cs->n, s->in_c, cs->h, cs->w), *dwt = put (t, wt, nw), *dbd = put (t, b, s->out_c);
    gsize nwork = t->be->ops->conv2d_workspace (t->be, s, cs->n, cs->h, cs->w);
    float *work = nwork ? zeros (t, nwork) : NULL;
    g_autofree char *what = g_strdup_printf ("conv2d %d->%d k%d s%d p%d on %dx%dx%d", s->in_c, s->out_c, s->k,
                                             s->stride, s->pad, cs->n, cs->h, cs->w);
    if (!backward) {
      float *yd = zeros (t, ny);
      (which == 2 ? t->be->ops->conv2d_forward_relu : t->be->ops->conv2d_forward)
        (t->be, s, dxd, cs->n, cs->h, cs->w, dwt, cs->no_bias ? NULL : dbd, yd, work);
      if (which == 2) {
        char *r = g_strconcat (what, " + relu", NULL);
        g_free (what);
        what = r;
      }
      expect_act (t, yd, y, cs->n, s->out_c, oh, ow, what);
      drop (t, yd);
    } else {
      float *dyd = put_act (t, dy, cs->n, s->out_c, oh, ow), *gx = cs->with_dx ? zeros (t, nx) : NULL;
      float *gw = zeros (t, nw);
      float *gb = cs->no_bias ? NULL : zeros (t, s->out_c);
      t->be->ops->conv2d_backward (t->be, s, dxd, cs->n, cs->h, cs->w, dwt, dyd, gx, gw, gb, work);
      g_autofree char *wdx = g_strconcat (what, " dx", NULL), *wdw = g_strconcat (what, " dweight", NULL);
      g_autofree char *wdb = g_strconcat (what, " dbias", NULL);
      if (gx)
        expect_act (t, gx, dx, cs->n, s->in_c, cs->h, cs->w, wdx);
      /* dweight and dbias sum n * oh * ow products: float32 rounding grows with the root of
       * that count (oneDNN's kernels sum them in their own order), beyond the few hundred
       * terms the tolerance above is for. */
      Target tw = *t;
      tw.tol = t->tol * MAX (1.0, sqrt ((double) cs->n * oh * ow / 256.0));
      expect (&tw, gw, dw, nw, wdw);
      if (gb)
        expect (&tw, gb, db, s->out_c, wdb);
      drop (t, dyd);
      drop (t, gx);
      drop (t, gw);
      drop (t, gb);
    }
    drop (t, dxd);
    drop (t, dwt);
    drop (t, dbd);
    drop (t, work);
  }
}

static void
check_conv2d_forward (Target *t)
{
  check_conv2d (t, 0);
}

static void
check_conv2d_forward_relu (Target *t)
{
  check_conv2d (t, 2);
}

static void
check_conv2d_backward (Target *t)
{
  check_conv2d (t, 1);
}

/* 2-D (per channel over N, H, W) and 1-D (hw = 1, the classifier's BatchNorm1d). */
static const int bn_shapes[][3] = { { 4, 3, 25 }, { 7, 16, 1 }, { 2, 5, 36 }, { 128, 4, 1 }, { 3, 16, 20 },
                                    { 5, 32, 49 } };

/* One batch-norm shape's inputs, in double on the host and on the backend, and the
 * backend's output buffers. */
typedef struct {
  Target *t;
  int n, c, hw;
  gsize len;
  double *x, *gamma, *beta, *dy, *rm, *rv;
  float *xd, *gd, *bd, *dyd, *rmd, *rvd, *out, *gx, *smd, *sid, *gg, *gb;
} BnCase;

static BnCase
bn_case (Target *t, guint k)
{
  BnCase b = { t, bn_shapes[k][0], bn_shapes[k][1], bn_shapes[k][2] };
  int c = b.c;
  b.len = (gsize) b.n * c * b.hw;
  b.x = rnd (b.len, 2);
  b.gamma = rnd (c, 1);
  b.beta = rnd (c, 1);
  b.dy = rnd (b.len, 1);
  b.rm = rnd (c, 0.5);
  b.rv = g_new (double, c);
  for (int i = 0; i < c; i++)
    b.rv[i] = 0.5 + mt_rng_uniform (&rng);
  b.xd = put_act (t, b.x, b.n, c, b.hw, 1);
  b.gd = put (t, b.gamma, c);
  b.bd = put (t, b.beta, c);
  b.dyd = put_act (t, b.dy, b.n, c, b.hw, 1);
  b.rmd = put (t, b.rm, c);
  b.rvd = put (t, b.rv, c);
  b.out = zeros (t, b.len);
  b.gx = zeros (t, b.len);
  b.smd = zeros (t, c);
  b.sid = zeros (t, c);
  b.gg = zeros (t, c);
  b.gb = zeros (t, c);
  return b;
}

static void
bn_case_clear (BnCase *b)
{
  double *host[] = { b->x, b->gamma, b->beta, b->dy, b->rm, b->rv };
  for (guint i = 0; i < G_N_ELEMENTS (host); i++)
    g_free (host[i]);
  float *dev[] = { b->xd, b->gd, b->bd, b->dyd, b->rmd, b->rvd, b->out, b->gx, b->smd, b->sid, b->gg, b->gb };
  for (guint i = 0; i < G_N_ELEMENTS (dev); i++)
    drop (b->t, dev[i]);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (BnCase, bn_case_clear)

static void
check_batchnorm (Target *t, int which)
{
  const MtBnSpec spec = { 0.1, 1e-5 };
  for (guint k = 0; k < G_N_ELEMENTS (bn_shapes); k++) {
    g_auto (BnCase) b = bn_case (t, k);
    int n = b.n, c = b.c, hw = b.hw;
    gsize len = b.len;
    g_autofree double *y = g_new (double, len), *dx = g_new (double, len);
    g_autofree double *dg = g_new (double, c), *db = g_new (double, c);
    switch (which) {
    case 0: {  /* training forward: y, saved mean and 1/std, running statistics */
      mt_ref_batchnorm_forward (spec.eps, b.x, n, c, hw, b.gamma, b.beta, y);
      t->be->ops->batchnorm_forward_train (t->be, &spec, b.xd, n, c, hw, b.gd, b.bd, b.out, b.smd, b.sid, b.rmd, b.rvd);
      expect_act (t, b.out, y, n, c, hw, 1, "batchnorm train y");
      g_autofree double *mean = g_new0 (double, c), *invstd = g_new0 (double, c);
      mt_ref_batchnorm_saved (spec.eps, b.x, n, c, hw, mean, invstd);
      expect (t, b.smd, mean, c, "batchnorm saved mean");
      expect (t, b.sid, invstd, c, "batchnorm saved 1/std");
      mt_ref_batchnorm_update_running (spec.momentum, b.x, n, c, hw, b.rm, b.rv);
      expect (t, b.rmd, b.rm, c, "batchnorm running mean");
      expect (t, b.rvd, b.rv, c, "batchnorm running var");
      break;
    }
    case 1:
      mt_ref_batchnorm_forward_eval (spec.eps, b.x, n, c, hw, b.gamma, b.beta, b.rm, b.rv, y);
      t->be->ops->batchnorm_forward_eval (t->be, &spec, b.xd, n, c, hw, b.gd, b.bd, b.out, b.rmd, b.rvd);
      expect_act (t, b.out, y, n, c, hw, 1, "batchnorm eval y");
      break;
    case 2:
      /* The saved statistics come from the backend's own training forward. */
      mt_ref_batchnorm_backward (spec.eps, b.x, n, c, hw, b.gamma, b.dy, dx, dg, db);
      t->be->ops->batchnorm_forward_train (t->be, &spec, b.xd, n, c, hw, b.gd, b.bd, b.out, b.smd, b.sid, b.rmd, b.rvd);
      t->be->ops->batchnorm_backward_train (t->be, b.xd, n, c, hw, b.gd, b.smd, b.sid, b.dyd, b.out, b.gg, b.gb);
      expect_act (t, b.out, dx, n, c, hw, 1, "batchnorm train dx");
      expect (t, b.gg, dg, c, "batchnorm dgamma");
      expect (t, b.gb, db, c, "batchnorm dbeta");
      break;
    case 3:
      mt_ref_batchnorm_backward_eval (spec.eps, n, c, hw, b.gamma, b.rv, b.dy, dx);
      t->be->ops->batchnorm_backward_eval (t->be, &spec, n, c, hw, b.gd, b.rvd, b.dyd, b.out);
      expect_act (t, b.out, dx, n, c, hw, 1, "batchnorm eval dx");
      break;
    }
  }
}

/* Batch norm fused with the ReLU after it, against the two references in a row. The
 * ReLU's mask in the backward is the backend's own output (a value within rounding of 0
 * may fall either way). */
static void
check_batchnorm_relu (Target *t, int which)
{
  const MtBnSpec spec = { 0.1, 1e-5 };
  for (guint k = 0; k < G_N_ELEMENTS (bn_shapes); k++) {
    g_auto (BnCase) b = bn_case (t, k);
    int n = b.n, c = b.c, hw = b.hw;
    gsize len = b.len;
    gboolean train = which == 0 || which == 2;
    g_autofree double *bn = g_new (double, len), *y = g_new (double, len), *dx = g_new (double, len);
    g_autofree double *dg = g_new (double, c), *db = g_new (double, c), *masked = g_new (double, len);
    if (train)
      mt_ref_batchnorm_forward (spec.eps, b.x, n, c, hw, b.gamma, b.beta, bn);
    else
      mt_ref_batchnorm_forward_eval (spec.eps, b.x, n, c, hw, b.gamma, b.beta, b.rm, b.rv, bn);
    mt_ref_relu_forward (bn, len, y);
    if (train)
      t->be->ops->batchnorm_relu_forward_train (t->be, &spec, b.xd, n, c, hw, b.gd, b.bd, b.out, b.smd, b.sid, b.rmd, b.rvd);
    else
      t->be->ops->batchnorm_relu_forward_eval (t->be, &spec, b.xd, n, c, hw, b.gd, b.bd, b.out, b.rmd, b.rvd);
    if (which < 2) {
      expect_act (t, b.out, y, n, c, hw, 1, train ? "batchnorm+relu train y" : "batchnorm+relu eval y");
    } else {
      /* The mask, NCHW, from the backend's y. */
      float *plain = mt_backend_layout_is_nchw (t->be, c, hw, 1) ? NULL : zeros (t, len);
      if (plain)
        mt_backend_to_nchw (t->be, b.out, n, c, hw, 1, plain);
      g_autofree float *yb = g_new (float, len);
      t->be->ops->download (t->be, yb, plain ? plain : b.out, len * sizeof (float));
      drop (t, plain);
      for (gsize i = 0; i < len; i++)
        masked[i] = yb[i] > 0 ? b.dy[i] : 0;
      if (train) {
        mt_ref_batchnorm_backward (spec.eps, b.x, n, c, hw, b.gamma, masked, dx, dg, db);
        t->be->ops->batchnorm_relu_backward_train (t->be, b.xd, n, c, hw, b.gd, b.smd, b.sid, b.out, b.dyd, b.gx, b.gg, b.gb);
        expect_act (t, b.gx, dx, n, c, hw, 1, "batchnorm+relu train dx");
        expect (t, b.gg, dg, c, "batchnorm+relu dgamma");
        expect (t, b.gb, db, c, "batchnorm+relu dbeta");
        /* Without dx: the parameter gradients alone. */
        t->be->ops->batchnorm_relu_backward_train (t->be, b.xd, n, c, hw, b.gd, b.smd, b.sid, b.out, b.dyd, NULL, b.gg, b.gb);
        expect (t, b.gg, dg, c, "batchnorm+relu dgamma without dx");
      } else {
        mt_ref_batchnorm_backward_eval (spec.eps, n, c, hw, b.gamma, b.rv, masked, dx);
        t->be->ops->batchnorm_relu_backward_eval (t->be, &spec, n, c, hw, b.gd, b.rvd, b.out, b.dyd, b.gx);
        expect_act (t, b.gx, dx, n, c, hw, 1, "batchnorm+relu eval dx");
      }
    }
  }
}

static void check_bn_relu_forward_train (Target *t) { check_batchnorm_relu (t, 0); }
static void check_bn_relu_forward_eval (Target *t) { check_batchnorm_relu (t, 1); }
static void check_bn_relu_backward_train (Target *t) { check_batchnorm_relu (t, 2); }
static void check_bn_relu_backward_eval (Target *t) { check_batchnorm_relu (t, 3); }

/* ---- batch norm on slices of a batch, each slice on its own thread (ml/mt-slices.h) ---- */

typedef struct {
  GMutex lock;
  GCond cond;
  int parties, arrived, generation;
} TestBarrier;

static void
test_barrier_wait (gpointer data)
{
  TestBarrier *b = data;
  g_mutex_lock (&b->lock);
  int gen = b->generation;
  if (++b->arrived == b->parties) {
    b->arrived = 0;
    b->generation++;
    g_cond_broadcast (&b->cond);
  } else {
    while (b->generation == gen)
      g_cond_wait (&b->cond, &b->lock);
  }
  g_mutex_unlock (&b->lock);
}

typedef struct {
  BnCase *b;
  gboolean relu;
  MtBnShare share;
  int n;                         /* this slice's images */
  float *sm, *si, *gg, *gb;      /* this slice's own saved statistics and gradients */
  float *y;                      /* the fused ReLU's output, whole batch (backward) */
} Slice;

static gpointer
slice_main (gpointer data)
{
  Slice *sl = data;
  BnCase *b = sl->b;
  MtBackend *be = b->t->be;
  const MtBnSpec spec = { 0.1, 1e-5 };
  gsize at = (gsize) sl->share.offset * b->c * b->hw;  /* images are outermost in every layout */
  be->ops->run_alone (be, TRUE);
  gboolean first = sl->share.offset == 0;
  be->ops->batchnorm_forward_train_sliced (be, &spec, &sl->share, sl->relu, b->xd + at, sl->n, b->c, b->hw, b->gd,
                                           b->bd, b->out + at, sl->sm, sl->si, first ? b->rmd : NULL,
                                           first ? b->rvd : NULL);
  be->ops->batchnorm_backward_train_sliced (be, &sl->share, b->xd + at, sl->n, b->c, b->hw, b->gd, sl->sm, sl->si,
                                            sl->relu ? b->out + at : NULL, b->dyd + at, b->gx + at, sl->gg, sl->gb);
  be->ops->run_alone (be, FALSE);
  return NULL;
}

static float *
download (Target *t, const float *dev, gsize n)
{
  float *h = g_new (float, MAX (n, 1));
  t->be->ops->download (t->be, h, dev, n * sizeof (float));
  return h;
}

static void
expect_same (Target *t, const float *a, const float *dev, gsize n, const char *what, int slices)
{
  g_autofree float *b = download (t, dev, n);
  ck_assert_msg (memcmp (a, b, n * sizeof (float)) == 0, "%s on %d slices: not the whole batch's bytes", what, slices);
}

/* Forward and backward on 2 or 3 slices run by as many threads give the bytes of the op
 * on the whole batch (which the cases above hold to the references): y, dx, the saved
 * statistics and dgamma, dbeta in every slice, the running statistics of the one slice
 * that updates them. */
static void
check_batchnorm_sliced (Target *t)
{
  const MtBnSpec spec = { 0.1, 1e-5 };
  for (guint k = 0; k < G_N_ELEMENTS (bn_shapes); k++)
    for (int relu = 0; relu < 2; relu++)
      for (int count = 2; count <= 3; count++) {
        g_auto (BnCase) b = bn_case (t, k);
        int n = b.n, c = b.c, hw = b.hw, slices = MIN (count, n);
        /* The whole batch, first. */
        (relu ? t->be->ops->batchnorm_relu_forward_train : t->be->ops->batchnorm_forward_train)
          (t->be, &spec, b.xd, n, c, hw, b.gd, b.bd, b.out, b.smd, b.sid, b.rmd, b.rvd);
        if (relu)
          t->be->ops->batchnorm_relu_backward_train (t->be, b.xd, n, c, hw, b.gd, b.smd, b.sid, b.out, b.dyd, b.gx,
                                                     b.gg, b.gb);
        else
          t->be->ops->batchnorm_backward_train (t->be, b.xd, n, c, hw, b.gd, b.smd, b.sid, b.dyd, b.gx, b.gg, b.gb);
        g_autofree float *y = download (t, b.out, b.len), *dx = download (t, b.gx, b.len);
        g_autofree float *sm = download (t, b.smd, c), *si = download (t, b.sid, c), *rm = download (t, b.rmd, c);
        g_autofree float *rv = download (t, b.rvd, c), *dg = download (t, b.gg, c), *db = download (t, b.gb, c);
        /* The running statistics again from where the whole batch began. */
        drop (t, b.rmd);
        drop (t, b.rvd);
        b.rmd = put (t, b.rm, c);
        b.rvd = put (t, b.rv, c);
        TestBarrier bar = { .parties = slices };
        g_mutex_init (&bar.lock);
        g_cond_init (&bar.cond);
        g_autofree double *tab0 = g_new (double, (gsize) 2 * n * c), *tab1 = g_new (double, (gsize) 2 * n * c);
        Slice sl[3];
        GThread *th[3];
        for (int i = 0; i < slices; i++) {
          int lo = n * i / slices, hi = n * (i + 1) / slices;
          sl[i] = (Slice) { &b, relu, { lo, n, { tab0, tab1 }, 0, test_barrier_wait, &bar }, hi - lo,
                            zeros (t, c), zeros (t, c), zeros (t, c), zeros (t, c), NULL };
          th[i] = g_thread_new ("slice", slice_main, &sl[i]);
        }
        for (int i = 0; i < slices; i++)
          g_thread_join (th[i]);
        g_mutex_clear (&bar.lock);
        g_cond_clear (&bar.cond);
        expect_same (t, y, b.out, b.len, relu ? "sliced batchnorm+relu y" : "sliced batchnorm y", slices);
        expect_same (t, dx, b.gx, b.len, "sliced batchnorm dx", slices);
        expect_same (t, rm, b.rmd, c, "sliced batchnorm running mean", slices);
        expect_same (t, rv, b.rvd, c, "sliced batchnorm running var", slices);
        for (int i = 0; i < slices; i++) {
          expect_same (t, sm, sl[i].sm, c, "sliced batchnorm saved mean", slices);
          expect_same (t, si, sl[i].si, c, "sliced batchnorm saved 1/std", slices);
          expect_same (t, dg, sl[i].gg, c, "sliced batchnorm dgamma", slices);
          expect_same (t, db, sl[i].gb, c, "sliced batchnorm dbeta", slices);
          float *own[] = { sl[i].sm, sl[i].si, sl[i].gg, sl[i].gb };
          for (guint j = 0; j < G_N_ELEMENTS (own); j++)
            drop (t, own[j]);
        }
      }
}

static void check_bn_forward_train_sliced (Target *t) { check_batchnorm_sliced (t); }
static void check_bn_backward_train_sliced (Target *t) { check_batchnorm_sliced (t); }

/* A thread that runs alone sees one thread; the others still see the backend's count. */
static gpointer
threads_elsewhere (gpointer data)
{
  MtBackend *be = data;
  return GINT_TO_POINTER (be->ops->threads (be));
}

static void
check_threads (Target *t)
{
  MtBackend *be = t->be;
  int all = be->ops->threads (be);
  ck_assert_int_ge (all, 1);
  be->ops->run_alone (be, TRUE);
  ck_assert_int_eq (be->ops->threads (be), 1);
  GThread *th = g_thread_new ("other", threads_elsewhere, be);
  ck_assert_int_eq (GPOINTER_TO_INT (g_thread_join (th)), all);
  be->ops->run_alone (be, FALSE);
  ck_assert_int_eq (be->ops->threads (be), all);
}

static void check_run_alone (Target *t) { check_threads (t); }

static void check_bn_forward_train (Target *t) { check_batchnorm (t, 0); }
static void check_bn_forward_eval (Target *t) { check_batchnorm (t, 1); }
static void check_bn_backward_train (Target *t) { check_batchnorm (t, 2); }
static void check_bn_backward_eval (Target *t) { check_batchnorm (t, 3); }

static void
check_relu (Target *t, gboolean backward)
{
  const gsize lens[] = { 1, 50, 1001 };
  for (guint k = 0; k < G_N_ELEMENTS (lens); k++) {
    gsize n = lens[k];
    g_autofree double *x = rnd (n, 1), *dy = rnd (n, 1), *y = g_new (double, n), *dx = g_new (double, n);
    x[0] = 0;  /* the boundary: no gradient at 0, as PyTorch */
    mt_ref_relu_forward (x, n, y);
    mt_ref_relu_backward (x, dy, n, dx);
    float *xd = put (t, x, n), *out = zeros (t, n);
    t->be->ops->relu_forward (t->be, xd, n, out);
    if (!backward) {
      expect (t, out, y, n, "relu y");
    } else {
      float *dyd = put (t, dy, n), *gx = zeros (t, n);
      t->be->ops->relu_backward (t->be, out, dyd, n, gx);
      expect (t, gx, dx, n, "relu dx");
      drop (t, dyd);
      drop (t, gx);
    }
    drop (t, xd);
    drop (t, out);
  }
}

static void check_relu_forward (Target *t) { check_relu (t, FALSE); }
static void check_relu_backward (Target *t) { check_relu (t, TRUE); }

/* Odd sizes drop the last row and column; ties go to the first maximum. */
static const int pool_shapes[][4] = { { 2, 3, 7, 6 }, { 1, 1, 2, 2 }, { 3, 16, 24, 24 }, { 2, 8, 7, 5 } };

static void
check_maxpool2 (Target *t, gboolean backward)
{
  for (guint k = 0; k < G_N_ELEMENTS (pool_shapes); k++) {
    int n = pool_shapes[k][0], c = pool_shapes[k][1], h = pool_shapes[k][2], w = pool_shapes[k][3];
    gsize nx = (gsize) n * c * h * w, ny = (gsize) n * c * (h / 2) * (w / 2);
    g_autofree double *x = rnd (nx, 1), *dy = rnd (ny, 1), *y = g_new (double, ny), *dx = g_new (double, nx);
    for (gsize i = 0; i + 1 < nx; i += 7)
      x[i + 1] = x[i];  /* ties */
    mt_ref_maxpool2_forward (x, n, c, h, w, y);
    mt_ref_maxpool2_backward (x, n, c, h, w, dy, dx);
    float *xd = put_act (t, x, n, c, h, w), *out = zeros (t, ny);
    gint32 *arg = t->be->ops->alloc (t->be, ny * sizeof (gint32));
    t->be->ops->maxpool2_forward (t->be, xd, n, c, h, w, out, arg);
    if (!backward) {
      expect_act (t, out, y, n, c, h / 2, w / 2, "maxpool y");
    } else {
      float *dyd = put_act (t, dy, n, c, h / 2, w / 2), *gx = zeros (t, nx);
      t->be->ops->maxpool2_backward (t->be, arg, n, c, h, w, dyd, gx);
      expect_act (t, gx, dx, n, c, h, w, "maxpool dx");
      drop (t, dyd);
      drop (t, gx);
    }
    drop (t, xd);
    drop (t, out);
    drop (t, arg);
  }
}

static void check_maxpool2_forward (Target *t) { check_maxpool2 (t, FALSE); }
static void check_maxpool2_backward (Target *t) { check_maxpool2 (t, TRUE); }


/* ---- the residual networks' ops ---- */

static const struct { MtPoolSpec s; int n, c, h, w; } gpool_shapes[] = {
  { { 3, 2, 1 }, 2, 3, 9, 8 }, { { 3, 2, 1 }, 2, 16, 32, 32 }, { { 3, 2, 1 }, 2, 8, 9, 8 },
  { { 2, 1, 0 }, 1, 2, 5, 5 }, { { 3, 3, 0 }, 1, 1, 7, 7 },
};

static void
check_maxpool (Target *t, gboolean backward)
{
  for (guint k = 0; k < G_N_ELEMENTS (gpool_shapes); k++) {
    const MtPoolSpec *s = &gpool_shapes[k].s;
    int n = gpool_shapes[k].n, c = gpool_shapes[k].c, h = gpool_shapes[k].h, w = gpool_shapes[k].w;
    gsize nx = (gsize) n * c * h * w, ny = (gsize) n * c * mt_pool_out (h, s) * mt_pool_out (w, s);
    g_autofree double *x = rnd (nx, 1), *dy = rnd (ny, 1), *y = g_new (double, ny), *dx = g_new (double, nx);
    for (gsize i = 0; i + 1 < nx; i += 7)
      x[i + 1] = x[i];  /* ties */
    mt_ref_maxpool_forward (s, x, n, c, h, w, y);
    mt_ref_maxpool_backward (s, x, n, c, h, w, dy, dx);
    int oh = mt_pool_out (h, s), ow = mt_pool_out (w, s);
    float *xd = put_act (t, x, n, c, h, w), *out = zeros (t, ny);
    gint32 *arg = t->be->ops->alloc (t->be, ny * sizeof (gint32));
    t->be->ops->maxpool_forward (t->be, s, xd, n, c, h, w, out, arg);
    if (!backward) {
      expect_act (t, out, y, n, c, oh, ow, "maxpool y");
    } else {
      float *dyd = put_act (t, dy, n, c, oh, ow), *gx = zeros (t, nx);
      t->be->ops->maxpool_backward (t->be, s, arg, n, c, h, w, dyd, gx);
      expect_act (t, gx, dx, n, c, h, w, "maxpool dx");
      drop (t, dyd);
      drop (t, gx);
    }
    drop (t, xd);
    drop (t, out);
    drop (t, arg);
  }
}

static void check_maxpool_forward (Target *t) { check_maxpool (t, FALSE); }
static void check_maxpool_backward (Target *t) { check_maxpool (t, TRUE); }

static void
check_avgpool (Target *t, gboolean backward)
{
  const int shapes[][3] = { { 2, 3, 49 }, { 4, 512, 16 }, { 1, 1, 1 }, { 3, 24, 5 } };
  for (guint k = 0; k < G_N_ELEMENTS (shapes); k++) {
    int n = shapes[k][0], c = shapes[k][1], hw = shapes[k][2];
    gsize nx = (gsize) n * c * hw, ny = (gsize) n * c;
    g_autofree double *x = rnd (nx, 1), *dy = rnd (ny, 1), *y = g_new (double, ny), *dx = g_new (double, nx);
    if (!backward) {
      mt_ref_avgpool_forward (x, n, c, hw, y);
      float *xd = put_act (t, x, n, c, hw, 1), *out = zeros (t, ny);
      t->be->ops->avgpool_forward (t->be, xd, n, c, hw, out);
      expect (t, out, y, ny, "avgpool y");
      drop (t, xd);
      drop (t, out);
    } else {
      mt_ref_avgpool_backward (dy, n, c, hw, dx);
      float *dyd = put (t, dy, ny), *gx = zeros (t, nx);
      t->be->ops->avgpool_backward (t->be, dyd, n, c, hw, gx);
      expect_act (t, gx, dx, n, c, hw, 1, "avgpool dx");
      drop (t, dyd);
      drop (t, gx);
    }
  }
}

static void check_avgpool_forward (Target *t) { check_avgpool (t, FALSE); }
static void check_avgpool_backward (Target *t) { check_avgpool (t, TRUE); }

/* Batches from a dataset held whole: repeated and unordered indices, plain and
 * normalised input, 1 and 3 channels and a fourth that takes the third's statistics. */
static void
check_gather_batch (Target *t)
{
  const int shapes[][3] = { { 1, 784, 0 }, { 3, 1024, 1 }, { 4, 49, 1 } };  /* c, hw, normalised */
  const double mean[3] = { 0.485, 0.456, 0.406 }, std[3] = { 0.229, 0.224, 0.225 };
  for (guint k = 0; k < G_N_ELEMENTS (shapes); k++) {
    int c = shapes[k][0], hw = shapes[k][1];
    gboolean plain = !shapes[k][2];
    const int images = 11, n = 7;
    gsize per = (gsize) c * hw;
    g_autofree guint8 *px = g_new (guint8, images * per);
    for (gsize i = 0; i < images * per; i++)
      px[i] = (guint8) mt_rng_below (&rng, 256);
    px[0] = 0;
    px[1] = 255;
    gint64 labels[11], idx[7] = { 3, 10, 0, 3, 7, 1, 9 };
    for (int i = 0; i < images; i++)
      labels[i] = 100 + i;
    MtInputSpec s = { c, hw, plain };
    for (int ch = 0; ch < 3; ch++) {
      s.mean[ch] = (float) mean[ch];
      s.inv_std[ch] = (float) (1.0 / std[ch]);
    }
    g_autofree double *want = g_new (double, n * per);
    mt_ref_gather_images (c, hw, plain, mean, std, px, idx, n, want);
    guint8 *pxd = t->be->ops->alloc (t->be, images * per);
    gint64 *ld = t->be->ops->alloc (t->be, sizeof labels), *id = t->be->ops->alloc (t->be, sizeof idx);
    gint64 *yd = t->be->ops->alloc (t->be, n * sizeof (gint64));
    t->be->ops->upload (t->be, pxd, px, images * per);
    t->be->ops->upload (t->be, ld, labels, sizeof labels);
    t->be->ops->upload (t->be, id, idx, sizeof idx);
    float *xd = zeros (t, n * per);
    t->be->ops->gather_batch (t->be, &s, pxd, ld, id, n, xd, yd);
    expect (t, xd, want, n * per, "gather_batch x");
    gint64 y[7];
    t->be->ops->download (t->be, y, yd, sizeof y);
    for (int i = 0; i < n; i++)
      ck_assert_int_eq (y[i], labels[idx[i]]);
    drop (t, pxd);
    drop (t, ld);
    drop (t, id);
    drop (t, yd);
    drop (t, xd);
  }
}

/* The seed of a saliency backward: the largest logit (the first of equal ones) or the
 * label, clamped; exact. */
static void
check_cam_seed (Target *t)
{
  const int n = 5, classes = 4;
  const float z[5][4] = { { 0, 3, 1, 3 }, { -1, -2, -0.5f, -3 }, { 2, 2, 2, 2 }, { 0, 0, 0, 9 }, { 1, 0, 0, 0 } };
  const gint64 labels[5] = { 2, -3, 99, 0, 3 };
  const int by_logit[5] = { 1, 2, 0, 3, 0 }, by_label[5] = { 2, 0, 3, 0, 3 };
  float *zd = t->be->ops->alloc (t->be, sizeof z), *dz = zeros (t, (gsize) n * classes);
  gint64 *ld = t->be->ops->alloc (t->be, sizeof labels);
  t->be->ops->upload (t->be, zd, z, sizeof z);
  t->be->ops->upload (t->be, ld, labels, sizeof labels);
  for (int with_labels = 0; with_labels <= 1; with_labels++) {
    float got[5][4];
    t->be->ops->zero (t->be, dz, sizeof got);
    t->be->ops->cam_seed (t->be, zd, with_labels ? ld : NULL, n, classes, dz);
    t->be->ops->download (t->be, got, dz, sizeof got);
    for (int i = 0; i < n; i++)
      for (int k = 0; k < classes; k++)
        ck_assert_msg (got[i][k] == ((with_labels ? by_label : by_logit)[i] == k ? 1.0f : 0.0f),
                       "%s cam_seed (%s) [%d, %d] = %g", t->be->name, with_labels ? "labels" : "logits", i, k,
                       got[i][k]);
  }
  drop (t, zd);
  drop (t, dz);
  drop (t, ld);
}

/* Class-activation maps by each method: SmallCNN's layer to 28x28, a ResNet-like 7x7 to
 * a non-square size, a map kept at its own size, and a 1x1 layer (a flat map). The
 * gradients lean positive, as a target class's do, so that the maps are not all one
 * sign's cancellation. */
static void
check_cam_maps (Target *t)
{
  const int shapes[][6] = { { 3, 32, 8, 8, 28, 28 }, { 2, 12, 7, 7, 30, 33 }, { 2, 5, 4, 6, 4, 6 },
                            { 2, 3, 1, 1, 5, 5 } };  /* n, c, h, w, oh, ow */
  for (guint k = 0; k < G_N_ELEMENTS (shapes); k++) {
    int n = shapes[k][0], c = shapes[k][1], h = shapes[k][2], w = shapes[k][3], oh = shapes[k][4], ow = shapes[k][5];
    gsize len = (gsize) n * c * h * w, out = (gsize) n * oh * ow;
    g_autofree double *a = rnd (len, 1), *g = rnd (len, 0.1), *want = g_new (double, out);
    for (gsize i = 0; i < len; i++) {
      a[i] = (float) fabs (a[i]);  /* post-ReLU activations, exactly as the backend holds them */
      g[i] = (float) (g[i] + 0.05);
    }
    float *ad = put (t, a, len), *gd = put (t, g, len), *md = zeros (t, out);
    float *work = zeros (t, mt_cam_work_floats (n, c, h, w));
    for (int method = MT_CAM_XGRADCAM; method <= MT_CAM_LAYERCAM; method++) {
      mt_ref_cam_maps (method, a, g, n, c, h, w, oh, ow, want);
      t->be->ops->cam_maps (t->be, method, ad, gd, n, c, h, w, oh, ow, work, md);
      g_autofree char *what = g_strdup_printf ("cam_maps (method %d, %dx%d of %d -> %dx%d)", method, h, w, c, oh, ow);
      expect (t, md, want, out, what);
    }
    drop (t, ad);
    drop (t, gd);
    drop (t, md);
    drop (t, work);
  }
}

/* Masks from heat maps against the rules' reference: top_k exactly (ties by position), a
 * cut rule's pixel differing only where the reference's cut (its variance computed as
 * E[x^2] - E[x]^2) is within rounding of the pixel's heat. Maps of 28x28 (one without
 * positive heat: mean_std masks nothing), 7x9 in steps of 1/4 (ties, zeros of both
 * signs), and of one pixel. */
static void
check_mask_maps (Target *t)
{
  const int shapes[][2] = { { 5, 28 * 28 }, { 3, 63 }, { 2, 1 } };  /* n, pixels */
  const MtMaskRule rules[] = {
    { .method = MT_MASK_MEAN_STD, .k = 1 }, { .method = MT_MASK_MEAN_STD, .k = 0 },
    { .method = MT_MASK_THRESHOLD, .tau = 0.3 }, { .method = MT_MASK_MEAN_SCALE, .factor = 1.2 },
    { .method = MT_MASK_TOP_K, .fraction = 0.1 }, { .method = MT_MASK_TOP_K, .fraction = 0.5 },
    { .method = MT_MASK_TOP_K, .fraction = 1 },
  };
  for (guint k = 0; k < G_N_ELEMENTS (shapes); k++) {
    int n = shapes[k][0], len = shapes[k][1];
    gsize all = (gsize) n * len;
    g_autofree double *h = rnd (all, 1), *cuts = g_new (double, n);
    g_autofree float *heat = g_new (float, all);
    for (gsize i = 0; i < all; i++) {
      double v = k == 1 ? floor (h[i] * 4) / 4 : h[i];
      if (k == 0 && i < (gsize) len)
        v = -fabs (v);
      heat[i] = (float) (v == 0 && i % 2 ? -0.0 : v);
      h[i] = heat[i];
    }
    float *hd = put (t, h, all);
    guint8 *kd = t->be->ops->alloc (t->be, all);
    g_autofree guint8 *want = g_new (guint8, all), *got = g_new (guint8, all);
    for (guint r = 0; r < G_N_ELEMENTS (rules); r++) {
      mt_ref_mask_maps (&rules[r], heat, n, len, want, cuts);
      t->be->ops->mask_maps (t->be, &rules[r], hd, n, len, kd);
      t->be->ops->download (t->be, got, kd, all);
      g_autoptr (GError) err = NULL;
      ck_assert_msg (mt_backend_sync (t->be, &err), "%s: mask_maps: %s", t->be->name, err ? err->message : "");
      for (gsize i = 0; i < all; i++) {
        double cut = cuts[i / len];
        gboolean near = rules[r].method != MT_MASK_TOP_K && fabs (heat[i] - cut) <= 1e-9 * (1 + fabs (cut));
        ck_assert_msg (got[i] == want[i] || near, "%s mask_maps (rule %u, %d maps of %d): pixel %" G_GSIZE_FORMAT
                       " (heat %.9g, cut %.9g) is %u, reference %u", t->be->name, r, n, len, i, heat[i], cut, got[i],
                       want[i]);
      }
    }
    drop (t, hd);
    drop (t, kd);
  }
}

static void
check_add (Target *t)
{
  gsize n = 10007;
  g_autofree double *a = rnd (n, 1), *b = rnd (n, 1), *y = g_new (double, n);
  mt_ref_add (a, b, n, y);
  float *ad = put (t, a, n), *bd = put (t, b, n), *yd = zeros (t, n);
  t->be->ops->add (t->be, ad, bd, n, yd);
  expect (t, yd, y, n, "add");
  t->be->ops->add (t->be, ad, bd, n, ad);  /* in place, as the model adds a block's paths */
  expect (t, ad, y, n, "add in place");
  drop (t, ad);
  drop (t, bd);
  drop (t, yd);
}

/* Folding an evaluation batch norm into a convolution's weights (with and without bias). */
static void
check_fold_batchnorm (Target *t)
{
  const int oc = 24;
  const gsize per = 3 * 5 * 5;
  MtBnSpec s = { 0.1, 1e-5 };
  for (int with_bias = 0; with_bias < 2; with_bias++) {
    g_autofree double *w = rnd (oc * per, 1), *b = rnd (oc, 1), *gamma = rnd (oc, 1), *beta = rnd (oc, 1);
    g_autofree double *rm = rnd (oc, 0.5), *rv = rnd (oc, 0.5), *fw = g_new (double, oc * per), *fb = g_new (double, oc);
    for (int o = 0; o < oc; o++)
      rv[o] = fabs (rv[o]) + 0.1;
    mt_ref_fold_batchnorm (s.eps, oc, per, w, with_bias ? b : NULL, gamma, beta, rm, rv, fw, fb);
    float *wd = put (t, w, oc * per), *bd = put (t, b, oc), *gd = put (t, gamma, oc), *betad = put (t, beta, oc);
    float *rmd = put (t, rm, oc), *rvd = put (t, rv, oc), *fwd = zeros (t, oc * per), *fbd = zeros (t, oc);
    t->be->ops->fold_batchnorm (t->be, &s, oc, per, wd, with_bias ? bd : NULL, gd, betad, rmd, rvd, fwd, fbd);
    expect (t, fwd, fw, oc * per, "folded weights");
    expect (t, fbd, fb, oc, "folded bias");
    float *all[] = { wd, bd, gd, betad, rmd, rvd, fwd, fbd };
    for (guint k = 0; k < G_N_ELEMENTS (all); k++)
      drop (t, all[k]);
  }
}

/* Copies and zeroing within the backend's memory. */
static void
check_copy_zero (Target *t)
{
  gsize n = 1000;
  g_autofree double *a = rnd (n, 1), *want = g_memdup2 (a, n * sizeof (double));
  float *ad = put (t, a, n), *bd = zeros (t, n);
  t->be->ops->copy (t->be, bd, ad, n * sizeof (float));
  expect (t, bd, a, n, "copy");
  t->be->ops->zero (t->be, bd + 100, 50 * sizeof (float));
  for (gsize i = 100; i < 150; i++)
    want[i] = 0;
  expect (t, bd, want, n, "zero");
  drop (t, ad);
  drop (t, bd);
}

static void
check_shortcut (Target *t, gboolean backward)
{
  const int shapes[][6] = { { 2, 16, 32, 32, 32, 2 }, { 1, 4, 5, 7, 8, 2 }, { 3, 6, 4, 4, 6, 1 },
                            { 2, 8, 5, 5, 16, 2 }, { 2, 8, 6, 6, 12, 1 } };
  for (guint k = 0; k < G_N_ELEMENTS (shapes); k++) {
    int n = shapes[k][0], c = shapes[k][1], h = shapes[k][2], w = shapes[k][3], oc = shapes[k][4], st = shapes[k][5];
    gsize nx = (gsize) n * c * h * w, ny = (gsize) n * oc * mt_shortcut_out (h, st) * mt_shortcut_out (w, st);
    g_autofree double *x = rnd (nx, 1), *dy = rnd (ny, 1), *y = g_new (double, ny), *dx = g_new (double, nx);
    if (!backward) {
      mt_ref_shortcut_forward (x, n, c, h, w, oc, st, y);
      int oh = mt_shortcut_out (h, st), ow = mt_shortcut_out (w, st);
      float *xd = put_act (t, x, n, c, h, w), *out = zeros (t, ny);
      t->be->ops->shortcut_forward (t->be, xd, n, c, h, w, oc, st, out);
      expect_act (t, out, y, n, oc, oh, ow, "shortcut y");
      drop (t, xd);
      drop (t, out);
    } else {
      mt_ref_shortcut_backward (dy, n, c, h, w, oc, st, dx);
      float *dyd = put_act (t, dy, n, oc, mt_shortcut_out (h, st), mt_shortcut_out (w, st)), *gx = zeros (t, nx);
      t->be->ops->shortcut_backward (t->be, dyd, n, c, h, w, oc, st, gx);
      expect_act (t, gx, dx, n, c, h, w, "shortcut dx");
      drop (t, dyd);
      drop (t, gx);
    }
  }
}

static void check_shortcut_forward (Target *t) { check_shortcut (t, FALSE); }
static void check_shortcut_backward (Target *t) { check_shortcut (t, TRUE); }

static const int linear_shapes[][3] = { { 5, 13, 7 }, { 1, 1, 1 }, { 64, 800, 256 }, { 33, 256, 10 } };

static void
check_linear (Target *t, gboolean backward)
{
  for (guint k = 0; k < G_N_ELEMENTS (linear_shapes); k++) {
    int n = linear_shapes[k][0], in = linear_shapes[k][1], out = linear_shapes[k][2];
    gsize nx = (gsize) n * in, nw = (gsize) out * in, ny = (gsize) n * out;
    g_autofree double *x = rnd (nx, 1), *wt = rnd (nw, 0.2), *b = rnd (out, 0.5), *dy = rnd (ny, 1);
    g_autofree double *y = g_new (double, ny), *dx = g_new (double, nx), *dw = g_new (double, nw);
    g_autofree double *db = g_new (double, out);
    mt_ref_linear_forward (x, n, in, out, wt, b, y);
    mt_ref_linear_backward (x, n, in, out, wt, dy, dx, dw, db);
    float *xd = put (t, x, nx), *wd = put (t, wt, nw), *bd = put (t, b, out);
    if (!backward) {
      float *yd = zeros (t, ny);
      t->be->ops->linear_forward (t->be, xd, n, in, out, wd, bd, yd);
      expect (t, yd, y, ny, "linear y");
      drop (t, yd);
    } else {
      float *dyd = put (t, dy, ny), *gx = zeros (t, nx), *gw = zeros (t, nw), *gb = zeros (t, out);
      t->be->ops->linear_backward (t->be, xd, n, in, out, wd, dyd, gx, gw, gb);
      expect (t, gx, dx, nx, "linear dx");
      expect (t, gw, dw, nw, "linear dweight");
      expect (t, gb, db, out, "linear dbias");
      /* dx is optional. */
      t->be->ops->linear_backward (t->be, xd, n, in, out, wd, dyd, NULL, gw, gb);
      expect (t, gw, dw, nw, "linear dweight without dx");
      /* So are dweight and dbias (a saliency pass wants dx alone). */
      float *gx2 = zeros (t, nx);
      t->be->ops->linear_backward (t->be, xd, n, in, out, wd, dyd, gx2, NULL, NULL);
      expect (t, gx2, dx, nx, "linear dx without dweight");
      drop (t, gx2);
      drop (t, dyd);
      drop (t, gx);
      drop (t, gw);
      drop (t, gb);
    }
    drop (t, xd);
    drop (t, wd);
    drop (t, bd);
  }
}

static void check_linear_forward (Target *t) { check_linear (t, FALSE); }
static void check_linear_backward (Target *t) { check_linear (t, TRUE); }

static void
check_cross_entropy (Target *t)
{
  const int shapes[][2] = { { 6, 3 }, { 1, 2 }, { 128, 10 } };
  for (guint k = 0; k < G_N_ELEMENTS (shapes); k++) {
    int n = shapes[k][0], classes = shapes[k][1];
    gsize nz = (gsize) n * classes;
    g_autofree double *z = rnd (nz, 4), *dz = g_new (double, nz);
    g_autofree gint64 *labels = g_new (gint64, n);
    int right = 0;
    for (int i = 0; i < n; i++) {
      labels[i] = (gint64) mt_rng_below (&rng, classes);
      int best = 0;
      for (int j = 1; j < classes; j++)
        if ((float) z[(gsize) i * classes + j] > (float) z[(gsize) i * classes + best])
          best = j;
      right += best == labels[i];
    }
    double loss = mt_ref_cross_entropy (z, labels, n, classes, dz);
    float *zd = put (t, z, nz), *gz = zeros (t, nz);
    gint64 *ld = t->be->ops->alloc (t->be, n * sizeof (gint64));
    t->be->ops->upload (t->be, ld, labels, n * sizeof (gint64));
    /* The loss and the count land in backend memory, pre-filled with garbage. */
    double *lossd = t->be->ops->alloc (t->be, sizeof (double));
    gint64 *rightd = t->be->ops->alloc (t->be, sizeof (gint64));
    double got = -1;
    gint64 correct = -1;
    t->be->ops->upload (t->be, lossd, &got, sizeof got);
    t->be->ops->upload (t->be, rightd, &correct, sizeof correct);
    t->be->ops->cross_entropy (t->be, zd, ld, n, classes, gz, lossd, rightd);
    t->be->ops->download (t->be, &got, lossd, sizeof got);
    t->be->ops->download (t->be, &correct, rightd, sizeof correct);
    ck_assert_msg (fabs (got - loss) <= t->tol * (1 + loss), "%s cross_entropy loss %.9g, reference %.9g",
                   t->be->name, got, loss);
    ck_assert_int_eq (correct, right);
    expect (t, gz, dz, nz, "cross_entropy dlogits");
    /* Without gradient or count: the loss alone. */
    got = -1;
    t->be->ops->upload (t->be, lossd, &got, sizeof got);
    t->be->ops->cross_entropy (t->be, zd, ld, n, classes, NULL, lossd, NULL);
    t->be->ops->download (t->be, &got, lossd, sizeof got);
    ck_assert_msg (fabs (got - loss) <= t->tol * (1 + loss), "%s cross_entropy loss alone", t->be->name);
    drop (t, zd);
    drop (t, gz);
    drop (t, ld);
    drop (t, lossd);
    drop (t, rightd);
  }
}

static void
check_sgd_step (Target *t)
{
  /* First step, a later one, momentum 0 (no buffer kept), no weight decay, Nesterov. */
  const struct { double lr, momentum, wd; gboolean first, nesterov; } steps[] = {
    { 0.1, 0.9, 5e-4, TRUE, FALSE }, { 0.1, 0.9, 5e-4, FALSE, FALSE }, { 0.05, 0.0, 1e-3, FALSE, FALSE },
    { 0.01, 0.5, 0.0, FALSE, FALSE }, { 0.1, 0.9, 1e-4, FALSE, TRUE },
  };
  const gsize n = 1000;
  g_autofree double *p = rnd (n, 1), *buf = rnd (n, 1);
  float *pd = put (t, p, n), *bd = put (t, buf, n);
  for (guint k = 0; k < G_N_ELEMENTS (steps); k++) {
    g_autofree double *g = rnd (n, 1);
    float *gd = put (t, g, n);
    MtSgdSpec s = { steps[k].lr, steps[k].momentum, steps[k].wd, steps[k].nesterov };
    mt_ref_sgd_step (&s, p, g, buf, n, steps[k].first);
    t->be->ops->sgd_step (t->be, &s, pd, gd, bd, n, steps[k].first);
    expect (t, pd, p, n, "sgd parameters");
    expect (t, bd, buf, n, "sgd momentum buffer");
    drop (t, gd);
  }
  drop (t, pd);
  drop (t, bd);
}

static void
check_adam_step (Target *t)
{
  /* Three steps (the bias corrections change), with and without weight decay. */
  const gsize n = 1000;
  g_autofree double *p = rnd (n, 1), *m = g_new0 (double, n), *v = g_new0 (double, n);
  float *pd = put (t, p, n), *md = put (t, m, n), *vd = put (t, v, n);
  for (int k = 1; k <= 3; k++) {
    g_autofree double *g = rnd (n, 1);
    float *gd = put (t, g, n);
    MtAdamSpec s = { 1e-2, 0.9, 0.999, 1e-8, k == 2 ? 0.0 : 1e-2, k };
    mt_ref_adam_step (&s, p, g, m, v, n);
    t->be->ops->adam_step (t->be, &s, pd, gd, md, vd, n);
    expect (t, pd, p, n, "adam parameters");
    expect (t, md, m, n, "adam exp_avg");
    expect (t, vd, v, n, "adam exp_avg_sq");
    drop (t, gd);
  }
  drop (t, pd);
  drop (t, md);
  drop (t, vd);
}

/* The activation layout: a round trip is exact, and where a backend keeps a shape in its
 * own layout, that layout is not NCHW (a conversion that copies would pass the op cases
 * above without testing them). The CPU's is nChw{B}c, B = 8 or 16: element (i, c, p) of an
 * [n, C, hw] tensor at ((i * C/B + c/B) * hw + p) * B + c % B. */
static void
check_layout (Target *t)
{
  const int shapes[][4] = { { 2, 16, 5, 3 }, { 3, 8, 1, 1 }, { 1, 3, 4, 4 }, { 2, 32, 2, 2 }, { 2, 8, 3, 3 } };
  for (guint k = 0; k < G_N_ELEMENTS (shapes); k++) {
    int n = shapes[k][0], c = shapes[k][1], h = shapes[k][2], w = shapes[k][3], hw = h * w;
    gsize len = (gsize) n * c * hw;
    g_autofree double *x = rnd (len, 1);
    float *d = put_act (t, x, n, c, h, w);
    expect_act (t, d, x, n, c, h, w, "layout round trip");
    if (g_strcmp0 (t->be->name, "cpu") == 0) {
      int bs = mt_layout_block ();
      ck_assert (mt_backend_layout_is_nchw (t->be, c, h, w) == (c % bs != 0 || hw == 1));
      g_autofree float *got = g_new (float, len);
      t->be->ops->download (t->be, got, d, len * sizeof (float));
      for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
          for (int p = 0; p < hw; p++) {
            gsize at = c % bs || hw == 1 ? ((gsize) i * c + ch) * hw + p
                                         : (((gsize) i * (c / bs) + ch / bs) * hw + p) * bs + ch % bs;
            ck_assert_float_eq (got[at], (float) x[((gsize) i * c + ch) * hw + p]);
          }
    }
    drop (t, d);
  }
}

static void check_layout_from (Target *t) { check_layout (t); }
static void check_layout_to (Target *t) { check_layout (t); }

#define OP(name) G_STRUCT_OFFSET (MtBackendOps, name), #name
static const struct {
  gsize offset;
  const char *name;
  void (*check) (Target *t);
} cases[] = {
  { OP (conv2d_forward), check_conv2d_forward },
  { OP (conv2d_backward), check_conv2d_backward },
  { OP (conv2d_forward_relu), check_conv2d_forward_relu },
  { OP (fold_batchnorm), check_fold_batchnorm },
  { OP (copy), check_copy_zero },
  { OP (zero), check_copy_zero },
  { OP (batchnorm_forward_train), check_bn_forward_train },
  { OP (batchnorm_forward_eval), check_bn_forward_eval },
  { OP (batchnorm_backward_train), check_bn_backward_train },
  { OP (batchnorm_backward_eval), check_bn_backward_eval },
  { OP (relu_forward), check_relu_forward },
  { OP (relu_backward), check_relu_backward },
  { OP (maxpool2_forward), check_maxpool2_forward },
  { OP (maxpool2_backward), check_maxpool2_backward },
  { OP (linear_forward), check_linear_forward },
  { OP (linear_backward), check_linear_backward },
  { OP (cross_entropy), check_cross_entropy },
  { OP (gather_batch), check_gather_batch },
  { OP (cam_seed), check_cam_seed },
  { OP (cam_maps), check_cam_maps },
  { OP (mask_maps), check_mask_maps },
  { OP (sgd_step), check_sgd_step },
  { OP (adam_step), check_adam_step },
  { OP (maxpool_forward), check_maxpool_forward },
  { OP (maxpool_backward), check_maxpool_backward },
  { OP (avgpool_forward), check_avgpool_forward },
  { OP (avgpool_backward), check_avgpool_backward },
  { OP (add), check_add },
  { OP (shortcut_forward), check_shortcut_forward },
  { OP (shortcut_backward), check_shortcut_backward },
  { OP (batchnorm_relu_forward_train), check_bn_relu_forward_train },
  { OP (batchnorm_relu_forward_eval), check_bn_relu_forward_eval },
  { OP (batchnorm_relu_backward_train), check_bn_relu_backward_train },
  { OP (batchnorm_relu_backward_eval), check_bn_relu_backward_eval },
  { OP (threads), check_threads },
  { OP (run_alone), check_run_alone },
  { OP (batchnorm_forward_train_sliced), check_bn_forward_train_sliced },
  { OP (batchnorm_backward_train_sliced), check_bn_backward_train_sliced },
  { OP (layout_is_nchw), check_layout },
  { OP (layout_from_nchw), check_layout_from },
  { OP (layout_to_nchw), check_layout_to },
};

/* The backends of this build that can run here; the others are named with why not. */
static GPtrArray *
targets (void)
{
  GPtrArray *ts = g_ptr_array_new_with_free_func (g_free);
  for (const char *const *n = mt_backend_names (); *n; n++) {
    g_autoptr (GError) err = NULL;
    MtBackend *be = mt_backend_new (*n, &err);
    if (!be) {
      /* On the GPU machine (bench/gpu-run.sh) a skipped backend is a failure. */
      ck_assert_msg (!g_getenv ("MT_REQUIRE_GPU"), "MT_REQUIRE_GPU is set, but backend %s: %s", *n, err->message);
      printf ("backend %s: skipped: %s\n", *n, err->message);
      continue;
    }
    Target *t = g_new0 (Target, 1);
    t->be = be;
    t->tol = g_strcmp0 (*n, "cpu") == 0 ? 2e-5 : 1e-4;
    g_ptr_array_add (ts, t);
  }
  return ts;
}

START_TEST (op_on_every_backend)
{
  g_autoptr (GPtrArray) ts = targets ();
  for (guint i = 0; i < ts->len; i++) {
    Target *t = ts->pdata[i];
    if (mt_backend_has (t->be, cases[_i].offset)) {
      /* The CPU's blocked ops have a copy per instruction set, and its layout blocks of 8
       * or 16 channels: every instruction set this CPU runs, with both. */
      gboolean cpu = g_strcmp0 (t->be->name, "cpu") == 0;
      MtCpuIsa keep = mt_cpu_isa ();
      int keep_block = mt_layout_block ();
      for (MtCpuIsa isa = MT_CPU_ISA_GENERIC; isa <= MT_CPU_ISA_AVX2; isa++)
        for (int block = 8; block <= 16; block += 8) {
          if (cpu ? !mt_cpu_set_isa (isa) : isa != MT_CPU_ISA_GENERIC || block != 8)
            continue;
          if (cpu)
            mt_layout_set_block (block);
          mt_rng_seed (&rng, 1000 + _i);
          cases[_i].check (t);
        }
      mt_cpu_set_isa (keep);
      mt_layout_set_block (keep_block);
    } else {
      /* Only the CPU backend, the reference implementation, must have every op. */
      ck_assert_msg (g_strcmp0 (t->be->name, "cpu") != 0, "the CPU backend has no %s", cases[_i].name);
      printf ("backend %s: no %s yet\n", t->be->name, cases[_i].name);
    }
    mt_backend_free (t->be);
  }
}
END_TEST

/* Every op slot of MtBackendOps (past the memory functions, of which copy and zero have
 * cases too, and conv2d_workspace, which the convolution cases use; before the recording
 * of graphs, which is not an op and which tests/test-device-model checks) has a case
 * above. */
START_TEST (every_op_has_a_case)
{
  gsize first = G_STRUCT_OFFSET (MtBackendOps, conv2d_forward);
  gsize end = G_STRUCT_OFFSET (MtBackendOps, capture_begin);
  guint slots = 0;
  for (gsize off = first; off < end; off += sizeof (gpointer)) {
    gboolean found = FALSE;
    for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
      found |= cases[k].offset == off;
    ck_assert_msg (found, "MtBackendOps has an op at offset %" G_GSIZE_FORMAT " without a case", off);
    slots++;
  }
  guint op_cases = 0;  /* the cases of ops (copy and zero are memory functions) */
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    op_cases += cases[k].offset >= first;
  ck_assert_uint_eq (slots, op_cases);
  MtBackend *cpu = mt_backend_cpu ();
  for (gsize off = 0; off < end; off += sizeof (gpointer))
    ck_assert_msg (mt_backend_has (cpu, off), "the CPU backend lacks the op at offset %" G_GSIZE_FORMAT, off);
  ck_assert (!mt_backend_has (cpu, G_STRUCT_OFFSET (MtBackendOps, capture_begin)));
}
END_TEST

/* The instruction-set copies of the blocked ops round alike: the same bytes from each. */
START_TEST (isa_copies_agree_bit_for_bit)
{
  if (!mt_cpu_set_isa (MT_CPU_ISA_AVX2)) {
    printf ("no AVX2 copy of the blocked ops here (CPU or build): nothing to compare\n");
    mt_cpu_set_isa (MT_CPU_ISA_GENERIC);
    return;
  }
  const int n = 5, c = 32, h = 9, w = 7, hw = h * w;
  gsize len = (gsize) n * c * hw, pooled = (gsize) n * c * (h / 2) * (w / 2);
  const MtBnSpec bn = { 0.1, 1e-5 };
  const MtPoolSpec ps = { 3, 2, 1 };
  gsize gpooled = (gsize) n * c * mt_pool_out (h, &ps) * mt_pool_out (w, &ps);
  MtRng r;
  mt_rng_seed (&r, 77);
  g_autofree float *x = g_new (float, len), *dy = g_new (float, len), *gamma = g_new (float, c);
  g_autofree float *beta = g_new (float, c);
  for (gsize i = 0; i < len; i++) {
    x[i] = (float) (mt_rng_uniform (&r) * 4 - 2);
    dy[i] = (float) (mt_rng_uniform (&r) - 0.5);
  }
  for (int i = 0; i < c; i++) {
    gamma[i] = (float) (0.5 + mt_rng_uniform (&r));
    beta[i] = (float) (mt_rng_uniform (&r) - 0.5);
  }
  /* Every output of each op, per instruction set, one after another in one buffer. */
  gsize per = 4 * len + 6 * c + pooled * 2 + gpooled * 2 + len * 2 + (gsize) n * c;
  float *out[2] = { g_new0 (float, per), g_new0 (float, per) };
  for (int k = 0; k < 2; k++) {
    ck_assert (mt_cpu_set_isa (k ? MT_CPU_ISA_AVX2 : MT_CPU_ISA_GENERIC));
    float *o = out[k], *y = o, *dx = y + len, *yr = dx + len, *dxr = yr + len, *sm = dxr + len, *si = sm + c;
    float *rm = si + c, *rv = rm + c, *dg = rv + c, *db = dg + c, *py = db + c, *pdx = py + pooled;
    float *gy = pdx + pooled, *gdx = gy + gpooled, *ay = gdx + gpooled;
    for (int i = 0; i < c; i++)
      rv[i] = 1;
    g_autofree gint32 *arg = g_new (gint32, MAX (pooled, gpooled));
    mt_cpu_batchnorm_blocked_forward_train (&bn, NULL, x, n, c, hw, gamma, beta, FALSE, y, sm, si, rm, rv);
    mt_cpu_batchnorm_blocked_backward_train (NULL, x, n, c, hw, gamma, sm, si, NULL, dy, dx, dg, db);
    mt_cpu_batchnorm_blocked_forward_train (&bn, NULL, x, n, c, hw, gamma, beta, TRUE, yr, sm, si, rm, rv);
    mt_cpu_batchnorm_blocked_backward_train (NULL, x, n, c, hw, gamma, sm, si, yr, dy, dxr, dg, db);
    mt_cpu_maxpool2_blocked_forward (x, n, c, h, w, py, arg);
    mt_cpu_maxpool2_blocked_backward (arg, n, c, h, w, dy, pdx);
    mt_cpu_maxpool_blocked_forward (&ps, x, n, c, h, w, gy, arg);
    mt_cpu_maxpool_blocked_backward (&ps, arg, n, c, h, w, dy, gdx);
    mt_cpu_avgpool_blocked_forward (x, n, c, hw, ay);
  }
  mt_cpu_set_isa (MT_CPU_ISA_GENERIC);
  ck_assert_msg (memcmp (out[0], out[1], per * sizeof (float)) == 0, "the generic and AVX2 copies differ");
  g_free (out[0]);
  g_free (out[1]);
}
END_TEST

START_TEST (backends_named)
{
  g_autoptr (GError) err = NULL;
  ck_assert_str_eq (mt_backend_names ()[0], "cpu");
  ck_assert (mt_backend_probe ("cpu", NULL, NULL));
  ck_assert_ptr_null (mt_backend_new ("tpu", &err));
  ck_assert_msg (strstr (err->message, "no backend 'tpu'"), "%s", err->message);
  g_clear_error (&err);
  /* Where CUDA cannot run, the reason is a sentence, not a crash. */
  if (!mt_backend_probe ("cuda", NULL, &err)) {
    ck_assert (err && *err->message);
    printf ("backend cuda: %s\n", err->message);
    g_clear_error (&err);
    ck_assert_ptr_null (mt_backend_new ("cuda", &err));
    ck_assert (err != NULL);
  }
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("backend-ops");
  TCase *tc = tcase_create ("ops");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, every_op_has_a_case);
  tcase_add_test (tc, backends_named);
  tcase_add_test (tc, isa_copies_agree_bit_for_bit);
  tcase_add_loop_test (tc, op_on_every_backend, 0, G_N_ELEMENTS (cases));
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}
