/* The CUDA backend as far as it goes: device selection (auto falls back to the CPU with
 * a notice; --device cuda fails clearly where it cannot run), the kernels compiled by
 * NVRTC (which needs no GPU, so this runs on any machine with the toolkit), and, on a
 * machine with a GPU, each kernel against the CPU op it mirrors. Without a GPU, or in a
 * build without CUDA, those parts skip with a message saying why. */
#include "config.h"
#include "mt-test-util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#ifdef HAVE_CUDA
#include <cuda_runtime_api.h>
#include "mt-cuda-ops.h"
#endif

START_TEST (device_choice)
{
  MtDeviceChoice c;
  ck_assert (mt_device_choice_from_string ("auto", &c) && c == MT_DEVICE_CHOICE_AUTO);
  ck_assert (mt_device_choice_from_string ("cpu", &c) && c == MT_DEVICE_CHOICE_CPU);
  ck_assert (mt_device_choice_from_string ("cuda", &c) && c == MT_DEVICE_CHOICE_CUDA);
  ck_assert (!mt_device_choice_from_string ("gpu", &c));

  g_autoptr (GError) err = NULL;
  g_autofree char *notice = NULL;
  ck_assert_str_eq (mt_device_resolve (MT_DEVICE_CHOICE_CPU, &notice, &err), "cpu");
  ck_assert_ptr_null (notice);
  ck_assert_str_eq (mt_device_resolve (MT_DEVICE_CHOICE_AUTO, &notice, &err), "cpu");
  gboolean gpu = mt_cuda_probe (NULL, NULL);
  if (mt_cuda_built ())
    ck_assert_msg (notice && (gpu ? strstr (notice, "not built yet") : strstr (notice, "running on the CPU")),
                   "%s", notice ? notice : "(no notice)");
  else
    ck_assert_ptr_null (notice);
  /* Asking for CUDA where it cannot run is an error that says why, never a silent CPU run. */
  ck_assert_ptr_null (mt_device_resolve (MT_DEVICE_CHOICE_CUDA, NULL, &err));
  ck_assert_msg (strstr (err->message, gpu ? "not built yet" : mt_cuda_built () ? "no CUDA device" : "without CUDA"),
                 "%s", err->message);
}
END_TEST

