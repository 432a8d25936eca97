#define _GNU_SOURCE  /* memmem */
#include "config.h"
#include "ml/cuda/mt-cuda.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_CUDA
#include <cuda_runtime_api.h>
#include <nvrtc.h>
#endif

gboolean
mt_cuda_probe (char **description, GError **error)
{
#ifdef HAVE_CUDA
  int count = 0;
  cudaError_t e = cudaGetDeviceCount (&count);
  if (e != cudaSuccess || count == 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "no CUDA device: %s",
                 e != cudaSuccess ? cudaGetErrorString (e) : "the driver sees none");
    return FALSE;
  }
  struct cudaDeviceProp prop;
  e = cudaGetDeviceProperties (&prop, 0);
  if (e != cudaSuccess) {
    g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "CUDA device 0: %s", cudaGetErrorString (e));
    return FALSE;
  }
  if (description)
    *description = g_strdup_printf ("%s (sm_%d%d, %.0f GiB)", prop.name, prop.major, prop.minor,
                                    prop.totalGlobalMem / (1024.0 * 1024 * 1024));
  return TRUE;
#else
  g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "this masktune was built without CUDA");
  return FALSE;
#endif
}

#ifdef HAVE_CUDA
/* No contraction of a * b + c into one FMA: the kernels then round as the CPU ops do
 * (the CPU build has no FMA contraction either), so results can match bit for bit. */
static const char *const nvrtc_fixed_opts[] = { "--std=c++17", "-lineinfo", "--fmad=false" };

/* Compiles the kernels for @arch ("sm_90"): PTX for compute_90, or with @cubin the
 * machine code for sm_90, then with ptxas' resource report in @log_out. */
static GBytes *
nvrtc_build (const char *arch, gboolean cubin, char **log_out, GError **error)
{
  nvrtcProgram prog;
  nvrtcResult r = nvrtcCreateProgram (&prog, mt_cuda_kernel_source (), "masktune-kernels.cu", 0, NULL, NULL);
  if (r != NVRTC_SUCCESS) {
    g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "NVRTC: %s", nvrtcGetErrorString (r));
    return NULL;
  }
  const char *num = g_str_has_prefix (arch, "sm_") ? arch + 3 : arch;
  g_autofree char *gpu = g_strdup_printf ("--gpu-architecture=%s_%s", cubin ? "sm" : "compute", num);
  const char *opts[G_N_ELEMENTS (nvrtc_fixed_opts) + 2] = { gpu };
  guint n_opts = 1;
  for (guint i = 0; i < G_N_ELEMENTS (nvrtc_fixed_opts); i++)
    opts[n_opts++] = nvrtc_fixed_opts[i];
  if (cubin)
    opts[n_opts++] = "--ptxas-options=-v";
  r = nvrtcCompileProgram (prog, n_opts, opts);
  size_t log_len = 0;
  nvrtcGetProgramLogSize (prog, &log_len);
  g_autofree char *log = g_malloc0 (log_len + 1);
  nvrtcGetProgramLog (prog, log);
  if (r != NVRTC_SUCCESS) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "NVRTC could not compile the kernels for %s: %s\n%s", arch,
                 nvrtcGetErrorString (r), log);
    nvrtcDestroyProgram (&prog);
    return NULL;
  }
  size_t len = 0;
  char *code = NULL;
  if (cubin) {
    r = nvrtcGetCUBINSize (prog, &len);
    if (r == NVRTC_SUCCESS && (code = g_malloc0 (MAX (len, 1))))
      r = nvrtcGetCUBIN (prog, code);
  } else {
    r = nvrtcGetPTXSize (prog, &len);
    if (r == NVRTC_SUCCESS && (code = g_malloc0 (len + 1)))
      r = nvrtcGetPTX (prog, code);
  }
  nvrtcDestroyProgram (&prog);
  if (r != NVRTC_SUCCESS) {
    g_free (code);
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "NVRTC: reading the %s for %s: %s", cubin ? "cubin" : "PTX", arch,
                 nvrtcGetErrorString (r));
    return NULL;
  }
  if (log_out)
    *log_out = g_steal_pointer (&log);
  return g_bytes_new_take (code, cubin ? len : len + 1);
}

static char *
nvrtc_compile (const char *arch, GError **error)
{
  GBytes *ptx = nvrtc_build (arch, FALSE, NULL, error);
  return ptx ? g_bytes_unref_to_data (ptx, &(gsize) { 0 }) : NULL;
}
#endif

