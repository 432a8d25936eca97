/* The CUDA side as far as it goes: device selection (auto falls back to the CPU with a
 * notice; --device cuda fails clearly where it cannot run), the kernels compiled by
 * NVRTC (which needs no GPU, so this runs on any machine with the toolkit), and, on a
 * machine with a GPU, the saliency and masking kernels against the CPU code they mirror.
 * (The backend interface's ops, the CUDA backend's included, are test-backend-ops'.)
 * Without a GPU, or in a build without CUDA, those parts skip with a message saying why. */
#include "config.h"
#include "tests/mt-test-util.h"
#include "ml/cuda/mt-cuda-kernels.h"

#include <gmodule.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#ifdef HAVE_CUDA
#include <cuda_runtime_api.h>
#include "ml/cuda/mt-cuda-ops.h"
#include "ml/cpu/mt-ops.h"
#endif

static gboolean
cuda_built (void)
{
  return g_strv_contains (mt_backend_names (), "cuda");
}

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
  if (cuda_built ())
    ck_assert_msg (notice && (gpu ? strstr (notice, "--device cuda runs it") : strstr (notice, "running on the CPU")),
                   "%s", notice ? notice : "(no notice)");
  else
    ck_assert_ptr_null (notice);
  /* Asking for CUDA where it cannot run is an error that says why, never a silent CPU run. */
  if (gpu) {
    ck_assert_str_eq (mt_device_resolve (MT_DEVICE_CHOICE_CUDA, NULL, &err), "cuda");
    return;
  }
  ck_assert_ptr_null (mt_device_resolve (MT_DEVICE_CHOICE_CUDA, NULL, &err));
  ck_assert_msg (strstr (err->message, cuda_built () ? "no CUDA device" : "without CUDA"), "%s", err->message);
}
END_TEST

