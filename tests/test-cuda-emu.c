/* The CUDA kernels of ml/cuda/kernels/ without a GPU: each runs in the host emulation of
 * CUDA launches (ml/cuda/emu/), through its typed launcher, against the CPU op it
 * mirrors, for block sizes that are and are not powers of two and for grids smaller
 * than the work (so grid-stride loops go round). CI runs this suite under ASan/UBSan
 * and, alone, under ThreadSanitizer. Where the kernel does the CPU's arithmetic in the
 * CPU's order the results must be the same bits; where a block reduction sums in
 * another order, they agree to the stated tolerance. */
#include "config.h"
#include "tests/mt-test-util.h"
#include "ml/cuda/mt-cuda-kernels.h"
#include "ml/cuda/emu/mt-cuda-emu.h"
#include "ml/cpu/mt-cpu.h"
#include "ml/cpu/mt-ops.h"
#include "ml/mt-mask.h"
#include "ml/mt-saliency.h"

#include <math.h>
#include <string.h>

gboolean mt_test_emu_divergent_barrier (guint threads, int *out, GError **error);
gboolean mt_test_emu_barrier_after_return (guint threads, int *out, int n, GError **error);
gboolean mt_test_emu_halving_block_sum (guint threads, const float *x, float *sum, GError **error);
gboolean mt_test_emu_barrier_called_elementwise (guint threads, int *out, GError **error);

/* Grid-stride kernels: the default grid, one thread, and small odd grids. */
static const struct { guint blocks, threads; } grids[] = { { 0, 0 }, { 1, 1 }, { 3, 48 }, { 2, 100 }, { 1, 1024 } };
/* Kernels with one block per item and a block reduction. */
static const guint block_sizes[] = { 1, 7, 32, 48, 100, 256, 1024 };

static MtCudaLaunch
emu (gsize n, guint blocks, guint threads)
{
  return (MtCudaLaunch) { .n = n, .blocks = blocks, .threads = threads, .host = mt_cuda_emu_launch };
}

#define RUN(l, fn, ...) G_STMT_START { \
    MtCudaLaunch l_ = (l); \
    g_autoptr (GError) e_ = NULL; \
    ck_assert_msg (fn (&l_, __VA_ARGS__, &e_), "%s", e_ ? e_->message : ""); \
  } G_STMT_END

static float *
random_floats (gsize n, guint64 seed, float lo, float hi)
{
  float *x = g_new (float, n);
  MtRng rng;
  mt_rng_seed (&rng, seed);
  for (gsize i = 0; i < n; i++)
    x[i] = lo + (hi - lo) * (float) mt_rng_uniform (&rng);
  return x;
}

static void
assert_same_bits (const void *want, const void *got, gsize bytes, const char *what, guint blocks, guint threads)
{
  if (memcmp (want, got, bytes) == 0)
    return;
  gsize i = 0;
  while (((const guint8 *) want)[i] == ((const guint8 *) got)[i])
    i++;
  ck_abort_msg ("%s (%u blocks of %u threads): byte %zu differs from the CPU's", what, blocks, threads, i);
}

static void
assert_close (const float *want, const float *got, gsize n, double tol, const char *what, guint threads)
{
  double scale = 1e-30;
  for (gsize i = 0; i < n; i++)
    scale = MAX (scale, fabs (want[i]));
  for (gsize i = 0; i < n; i++)
    ck_assert_msg (fabs (want[i] - got[i]) <= tol * scale, "%s[%zu] (blocks of %u): CPU %.9g, emulated %.9g", what,
                   i, threads, want[i], got[i]);
}

static void
setup (void)
{
  /* The CPU ops run on one thread here: ThreadSanitizer does not see into libgomp. */
  mt_cpu_set_threads (1);
}

/* ---- the emulator itself ---------------------------------------------------------------- */

START_TEST (every_kernel_is_emulated)
{
  const char *const *gpu = mt_cuda_kernel_names (), *const *host = mt_cuda_emu_kernel_names ();
  ck_assert_uint_eq (g_strv_length ((char **) gpu), g_strv_length ((char **) host));
  for (const char *const *n = gpu; *n; n++)
    ck_assert_msg (g_strv_contains (host, *n), "kernel %s is not in ml/cuda/emu/mt-cuda-emu.cc's table", *n);
}
END_TEST