#ifdef HAVE_CUDA
static gboolean
ptx_is_whole (const char *ptx, const char *arch)
{
  g_autofree char *target = g_strdup_printf (".target %s", arch);
  if (!g_str_has_prefix (ptx, "//") || !strstr (ptx, target))
    return FALSE;
  for (const char *const *n = mt_cuda_kernel_names (); *n; n++) {
    g_autofree char *entry = g_strdup_printf (".entry %s(", *n);
    if (!strstr (ptx, entry))
      return FALSE;
  }
  return TRUE;
}
#endif

char *
mt_cuda_compile_kernels (const char *arch, const char *cache_dir, GError **error)
{
#ifdef HAVE_CUDA
  int major = 0, minor = 0;
  nvrtcVersion (&major, &minor);
  /* Compiled PTX is named by what produced it: source, target, compiler and options. */
  g_autofree char *opts = g_strjoinv (" ", (char **) nvrtc_fixed_opts);
  g_autofree char *what = g_strdup_printf ("%s\n%s\nnvrtc %d.%d\n%s\n", mt_cuda_kernel_source (), arch, major, minor,
                                           opts);
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, what, -1);
  g_autofree char *path = cache_dir ? g_strdup_printf ("%s/kernels/%s.ptx", cache_dir, digest) : NULL;
  char *ptx = NULL;
  /* A cached file is used only when it is whole: its target, and every kernel's entry
   * (a truncated or foreign file is compiled again, and replaced). */
  if (path && g_file_get_contents (path, &ptx, NULL, NULL) && ptx_is_whole (ptx, arch))
    return ptx;
  g_clear_pointer (&ptx, g_free);
  ptx = nvrtc_compile (arch, error);
  if (ptx && path) {
    g_autofree char *dir = g_path_get_dirname (path);
    g_mkdir_with_parents (dir, 0755);
    /* A cache that cannot be written only costs a recompilation next time. */
    mt_file_write_atomic (path, ptx, strlen (ptx), NULL);
  }
  return ptx;
#else
  g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "this masktune was built without CUDA (no NVRTC)");
  return NULL;
#endif
}

char **
mt_cuda_supported_archs (void)
{
  GPtrArray *out = g_ptr_array_new ();
#ifdef HAVE_CUDA
  int n = 0;
  if (nvrtcGetNumSupportedArchs (&n) == NVRTC_SUCCESS && n > 0) {
    g_autofree int *archs = g_new (int, n);
    if (nvrtcGetSupportedArchs (archs) == NVRTC_SUCCESS)
      for (int i = 0; i < n; i++)
        g_ptr_array_add (out, g_strdup_printf ("sm_%d", archs[i]));
  }
#endif
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

GBytes *
mt_cuda_compile_cubin (const char *arch, char **report, GError **error)
{
#ifdef HAVE_CUDA
  return nvrtc_build (arch, TRUE, report, error);
#else
  g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "this masktune was built without CUDA (no NVRTC)");
  return NULL;
#endif
}

char *
mt_cuda_report_spills (const char *report)
{
  /* ptxas -v: "Compiling entry function 'NAME' for 'sm_XX'", then "Function properties
   * for NAME" and "N bytes stack frame, S bytes spill stores, L bytes spill loads". */
  GString *out = g_string_new (NULL);
  g_auto (GStrv) lines = g_strsplit (report ? report : "", "\n", -1);
  const char *fn = NULL;
  for (char **l = lines; *l; l++) {
    const char *p = strstr (*l, "Function properties for ");
    if (p) {
      fn = p + strlen ("Function properties for ");
      continue;
    }
    unsigned stores = 0, loads = 0;
    const char *q = strstr (*l, "bytes spill stores");
    if (!q)
      continue;
    /* back up to the number before "bytes spill stores" */
    const char *num = q;
    while (num > *l && num[-1] == ' ')
      num--;
    while (num > *l && g_ascii_isdigit (num[-1]))
      num--;
    stores = (unsigned) strtoul (num, NULL, 10);
    const char *lq = strstr (q, ", ");
    if (lq)
      loads = (unsigned) strtoul (lq + 2, NULL, 10);
    if (stores || loads)
      g_string_append_printf (out, "%s%s: %u bytes spill stores, %u bytes spill loads", out->len ? "; " : "",
                              fn ? fn : "?", stores, loads);
  }
  return out->len ? g_string_free (out, FALSE) : (g_string_free (out, TRUE), NULL);
}

