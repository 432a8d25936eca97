/* The double references of the backend ops (ml/cpu/mt-ref-ops.h): each gradient against
 * central finite differences, and the SGD rule against PyTorch's worked by hand. (Every
 * backend's float32 ops are held to these references by test-backend-ops.) */
#include "tests/mt-test-util.h"

#include <math.h>
#include <string.h>

/* Tolerance: finite differences in double agree to ~1e-7 relative. */
#define FD_STEP 1e-6
#define FD_TOL 1e-6

static MtRng rng;

static double *
rnd (gsize n, double scale)
{
  return mt_test_random (&rng, n, scale);
}

static double
dot (const double *a, const double *b, gsize n)
{
  double s = 0;
  for (gsize i = 0; i < n; i++)
    s += a[i] * b[i];
  return s;
}

static void
assert_close_d (const double *got, const double *want, gsize n, double tol, const char *what)
{
  for (gsize i = 0; i < n; i++) {
    double err = fabs (got[i] - want[i]);
    ck_assert_msg (err <= tol * (1 + fabs (want[i])), "%s[%" G_GSIZE_FORMAT "]: %.12g vs %.12g", what, i, got[i], want[i]);
  }
}

/* d/dv of sum(f(v) * r) by central differences, for every element of v. */
typedef void (*Forward) (gpointer ctx, double *y);

static double *
numeric_grad (double *v, gsize n, Forward f, gpointer ctx, const double *r, gsize ny)
{
  double *g = g_new (double, n);
  g_autofree double *y = g_new (double, ny);
  for (gsize i = 0; i < n; i++) {
    double keep = v[i];
    v[i] = keep + FD_STEP;
    f (ctx, y);
    double up = dot (y, r, ny);
    v[i] = keep - FD_STEP;
    f (ctx, y);
    double down = dot (y, r, ny);
    v[i] = keep;
    g[i] = (up - down) / (2 * FD_STEP);
  }
  return g;
}

/* ---- convolution ---------------------------------------------------------------- */

typedef struct {
  MtConvSpec s;
  int n, h, w;
  double *x, *weight, *bias;
} ConvCase;

static void
conv_fwd (gpointer p, double *y)
{
  ConvCase *c = p;
  mt_ref_conv2d_forward (&c->s, c->x, c->n, c->h, c->w, c->weight, c->bias, y);
}

static void
check_conv (MtConvSpec s, int n, int h, int w)
{
  ConvCase c = { s, n, h, w };
  int oh = mt_conv_out (h, s.k, s.stride, s.pad), ow = mt_conv_out (w, s.k, s.stride, s.pad);
  gsize nx = (gsize) n * s.in_c * h * w, nw = (gsize) s.out_c * s.in_c * s.k * s.k, ny = (gsize) n * s.out_c * oh * ow;
  c.x = rnd (nx, 1);
  c.weight = rnd (nw, 0.5);
  c.bias = rnd (s.out_c, 0.5);
  g_autofree double *r = rnd (ny, 1);
  g_autofree double *dx = g_new (double, nx), *dw = g_new (double, nw), *db = g_new (double, s.out_c);
  mt_ref_conv2d_backward (&s, c.x, n, h, w, c.weight, r, dx, dw, db);
  g_autofree double *ndx = numeric_grad (c.x, nx, conv_fwd, &c, r, ny);
  g_autofree double *ndw = numeric_grad (c.weight, nw, conv_fwd, &c, r, ny);
  g_autofree double *ndb = numeric_grad (c.bias, s.out_c, conv_fwd, &c, r, ny);
  assert_close_d (dx, ndx, nx, FD_TOL, "conv ref dx");
  assert_close_d (dw, ndw, nw, FD_TOL, "conv ref dw");
  assert_close_d (db, ndb, s.out_c, FD_TOL, "conv ref db");

  g_free (c.x);
  g_free (c.weight);
  g_free (c.bias);
}