START_TEST (kernels_compile_with_nvrtc)
{
  if (!cuda_built ()) {
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
    /* No multiply-add is contracted (--fmad=false), so the element-wise kernels round as
     * the CPU does: PTX keeps separate mul and add. */
    ck_assert_msg (!strstr (ptx, "fma.rn.f32"), "the PTX for %s contracts a multiply-add", archs[a]);
  }
  /* A damaged cache file is not trusted: compiled again, and replaced. */
  g_autofree char *kdir0 = g_build_filename (dir, "kernels", NULL);
  g_autoptr (GDir) d0 = g_dir_open (kdir0, 0, NULL);
  const char *first = d0 ? g_dir_read_name (d0) : NULL;
  ck_assert_ptr_nonnull (first);
  g_autofree char *victim = g_build_filename (kdir0, first, NULL);
  g_autofree char *whole = NULL;
  gsize whole_len = 0;
  ck_assert (g_file_get_contents (victim, &whole, &whole_len, NULL));
  ck_assert (g_file_set_contents (victim, whole, (gssize) (whole_len / 2), NULL));
  const char *arch_of = strstr (whole, ".target sm_90") ? "sm_90" : "sm_80";
  g_autoptr (GError) rerr = NULL;
  g_autofree char *fresh = mt_cuda_compile_kernels (arch_of, dir, &rerr);
  ck_assert_msg (fresh && strcmp (fresh, whole) == 0, "%s", rerr ? rerr->message : "a damaged cached PTX was used");
  g_autofree char *fixed = NULL;
  ck_assert (g_file_get_contents (victim, &fixed, NULL, NULL));
  ck_assert_str_eq (fixed, whole);
  g_autofree char *kdir = g_build_filename (dir, "kernels", NULL);
  g_autoptr (GDir) d = g_dir_open (kdir, 0, NULL);
  guint files = 0;
  while (d && g_dir_read_name (d))
    files++;
  ck_assert_uint_eq (files, 2);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

/* The cubin a GPU of compute capability 9.0 gets is kept in the kernel cache: reused byte
 * for byte, compiled again when the file is damaged, and anew when asked (the backend
 * does when the driver refuses a cached one). */
START_TEST (cubins_are_cached)
{
  if (!cuda_built ()) {
    printf ("SKIP: the cubin cache (this build has no CUDA toolkit)\n");
    return;
  }
  g_autofree char *dir = mt_test_tmpdir ();
  g_autoptr (GError) err = NULL;
  g_autofree char *what = NULL;
  g_autoptr (GBytes) first = mt_cuda_build_kernels (9, 0, dir, FALSE, &what, &err);
  ck_assert_msg (first != NULL, "%s", err ? err->message : "");
  ck_assert_str_eq (what, "cubin for sm_90");
  g_autofree char *kdir = g_build_filename (dir, "kernels", NULL);
  g_autoptr (GDir) d = g_dir_open (kdir, 0, NULL);
  const char *name = d ? g_dir_read_name (d) : NULL;
  ck_assert_msg (name && g_str_has_suffix (name, ".cubin"), "no cubin in %s", kdir);
  g_autofree char *path = g_build_filename (kdir, name, NULL);
  ck_assert_ptr_null (g_dir_read_name (d));
  /* Reused: a file that looks whole is taken as it is. */
  gsize len = 0;
  const char *code = g_bytes_get_data (first, &len);
  g_autofree char *marked = g_memdup2 (code, len);
  marked[len - 1] ^= 0x5a;
  ck_assert (g_file_set_contents (path, marked, (gssize) len, NULL));
  g_autoptr (GBytes) reused = mt_cuda_build_kernels (9, 0, dir, FALSE, NULL, &err);
  ck_assert (reused && g_bytes_get_size (reused) == len && memcmp (g_bytes_get_data (reused, NULL), marked, len) == 0);
  /* Asked to refresh: compiled, and the file replaced. */
  g_autoptr (GBytes) fresh = mt_cuda_build_kernels (9, 0, dir, TRUE, NULL, &err);
  ck_assert (fresh && g_bytes_equal (fresh, first));
  g_autofree char *now = NULL;
  gsize now_len = 0;
  ck_assert (g_file_get_contents (path, &now, &now_len, NULL));
  ck_assert (now_len == len && memcmp (now, code, len) == 0);
  /* Truncated, or not a CUDA ELF file: compiled again. */
  ck_assert (g_file_set_contents (path, code, (gssize) (len / 2), NULL));
  g_autoptr (GBytes) again = mt_cuda_build_kernels (9, 0, dir, FALSE, NULL, &err);
  ck_assert (again && g_bytes_equal (again, first));
  ck_assert (g_file_set_contents (path, "//\n.version 9.0\n", -1, NULL));
  g_autoptr (GBytes) again2 = mt_cuda_build_kernels (9, 0, dir, FALSE, NULL, &err);
  ck_assert (again2 && g_bytes_equal (again2, first));
  mt_file_remove_tree (dir, NULL);
}
END_TEST

/* The PTX parameter types of kernel @name's .entry, "u64 u32 f32 ...", or NULL. */
static char *
ptx_signature (const char *ptx, const char *name)
{
  g_autofree char *entry = g_strdup_printf (".entry %s(", name);
  const char *at = strstr (ptx, entry);
  if (!at)
    return NULL;
  const char *end = strchr (at, ')');
  GString *s = g_string_new (NULL);
  for (const char *p = strstr (at, ".param ."); p && p < end; p = strstr (p + 1, ".param .")) {
    const char *t = p + 8;
    gsize len = strspn (t, "abcdefghijklmnopqrstuvwxyz0123456789");
    g_string_append_printf (s, "%s%.*s", s->len ? " " : "", (int) len, t);
  }
  return g_string_free (s, FALSE);
}

/* Every kernel has a typed launcher, and each launcher's parameter types are the ones
 * the kernel's PTX entry declares (the launchers run in recording mode: no GPU). */
START_TEST (launchers_match_the_ptx)
{
  if (!cuda_built ()) {
    printf ("SKIP: the launchers' check (this build has no CUDA toolkit)\n");
    return;
  }
  g_autoptr (GError) err = NULL;
  g_autofree char *ptx = mt_cuda_compile_kernels ("sm_80", NULL, &err);
  ck_assert_msg (ptx, "%s", err ? err->message : "");
  float *f = NULL;
  guint8 *u = NULL;
  int *ip = NULL;
  gint64 *lp = NULL;
  double *dp = NULL;
  MtCudaLaunch l = { 0 };
  struct { const char *name; gboolean ok; } runs[] = {
    { "mt_u8_to_f32", mt_cuda_run_u8_to_f32 (&l, u, f, 1, NULL) },
    { "mt_relu_forward", FALSE }, { "mt_relu_backward", FALSE }, { "mt_maxpool2_forward", FALSE },
    { "mt_maxpool2_backward", FALSE }, { "mt_cross_entropy", FALSE }, { "mt_sgd_step", FALSE },
    { "mt_adam_step", FALSE }, { "mt_cam_seed", FALSE }, { "mt_cam_weights", FALSE },
    { "mt_cam_combine", FALSE }, { "mt_cam_scale", FALSE }, { "mt_resize_bilinear", FALSE },
    { "mt_mask_cut", FALSE }, { "mt_mask_top_k", FALSE }, { "mt_apply_mask", FALSE },
    { "mt_plant_square", FALSE }, { "mt_bn_forward_train", FALSE }, { "mt_bn_forward_eval", FALSE },
    { "mt_bn_backward_train", FALSE }, { "mt_bn_backward_eval", FALSE }, { "mt_maxpool_forward", FALSE },
    { "mt_maxpool_backward", FALSE }, { "mt_add", FALSE }, { "mt_avgpool_forward", FALSE },
    { "mt_avgpool_backward", FALSE }, { "mt_shortcut_forward", FALSE }, { "mt_shortcut_backward", FALSE },
    { "mt_loss_total", FALSE }, { "mt_fold_batchnorm", FALSE },
    { "mt_gather_batch", FALSE },
  };
  g_autofree char *sig0 = g_strdup (l.signature);
  g_autoptr (GPtrArray) sigs = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (sigs, g_steal_pointer (&sig0));
  for (guint i = 1; i < G_N_ELEMENTS (runs); i++) {
    switch (i) {
    case 1: mt_cuda_run_relu_forward (&l, f, f, 1, NULL); break;
    case 2: mt_cuda_run_relu_backward (&l, f, f, f, 1, NULL); break;
    case 3: mt_cuda_run_maxpool2_forward (&l, f, f, ip, 1, 2, 2, NULL); break;
    case 4: mt_cuda_run_maxpool2_backward (&l, ip, f, f, 1, 2, 2, NULL); break;
    case 5: mt_cuda_run_cross_entropy (&l, f, lp, f, dp, ip, 1, 2, NULL); break;
    case 6: mt_cuda_run_sgd_step (&l, f, f, f, 1, 0.1f, 0.9f, 0, 1, 0, NULL); break;
    case 7: mt_cuda_run_adam_step (&l, f, f, f, f, 1, 0.1f, 1, 0.1f, 0.9f, 0.1f, 0, 1e-8f, 0, NULL); break;
    case 8: mt_cuda_run_cam_seed (&l, f, lp, f, 1, 2, NULL); break;
    case 9: mt_cuda_run_cam_weights (&l, f, f, f, 1, 4, 0, NULL); break;
    case 10: mt_cuda_run_cam_combine (&l, f, f, f, f, 1, 1, 4, 0, NULL); break;
    case 11: mt_cuda_run_cam_scale (&l, f, 4, NULL); break;
    case 12: mt_cuda_run_resize_bilinear (&l, f, 2, 2, f, 4, 4, 1, NULL); break;
    case 13: mt_cuda_run_mask_cut (&l, f, u, 1, 4, 0, 2.0, NULL); break;
    case 14: mt_cuda_run_mask_top_k (&l, f, u, 4, 1, NULL); break;
    case 15: mt_cuda_run_apply_mask (&l, u, u, 1, 3, 4, NULL); break;
    case 16: mt_cuda_run_plant_square (&l, u, u, 1, 4, 4, 0, 0, 2, 255, 0, 0, NULL); break;
    case 17: mt_cuda_run_bn_forward_train (&l, f, f, f, f, f, f, f, f, 1, 1, 1, 1e-5, 0.1, 1, NULL); break;
    case 18: mt_cuda_run_bn_forward_eval (&l, f, f, f, f, f, f, 1, 1, 1, 1e-5, 0, NULL); break;
    case 19: mt_cuda_run_bn_backward_train (&l, f, f, f, f, f, f, f, f, f, 1, 1, 1, NULL); break;
    case 20: mt_cuda_run_bn_backward_eval (&l, f, f, f, f, f, 1, 1, 1, 1e-5, NULL); break;
    case 21: mt_cuda_run_maxpool_forward (&l, f, f, ip, 1, 4, 4, 3, 2, 1, 2, 2, NULL); break;
    case 22: mt_cuda_run_maxpool_backward (&l, ip, f, f, 1, 4, 4, 3, 2, 1, 2, 2, NULL); break;
    case 23: mt_cuda_run_add (&l, f, f, f, 1, NULL); break;
    case 24: mt_cuda_run_avgpool_forward (&l, f, f, 1, 4, NULL); break;
    case 25: mt_cuda_run_avgpool_backward (&l, f, f, 1, 4, NULL); break;
    case 26: mt_cuda_run_shortcut_forward (&l, f, f, 1, 1, 2, 2, 2, 2, NULL); break;
    case 27: mt_cuda_run_shortcut_backward (&l, f, f, 1, 1, 2, 2, 2, 2, NULL); break;
    case 28: mt_cuda_run_loss_total (&l, dp, ip, 1, dp, lp, NULL); break;
    case 29: mt_cuda_run_fold_batchnorm (&l, f, f, f, f, f, f, f, f, 1, 1, 1e-5, NULL); break;
    case 30: mt_cuda_run_gather_batch (&l, u, lp, lp, f, lp, 1, 1, 4, 1, 0, 0, 0, 1, 1, 1, NULL); break;
    }
    g_ptr_array_add (sigs, g_strdup (l.signature));
  }
  ck_assert (runs[0].ok);
  g_free (l.signature);
  for (guint i = 0; i < G_N_ELEMENTS (runs); i++) {
    g_autofree char *want = ptx_signature (ptx, runs[i].name);
    ck_assert_msg (want, "no kernel %s in the PTX", runs[i].name);
    ck_assert_msg (g_strcmp0 (want, sigs->pdata[i]) == 0, "%s: the PTX takes (%s), its launcher passes (%s)",
                   runs[i].name, want, (char *) sigs->pdata[i]);
  }
  /* No kernel without a launcher. */
  for (const char *const *n = mt_cuda_kernel_names (); *n; n++) {
    gboolean found = FALSE;
    for (guint i = 0; i < G_N_ELEMENTS (runs) && !found; i++)
      found = g_str_equal (runs[i].name, *n);
    ck_assert_msg (found, "kernel %s has no typed launcher in ml/cuda/mt-cuda-kernels.c", *n);
  }
}
END_TEST


/* Machine code for every architecture this NVRTC supports, from ptxas with its resource
 * report: every kernel is there, and none spills registers to local memory. */
START_TEST (kernels_compile_to_cubins_without_spills)
{
  if (!cuda_built ()) {
    printf ("SKIP: cubin compilation (this build has no CUDA toolkit)\n");
    return;
  }
  g_auto (GStrv) archs = mt_cuda_supported_archs ();
  ck_assert_msg (archs[0] != NULL, "NVRTC reports no architecture");
  for (char **a = archs; *a; a++) {
    g_autoptr (GError) err = NULL;
    g_autofree char *report = NULL;
    g_autoptr (GBytes) cubin = mt_cuda_compile_cubin (*a, &report, &err);
    ck_assert_msg (cubin, "%s", err ? err->message : "");
    gsize len = 0;
    const guint8 *elf = g_bytes_get_data (cubin, &len);
    ck_assert_msg (len > 4 && memcmp (elf, "\177ELF", 4) == 0, "the cubin for %s is no ELF file", *a);
    int max_regs = 0;
    for (const char *const *n = mt_cuda_kernel_names (); *n; n++) {
      g_autofree char *entry = g_strdup_printf ("Compiling entry function '%s' for '%s'", *n, *a);
      ck_assert_msg (strstr (report, entry), "ptxas did not compile %s for %s:\n%s", *n, *a, report);
    }
    for (const char *p = report; (p = strstr (p, "Used ")); p += 5)
      max_regs = MAX (max_regs, atoi (p + 5));
    g_autofree char *spills = mt_cuda_report_spills (report);
    ck_assert_msg (!spills, "kernels spill registers on %s: %s", *a, spills);
    printf ("%s: %u kernels, cubin %zu bytes, at most %d registers, no spills\n", *a,
            g_strv_length ((char **) mt_cuda_kernel_names ()), len, max_regs);
  }
}
END_TEST

/* The report parser finds spills (so the check above can fail), and the code choice
 * follows the GPU: its own cubin, PTX for one newer than NVRTC knows, a clear refusal for
 * one older than NVRTC supports. No toolkit needed. */
START_TEST (spills_and_code_choice)
{
  const char *report =
    "ptxas info    : Compiling entry function 'mt_a' for 'sm_90'\n"
    "ptxas info    : Function properties for mt_a\n"
    "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
    "ptxas info    : Compiling entry function 'mt_b' for 'sm_90'\n"
    "ptxas info    : Function properties for mt_b\n"
    "    24 bytes stack frame, 16 bytes spill stores, 8 bytes spill loads\n";
  g_autofree char *spills = mt_cuda_report_spills (report);
  ck_assert_str_eq (spills, "mt_b: 16 bytes spill stores, 8 bytes spill loads");
  ck_assert_ptr_null (mt_cuda_report_spills ("    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"));

  const char *const supported[] = { "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", NULL };
  gboolean cubin = FALSE;
  g_autofree char *h200 = mt_cuda_choose_code (9, 0, supported, &cubin, NULL);
  ck_assert_str_eq (h200, "sm_90");
  ck_assert (cubin);
  g_autofree char *newer = mt_cuda_choose_code (12, 1, supported, &cubin, NULL);
  ck_assert_str_eq (newer, "sm_100");
  ck_assert (!cubin);
  g_autofree char *ada = mt_cuda_choose_code (8, 9, supported, &cubin, NULL);
  ck_assert_str_eq (ada, "sm_86");
  ck_assert (!cubin);
  g_autoptr (GError) err = NULL;
  ck_assert_ptr_null (mt_cuda_choose_code (7, 0, supported, &cubin, &err));
  ck_assert_msg (strstr (err->message, "compute capability 7.0; this CUDA's NVRTC compiles for 7.5 and newer only"),
                 "%s", err->message);
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

/* A launch on the default stream: @blocks of @threads, or (blocks 0) a grid over @n. */
static MtCudaLaunch
grid (gsize n, guint blocks, guint threads)
{
  return (MtCudaLaunch) { kernels, NULL, n, blocks, threads, NULL };
}

#define RUN(l, fn, ...) G_STMT_START { \
    MtCudaLaunch l_ = (l); \
    g_autoptr (GError) e_ = NULL; \
    ck_assert_msg (fn (&l_, __VA_ARGS__, &e_), "%s", e_ ? e_->message : ""); \
  } G_STMT_END

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
    /* On the GPU machine (bench/gpu-run.sh) a skip is a failure. */
    ck_assert_msg (!g_getenv ("MT_REQUIRE_GPU"), "MT_REQUIRE_GPU is set, but: %s", err->message);
    printf ("SKIP: CUDA parity tests: %s\n", err->message);
    return FALSE;
  }
  if (!kernels) {
    struct cudaDeviceProp prop;
    cudaGetDeviceProperties (&prop, 0);
    g_autofree char *what = NULL;
    g_autoptr (GBytes) code = mt_cuda_build_kernels (prop.major, prop.minor, NULL, FALSE, &what, &err);
    ck_assert_msg (code, "%s", err ? err->message : "");
    kernels = mt_cuda_kernels_load (g_bytes_get_data (code, NULL), &err);
    ck_assert_msg (kernels, "%s", err ? err->message : "");
    printf ("CUDA parity on %s (%s)\n", desc, what);
  }
  return TRUE;
}

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
  RUN (grid ((gsize) n * c, 0, 0), mt_cuda_run_cam_weights, da, dg, dw, (gint64) n * c, hw, MT_CAM_XGRADCAM);
  RUN (grid ((gsize) n * hw, 0, 0), mt_cuda_run_cam_combine, da, dg, dw, dcam, n, c, hw, MT_CAM_XGRADCAM);
  RUN (grid (0, n, 64), mt_cuda_run_cam_scale, dcam, hw);
  RUN (grid ((gsize) n * oh * ow, 0, 0), mt_cuda_run_resize_bilinear, dcam, 8, 8, dmap, oh, ow, n);
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
  RUN (grid (n, 0, 0), mt_cuda_run_mask_cut, dheat, dkeep, (gint64) n, mhw, MT_MASK_MEAN_STD, 2.0);
  to_host (gkeep, dkeep, (gsize) n * mhw);
  ck_assert (memcmp (keep, gkeep, (gsize) n * mhw) == 0);
  /* top_k: its radix select, with the hottest tenth of the pixels. */
  MtMaskRule top = { .method = MT_MASK_TOP_K, .fraction = 0.1 };
  for (int s = 0; s < n; s++)
    mt_mask_compute (&top, want + (gsize) s * mhw, mhw, keep + (gsize) s * mhw);
  RUN (grid (0, n, 256), mt_cuda_run_mask_top_k, dheat, dkeep, mhw, mt_ew_mask_top_count (top.fraction, mhw));
  to_host (gkeep, dkeep, (gsize) n * mhw);
  ck_assert (memcmp (keep, gkeep, (gsize) n * mhw) == 0);
  cudaFree (da); cudaFree (dg); cudaFree (dw); cudaFree (dcam); cudaFree (dmap); cudaFree (dheat); cudaFree (dkeep);
}
END_TEST