START_TEST (kernels_compile_with_nvrtc)
{
  if (!mt_cuda_built ()) {
    printf ("SKIP: NVRTC compilation (this build has no CUDA toolkit)\n");
    return;
  }
  g_autofree char *dir = mt_test_tmpdir ();
  const char *archs[] = { "sm_80", "sm_90" };
  for (guint a = 0; a < G_N_ELEMENTS (archs); a++) {
    g_autoptr (GError) err = NULL;
    g_autofree char *ptx = mt_cuda_compile_kernels (archs[a], dir, &err);
    ck_assert_msg (ptx != NULL, "%s", err ? err->message : "");
    g_autofree char *target = g_strdup_printf (".target %s", archs[a]);
    ck_assert_msg (strstr (ptx, target), "PTX for %s lacks '%s'", archs[a], target);
    for (const char *const *n = mt_cuda_kernel_names (); *n; n++) {
      g_autofree char *entry = g_strdup_printf (".entry %s(", *n);
      ck_assert_msg (strstr (ptx, entry), "no kernel %s in the PTX for %s", *n, archs[a]);
    }
    /* The second request comes from the on-disk cache, byte for byte. */
    g_autofree char *again = mt_cuda_compile_kernels (archs[a], dir, &err);
    ck_assert_str_eq (again, ptx);
  }
  g_autofree char *kdir = g_build_filename (dir, "kernels", NULL);
  g_autoptr (GDir) d = g_dir_open (kdir, 0, NULL);
  guint files = 0;
  while (d && g_dir_read_name (d))
    files++;
  ck_assert_uint_eq (files, 2);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

#ifdef HAVE_CUDA
/* ---- GPU parity: each kernel against the CPU op, on random inputs ------------------ */

static MtCudaKernels *kernels;

static void *
to_device (const void *host, gsize bytes)
{
  void *d = NULL;
  ck_assert (cudaMalloc (&d, MAX (bytes, 1)) == cudaSuccess);
  if (host)
    ck_assert (cudaMemcpy (d, host, bytes, cudaMemcpyHostToDevice) == cudaSuccess);
  return d;
}

static void
to_host (void *host, const void *dev, gsize bytes)
{
  ck_assert (cudaDeviceSynchronize () == cudaSuccess);
  ck_assert (cudaMemcpy (host, dev, bytes, cudaMemcpyDeviceToHost) == cudaSuccess);
}

static void
launch (const char *name, gsize n, guint blocks, guint threads, void **args)
{
  g_autoptr (GError) err = NULL;
  ck_assert_msg (mt_cuda_launch (kernels, name, n, blocks, threads, args, NULL, &err), "%s", err ? err->message : "");
}

static void
random_floats (float *x, gsize n, guint64 seed, float lo, float hi)
{
  MtRng rng;
  mt_rng_seed (&rng, seed);
  for (gsize i = 0; i < n; i++)
    x[i] = lo + (hi - lo) * (float) mt_rng_uniform (&rng);
}

/* float32 work agrees to a relative error far under 1e-3 (here 1e-5 of the scale). */
static void
assert_close (const float *want, const float *got, gsize n, double tol, const char *what)
{
  double scale = 1e-30;
  for (gsize i = 0; i < n; i++)
    scale = MAX (scale, fabs (want[i]));
  for (gsize i = 0; i < n; i++)
    ck_assert_msg (fabs (want[i] - got[i]) <= tol * scale, "%s[%zu]: CPU %.8g, CUDA %.8g", what, i, want[i], got[i]);
}

static gboolean
gpu_ready (void)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *desc = NULL;
  if (!mt_cuda_probe (&desc, &err)) {
    printf ("SKIP: CUDA parity tests: %s\n", err->message);
    return FALSE;
  }
  if (!kernels) {
    struct cudaDeviceProp prop;
    cudaGetDeviceProperties (&prop, 0);
    g_autofree char *arch = g_strdup_printf ("sm_%d%d", prop.major, prop.minor);
    g_autofree char *ptx = mt_cuda_compile_kernels (arch, NULL, &err);
    ck_assert_msg (ptx, "%s", err ? err->message : "");
    kernels = mt_cuda_kernels_load (ptx, &err);
    ck_assert_msg (kernels, "%s", err ? err->message : "");
    printf ("CUDA parity on %s\n", desc);
  }
  return TRUE;
}

START_TEST (parity_elementwise)
{
  if (!gpu_ready ())
    return;
  const gint64 n = 100003;
  g_autofree float *x = g_new (float, n), *dy = g_new (float, n);
  g_autofree float *y = g_new (float, n), *dx = g_new (float, n), *got = g_new (float, n);
  random_floats (x, n, 1, -1, 1);
  random_floats (dy, n, 2, -1, 1);
  mt_relu_forward (x, n, y);
  mt_relu_backward (y, dy, n, dx);
  float *dxx = to_device (x, n * 4), *dyy = to_device (NULL, n * 4), *ddy = to_device (dy, n * 4),
        *ddx = to_device (NULL, n * 4);
  gint64 nn = n;
  void *fa[] = { &dxx, &dyy, &nn };
  launch ("mt_relu_forward", n, 0, 0, fa);
  to_host (got, dyy, n * 4);
  assert_close (y, got, n, 0, "relu forward");
  void *ba[] = { &dyy, &ddy, &ddx, &nn };
  launch ("mt_relu_backward", n, 0, 0, ba);
  to_host (got, ddx, n * 4);
  assert_close (dx, got, n, 0, "relu backward");

  /* SGD with momentum and weight decay, two steps (the first initialises the buffer). */
  g_autofree float *p = g_memdup2 (x, n * 4), *buf = g_new0 (float, n);
  float *dp = to_device (p, n * 4), *dbuf = to_device (NULL, n * 4);
  for (int step = 0; step < 2; step++) {
    mt_sgd_step (p, dy, buf, n, 0.01, 0.9, 1e-4, step == 0);
    float lr = 0.01f, mom = 0.9f, wd = 1e-4f;
    int first = step == 0;
    void *sa[] = { &dp, &ddy, &dbuf, &nn, &lr, &mom, &wd, &first };
    launch ("mt_sgd_step", n, 0, 0, sa);
  }
  to_host (got, dp, n * 4);
  assert_close (p, got, n, 1e-6, "sgd");
  cudaFree (dxx); cudaFree (dyy); cudaFree (ddy); cudaFree (ddx); cudaFree (dp); cudaFree (dbuf);
}
END_TEST

