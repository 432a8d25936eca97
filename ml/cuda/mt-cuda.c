#include "config.h"
#include "ml/cuda/mt-cuda.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"

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

static char *
nvrtc_compile (const char *arch, GError **error)
{
  nvrtcProgram prog;
  nvrtcResult r = nvrtcCreateProgram (&prog, mt_cuda_kernel_source (), "masktune-kernels.cu", 0, NULL, NULL);
  if (r != NVRTC_SUCCESS) {
    g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "NVRTC: %s", nvrtcGetErrorString (r));
    return NULL;
  }
  g_autofree char *gpu = g_strdup_printf ("--gpu-architecture=compute_%s", g_str_has_prefix (arch, "sm_") ? arch + 3 : arch);
  const char *opts[G_N_ELEMENTS (nvrtc_fixed_opts) + 1] = { gpu };
  for (guint i = 0; i < G_N_ELEMENTS (nvrtc_fixed_opts); i++)
    opts[i + 1] = nvrtc_fixed_opts[i];
  r = nvrtcCompileProgram (prog, G_N_ELEMENTS (opts), opts);
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
  size_t ptx_len = 0;
  nvrtcGetPTXSize (prog, &ptx_len);
  char *ptx = g_malloc0 (ptx_len + 1);
  nvrtcGetPTX (prog, ptx);
  nvrtcDestroyProgram (&prog);
  return ptx;
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

struct _MtCudaKernels {
#ifdef HAVE_CUDA
  cudaLibrary_t lib;
  GHashTable *by_name;  /* name -> cudaKernel_t */
#endif
  int unused;
};

MtCudaKernels *
mt_cuda_kernels_load (const char *ptx, GError **error)
{
#ifdef HAVE_CUDA
  MtCudaKernels *k = g_new0 (MtCudaKernels, 1);
  cudaError_t e = cudaLibraryLoadData (&k->lib, ptx, NULL, NULL, 0, NULL, NULL, 0);
  if (e != cudaSuccess) {
    g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "loading the kernels: %s", cudaGetErrorString (e));
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
  return TRUE;
#else
  g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "this masktune was built without CUDA");
  return FALSE;
#endif
}