#endif

#ifdef HAVE_CUDA
/* The CUDA backend is a module (libmt-cuda.so) that a CPU run never loads: it is built,
 * loads with the CUDA libraries it links, and has the two entry points ml/mt-backend.c
 * looks up; libmasktune itself links none of the CUDA libraries. */
START_TEST (backend_module_loads)
{
  const char *dir = g_getenv ("MT_BACKEND_PATH");
  ck_assert_msg (dir != NULL, "MT_BACKEND_PATH is not set (make check sets it)");
  g_autofree char *path = g_build_filename (dir, "libmt-cuda.so", NULL);
  GModule *m = g_module_open (path, G_MODULE_BIND_LOCAL);
  ck_assert_msg (m != NULL, "%s: %s", path, g_module_error ());
  gpointer probe = NULL, make = NULL;
  ck_assert (g_module_symbol (m, "mt_cuda_module_probe", &probe) && probe);
  ck_assert (g_module_symbol (m, "mt_cuda_module_new", &make) && make);
  g_autofree char *lib = g_build_filename (g_getenv ("MT_BUILDDIR"), ".libs", "libmasktune.so", NULL);
  const char *argv[] = { "ldd", lib, NULL };
  g_autofree char *out = NULL;
  int status = 0;
  if (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
                    NULL, &status, NULL) && g_spawn_check_wait_status (status, NULL))
    ck_assert_msg (!strstr (out, "libcudart") && !strstr (out, "libcudnn") && !strstr (out, "libcublas"),
                   "libmasktune links CUDA libraries:\n%s", out);
  /* A module that links the CUDA runtime is not unloaded: it may keep threads. */
}
END_TEST
#endif