START_TEST (parity_pooling_and_loss)
{
  if (!gpu_ready ())
    return;
  int n = 7, c = 5, h = 9, w = 8, oh = h / 2, ow = w / 2;
  gsize in = (gsize) n * c * h * w, out = (gsize) n * c * oh * ow;
  g_autofree float *x = g_new (float, in), *y = g_new (float, out), *dy = g_new (float, out);
  g_autofree float *dx = g_new0 (float, in), *got = g_new (float, in);
  g_autofree gint32 *arg = g_new (gint32, out), *garg = g_new (gint32, out);
  random_floats (x, in, 3, -1, 1);
  for (gsize i = 0; i < in; i += 7)
    x[i] = x[i + 1 < in ? i + 1 : i];  /* some ties */
  random_floats (dy, out, 4, -1, 1);
  mt_maxpool2_forward (x, n, c, h, w, y, arg);
  mt_maxpool2_backward (arg, n, c, h, w, dy, dx);
  float *dxx = to_device (x, in * 4), *dyy = to_device (NULL, out * 4), *ddy = to_device (dy, out * 4);
  float *ddx = to_device (NULL, in * 4);
  int *darg = to_device (NULL, out * 4);
  int planes = n * c;
  void *fa[] = { &dxx, &dyy, &darg, &planes, &h, &w };
  launch ("mt_maxpool2_forward", out, 0, 0, fa);
  to_host (got, dyy, out * 4);
  assert_close (y, got, out, 0, "maxpool forward");
  to_host (garg, darg, out * 4);
  ck_assert (memcmp (arg, garg, out * 4) == 0);
  ck_assert (cudaMemset (ddx, 0, in * 4) == cudaSuccess);
  void *ba[] = { &darg, &ddy, &ddx, &planes, &h, &w };
  launch ("mt_maxpool2_backward", out, 0, 0, ba);
  to_host (got, ddx, in * 4);
  assert_close (dx, got, in, 0, "maxpool backward");

  /* Cross-entropy: loss, correctness and gradient. */
  int bn = 300, classes = 10;
  g_autofree float *logits = g_new (float, bn * classes), *dl = g_new (float, bn * classes);
  g_autofree float *gdl = g_new (float, bn * classes);
  g_autofree gint64 *labels = g_new (gint64, bn);
  random_floats (logits, bn * classes, 5, -4, 4);
  for (int i = 0; i < bn; i++)
    labels[i] = i % classes;
  int correct = 0;
  double loss = mt_cross_entropy (logits, labels, bn, classes, dl, &correct);
  float *dlog = to_device (logits, bn * classes * 4), *ddl = to_device (NULL, bn * classes * 4);
  gint64 *dlab = to_device (labels, bn * 8);
  double *dloss = to_device (NULL, bn * 8);
  int *dcor = to_device (NULL, bn * 4);
  void *ca[] = { &dlog, &dlab, &ddl, &dloss, &dcor, &bn, &classes };
  launch ("mt_cross_entropy", bn, 0, 0, ca);
  g_autofree double *losses = g_new (double, bn);
  g_autofree int *cors = g_new (int, bn);
  to_host (losses, dloss, bn * 8);
  to_host (cors, dcor, bn * 4);
  to_host (gdl, ddl, bn * classes * 4);
  double sum = 0;
  int gc = 0;
  for (int i = 0; i < bn; i++) {
    sum += losses[i];
    gc += cors[i];
  }
  ck_assert_double_eq_tol (sum / bn, loss, 1e-6 * fabs (loss));
  ck_assert_int_eq (gc, correct);
  assert_close (dl, gdl, bn * classes, 1e-5, "cross-entropy gradient");
  cudaFree (dxx); cudaFree (dyy); cudaFree (ddy); cudaFree (ddx); cudaFree (darg);
  cudaFree (dlog); cudaFree (ddl); cudaFree (dlab); cudaFree (dloss); cudaFree (dcor);
}
END_TEST