/* What a GPU refuses or gets wrong silently, the emulator refuses with a message. */
START_TEST (bad_launches_are_refused)
{
  float x = 1, y = 0;
  gint64 n = 1;
  int n32 = 1;
  const float *px = &x;
  float *py = &y;
  void *args[] = { &px, &py, &n };
  const char *ok[] = { "u64", "u64", "u64" }, *narrow[] = { "u64", "u64", "u32" };
  g_autoptr (GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL, e5 = NULL;
  ck_assert (mt_cuda_emu_launch ("mt_relu_forward", 1, 1, 32, args, ok, 3, NULL));
  void *args32[] = { &px, &py, &n32 };
  ck_assert (!mt_cuda_emu_launch ("mt_relu_forward", 1, 1, 32, args32, narrow, 3, &e1));
  ck_assert_msg (strstr (e1->message, "takes (u64 u64 u64); the launch passes (u64 u64 u32)"), "%s", e1->message);
  ck_assert (!mt_cuda_emu_launch ("mt_relu_forward", 1, 1, 32, args, ok, 2, &e2));
  ck_assert (!mt_cuda_emu_launch ("mt_relu_forward", 1, 1, 1025, args, ok, 3, &e3));
  ck_assert_msg (strstr (e3->message, "invalid configuration"), "%s", e3->message);
  ck_assert (!mt_cuda_emu_launch ("mt_relu_forward", 1, 1, 0, args, ok, 3, &e4));
  ck_assert (!mt_cuda_emu_launch ("mt_no_such_kernel", 1, 1, 32, args, ok, 3, &e5));
  ck_assert_msg (strstr (e5->message, "no kernel 'mt_no_such_kernel'"), "%s", e5->message);
}
END_TEST

/* Element-wise kernels run thread after thread (unless MT_CUDA_EMU_THREADS=1, which this
 * suite sets so that TSan sees every kernel's threads interleave): the same bytes, and a
 * __syncthreads in a kernel the table calls element-wise is an error, not a hang. */
START_TEST (elementwise_kernels_run_sequentially)
{
  enum { N = 5000 };
  g_autofree float *x = g_new (float, N), *y1 = g_new0 (float, N), *y2 = g_new0 (float, N);
  for (int i = 0; i < N; i++)
    x[i] = (float) ((i * 37) % 101) - 50.0f;
  gint64 n = N;
  const char *types[] = { "u64", "u64", "u64" };
  const float *px = x;
  float *py = y1;
  void *args[] = { &px, &py, &n };
  ck_assert (mt_cuda_emu_launch ("mt_relu_forward", N, 0, 0, args, types, 3, NULL));
  g_unsetenv ("MT_CUDA_EMU_THREADS");
  py = y2;
  ck_assert (mt_cuda_emu_launch ("mt_relu_forward", N, 0, 0, args, types, 3, NULL));
  ck_assert (memcmp (y1, y2, N * sizeof (float)) == 0);
  ck_assert (y2[1] == 0.0f && x[2] > 0 && y2[2] == x[2]);
  int out[64] = { 0 };
  g_autoptr (GError) err = NULL;
  ck_assert (!mt_test_emu_barrier_called_elementwise (64, out, &err));
  ck_assert_msg (strstr (err->message, "in a kernel the emulator's table calls element-wise"), "%s", err->message);
  g_setenv ("MT_CUDA_EMU_THREADS", "1", TRUE);
}
END_TEST

/* The bugs it is there for: barriers not all of a block's threads reach, and a
 * reduction that is right only when the block size is a power of two; with the block's
 * threads as host threads (_i 0) and as fibers (_i 1). */
START_TEST (barrier_and_block_size_bugs_are_found)
{
  if (_i == 1)
    g_unsetenv ("MT_CUDA_EMU_THREADS");
  int out[1024] = { 0 };
  g_autoptr (GError) e1 = NULL, e2 = NULL;
  ck_assert (!mt_test_emu_divergent_barrier (64, out, &e1));
  ck_assert_msg (strstr (e1->message, "wait at different __syncthreads"), "%s", e1->message);
  ck_assert (!mt_test_emu_barrier_after_return (64, out, 40, &e2));
  ck_assert_msg (strstr (e2->message, "reached after others of its 64 threads returned"), "%s", e2->message);
  /* Every thread returning before the barrier is no bug, nor all reaching it. */
  ck_assert (mt_test_emu_barrier_after_return (64, out, 0, NULL));
  ck_assert (mt_test_emu_barrier_after_return (64, out, 64, NULL));
  ck_assert_int_eq (out[63], 1);

  float x[1024], sum = 0;
  for (int i = 0; i < 1024; i++)
    x[i] = 1;
  ck_assert (mt_test_emu_halving_block_sum (64, x, &sum, NULL));
  ck_assert_float_eq (sum, 64);
  ck_assert (mt_test_emu_halving_block_sum (48, x, &sum, NULL));
  ck_assert_msg (sum != 48, "the halving reduction summed 48 threads right (%g)", sum);
  /* After a failed launch, the next runs whole. */
  g_autoptr (GError) e3 = NULL;
  ck_assert (!mt_test_emu_divergent_barrier (1024, out, &e3));
  ck_assert (mt_test_emu_barrier_after_return (1024, out, 1024, NULL));
  ck_assert_int_eq (out[1023], 1);
  g_setenv ("MT_CUDA_EMU_THREADS", "1", TRUE);
}
END_TEST

/* ---- element-wise kernels: the CPU's bits ------------------------------------------------ */

START_TEST (elementwise_kernels_give_the_cpus_bits)
{
  const gint64 n = 5000;
  g_autofree float *x = random_floats (n, 1, -1, 1), *dy = random_floats (n, 2, -1, 1);
  g_autofree float *want = g_new (float, n), *got = g_new (float, n);
  g_autofree guint8 *u8 = g_new (guint8, n);
  for (gint64 i = 0; i < n; i++)
    u8[i] = (guint8) (i * 37 % 256);
  for (guint gi = 0; gi < G_N_ELEMENTS (grids); gi++) {
    guint b = grids[gi].blocks, t = grids[gi].threads;
    /* uint8 -> float, as the model's input conversion (ml/mt-model.c) */
    for (gint64 i = 0; i < n; i++)
      want[i] = u8[i] * (1.0f / 255.0f);
    RUN (emu (n, b, t), mt_cuda_run_u8_to_f32, u8, got, n);
    assert_same_bits (want, got, n * 4, "u8_to_f32", b, t);

    /* A batch gathered from 4-channel 25-pixel images (u8 as 50 of them), plain and
     * normalised (the fourth channel takes the third's statistics): the CPU op's bits. */
    for (int plain = 0; plain <= 1; plain++) {
      const gint64 idx[] = { 49, 0, 17, 17, 3, 32 };
      const int nb = G_N_ELEMENTS (idx), c = 4, hw = 25;
      MtInputSpec s = { c, hw, plain, { 0.485f, 0.456f, 0.406f }, { 4.37f, 4.46f, 4.44f } };
      g_autofree gint64 *labels = g_new (gint64, 50);
      for (int i = 0; i < 50; i++)
        labels[i] = i * 3 % 10;
      gint64 y1[6], y2[6];
      mt_cpu_gather_batch (&s, u8, labels, idx, nb, want, y1);
      memset (got, 0xff, (gsize) nb * c * hw * 4);
      memset (y2, 0xff, sizeof y2);
      RUN (emu ((gsize) nb * c * hw, b, t), mt_cuda_run_gather_batch, u8, labels, idx, got, y2, nb, c, (gint64) hw,
           plain, s.mean[0], s.mean[1], s.mean[2], s.inv_std[0], s.inv_std[1], s.inv_std[2]);
      assert_same_bits (want, got, (gsize) nb * c * hw * 4, "gather_batch x", b, t);
      assert_same_bits (y1, y2, sizeof y1, "gather_batch y", b, t);
    }

    mt_cpu_relu_forward (x, n, want);
    RUN (emu (n, b, t), mt_cuda_run_relu_forward, x, got, n);
    assert_same_bits (want, got, n * 4, "relu_forward", b, t);
    g_autofree float *y = g_memdup2 (want, n * 4);
    mt_cpu_relu_backward (y, dy, n, want);
    RUN (emu (n, b, t), mt_cuda_run_relu_backward, y, dy, got, n);
    assert_same_bits (want, got, n * 4, "relu_backward", b, t);

    /* SGD: plain, with momentum (first step and later), Nesterov, weight decay. */
    const MtSgdSpec specs[] = { { .lr = 0.1 }, { .lr = 0.05, .momentum = 0.9 },
                                { .lr = 0.05, .momentum = 0.9, .nesterov = TRUE, .weight_decay = 5e-4 } };
    for (guint si = 0; si < G_N_ELEMENTS (specs); si++)
      for (int first = 1; first >= 0; first--) {
        const MtSgdSpec *s = &specs[si];
        g_autofree float *p1 = g_memdup2 (x, n * 4), *p2 = g_memdup2 (x, n * 4);
        g_autofree float *b1 = g_memdup2 (dy, n * 4), *b2 = g_memdup2 (dy, n * 4);
        mt_cpu_sgd_step (s, p1, dy, b1, n, first);
        RUN (emu (n, b, t), mt_cuda_run_sgd_step, p2, dy, b2, n, (float) s->lr, (float) s->momentum,
             (float) s->weight_decay, first, s->nesterov);
        assert_same_bits (p1, p2, n * 4, "sgd_step parameters", b, t);
        assert_same_bits (b1, b2, n * 4, "sgd_step momentum", b, t);
      }

    /* Adam at step 3, with and without weight decay; the host's scalars as the CPU's. */
    for (int decay = 0; decay <= 1; decay++) {
      MtAdamSpec s = { .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = decay ? 1e-2 : 0,
                       .step = 3 };
      g_autofree float *p1 = g_memdup2 (x, n * 4), *p2 = g_memdup2 (x, n * 4);
      g_autofree float *m1 = g_memdup2 (dy, n * 4), *m2 = g_memdup2 (dy, n * 4);
      g_autofree float *v1 = random_floats (n, 3, 0, 1e-3f), *v2 = g_memdup2 (v1, n * 4);
      mt_cpu_adam_step (&s, p1, dy, m1, v1, n);
      double bc1 = 1 - pow (s.beta1, 3), bc2 = 1 - pow (s.beta2, 3);
      RUN (emu (n, b, t), mt_cuda_run_adam_step, p2, dy, m2, v2, n, (float) (s.lr / bc1), (float) sqrt (bc2),
           (float) (1 - s.beta1), (float) s.beta2, (float) (1 - s.beta2), (float) s.weight_decay, (float) s.eps,
           decay);
      assert_same_bits (p1, p2, n * 4, "adam_step parameters", b, t);
      assert_same_bits (m1, m2, n * 4, "adam_step first moment", b, t);
      assert_same_bits (v1, v2, n * 4, "adam_step second moment", b, t);
    }
  }
}
END_TEST

START_TEST (maxpool_and_loss_give_the_cpus_bits)
{
  /* Odd sizes: the trailing row and column are dropped. */
  int n = 3, c = 5, h = 9, w = 7, planes = n * c, out = planes * (h / 2) * (w / 2);
  g_autofree float *x = random_floats ((gsize) planes * h * w, 4, -1, 1), *dy = random_floats (out, 5, -1, 1);
  /* Ties: a window of equal values takes its first. */
  for (int i = 0; i < 4; i++)
    x[i % 2 + (i / 2) * w] = 0.5f;
  g_autofree float *y1 = g_new (float, out), *y2 = g_new (float, out);
  g_autofree gint32 *a1 = g_new (gint32, out), *a2 = g_new (gint32, out);
  g_autofree float *dx1 = g_new (float, (gsize) planes * h * w), *dx2 = g_new (float, (gsize) planes * h * w);
  mt_cpu_maxpool2_forward (x, n, c, h, w, y1, a1);
  mt_cpu_maxpool2_backward (a1, n, c, h, w, dy, dx1);

  /* Cross-entropy over 10 classes, with a tie for the maximum in sample 0. */
  int samples = 300, classes = 10;
  g_autofree float *z = random_floats ((gsize) samples * classes, 6, -4, 4);
  z[3] = z[7] = 9;
  g_autofree gint64 *labels = g_new (gint64, samples);
  for (int i = 0; i < samples; i++)
    labels[i] = i * 7 % classes;
  g_autofree float *dz1 = g_new (float, (gsize) samples * classes), *dz2 = g_new (float, (gsize) samples * classes);
  int right1 = 0;
  double mean1 = mt_cpu_cross_entropy (z, labels, samples, classes, dz1, &right1);
  g_autofree double *loss = g_new (double, samples);
  g_autofree int *correct = g_new (int, samples);

  for (guint gi = 0; gi < G_N_ELEMENTS (grids); gi++) {
    guint b = grids[gi].blocks, t = grids[gi].threads;
    RUN (emu (out, b, t), mt_cuda_run_maxpool2_forward, x, y2, a2, planes, h, w);
    assert_same_bits (y1, y2, out * 4, "maxpool2_forward", b, t);
    assert_same_bits (a1, a2, out * 4, "maxpool2_forward argmax", b, t);
    memset (dx2, 0, (gsize) planes * h * w * 4);  /* as the backend's cudaMemsetAsync */
    RUN (emu (out, b, t), mt_cuda_run_maxpool2_backward, a2, dy, dx2, planes, h, w);
    assert_same_bits (dx1, dx2, (gsize) planes * h * w * 4, "maxpool2_backward", b, t);

    RUN (emu (samples, b, t), mt_cuda_run_cross_entropy, z, labels, dz2, loss, correct, samples, classes);
    double total = 0;
    int right2 = 0;
    for (int i = 0; i < samples; i++) {
      total += loss[i];
      right2 += correct[i];
    }
    ck_assert_msg (total / samples == mean1, "cross_entropy: CPU %.17g, emulated %.17g", mean1, total / samples);
    ck_assert_int_eq (right1, right2);
    /* The device's own sum, on any grid (threads but one do nothing): the CPU's bits. */
    double mean2 = -1;
    gint64 right3 = -1;
    RUN (emu (1, b, t), mt_cuda_run_loss_total, loss, correct, samples, &mean2, &right3);
    ck_assert_msg (memcmp (&mean1, &mean2, sizeof mean1) == 0, "loss_total: CPU %.17g, emulated %.17g (%u x %u)",
                   mean1, mean2, b, t);
    ck_assert_int_eq (right3, right1);
    assert_same_bits (dz1, dz2, (gsize) samples * classes * 4, "cross_entropy dlogits", b, t);
    /* Without dlogits (evaluation), the same loss. */
    RUN (emu (samples, b, t), mt_cuda_run_cross_entropy, z, labels, NULL, loss, correct, samples, classes);
    ck_assert (loss[0] > 0);
  }
}
END_TEST

/* ---- saliency: block reductions of any size ---------------------------------------------- */

START_TEST (saliency_kernels_match_the_cpu)
{
  /* Every method on SmallCNN's layer (32 channels of 8x8) and a 7x7 one (ResNet's last),
   * then 28x28 maps: the weights and maps are the CPU's bits (the same arithmetic,
   * ml/mt-elementwise.h, in the same order), as is the seed. */
  const int shapes[][2] = { { 32, 8 }, { 12, 7 } };
  for (guint si = 0; si < G_N_ELEMENTS (shapes); si++) {
    int n = 2, c = shapes[si][0], side = shapes[si][1], hw = side * side, oh = 28, ow = 28;
    gsize len = (gsize) n * c * hw;
    g_autofree float *a = random_floats (len, 7 + si, 0, 2), *g = random_floats (len, 9 + si, -0.1f, 0.1f);
    g_autofree float *want = g_new (float, (gsize) n * hw), *scaled = g_new (float, (gsize) n * hw);
    g_autofree float *wmap = g_new (float, (gsize) n * oh * ow), *weights = g_new (float, n * c);
    g_autofree float *cam = g_new (float, (gsize) n * hw), *map = g_new (float, (gsize) n * oh * ow);
    for (int m = MT_CAM_XGRADCAM; m <= MT_CAM_LAYERCAM; m++) {
      for (int s = 0; s < n; s++)
        mt_cam_compute (m, a + (gsize) s * c * hw, g + (gsize) s * c * hw, c, hw, want + (gsize) s * hw);
      for (guint gi = 0; gi < G_N_ELEMENTS (grids); gi++) {
        guint b = grids[gi].blocks, t = grids[gi].threads;
        memset (cam, 0xff, (gsize) n * hw * 4);
        if (m != MT_CAM_LAYERCAM)
          RUN (emu ((gsize) n * c, b, t), mt_cuda_run_cam_weights, a, g, weights, (gint64) n * c, hw, m);
        RUN (emu ((gsize) n * hw, b, t), mt_cuda_run_cam_combine, a, g, weights, cam, n, c, hw, m);
        assert_same_bits (want, cam, (gsize) n * hw * 4, "cam_weights + cam_combine", b, t);
      }
    }
    /* The seed from a batch's logits (ties: the first) and from labels out of range. */
    const float logits[] = { 0, 3, 1, 3, -1, -2, -0.5f, -3, 2, 2, 2, 2 };
    const gint64 labels[] = { 2, -3, 99 };
    for (int with_labels = 0; with_labels <= 1; with_labels++) {
      float seed_want[12], seed_got[12];
      mt_cpu_cam_seed (logits, with_labels ? labels : NULL, 3, 4, seed_want);
      for (guint gi = 0; gi < G_N_ELEMENTS (grids); gi++) {
        guint b = grids[gi].blocks, t = grids[gi].threads;
        memset (seed_got, 0xff, sizeof seed_got);
        RUN (emu (3, b, t), mt_cuda_run_cam_seed, logits, with_labels ? labels : NULL, seed_got, 3, 4);
        assert_same_bits (seed_want, seed_got, sizeof seed_got, "cam_seed", b, t);
      }
    }
    mt_cam_compute (MT_CAM_XGRADCAM, a, g, c, hw, want);
    mt_cam_compute (MT_CAM_XGRADCAM, a + (gsize) c * hw, g + (gsize) c * hw, c, hw, want + hw);
    /* Scaling and resizing, on the CPU's own maps so that only these steps are compared. */
    memcpy (scaled, want, (gsize) n * hw * 4);
    for (int s = 0; s < n; s++) {
      mt_cam_scale (scaled + (gsize) s * hw, hw);
      mt_resize_bilinear (scaled + (gsize) s * hw, side, side, wmap + (gsize) s * oh * ow, oh, ow);
    }
    for (guint bi = 0; bi < G_N_ELEMENTS (block_sizes); bi++) {
      guint t = block_sizes[bi];
      memcpy (cam, want, (gsize) n * hw * 4);
      RUN (emu (0, n, t), mt_cuda_run_cam_scale, cam, hw);
      assert_same_bits (scaled, cam, (gsize) n * hw * 4, "cam_scale", n, t);
    }
    for (guint gi = 0; gi < G_N_ELEMENTS (grids); gi++) {
      guint b = grids[gi].blocks, t = grids[gi].threads;
      RUN (emu ((gsize) n * oh * ow, b, t), mt_cuda_run_resize_bilinear, scaled, side, side, map, oh, ow, n);
      assert_same_bits (wmap, map, (gsize) n * oh * ow * 4, "resize_bilinear", b, t);
    }
  }
}
END_TEST

/* ---- masks ------------------------------------------------------------------------------- */

START_TEST (mask_kernels_give_the_cpus_masks)
{
  /* 28x28 heat maps; map 2 has no positive heat (it masks nothing). */
  int n = 4, hw = 28 * 28, c = 3;
  g_autofree float *heat = random_floats ((gsize) n * hw, 11, -0.2f, 1);
  for (int p = 0; p < hw; p++)
    heat[2 * hw + p] = -(float) p / hw;
  g_autofree guint8 *want = g_new (guint8, (gsize) n * hw), *got = g_new (guint8, (gsize) n * hw);
  /* The cut rules, one thread per map: any grid gives the CPU's masks. */
  const MtMaskRule cuts[] = { { .method = MT_MASK_MEAN_STD, .k = 2.0 }, { .method = MT_MASK_MEAN_STD, .k = 0.5 },
                              { .method = MT_MASK_THRESHOLD, .tau = 0.6 },
                              { .method = MT_MASK_MEAN_SCALE, .factor = 1.5 } };
  for (guint ri = 0; ri < G_N_ELEMENTS (cuts); ri++) {
    for (int s = 0; s < n; s++)
      mt_mask_compute (&cuts[ri], heat + (gsize) s * hw, hw, want + (gsize) s * hw);
    for (guint gi = 0; gi < G_N_ELEMENTS (grids); gi++) {
      guint b = grids[gi].blocks, t = grids[gi].threads;
      memset (got, 7, (gsize) n * hw);
      RUN (emu (n, b, t), mt_cuda_run_mask_cut, heat, got, (gint64) n, hw, (int) cuts[ri].method,
           mt_mask_rule_param (&cuts[ri]));
      assert_same_bits (want, got, (gsize) n * hw, "mask_cut", b, t);
    }
  }
  /* top_k, one block per map, on maps with ties (heat in steps of 1/8), zeros of both
   * signs and negative heat, and a map of one value: the CPU's order, ties by position. */
  g_autofree float *tied = g_new (float, (gsize) n * hw);
  for (gsize i = 0; i < (gsize) n * hw; i++)
    tied[i] = (float) ((int) (heat[i] * 8)) / 8 - (i % 5 == 0 ? 0.25f : 0);
  for (int p = 0; p < hw; p++) {
    tied[1 * hw + p] = p % 3 == 0 ? -0.0f : 0.0f;
    tied[3 * hw + p] = 0.5f;
  }
  const double fractions[] = { 0, 0.1, 0.37, 0.999, 1 };
  for (guint fi = 0; fi < G_N_ELEMENTS (fractions); fi++) {
    MtMaskRule top = { .method = MT_MASK_TOP_K, .fraction = fractions[fi] };
    for (int s = 0; s < n; s++)
      mt_mask_compute (&top, tied + (gsize) s * hw, hw, want + (gsize) s * hw);
    for (guint bi = 0; bi < G_N_ELEMENTS (block_sizes); bi++) {
      memset (got, 7, (gsize) n * hw);
      RUN (emu (0, n, block_sizes[bi]), mt_cuda_run_mask_top_k, tied, got, hw, mt_ew_mask_top_count (top.fraction, hw));
      assert_same_bits (want, got, (gsize) n * hw, "mask_top_k", n, block_sizes[bi]);
    }
  }
  /* threshold's masks for the images below */
  MtMaskRule thr = { .method = MT_MASK_THRESHOLD, .tau = 0.6 };
  for (int s = 0; s < n; s++)
    mt_mask_compute (&thr, heat + (gsize) s * hw, hw, want + (gsize) s * hw);

  /* Images: the mask applied to every channel; the biaser's red square on marked ones. */
  int h = 28, w = 28, size = 5, y0 = 21, x0 = 25;  /* the square runs off the right edge */
  gsize img = (gsize) n * c * hw;
  g_autofree guint8 *images = g_new (guint8, img), *masked = g_new (guint8, img), *planted = g_new (guint8, img);
  g_autofree guint8 *out = g_new (guint8, img);
  for (gsize i = 0; i < img; i++)
    images[i] = (guint8) (1 + i * 13 % 255);
  const guint8 patched[] = { 1, 0, 1, 1 };
  memcpy (masked, images, img);
  memcpy (planted, images, img);
  for (int s = 0; s < n; s++)
    for (int p = 0; p < hw; p++) {
      for (int ch = 0; ch < c; ch++)
        if (!want[(gsize) s * hw + p])
          masked[((gsize) s * c + ch) * hw + p] = 0;
      int y = p / w, x = p % w;
      if (patched[s] && y >= y0 && y < y0 + size && x >= x0 && x < x0 + size) {
        planted[((gsize) s * c + 0) * hw + p] = 255;
        planted[((gsize) s * c + 1) * hw + p] = 0;
        planted[((gsize) s * c + 2) * hw + p] = 0;
      }
    }
  for (guint gi = 0; gi < G_N_ELEMENTS (grids); gi++) {
    guint b = grids[gi].blocks, t = grids[gi].threads;
    memcpy (out, images, img);
    RUN (emu (img, b, t), mt_cuda_run_apply_mask, out, want, n, c, hw);
    assert_same_bits (masked, out, img, "apply_mask", b, t);
    memcpy (out, images, img);
    RUN (emu ((gsize) n * size * size, b, t), mt_cuda_run_plant_square, out, patched, n, h, w, y0, x0, size, 255, 0,
         0);
    assert_same_bits (planted, out, img, "plant_square", b, t);
  }
}
END_TEST

/* ---- batch norm -------------------------------------------------------------------------- */

/* The CPU's batch norm (then ReLU when fused) against the kernels: the training passes to
 * float rounding (their sums run in another order), the evaluation ones to the bit. */
/* The residual networks' kernels: general max-pooling (overlapping 3x3/2/1 windows, ties,
 * a NaN, a window that hangs over the edge), the add, global average pooling and the
 * option-A shortcut; each the CPU op's bits. */
START_TEST (residual_kernels_give_the_cpus_bits)
{
  const struct { int n, c, h, w; MtPoolSpec s; } pools[] = {
    { 2, 3, 9, 11, { 3, 2, 1 } }, { 1, 2, 8, 8, { 2, 2, 0 } }, { 2, 2, 7, 5, { 3, 1, 1 } }, { 1, 4, 6, 6, { 3, 3, 0 } },
  };
  for (guint pi = 0; pi < G_N_ELEMENTS (pools); pi++) {
    int n = pools[pi].n, c = pools[pi].c, h = pools[pi].h, w = pools[pi].w, planes = n * c;
    const MtPoolSpec *ps = &pools[pi].s;
    int oh = mt_pool_out (h, ps), ow = mt_pool_out (w, ps);
    gsize in = (gsize) planes * h * w, out = (gsize) planes * oh * ow;
    g_autofree float *x = random_floats (in, 11 + pi, -1, 1), *dy = random_floats (out, 12 + pi, -1, 1);
    x[5] = x[6] = x[5 + w] = 2.0f;  /* a tie across overlapping windows */
    x[in - 3] = NAN;                /* NaN wins its windows */
    g_autofree float *y1 = g_new (float, out), *y2 = g_new (float, out);
    g_autofree gint32 *a1 = g_new (gint32, out), *a2 = g_new (gint32, out);
    g_autofree float *dx1 = g_new (float, in), *dx2 = g_new (float, in);
    mt_cpu_maxpool_forward (ps, x, n, c, h, w, y1, a1);
    mt_cpu_maxpool_backward (ps, a1, n, c, h, w, dy, dx1);
    for (guint gi = 0; gi < G_N_ELEMENTS (grids); gi++) {
      guint b = grids[gi].blocks, t = grids[gi].threads;
      RUN (emu (out, b, t), mt_cuda_run_maxpool_forward, x, y2, a2, planes, h, w, ps->k, ps->stride, ps->pad, oh, ow);
      assert_same_bits (y1, y2, out * 4, "maxpool_forward", b, t);
      assert_same_bits (a1, a2, out * 4, "maxpool_forward argmax", b, t);
      memset (dx2, 0xff, in * 4);  /* the kernel writes every dx */
      RUN (emu (in, b, t), mt_cuda_run_maxpool_backward, a2, dy, dx2, planes, h, w, ps->k, ps->stride, ps->pad, oh,
           ow);
      assert_same_bits (dx1, dx2, in * 4, "maxpool_backward", b, t);
    }
  }

  gsize len = 10007;
  g_autofree float *a = random_floats (len, 21, -1, 1), *bb = random_floats (len, 22, -1, 1);
  g_autofree float *s1 = g_new (float, len), *s2 = g_new (float, len);
  mt_cpu_add (a, bb, len, s1);
  const int n = 3, c = 8, hw = 49;
  g_autofree float *x = random_floats ((gsize) n * c * hw, 23, -2, 2), *gy = random_floats ((gsize) n * c, 24, -1, 1);
  g_autofree float *p1 = g_new (float, n * c), *p2 = g_new (float, n * c);
  g_autofree float *g1 = g_new (float, (gsize) n * c * hw), *g2 = g_new (float, (gsize) n * c * hw);
  mt_cpu_avgpool_forward (x, n, c, hw, p1);
  mt_cpu_avgpool_backward (gy, n, c, hw, g1);
  for (guint gi = 0; gi < G_N_ELEMENTS (grids); gi++) {
    guint b = grids[gi].blocks, t = grids[gi].threads;
    RUN (emu (len, b, t), mt_cuda_run_add, a, bb, s2, (gint64) len);
    assert_same_bits (s1, s2, len * 4, "add", b, t);
    RUN (emu ((gsize) n * c, b, t), mt_cuda_run_avgpool_forward, x, p2, (gint64) n * c, hw);
    assert_same_bits (p1, p2, (gsize) n * c * 4, "avgpool_forward", b, t);
    RUN (emu ((gsize) n * c * hw, b, t), mt_cuda_run_avgpool_backward, gy, g2, (gint64) n * c, hw);
    assert_same_bits (g1, g2, (gsize) n * c * hw * 4, "avgpool_backward", b, t);
  }

  /* Shortcuts: stride 2 with channels padded, odd sizes, stride 1 with padding. */
  const int cuts[][6] = { { 2, 16, 32, 32, 32, 2 }, { 1, 4, 5, 7, 8, 2 }, { 3, 6, 4, 4, 6, 1 }, { 2, 8, 6, 6, 12, 1 } };
  for (guint k = 0; k < G_N_ELEMENTS (cuts); k++) {
    int cn = cuts[k][0], cc = cuts[k][1], ch = cuts[k][2], cw = cuts[k][3], oc = cuts[k][4], st = cuts[k][5];
    gsize nx = (gsize) cn * cc * ch * cw, ny = (gsize) cn * oc * mt_shortcut_out (ch, st) * mt_shortcut_out (cw, st);
    g_autofree float *sx = random_floats (nx, 30 + k, -1, 1), *sdy = random_floats (ny, 40 + k, -1, 1);
    g_autofree float *y1 = g_new (float, ny), *y2 = g_new (float, ny), *dx1 = g_new (float, nx), *dx2 = g_new (float, nx);
    mt_cpu_shortcut_forward (sx, cn, cc, ch, cw, oc, st, y1);
    mt_cpu_shortcut_backward (sdy, cn, cc, ch, cw, oc, st, dx1);
    for (guint gi = 0; gi < G_N_ELEMENTS (grids); gi++) {
      guint b = grids[gi].blocks, t = grids[gi].threads;
      memset (y2, 0xff, ny * 4);
      memset (dx2, 0xff, nx * 4);
      RUN (emu (ny, b, t), mt_cuda_run_shortcut_forward, sx, y2, cn, cc, ch, cw, oc, st);
      assert_same_bits (y1, y2, ny * 4, "shortcut_forward", b, t);
      RUN (emu (nx, b, t), mt_cuda_run_shortcut_backward, sdy, dx2, cn, cc, ch, cw, oc, st);
      assert_same_bits (dx1, dx2, nx * 4, "shortcut_backward", b, t);
    }
  }
}
END_TEST

START_TEST (batchnorm_kernels_match_the_cpu)
{
  const int shapes[][3] = { { 4, 3, 25 }, { 7, 16, 1 }, { 3, 5, 36 } };
  const guint sizes[] = { 1, 7, 48, 256 };
  const double eps = 1e-5, momentum = 0.1;
  const MtBnSpec spec = { momentum, eps };
  for (guint si = 0; si < G_N_ELEMENTS (shapes); si++) {
    int n = shapes[si][0], c = shapes[si][1], hw = shapes[si][2];
    gsize len = (gsize) n * c * hw;
    g_autofree float *x = random_floats (len, 20 + si, -2, 3), *dy = random_floats (len, 21 + si, -1, 1);
    g_autofree float *gamma = random_floats (c, 22 + si, 0.5f, 1.5f), *beta = random_floats (c, 23 + si, -0.5f, 0.5f);
    g_autofree float *rm0 = random_floats (c, 24 + si, -0.2f, 0.2f), *rv0 = random_floats (c, 25 + si, 0.5f, 1.5f);
    g_autofree float *y1 = g_new (float, len), *y2 = g_new (float, len), *dx1 = g_new (float, len);
    g_autofree float *dx2 = g_new (float, len), *masked = g_new (float, len);
    float sm1[16], si1[16], sm2[16], si2[16], rm1[16], rv1[16], rm2[16], rv2[16], dg1[16], db1[16], dg2[16], db2[16];
    for (int relu = 0; relu <= 1; relu++) {
      memcpy (rm1, rm0, c * 4);
      memcpy (rv1, rv0, c * 4);
      mt_cpu_batchnorm_forward_train (&spec, NULL, x, n, c, hw, gamma, beta, y1, sm1, si1, rm1, rv1);
      if (relu)
        mt_cpu_relu_forward (y1, len, y1);
      for (gsize i = 0; i < len; i++)
        masked[i] = relu && !(y1[i] > 0) ? 0 : dy[i];
      mt_cpu_batchnorm_backward_train (NULL, x, n, c, hw, gamma, sm1, si1, masked, dx1, dg1, db1);
      for (guint bi = 0; bi < G_N_ELEMENTS (sizes); bi++) {
        guint t = sizes[bi];
        memcpy (rm2, rm0, c * 4);
        memcpy (rv2, rv0, c * 4);
        RUN (emu (0, c, t), mt_cuda_run_bn_forward_train, x, gamma, beta, y2, sm2, si2, rm2, rv2, n, c, hw, eps,
             momentum, relu);
        assert_close (y1, y2, len, 1e-5, "bn_forward_train y", t);
        assert_close (sm1, sm2, c, 1e-6, "bn_forward_train saved mean", t);
        assert_close (si1, si2, c, 1e-6, "bn_forward_train saved 1/std", t);
        assert_close (rm1, rm2, c, 1e-6, "bn_forward_train running mean", t);
        assert_close (rv1, rv2, c, 1e-6, "bn_forward_train running var", t);
        /* The backward from the CPU's statistics and (fused) output, so only it is compared. */
        RUN (emu (0, c, t), mt_cuda_run_bn_backward_train, x, relu ? y1 : NULL, dy, gamma, sm1, si1, dx2, dg2, db2,
             n, c, hw);
        assert_close (dx1, dx2, len, 1e-4, "bn_backward_train dx", t);
        assert_close (dg1, dg2, c, 1e-5, "bn_backward_train dgamma", t);
        assert_close (db1, db2, c, 1e-5, "bn_backward_train dbeta", t);
        memset (dg2, 0, sizeof dg2);
        RUN (emu (0, c, t), mt_cuda_run_bn_backward_train, x, relu ? y1 : NULL, dy, gamma, sm1, si1, NULL, dg2, db2,
             n, c, hw);
        assert_close (dg1, dg2, c, 1e-5, "bn_backward_train dgamma without dx", t);
      }

      mt_cpu_batchnorm_forward_eval (&spec, x, n, c, hw, gamma, beta, y1, rm0, rv0);
      if (relu)
        mt_cpu_relu_forward (y1, len, y1);
      for (gsize i = 0; i < len; i++)
        masked[i] = relu && !(y1[i] > 0) ? 0 : dy[i];
      mt_cpu_batchnorm_backward_eval (&spec, n, c, hw, gamma, rv0, masked, dx1);
      for (guint gi = 0; gi < G_N_ELEMENTS (grids); gi++) {
        guint b = grids[gi].blocks, t = grids[gi].threads;
        RUN (emu (len, b, t), mt_cuda_run_bn_forward_eval, x, gamma, beta, y2, rm0, rv0, n, c, hw, eps, relu);
        assert_same_bits (y1, y2, len * 4, "bn_forward_eval", b, t);
        RUN (emu (len, b, t), mt_cuda_run_bn_backward_eval, relu ? y1 : NULL, dy, gamma, rv0, dx2, n, c, hw, eps);
        assert_same_bits (dx1, dx2, len * 4, "bn_backward_eval", b, t);
      }
    }

    /* Folding into the convolution before it: c output channels of 3x3 weights over 2
     * input channels, with a bias and without; outputs pre-filled with garbage. */
    gsize per = 2 * 3 * 3, nw = (gsize) c * per;
    g_autofree float *wt = random_floats (nw, 26 + si, -1, 1), *bias = random_floats (c, 27 + si, -1, 1);
    g_autofree float *fw1 = g_new (float, nw), *fw2 = g_new (float, nw);
    float fb1[16], fb2[16];
    for (int with_bias = 0; with_bias <= 1; with_bias++) {
      mt_cpu_fold_batchnorm (&spec, c, per, wt, with_bias ? bias : NULL, gamma, beta, rm0, rv0, fw1, fb1);
      for (guint gi = 0; gi < G_N_ELEMENTS (grids); gi++) {
        guint b = grids[gi].blocks, t = grids[gi].threads;
        memset (fw2, 0xff, nw * 4);
        memset (fb2, 0xff, sizeof fb2);
        RUN (emu (nw, b, t), mt_cuda_run_fold_batchnorm, wt, with_bias ? bias : NULL, gamma, beta, rm0, rv0, fw2, fb2,
             c, (gint64) per, eps);
        assert_same_bits (fw1, fw2, nw * 4, "fold_batchnorm weights", b, t);
        assert_same_bits (fb1, fb2, (gsize) c * 4, "fold_batchnorm bias", b, t);
      }
    }
  }
}
END_TEST

static Suite *
cuda_emu_suite (void)
{
  Suite *s = suite_create ("cuda-emu");
  TCase *tc = tcase_create ("emulated");
  tcase_add_checked_fixture (tc, setup, NULL);
  tcase_set_timeout (tc, 600);
  tcase_add_test (tc, every_kernel_is_emulated);
  tcase_add_test (tc, bad_launches_are_refused);
  tcase_add_loop_test (tc, barrier_and_block_size_bugs_are_found, 0, 2);
  tcase_add_test (tc, elementwise_kernels_run_sequentially);
  tcase_add_test (tc, elementwise_kernels_give_the_cpus_bits);
  tcase_add_test (tc, maxpool_and_loss_give_the_cpus_bits);
  tcase_add_test (tc, saliency_kernels_match_the_cpu);
  tcase_add_test (tc, mask_kernels_give_the_cpus_masks);
  tcase_add_test (tc, batchnorm_kernels_match_the_cpu);
  tcase_add_test (tc, residual_kernels_give_the_cpus_bits);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  /* Every CUDA thread a host thread, meeting at barriers (TSan's view of the kernels). */
  g_setenv ("MT_CUDA_EMU_THREADS", "1", TRUE);
  return mt_test_run_suite (cuda_emu_suite ());
}