char *
mt_cuda_choose_code (int major, int minor, const char *const *supported, gboolean *cubin, GError **error)
{
  int cc = major * 10 + minor, best = 0, lowest = 0;
  for (const char *const *a = supported; a && *a; a++) {
    int v = atoi (*a + 3);
    if (v == cc) {
      *cubin = TRUE;
      return g_strdup (*a);
    }
    if (v < cc && v > best)
      best = v;
    if (!lowest || v < lowest)
      lowest = v;
  }
  if (!lowest) {
    g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "no CUDA architecture to compile for (no NVRTC)");
    return NULL;
  }
  if (!best) {
    g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED,
                 "the GPU has compute capability %d.%d; this CUDA's NVRTC compiles for %d.%d and newer only", major,
                 minor, lowest / 10, lowest % 10);
    return NULL;
  }
  /* A newer GPU than NVRTC knows: PTX for the newest it knows, which the driver compiles. */
  *cubin = FALSE;
  return g_strdup_printf ("sm_%d", best);
}

char *
mt_cuda_kernel_cache_dir (void)
{
  const char *env = g_getenv ("MT_KERNEL_CACHE");
  if (env)
    return *env ? g_strdup (env) : NULL;
  return g_build_filename (g_get_user_cache_dir (), "masktune", NULL);
}

#ifdef HAVE_CUDA
/* A cubin whose every kernel is in its symbol table: a whole 64-bit ELF file for the CUDA
 * machine (its section headers, which come last, inside it). */
static gboolean
cubin_is_whole (const char *code, gsize len)
{
  if (len < 64 || memcmp (code, "\177ELF", 4) != 0 || code[4] != 2 /* 64-bit */ || code[5] != 1 /* LSB */ ||
      (guint8) code[18] != 190 /* EM_CUDA, little-endian */ || code[19] != 0)
    return FALSE;
  guint64 shoff;
  guint16 shentsize, shnum;
  memcpy (&shoff, code + 0x28, 8);
  memcpy (&shentsize, code + 0x3a, 2);
  memcpy (&shnum, code + 0x3c, 2);
  if (shoff > len || (guint64) shentsize * shnum > len - shoff)
    return FALSE;
  for (const char *const *n = mt_cuda_kernel_names (); *n; n++)
    if (!memmem (code, len, *n, strlen (*n) + 1))
      return FALSE;
  return TRUE;
}
#endif

/* A cubin compiled before for the same source, architecture, NVRTC and options (unless
 * @refresh), else compiled now and kept in @cache_dir/kernels. */
static GBytes *
cached_cubin (const char *arch, const char *cache_dir, gboolean refresh, GError **error)
{
#ifdef HAVE_CUDA
  int major = 0, minor = 0;
  nvrtcVersion (&major, &minor);
  g_autofree char *opts = g_strjoinv (" ", (char **) nvrtc_fixed_opts);
  g_autofree char *key = g_strdup_printf ("%s\ncubin %s\nnvrtc %d.%d\n%s\n", mt_cuda_kernel_source (), arch, major,
                                          minor, opts);
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);
  g_autofree char *path = cache_dir ? g_strdup_printf ("%s/kernels/%s.cubin", cache_dir, digest) : NULL;
  char *code = NULL;
  gsize len = 0;
  if (path && !refresh && g_file_get_contents (path, &code, &len, NULL) && cubin_is_whole (code, len))
    return g_bytes_new_take (code, len);
  g_free (code);
  GBytes *cubin = mt_cuda_compile_cubin (arch, NULL, error);
  if (cubin && path) {
    g_autofree char *dir = g_path_get_dirname (path);
    g_mkdir_with_parents (dir, 0755);
    /* A cache that cannot be written only costs a compilation next time. */
    mt_file_write_atomic (path, g_bytes_get_data (cubin, NULL), g_bytes_get_size (cubin), NULL);
  }
  return cubin;
#else
  g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "this masktune was built without CUDA (no NVRTC)");
  return NULL;
#endif
}