START_TEST (conv2d)
{
  mt_rng_seed (&rng, 1);
  check_conv ((MtConvSpec) { 3, 4, 3, 1, 0 }, 2, 7, 6);
  check_conv ((MtConvSpec) { 2, 3, 3, 2, 1 }, 3, 6, 5);
  check_conv ((MtConvSpec) { 1, 2, 1, 1, 0 }, 2, 4, 4);
  check_conv ((MtConvSpec) { 16, 8, 3, 1, 0 }, 5, 10, 10);  /* more images than threads */
}
END_TEST

/* ---- batch normalisation ---------------------------------------------------------- */

typedef struct {
  int n, c, hw;
  double *x, *gamma, *beta, *rm, *rv;
} BnCase;

static void
bn_fwd (gpointer p, double *y)
{
  BnCase *b = p;
  mt_ref_batchnorm_forward (1e-5, b->x, b->n, b->c, b->hw, b->gamma, b->beta, y);
}

static void
bn_eval_fwd (gpointer p, double *y)
{
  BnCase *b = p;
  mt_ref_batchnorm_forward_eval (1e-5, b->x, b->n, b->c, b->hw, b->gamma, b->beta, b->rm, b->rv, y);
}

static void
check_bn (int n, int c, int hw)
{
  BnCase b = { n, c, hw };
  gsize nx = (gsize) n * c * hw;
  b.x = rnd (nx, 2);
  b.gamma = rnd (c, 1);
  b.beta = rnd (c, 1);
  g_autofree double *r = rnd (nx, 1);
  g_autofree double *dx = g_new (double, nx), *dg = g_new (double, c), *db = g_new (double, c);
  mt_ref_batchnorm_backward (1e-5, b.x, n, c, hw, b.gamma, r, dx, dg, db);
  g_autofree double *ndx = numeric_grad (b.x, nx, bn_fwd, &b, r, nx);
  g_autofree double *ndg = numeric_grad (b.gamma, c, bn_fwd, &b, r, nx);
  g_autofree double *ndb = numeric_grad (b.beta, c, bn_fwd, &b, r, nx);
  assert_close_d (dx, ndx, nx, 1e-5, "bn ref dx");
  assert_close_d (dg, ndg, c, FD_TOL, "bn ref dgamma");
  assert_close_d (db, ndb, c, FD_TOL, "bn ref dbeta");

  /* Evaluation mode is an affine map per channel: its backward by finite differences. */
  b.rm = rnd (c, 0.5);
  b.rv = g_new (double, c);
  for (int k = 0; k < c; k++)
    b.rv[k] = 0.5 + mt_rng_uniform (&rng);
  mt_ref_batchnorm_backward_eval (1e-5, n, c, hw, b.gamma, b.rv, r, dx);
  g_autofree double *nedx = numeric_grad (b.x, nx, bn_eval_fwd, &b, r, nx);
  assert_close_d (dx, nedx, nx, FD_TOL, "bn eval ref dx");
  g_free (b.rm);
  g_free (b.rv);
  g_free (b.x);
  g_free (b.gamma);
  g_free (b.beta);
}

START_TEST (batchnorm)
{
  mt_rng_seed (&rng, 2);
  check_bn (4, 3, 5 * 6);  /* 2-D */
  check_bn (16, 7, 1);     /* 1-D */
}
END_TEST

/* ---- ReLU, pooling, linear, loss -------------------------------------------------- */

typedef struct {
  int n, c, h, w;
  double *x;
} XCase;

static void
relu_fwd (gpointer p, double *y)
{
  XCase *c = p;
  mt_ref_relu_forward (c->x, (gsize) c->n, y);
}

static void
pool_fwd (gpointer p, double *y)
{
  XCase *c = p;
  mt_ref_maxpool2_forward (c->x, c->n, c->c, c->h, c->w, y);
}