START_TEST (parity_saliency_and_masking)
{
  if (!gpu_ready ())
    return;
  /* XGradCAM on SmallCNN's layer shape: 32 channels of 8x8, then 28x28 maps and masks. */
  int n = 6, c = 32, hw = 64, oh = 28, ow = 28;
  gsize len = (gsize) n * c * hw;
  g_autofree float *a = g_new (float, len), *g = g_new (float, len);
  random_floats (a, len, 6, 0, 2);
  random_floats (g, len, 7, -0.1f, 0.1f);
  g_autofree float *want = g_new (float, (gsize) n * oh * ow), *cam = g_new (float, hw);
  for (int s = 0; s < n; s++) {
    mt_cam_compute (MT_CAM_XGRADCAM, a + (gsize) s * c * hw, g + (gsize) s * c * hw, c, hw, cam);
    mt_cam_scale (cam, hw);
    mt_resize_bilinear (cam, 8, 8, want + (gsize) s * oh * ow, oh, ow);
  }
  float *da = to_device (a, len * 4), *dg = to_device (g, len * 4), *dw = to_device (NULL, n * c * 4);
  float *dcam = to_device (NULL, n * hw * 4), *dmap = to_device (NULL, (gsize) n * oh * ow * 4);
  void *wa[] = { &da, &dg, &dw, &hw };
  launch ("mt_cam_weights_xgradcam", 0, n * c, 64, wa);
  void *ca[] = { &da, &dw, &dcam, &n, &c, &hw };
  launch ("mt_cam_combine", (gsize) n * hw, 0, 0, ca);
  void *sa[] = { &dcam, &hw };
  launch ("mt_cam_scale", 0, n, 64, sa);
  int ih = 8, iw = 8;
  void *ra[] = { &dcam, &ih, &iw, &dmap, &oh, &ow, &n };
  launch ("mt_resize_bilinear", (gsize) n * oh * ow, 0, 0, ra);
  g_autofree float *got = g_new (float, (gsize) n * oh * ow);
  to_host (got, dmap, (gsize) n * oh * ow * 4);
  assert_close (want, got, (gsize) n * oh * ow, 1e-4, "xgradcam maps");

  /* MaskTune's mean + 2 std rule on the CPU's maps, so that only the rule is compared. */
  int mhw = oh * ow;
  g_autofree guint8 *keep = g_new (guint8, (gsize) n * mhw), *gkeep = g_new (guint8, (gsize) n * mhw);
  MtMaskRule rule = { .method = MT_MASK_MEAN_STD, .k = 2.0 };
  for (int s = 0; s < n; s++)
    mt_mask_compute (&rule, want + (gsize) s * mhw, mhw, keep + (gsize) s * mhw);
  float *dheat = to_device (want, (gsize) n * mhw * 4);
  guint8 *dkeep = to_device (NULL, (gsize) n * mhw);
  double k = 2.0;
  void *ma[] = { &dheat, &dkeep, &mhw, &k };
  launch ("mt_mask_mean_std", 0, n, 256, ma);
  to_host (gkeep, dkeep, (gsize) n * mhw);
  ck_assert (memcmp (keep, gkeep, (gsize) n * mhw) == 0);
  cudaFree (da); cudaFree (dg); cudaFree (dw); cudaFree (dcam); cudaFree (dmap); cudaFree (dheat); cudaFree (dkeep);
}
END_TEST