GBytes *
mt_cuda_build_kernels (int major, int minor, const char *cache_dir, gboolean refresh, char **what, GError **error)
{
  g_auto (GStrv) supported = mt_cuda_supported_archs ();
  gboolean cubin = FALSE;
  g_autofree char *arch = mt_cuda_choose_code (major, minor, (const char *const *) supported, &cubin, error);
  if (!arch)
    return NULL;
  if (what)
    *what = g_strdup_printf ("%s for %s", cubin ? "cubin" : "PTX", arch);
  if (cubin)
    return cached_cubin (arch, cache_dir, refresh, error);
  char *ptx = mt_cuda_compile_kernels (arch, refresh ? NULL : cache_dir, error);
  return ptx ? g_bytes_new_take (ptx, strlen (ptx) + 1) : NULL;
}

struct _MtCudaKernels {
#ifdef HAVE_CUDA
  cudaLibrary_t lib;
  GHashTable *by_name;  /* name -> cudaKernel_t */
#endif
  int unused;
};

MtCudaKernels *
mt_cuda_kernels_load (const void *image, GError **error)
{
#ifdef HAVE_CUDA
  MtCudaKernels *k = g_new0 (MtCudaKernels, 1);
  /* PTX (a GPU newer than NVRTC knows) is compiled by the driver here: its error log is
   * what says why that failed. */
  char jit_log[8192] = "";
  enum cudaJitOption opts[] = { cudaJitErrorLogBuffer, cudaJitErrorLogBufferSizeBytes };
  void *values[] = { jit_log, (void *) (uintptr_t) sizeof jit_log };
  cudaError_t e = cudaLibraryLoadData (&k->lib, image, opts, values, G_N_ELEMENTS (opts), NULL, NULL, 0);
  if (e != cudaSuccess) {
    jit_log[sizeof jit_log - 1] = 0;
    g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "loading the kernels: %s%s%s", cudaGetErrorString (e),
                 *jit_log ? "; the driver's JIT log:\n" : "", jit_log);
    g_free (k);
    return NULL;
  }
  k->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  for (const char *const *n = mt_cuda_kernel_names (); *n; n++) {
    cudaKernel_t kern;
    e = cudaLibraryGetKernel (&kern, k->lib, *n);
    if (e != cudaSuccess) {
      g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "kernel %s: %s", *n, cudaGetErrorString (e));
      mt_cuda_kernels_free (k);
      return NULL;
    }
    g_hash_table_insert (k->by_name, (gpointer) *n, (gpointer) kern);
  }
  return k;
#else
  g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "this masktune was built without CUDA");
  return NULL;
#endif
}

void
mt_cuda_kernels_free (MtCudaKernels *k)
{
  if (!k)
    return;
#ifdef HAVE_CUDA
  g_clear_pointer (&k->by_name, g_hash_table_unref);
  cudaLibraryUnload (k->lib);
#endif
  g_free (k);
}

/* MT_CUDA_SYNC=1: wait for each kernel, so that a fault is reported with the name of the
 * kernel that made it (asynchronously it surfaces at some later call). */
gboolean
mt_cuda_sync_each_launch (void)
{
  static gsize sync = 0;  /* 1: no, 2: yes */
  if (g_once_init_enter (&sync))
    g_once_init_leave (&sync, g_strcmp0 (g_getenv ("MT_CUDA_SYNC"), "1") == 0 ? 2 : 1);
  return sync == 2;
}

gboolean
mt_cuda_launch (MtCudaKernels *k, const char *name, gsize n, guint blocks, guint threads, void **args,
                gpointer stream, GError **error)
{
#ifdef HAVE_CUDA
  cudaKernel_t kern = g_hash_table_lookup (k->by_name, name);
  if (!kern) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "no kernel '%s'", name);
    return FALSE;
  }
  if (blocks == 0)
    mt_cuda_grid_size (n, &blocks, &threads);
  dim3 grid = { blocks, 1, 1 }, block = { threads, 1, 1 };
  cudaError_t e = cudaLaunchKernel ((const void *) kern, grid, block, args, 0, (cudaStream_t) stream);
  if (e != cudaSuccess) {
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "launching %s: %s", name, cudaGetErrorString (e));
    return FALSE;
  }
  if (mt_cuda_sync_each_launch () && (e = cudaStreamSynchronize ((cudaStream_t) stream)) != cudaSuccess) {
    g_set_error (error, MT_ERROR, MT_ERROR_FAILED, "kernel %s (%u blocks of %u threads) failed: %s", name, blocks,
                 threads, cudaGetErrorString (e));
    return FALSE;
  }
  return TRUE;
#else
  g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "this masktune was built without CUDA");
  return FALSE;
#endif
}