START_TEST (relu_and_maxpool)
{
  mt_rng_seed (&rng, 3);
  /* ReLU away from its kink, where the derivative exists. */
  XCase rc = { 50 };
  rc.x = rnd (50, 1);
  for (int i = 0; i < 50; i++)
    if (fabs (rc.x[i]) < 0.01)
      rc.x[i] = 0.5;
  g_autofree double *r = rnd (50, 1);
  g_autofree double *dx = g_new (double, 50);
  mt_ref_relu_backward (rc.x, r, 50, dx);
  g_autofree double *ndx = numeric_grad (rc.x, 50, relu_fwd, &rc, r, 50);
  assert_close_d (dx, ndx, 50, FD_TOL, "relu ref dx");
  g_free (rc.x);

  /* Max-pooling on distinct values (no ties), odd sizes drop the last row/column. */
  XCase pc = { 2, 3, 7, 6 };
  gsize nx = 2 * 3 * 7 * 6, ny = 2 * 3 * 3 * 3;
  pc.x = rnd (nx, 1);
  g_autofree double *pr = rnd (ny, 1), *pdx = g_new (double, nx);
  mt_ref_maxpool2_backward (pc.x, 2, 3, 7, 6, pr, pdx);
  g_autofree double *npdx = numeric_grad (pc.x, nx, pool_fwd, &pc, pr, ny);
  assert_close_d (pdx, npdx, nx, FD_TOL, "pool ref dx");
  g_free (pc.x);
}
END_TEST

/* ---- the residual networks' ops ------------------------------------------------------ */

typedef struct {
  MtPoolSpec s;
  int n, c, h, w, out_c, stride;
  double *x, *b;
} ResCase;

static void
gpool_fwd (gpointer p, double *y)
{
  ResCase *c = p;
  mt_ref_maxpool_forward (&c->s, c->x, c->n, c->c, c->h, c->w, y);
}

static void
avg_fwd (gpointer p, double *y)
{
  ResCase *c = p;
  mt_ref_avgpool_forward (c->x, c->n, c->c, c->h * c->w, y);
}

static void
add_fwd (gpointer p, double *y)
{
  ResCase *c = p;
  mt_ref_add (c->x, c->b, (gsize) c->n, y);
}

static void
shortcut_fwd (gpointer p, double *y)
{
  ResCase *c = p;
  mt_ref_shortcut_forward (c->x, c->n, c->c, c->h, c->w, c->out_c, c->stride, y);
}

START_TEST (resnet_ops)
{
  mt_rng_seed (&rng, 11);
  /* 3x3, stride 2, pad 1 (the ResNet stem) and 2x2/1/0 on odd sizes; overlapping windows
   * let one pixel win twice, so its gradient is the sum. Distinct values: no ties. */
  const MtPoolSpec specs[] = { { 3, 2, 1 }, { 2, 1, 0 }, { 3, 3, 0 } };
  for (guint k = 0; k < G_N_ELEMENTS (specs); k++) {
    ResCase pc = { specs[k], 2, 3, 7, 9 };
    gsize nx = 2 * 3 * 7 * 9, ny = 2 * 3 * mt_pool_out (7, &specs[k]) * mt_pool_out (9, &specs[k]);
    pc.x = rnd (nx, 1);
    g_autofree double *r = rnd (ny, 1), *dx = g_new (double, nx);
    mt_ref_maxpool_backward (&pc.s, pc.x, 2, 3, 7, 9, r, dx);
    g_autofree double *ndx = numeric_grad (pc.x, nx, gpool_fwd, &pc, r, ny);
    assert_close_d (dx, ndx, nx, FD_TOL, "maxpool ref dx");
    g_free (pc.x);
  }
  /* Global average pooling. */
  ResCase ac = { { 0 }, 2, 3, 5, 4 };
  ac.x = rnd (120, 1);
  g_autofree double *ar = rnd (6, 1), *adx = g_new (double, 120);
  mt_ref_avgpool_backward (ar, 2, 3, 20, adx);
  g_autofree double *nadx = numeric_grad (ac.x, 120, avg_fwd, &ac, ar, 6);
  assert_close_d (adx, nadx, 120, FD_TOL, "avgpool ref dx");
  g_free (ac.x);
  /* The add: the gradient reaches both operands unchanged. */
  ResCase dc = { { 0 }, 40 };
  dc.x = rnd (40, 1);
  dc.b = rnd (40, 1);
  g_autofree double *dr = rnd (40, 1);
  g_autofree double *nda = numeric_grad (dc.x, 40, add_fwd, &dc, dr, 40);
  g_autofree double *ndb = numeric_grad (dc.b, 40, add_fwd, &dc, dr, 40);
  assert_close_d (nda, dr, 40, FD_TOL, "add d/da");
  assert_close_d (ndb, dr, 40, FD_TOL, "add d/db");
  g_free (dc.x);
  g_free (dc.b);
  /* The option-A shortcut: 4 -> 8 channels, stride 2, odd size (ceil). */
  ResCase sc = { { 0 }, 2, 4, 5, 7, 8, 2 };
  gsize nx = 2 * 4 * 5 * 7, ny = 2 * 8 * 3 * 4;
  sc.x = rnd (nx, 1);
  g_autofree double *sr = rnd (ny, 1), *sdx = g_new (double, nx);
  mt_ref_shortcut_backward (sr, 2, 4, 5, 7, 8, 2, sdx);
  g_autofree double *nsdx = numeric_grad (sc.x, nx, shortcut_fwd, &sc, sr, ny);
  assert_close_d (sdx, nsdx, nx, FD_TOL, "shortcut ref dx");
  g_autofree double *sy = g_new (double, ny);
  mt_ref_shortcut_forward (sc.x, 2, 4, 5, 7, 8, 2, sy);
  ck_assert (sy[0] == 0 && sy[2 * 12 + 0] == sc.x[0]);  /* channel 0 padded; channel 2 = input 0 at (0, 0) */
  g_free (sc.x);
}
END_TEST