#ifdef HAVE_CUDA
/* ---- host-only checks of what the CUDA backend hands cuDNN and cuBLAS -------------- */

/* cuDNN derives the same output shapes as the CPU from the descriptors we build: SmallCNN's
 * layers, the ResNet stem and downsamples, strided convolutions whose last window does
 * not fit (PyTorch floors), 1x1 and padded ones. cuDNN's descriptor calls need no GPU. */
START_TEST (cudnn_descriptors_match_the_cpu_shapes)
{
  const struct { MtConvSpec s; int n, h, w; } shapes[] = {
    { { 3, 16, 3, 1, 0 }, 128, 28, 28 }, { { 16, 16, 3, 1, 0 }, 128, 26, 26 }, { { 16, 32, 3, 1, 0 }, 96, 12, 12 },
    { { 32, 32, 3, 1, 0 }, 1, 10, 10 }, { { 3, 64, 7, 2, 3 }, 8, 224, 224 }, { { 64, 128, 1, 2, 0 }, 8, 56, 56 },
    { { 64, 64, 3, 1, 1 }, 2, 7, 9 }, { { 5, 4, 3, 2, 1 }, 3, 8, 7 }, { { 8, 8, 4, 3, 0 }, 2, 11, 13 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++) {
    g_autoptr (GError) err = NULL;
    ck_assert_msg (mt_cuda_conv2d_check_descriptors (&shapes[i].s, shapes[i].n, shapes[i].h, shapes[i].w, &err),
                   "shape %u: %s", i, err ? err->message : "");
  }
}
END_TEST

/* C = op(A) op(B), column-major, as cublasSgemm with alpha 1 and beta 0 computes it. */
static void
colmajor_sgemm (const MtCudaGemm *g, const float *a, const float *b, float *c)
{
  for (int j = 0; j < g->n; j++)
    for (int i = 0; i < g->m; i++) {
      double acc = 0;
      for (int p = 0; p < g->k; p++) {
        double av = g->trans_a ? a[p + (gsize) i * g->lda] : a[i + (gsize) p * g->lda];
        double bv = g->trans_b ? b[j + (gsize) p * g->ldb] : b[p + (gsize) j * g->ldb];
        acc += av * bv;
      }
      c[i + (gsize) j * g->ldc] = (float) acc;
    }
}

/* Every cuBLAS argument set of the linear layer, run through a column-major reference
 * GEMM on the row-major tensors, gives the CPU op's y, dx and dW. */
START_TEST (cublas_arguments_compute_the_linear_layer)
{
  const int shapes[][3] = { { 5, 13, 7 }, { 1, 1, 1 }, { 64, 512, 256 }, { 33, 256, 10 } };
  for (guint k = 0; k < G_N_ELEMENTS (shapes); k++) {
    int n = shapes[k][0], in = shapes[k][1], out = shapes[k][2];
    g_autofree float *x = g_new (float, (gsize) n * in), *wt = g_new (float, (gsize) out * in);
    g_autofree float *dy = g_new (float, (gsize) n * out);
    random_floats (x, (gsize) n * in, 1 + k, -1, 1);
    random_floats (wt, (gsize) out * in, 10 + k, -0.5f, 0.5f);
    random_floats (dy, (gsize) n * out, 20 + k, -1, 1);
    g_autofree float *y = g_new (float, (gsize) n * out), *dx = g_new (float, (gsize) n * in);
    g_autofree float *dw = g_new (float, (gsize) out * in), *db = g_new (float, out);
    g_autofree float *gy = g_new (float, (gsize) n * out), *gdx = g_new (float, (gsize) n * in);
    g_autofree float *gdw = g_new (float, (gsize) out * in);
    mt_cpu_linear_forward (x, n, in, out, wt, NULL, y);
    mt_cpu_linear_backward (x, n, in, out, wt, dy, dx, dw, db);
    MtCudaGemm g[3];
    mt_cuda_linear_gemms (n, in, out, g);
    colmajor_sgemm (&g[MT_CUDA_GEMM_FORWARD], wt, x, gy);
    colmajor_sgemm (&g[MT_CUDA_GEMM_DATA], wt, dy, gdx);
    colmajor_sgemm (&g[MT_CUDA_GEMM_WEIGHT], x, dy, gdw);
    assert_close (y, gy, (gsize) n * out, 1e-5, "linear y");
    assert_close (dx, gdx, (gsize) n * in, 1e-5, "linear dx");
    assert_close (dw, gdw, (gsize) out * in, 1e-5, "linear dweight");
  }
}
END_TEST
#endif

int
main (void)
{
  Suite *s = suite_create ("cuda");
  /* What NVRTC makes, on the host alone: most of this suite's time (a cubin for every
   * architecture). A case of its own so that bench/gpu-run.sh can run compute-sanitizer on
   * the rest (CK_RUN_CASE=core) without compiling for a dozen GPUs under each of its tools. */
  TCase *nvrtc = tcase_create ("nvrtc");
  tcase_set_timeout (nvrtc, 300);
  tcase_add_test (nvrtc, kernels_compile_with_nvrtc);
  tcase_add_test (nvrtc, cubins_are_cached);
  tcase_add_test (nvrtc, launchers_match_the_ptx);
  tcase_add_test (nvrtc, kernels_compile_to_cubins_without_spills);
  tcase_add_test (nvrtc, spills_and_code_choice);
  suite_add_tcase (s, nvrtc);
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, device_choice);
#ifdef HAVE_CUDA
  tcase_add_test (tc, parity_saliency_and_masking);
  tcase_add_test (tc, backend_module_loads);
  tcase_add_test (tc, cudnn_descriptors_match_the_cpu_shapes);
  tcase_add_test (tc, cublas_arguments_compute_the_linear_layer);
#endif
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}
