/* The CPU ops: each double reference's gradient against central finite differences,
 * and each fast float32 op against its reference, with stated tolerances. */
#include "mt-test-util.h"

#include <math.h>
#include <string.h>

/* Tolerances: finite differences in double agree to ~1e-7 relative; float32 ops agree
 * with the double references to ~1e-5 relative (sums of up to a few hundred terms). */
#define FD_STEP 1e-6
#define FD_TOL 1e-6
#define F32_TOL 2e-5

static MtRng rng;

static double *
rnd (gsize n, double scale)
{
  double *a = g_new (double, n);
  for (gsize i = 0; i < n; i++)
    a[i] = (2 * mt_rng_uniform (&rng) - 1) * scale;
  return a;
}

static float *
to_f (const double *a, gsize n)
{
  float *f = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    f[i] = (float) a[i];
  return f;
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

static void
assert_close_f (const float *got, const double *want, gsize n, double tol, const char *what)
{
  for (gsize i = 0; i < n; i++) {
    double err = fabs ((double) got[i] - want[i]);
    ck_assert_msg (err <= tol * (1 + fabs (want[i])), "%s[%" G_GSIZE_FORMAT "]: %.9g vs %.9g", what, i, got[i], want[i]);
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

  /* The fast float path against the reference. */
  g_autofree double *y = g_new (double, ny);
  conv_fwd (&c, y);
  g_autofree float *xf = to_f (c.x, nx), *wf = to_f (c.weight, nw), *bf = to_f (c.bias, s.out_c), *rf = to_f (r, ny);
  g_autofree float *yf = g_new (float, ny), *dxf = g_new (float, nx), *dwf = g_new (float, nw), *dbf = g_new (float, s.out_c);
  g_autofree float *work = g_new (float, mt_conv2d_workspace (&s, n, h, w));
  mt_conv2d_forward (&s, xf, n, h, w, wf, bf, yf, work);
  assert_close_f (yf, y, ny, F32_TOL, "conv y");
  mt_conv2d_backward (&s, xf, n, h, w, wf, rf, dxf, dwf, dbf, work);
  assert_close_f (dxf, dx, nx, F32_TOL, "conv dx");
  assert_close_f (dwf, dw, nw, F32_TOL, "conv dw");
  assert_close_f (dbf, db, s.out_c, F32_TOL, "conv db");
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
  double *x, *gamma, *beta;
} BnCase;

static void
bn_fwd (gpointer p, double *y)
{
  BnCase *b = p;
  mt_ref_batchnorm_forward (1e-5, b->x, b->n, b->c, b->hw, b->gamma, b->beta, y);
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

  g_autofree double *y = g_new (double, nx);
  bn_fwd (&b, y);
  g_autofree float *xf = to_f (b.x, nx), *gf = to_f (b.gamma, c), *bf = to_f (b.beta, c), *rf = to_f (r, nx);
  g_autofree float *yf = g_new (float, nx), *mean = g_new (float, c), *invstd = g_new (float, c);
  g_autofree float *rm = g_new0 (float, c), *rv = g_new (float, c);
  for (int k = 0; k < c; k++)
    rv[k] = 1;
  MtBnSpec spec = { 0.1, 1e-5 };
  mt_batchnorm_forward_train (&spec, xf, n, c, hw, gf, bf, yf, mean, invstd, rm, rv);
  assert_close_f (yf, y, nx, F32_TOL, "bn y");
  /* Running statistics: momentum 0.1, the unbiased variance. */
  for (int k = 0; k < c; k++) {
    double m = 0, v = 0, cnt = (double) n * hw;
    for (int i = 0; i < n; i++)
      for (int p = 0; p < hw; p++)
        m += b.x[((gsize) i * c + k) * hw + p];
    m /= cnt;
    for (int i = 0; i < n; i++)
      for (int p = 0; p < hw; p++)
        v += pow (b.x[((gsize) i * c + k) * hw + p] - m, 2);
    ck_assert_double_eq_tol (rm[k], 0.1 * m, 1e-6);
    ck_assert_double_eq_tol (rv[k], 0.9 + 0.1 * v / (cnt - 1), 1e-6);
  }
  g_autofree float *dxf = g_new (float, nx), *dgf = g_new (float, c), *dbf = g_new (float, c);
  mt_batchnorm_backward_train (xf, n, c, hw, gf, mean, invstd, rf, dxf, dgf, dbf);
  assert_close_f (dxf, dx, nx, 1e-4, "bn dx");
  assert_close_f (dgf, dg, c, F32_TOL, "bn dgamma");
  assert_close_f (dbf, db, c, F32_TOL, "bn dbeta");

  /* Evaluation mode: the running statistics, and its backward an affine map. */
  mt_batchnorm_forward_eval (&spec, xf, n, c, hw, gf, bf, yf, rm, rv);
  for (int k = 0; k < c; k++) {
    double s = b.gamma[k] / sqrt (rv[k] + 1e-5);
    ck_assert_double_eq_tol (yf[k * hw], (b.x[k * hw] - rm[k]) * s + b.beta[k], 1e-5);
  }
  mt_batchnorm_backward_eval (&spec, n, c, hw, gf, rv, rf, dxf);
  ck_assert_double_eq_tol (dxf[0], r[0] * b.gamma[0] / sqrt (rv[0] + 1e-5), 1e-5);
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
  g_autofree float *xf = to_f (rc.x, 50), *rf = to_f (r, 50), *yf = g_new (float, 50), *dxf = g_new (float, 50);
  mt_relu_forward (xf, 50, yf);
  mt_relu_backward (yf, rf, 50, dxf);
  for (int i = 0; i < 50; i++) {
    ck_assert_float_eq (yf[i], rc.x[i] > 0 ? xf[i] : 0.0f);
    ck_assert_float_eq (dxf[i], (float) dx[i]);
  }
  g_free (rc.x);

  /* Max-pooling on distinct values (no ties), odd sizes drop the last row/column. */
  XCase pc = { 2, 3, 7, 6 };
  gsize nx = 2 * 3 * 7 * 6, ny = 2 * 3 * 3 * 3;
  pc.x = rnd (nx, 1);
  g_autofree double *pr = rnd (ny, 1), *pdx = g_new (double, nx), *py = g_new (double, ny);
  mt_ref_maxpool2_backward (pc.x, 2, 3, 7, 6, pr, pdx);
  g_autofree double *npdx = numeric_grad (pc.x, nx, pool_fwd, &pc, pr, ny);
  assert_close_d (pdx, npdx, nx, FD_TOL, "pool ref dx");
  pool_fwd (&pc, py);
  g_autofree float *pxf = to_f (pc.x, nx), *prf = to_f (pr, ny), *pyf = g_new (float, ny), *pdxf = g_new (float, nx);
  g_autofree gint32 *arg = g_new (gint32, ny);
  mt_maxpool2_forward (pxf, 2, 3, 7, 6, pyf, arg);
  mt_maxpool2_backward (arg, 2, 3, 7, 6, prf, pdxf);
  assert_close_f (pyf, py, ny, 1e-7, "pool y");
  assert_close_f (pdxf, pdx, nx, 1e-7, "pool dx");
  /* Ties go to the first maximum, as in PyTorch. */
  float tie[4] = { 1, 1, 1, 1 }, ty;
  gint32 ta;
  mt_maxpool2_forward (tie, 1, 1, 2, 2, &ty, &ta);
  ck_assert_int_eq (ta, 0);
  g_free (pc.x);
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
  g_autofree double *y = g_new (double, ny);
  lin_fwd (&c, y);
  g_autofree float *xf = to_f (c.x, nx), *wf = to_f (c.weight, nw), *bf = to_f (c.bias, 7), *rf = to_f (r, ny);
  g_autofree float *yf = g_new (float, ny), *dxf = g_new (float, nx), *dwf = g_new (float, nw), *dbf = g_new (float, 7);
  mt_linear_forward (xf, 5, 13, 7, wf, bf, yf);
  mt_linear_backward (xf, 5, 13, 7, wf, rf, dxf, dwf, dbf);
  assert_close_f (yf, y, ny, F32_TOL, "linear y");
  assert_close_f (dxf, dx, nx, F32_TOL, "linear dx");
  assert_close_f (dwf, dw, nw, F32_TOL, "linear dw");
  assert_close_f (dbf, db, 7, F32_TOL, "linear db");
  g_free (c.x);
  g_free (c.weight);
  g_free (c.bias);

  /* Cross-entropy, with large logits to exercise the max shift. */
  const gint64 labels[6] = { 0, 2, 1, 2, 0, 1 };
  CeCase ce = { 6, 3, rnd (18, 4), labels };
  ce.z[4] = 80;
  double one = 1;
  g_autofree double *dz = g_new (double, 18);
  double loss = mt_ref_cross_entropy (ce.z, labels, 6, 3, dz);
  g_autofree double *ndz = numeric_grad (ce.z, 18, ce_fwd, &ce, &one, 1);
  assert_close_d (dz, ndz, 18, FD_TOL, "ce ref dz");
  g_autofree float *zf = to_f (ce.z, 18), *dzf = g_new (float, 18);
  int correct = -1;
  double lf = mt_cross_entropy (zf, labels, 6, 3, dzf, &correct);
  ck_assert_double_eq_tol (lf, loss, 1e-5 * (1 + loss));
  assert_close_f (dzf, dz, 18, F32_TOL, "ce dz");
  int expect = 0;
  for (int i = 0; i < 6; i++) {
    int best = 0;
    for (int k = 1; k < 3; k++)
      if (ce.z[i * 3 + k] > ce.z[i * 3 + best])
        best = k;
    expect += best == labels[i];
  }
  ck_assert_int_eq (correct, expect);
  g_free (ce.z);
}
END_TEST

START_TEST (sgd_matches_pytorch_rule)
{
  /* torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01), two steps, by hand:
   * step 1: g = 0.5 + 0.01 * 2 = 0.52, buf = 0.52, p = 2 - 0.052 = 1.948
   * step 2: g = -1 + 0.01 * 1.948 = -0.98052, buf = 0.9 * 0.52 - 0.98052 = -0.51252,
   *         p = 1.948 + 0.051252 = 1.999252 */
  float p = 2, buf = 0, g1 = 0.5f, g2 = -1.0f;
  mt_sgd_step (&p, &g1, &buf, 1, 0.1, 0.9, 0.01, TRUE);
  ck_assert_double_eq_tol (buf, 0.52, 1e-6);
  ck_assert_double_eq_tol (p, 1.948, 1e-6);
  mt_sgd_step (&p, &g2, &buf, 1, 0.1, 0.9, 0.01, FALSE);
  ck_assert_double_eq_tol (buf, -0.51252, 1e-6);
  ck_assert_double_eq_tol (p, 1.999252, 1e-6);
  /* Without momentum: plain gradient descent. */
  float q = 1, qb = 7, gq = 2;
  mt_sgd_step (&q, &gq, &qb, 1, 0.5, 0.0, 0.0, FALSE);
  ck_assert_double_eq_tol (q, 0.0, 1e-7);
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
  tcase_add_test (tc, linear_and_loss);
  tcase_add_test (tc, sgd_matches_pytorch_rule);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}