typedef struct {
  int n, in, out;
  double *x, *weight, *bias;
} LinCase;

static void
lin_fwd (gpointer p, double *y)
{
  LinCase *c = p;
  mt_ref_linear_forward (c->x, c->n, c->in, c->out, c->weight, c->bias, y);
}

typedef struct {
  int n, classes;
  double *z;
  const gint64 *labels;
} CeCase;

static void
ce_fwd (gpointer p, double *y)
{
  CeCase *c = p;
  y[0] = mt_ref_cross_entropy (c->z, c->labels, c->n, c->classes, NULL);
}

START_TEST (linear_and_loss)
{
  mt_rng_seed (&rng, 4);
  LinCase c = { 5, 13, 7 };
  gsize nx = 5 * 13, nw = 7 * 13, ny = 5 * 7;
  c.x = rnd (nx, 1);
  c.weight = rnd (nw, 1);
  c.bias = rnd (7, 1);
  g_autofree double *r = rnd (ny, 1), *dx = g_new (double, nx), *dw = g_new (double, nw), *db = g_new (double, 7);
  mt_ref_linear_backward (c.x, 5, 13, 7, c.weight, r, dx, dw, db);
  g_autofree double *ndx = numeric_grad (c.x, nx, lin_fwd, &c, r, ny);
  g_autofree double *ndw = numeric_grad (c.weight, nw, lin_fwd, &c, r, ny);
  g_autofree double *ndb = numeric_grad (c.bias, 7, lin_fwd, &c, r, ny);
  assert_close_d (dx, ndx, nx, FD_TOL, "linear ref dx");
  assert_close_d (dw, ndw, nw, FD_TOL, "linear ref dw");
  assert_close_d (db, ndb, 7, FD_TOL, "linear ref db");
  g_free (c.x);
  g_free (c.weight);
  g_free (c.bias);

  /* Cross-entropy, with large logits to exercise the max shift. */
  const gint64 labels[6] = { 0, 2, 1, 2, 0, 1 };
  CeCase ce = { 6, 3, rnd (18, 4), labels };
  ce.z[4] = 80;
  double one = 1;
  g_autofree double *dz = g_new (double, 18);
  mt_ref_cross_entropy (ce.z, labels, 6, 3, dz);
  g_autofree double *ndz = numeric_grad (ce.z, 18, ce_fwd, &ce, &one, 1);
  assert_close_d (dz, ndz, 18, FD_TOL, "ce ref dz");
  g_free (ce.z);
}
END_TEST