START_TEST (parity_layers)
{
  if (!gpu_ready ())
    return;
  g_autoptr (GError) err = NULL;
  g_autoptr (MtCudaContext) ctx = mt_cuda_context_new (NULL, &err);
  ck_assert_msg (ctx, "%s", err ? err->message : "");

  /* Linear 512 -> 256 on a batch of 64: forward and the three gradients. */
  int n = 64, in = 512, out = 256;
  g_autofree float *x = g_new (float, n * in), *w = g_new (float, out * in), *b = g_new (float, out);
  g_autofree float *dy = g_new (float, n * out), *y = g_new (float, n * out), *dx = g_new (float, n * in);
  g_autofree float *dw = g_new (float, out * in), *db = g_new (float, out);
  random_floats (x, n * in, 11, -1, 1);
  random_floats (w, out * in, 12, -0.05f, 0.05f);
  random_floats (b, out, 13, -0.1f, 0.1f);
  random_floats (dy, n * out, 14, -1, 1);
  mt_linear_forward (x, n, in, out, w, b, y);
  mt_linear_backward (x, n, in, out, w, dy, dx, dw, db);
  float *gx = to_device (x, n * in * 4), *gw = to_device (w, out * in * 4), *gb = to_device (b, out * 4);
  float *gdy = to_device (dy, n * out * 4), *gy = to_device (NULL, n * out * 4), *gdx = to_device (NULL, n * in * 4);
  float *gdw = to_device (NULL, out * in * 4), *gdb = to_device (NULL, out * 4);
  ck_assert_msg (mt_cuda_linear_forward (ctx, gx, n, in, out, gw, gb, gy, &err) &&
                 mt_cuda_linear_backward (ctx, gx, n, in, out, gw, gdy, gdx, gdw, gdb, &err), "%s", err ? err->message : "");
  g_autofree float *got = g_new (float, n * in > out * in ? n * in : out * in);
  to_host (got, gy, n * out * 4);
  assert_close (y, got, n * out, 1e-5, "linear forward");
  to_host (got, gdx, n * in * 4);
  assert_close (dx, got, n * in, 1e-5, "linear dx");
  to_host (got, gdw, out * in * 4);
  assert_close (dw, got, out * in, 1e-5, "linear dweight");
  to_host (got, gdb, out * 4);
  assert_close (db, got, out, 1e-5, "linear dbias");
  cudaFree (gx); cudaFree (gw); cudaFree (gb); cudaFree (gdy); cudaFree (gy); cudaFree (gdx); cudaFree (gdw); cudaFree (gdb);

  /* SmallCNN's second convolution (16 -> 16, 3x3, pad 1) on 28x28, forward and backward. */
  MtConvSpec cs = { 16, 16, 3, 1, 1 };
  int cn = 8, h = 28, wd = 28;
  gsize xs = (gsize) cn * 16 * h * wd, ws = 16 * 16 * 9;
  g_autofree float *cx = g_new (float, xs), *cw = g_new (float, ws), *cb = g_new (float, 16);
  g_autofree float *cy = g_new (float, xs), *cdy = g_new (float, xs), *cdx = g_new (float, xs);
  g_autofree float *cdw = g_new (float, ws), *cdb = g_new (float, 16);
  random_floats (cx, xs, 15, -1, 1);
  random_floats (cw, ws, 16, -0.2f, 0.2f);
  random_floats (cb, 16, 17, -0.1f, 0.1f);
  random_floats (cdy, xs, 18, -1, 1);
  g_autofree float *work = g_new (float, mt_conv2d_workspace (&cs, cn, h, wd));
  mt_conv2d_forward (&cs, cx, cn, h, wd, cw, cb, cy, work);
  mt_conv2d_backward (&cs, cx, cn, h, wd, cw, cdy, cdx, cdw, cdb, work);
  float *dcx = to_device (cx, xs * 4), *dcw = to_device (cw, ws * 4), *dcb = to_device (cb, 64);
  float *dcy = to_device (NULL, xs * 4), *dcdy = to_device (cdy, xs * 4), *dcdx = to_device (NULL, xs * 4);
  float *dcdw = to_device (NULL, ws * 4), *dcdb = to_device (NULL, 64);
  ck_assert_msg (mt_cuda_conv2d_forward (ctx, &cs, dcx, cn, h, wd, dcw, dcb, dcy, &err) &&
                 mt_cuda_conv2d_backward (ctx, &cs, dcx, cn, h, wd, dcw, dcdy, dcdx, dcdw, dcdb, &err),
                 "%s", err ? err->message : "");
  g_autofree float *cgot = g_new (float, xs);
  to_host (cgot, dcy, xs * 4);
  assert_close (cy, cgot, xs, 1e-5, "conv forward");
  to_host (cgot, dcdx, xs * 4);
  assert_close (cdx, cgot, xs, 1e-5, "conv dx");
  to_host (cgot, dcdw, ws * 4);
  assert_close (cdw, cgot, ws, 1e-4, "conv dweight");
  to_host (cgot, dcdb, 64);
  assert_close (cdb, cgot, 16, 1e-4, "conv dbias");
  cudaFree (dcx); cudaFree (dcw); cudaFree (dcb); cudaFree (dcy); cudaFree (dcdy); cudaFree (dcdx); cudaFree (dcdw);
  cudaFree (dcdb);

  /* Batch norm in training mode: output, saved statistics, running statistics, gradients. */
  MtBnSpec bs = { 0.1, 1e-5 };
  int bc = 16, hw = 14 * 14;
  gsize bl = (gsize) cn * bc * hw;
  g_autofree float *g = g_new (float, bc), *be = g_new (float, bc), *rm = g_new0 (float, bc), *rv = g_new (float, bc);
  g_autofree float *by = g_new (float, bl), *sm = g_new (float, bc), *si = g_new (float, bc);
  g_autofree float *bdx = g_new (float, bl), *dg = g_new (float, bc), *dbe = g_new (float, bc);
  random_floats (g, bc, 19, 0.5f, 1.5f);
  random_floats (be, bc, 20, -0.5f, 0.5f);
  for (int i = 0; i < bc; i++)
    rv[i] = 1.0f;
  float *drm = to_device (rm, bc * 4), *drv = to_device (rv, bc * 4);
  mt_batchnorm_forward_train (&bs, cx, cn, bc, hw, g, be, by, sm, si, rm, rv);
  mt_batchnorm_backward_train (cx, cn, bc, hw, g, sm, si, cdy, bdx, dg, dbe);
  float *dbx = to_device (cx, bl * 4), *dgm = to_device (g, bc * 4), *dbt = to_device (be, bc * 4);
  float *dby = to_device (NULL, bl * 4), *dsm = to_device (NULL, bc * 4), *dsi = to_device (NULL, bc * 4);
  float *dbdy = to_device (cdy, bl * 4), *dbdx = to_device (NULL, bl * 4), *ddg = to_device (NULL, bc * 4);
  float *ddbe = to_device (NULL, bc * 4);
  ck_assert_msg (mt_cuda_batchnorm_forward_train (ctx, &bs, dbx, cn, bc, hw, dgm, dbt, dby, dsm, dsi, drm, drv, &err) &&
                 mt_cuda_batchnorm_backward_train (ctx, &bs, dbx, cn, bc, hw, dgm, dsm, dsi, dbdy, dbdx, ddg, ddbe, &err),
                 "%s", err ? err->message : "");
  g_autofree float *bgot = g_new (float, bl);
  to_host (bgot, dby, bl * 4);
  assert_close (by, bgot, bl, 1e-5, "batch norm forward");
  to_host (bgot, drm, bc * 4);
  assert_close (rm, bgot, bc, 1e-5, "running mean");
  to_host (bgot, drv, bc * 4);
  assert_close (rv, bgot, bc, 1e-5, "running var");
  to_host (bgot, dbdx, bl * 4);
  assert_close (bdx, bgot, bl, 1e-4, "batch norm dx");
  to_host (bgot, ddg, bc * 4);
  assert_close (dg, bgot, bc, 1e-4, "batch norm dgamma");
  cudaFree (drm); cudaFree (drv); cudaFree (dbx); cudaFree (dgm); cudaFree (dbt); cudaFree (dby); cudaFree (dsm);
  cudaFree (dsi); cudaFree (dbdy); cudaFree (dbdx); cudaFree (ddg); cudaFree (ddbe);
}
END_TEST
#endif

int
main (void)
{
  Suite *s = suite_create ("cuda");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, device_choice);
  tcase_add_test (tc, kernels_compile_with_nvrtc);
#ifdef HAVE_CUDA
  tcase_add_test (tc, parity_elementwise);
  tcase_add_test (tc, parity_pooling_and_loss);
  tcase_add_test (tc, parity_saliency_and_masking);
  tcase_add_test (tc, parity_layers);
#endif
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}