START_TEST (sgd_matches_pytorch_rule)
{
  /* torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01), two steps, by hand:
   * step 1: g = 0.5 + 0.01 * 2 = 0.52, buf = 0.52, p = 2 - 0.052 = 1.948
   * step 2: g = -1 + 0.01 * 1.948 = -0.98052, buf = 0.9 * 0.52 - 0.98052 = -0.51252,
   *         p = 1.948 + 0.051252 = 1.999252 */
  MtSgdSpec sgd = { 0.1, 0.9, 0.01, FALSE };
  double p = 2, buf = 0, g1 = 0.5, g2 = -1.0;
  mt_ref_sgd_step (&sgd, &p, &g1, &buf, 1, TRUE);
  ck_assert_double_eq_tol (buf, 0.52, 1e-6);
  ck_assert_double_eq_tol (p, 1.948, 1e-6);
  mt_ref_sgd_step (&sgd, &p, &g2, &buf, 1, FALSE);
  ck_assert_double_eq_tol (buf, -0.51252, 1e-6);
  ck_assert_double_eq_tol (p, 1.999252, 1e-6);
  /* Nesterov, the same two steps: p -= lr * (g + momentum * buf)
   * step 1: p = 2 - 0.1 * (0.52 + 0.468) = 1.9012
   * step 2: g = -1 + 0.019012 = -0.980988, buf = 0.468 - 0.980988 = -0.512988,
   *         p = 1.9012 - 0.1 * (-0.980988 - 0.4616892) = 2.04546772 */
  MtSgdSpec nag = { 0.1, 0.9, 0.01, TRUE };
  p = 2;
  mt_ref_sgd_step (&nag, &p, &g1, &buf, 1, TRUE);
  ck_assert_double_eq_tol (p, 1.9012, 1e-9);
  mt_ref_sgd_step (&nag, &p, &g2, &buf, 1, FALSE);
  ck_assert_double_eq_tol (buf, -0.512988, 1e-9);
  ck_assert_double_eq_tol (p, 2.04546772, 1e-9);
  /* Without momentum: plain gradient descent, and the buffer is left alone. */
  MtSgdSpec plain = { 0.5, 0.0, 0.0, FALSE };
  double q = 1, qb = 7, gq = 2;
  mt_ref_sgd_step (&plain, &q, &gq, &qb, 1, FALSE);
  ck_assert_double_eq_tol (q, 0.0, 1e-7);
  ck_assert_double_eq (qb, 7.0);
}
END_TEST

START_TEST (adam_matches_pytorch_rule)
{
  /* torch.optim.Adam([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8), by hand:
   * step 1: m = 0.1 g, v = 0.001 g^2, the corrected step is lr * g / |g| = 0.1 whatever g;
   * step 2 with g2 = -g1 = -0.5: m = 0.09*0.5 - 0.05 = -0.005, v = 0.000999*0.25 + 0.00025
   *   = 0.00049975; m / (1 - 0.81) = -0.026315789..., sqrt (v / (1 - 0.998001)) = 0.5 */
  MtAdamSpec a = { 0.1, 0.9, 0.999, 1e-8, 0.0, 1 };
  double p = 2, m = 0, v = 0, g1 = 0.5, g2 = -0.5;
  mt_ref_adam_step (&a, &p, &g1, &m, &v, 1);
  ck_assert_double_eq_tol (p, 1.9, 1e-7);
  a.step = 2;
  mt_ref_adam_step (&a, &p, &g2, &m, &v, 1);
  ck_assert_double_eq_tol (m, -0.005, 1e-12);
  ck_assert_double_eq_tol (v, 0.00049975, 1e-12);
  ck_assert_double_eq_tol (p, 1.9 + 0.1 * (0.005 / 0.19) / 0.5, 1e-7);
  /* The float kernel follows the reference. */
  float pf = 2, mf = 0, vf = 0, gf1 = 0.5f, gf2 = -0.5f;
  a.step = 1;
  mt_cpu_adam_step (&a, &pf, &gf1, &mf, &vf, 1);
  a.step = 2;
  mt_cpu_adam_step (&a, &pf, &gf2, &mf, &vf, 1);
  ck_assert_double_eq_tol (pf, p, 1e-6);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("ops");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, conv2d);
  tcase_add_test (tc, batchnorm);
  tcase_add_test (tc, relu_and_maxpool);
  tcase_add_test (tc, resnet_ops);
  tcase_add_test (tc, linear_and_loss);
  tcase_add_test (tc, sgd_matches_pytorch_rule);
  tcase_add_test (tc, adam_matches_pytorch_rule);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}
