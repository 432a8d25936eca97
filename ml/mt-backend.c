/* dladdr() */
#define _GNU_SOURCE
#include "config.h"
#include "ml/mt-backend.h"
#include "base/mt-error.h"

#include <dlfcn.h>
#include <pthread.h>
#include <gmodule.h>
#include <string.h>

static gboolean
cuda_built (void)
{
#ifdef HAVE_CUDA
  return TRUE;
#else
  return FALSE;
#endif
}

const char *const *
mt_backend_names (void)
{
  static const char *const names[] = { "cpu",
#ifdef HAVE_CUDA
                                       "cuda",
#endif
                                       NULL };
  return names;
}

/* Backends added at run time (mt_backend_register): name -> constructor. */
static GHashTable *registered;
static GMutex registered_lock;

typedef MtBackend *(*BackendNewFn) (GError **error);

static BackendNewFn
registered_backend (const char *name)
{
  g_mutex_lock (&registered_lock);
  BackendNewFn fn = registered ? (BackendNewFn) g_hash_table_lookup (registered, name) : NULL;
  g_mutex_unlock (&registered_lock);
  return fn;
}

void
mt_backend_register (const char *name, MtBackend *(*new_fn) (GError **error))
{
  g_return_if_fail (name != NULL && new_fn != NULL && strcmp (name, "cpu") != 0 && strcmp (name, "cuda") != 0);
  g_mutex_lock (&registered_lock);
  if (!registered)
    registered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_insert (registered, g_strdup (name), (gpointer) new_fn);
  g_mutex_unlock (&registered_lock);
}

gboolean
mt_backend_probe (const char *name, char **description, GError **error)
{
  g_return_val_if_fail (name != NULL, FALSE);
  if (registered_backend (name)) {
    if (description)
      *description = g_strdup_printf ("the %s backend", name);
    return TRUE;
  }
  if (g_strcmp0 (name, "cpu") == 0) {
    if (description)
      *description = g_strdup ("the CPU");
    return TRUE;
  }
  if (g_strcmp0 (name, "cuda") == 0)
    return mt_cuda_backend_probe (description, error);
  g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "no backend '%s' (backends: cpu, cuda)", name);
  return FALSE;
}

MtBackend *
mt_backend_new (const char *name, GError **error)
{
  g_return_val_if_fail (name != NULL, NULL);
  if (g_strcmp0 (name, "cpu") == 0)
    return mt_cpu_backend_new (error);
  if (g_strcmp0 (name, "cuda") == 0)
    return mt_cuda_backend_new (error);
  BackendNewFn fn = registered_backend (name);
  if (fn)
    return fn (error);
  g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "no backend '%s' (backends: cpu, cuda)", name);
  return NULL;
}

/* Instances mt_backend_open handed out and got back: backend name -> GPtrArray of idle
 * instances, the most recently returned last (its memory and plans the warmest). A POSIX
 * lock, which ThreadSanitizer sees (GLib's futex lock it does not): the executor's
 * workers take and hand back instances at once. */
static GHashTable *idle;
static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;

static void
backend_destroy (MtBackend *be)
{
  g_clear_error (&be->error);
  be->ops->destroy (be);
}

MtBackend *
mt_backend_open (const char *name, GError **error)
{
  g_return_val_if_fail (name != NULL, NULL);
  if (g_strcmp0 (name, "cpu") == 0)
    return mt_backend_cpu ();
  MtBackend *be = NULL;
  pthread_mutex_lock (&idle_lock);
  GPtrArray *free_ones = idle ? g_hash_table_lookup (idle, name) : NULL;
  if (free_ones && free_ones->len)
    be = g_ptr_array_steal_index (free_ones, free_ones->len - 1);
  pthread_mutex_unlock (&idle_lock);
  if (!be && (be = mt_backend_new (name, error)))
    be->pool_name = g_intern_string (name);
  return be;
}

void
mt_backend_free (MtBackend *be)
{
  if (!be || be == mt_backend_cpu ())
    return;
  /* Handed back only when all its work finished without a failure: the next node then
   * starts on an idle stream with no error of this one's pending. */
  if (!be->pool_name || !mt_backend_sync (be, NULL)) {
    backend_destroy (be);
    return;
  }
  pthread_mutex_lock (&idle_lock);
  if (!idle)
    idle = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  GPtrArray *free_ones = g_hash_table_lookup (idle, be->pool_name);
  if (!free_ones)
    g_hash_table_insert (idle, g_strdup (be->pool_name), free_ones = g_ptr_array_new ());
  g_ptr_array_add (free_ones, be);
  pthread_mutex_unlock (&idle_lock);
}

guint
mt_backend_release_idle (void)
{
  pthread_mutex_lock (&idle_lock);
  GHashTable *all = g_steal_pointer (&idle);
  pthread_mutex_unlock (&idle_lock);
  if (!all)
    return 0;
  guint n = 0;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, all);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    GPtrArray *free_ones = value;
    for (guint i = 0; i < free_ones->len; i++, n++)
      backend_destroy (free_ones->pdata[i]);
  }
  g_hash_table_unref (all);
  return n;
}

MtBackend *
mt_backend_cpu (void)
{
  static gsize once = 0;
  static MtBackend *cpu;
  if (g_once_init_enter (&once)) {
    cpu = mt_cpu_backend_new (NULL);
    g_once_init_leave (&once, 1);
  }
  return cpu;
}

gboolean
mt_backend_layout_is_nchw (MtBackend *be, int c, int h, int w)
{
  return !be->ops->layout_is_nchw || (gsize) h * w == 1 || be->ops->layout_is_nchw (be, c, h, w);
}

void
mt_backend_from_nchw (MtBackend *be, const float *x, int n, int c, int h, int w, float *y)
{
  g_return_if_fail (!mt_backend_layout_is_nchw (be, c, h, w));
  be->ops->layout_from_nchw (be, x, n, c, h, w, y);
}

void
mt_backend_to_nchw (MtBackend *be, const float *x, int n, int c, int h, int w, float *y)
{
  g_return_if_fail (!mt_backend_layout_is_nchw (be, c, h, w));
  be->ops->layout_to_nchw (be, x, n, c, h, w, y);
}

gboolean
mt_backend_has (const MtBackend *be, gsize offset)
{
  g_return_val_if_fail (be != NULL && offset + sizeof (gpointer) <= sizeof (MtBackendOps), FALSE);
  return G_STRUCT_MEMBER (gpointer, be->ops, offset) != NULL;
}

gboolean
mt_backend_sync (MtBackend *be, GError **error)
{
  g_return_val_if_fail (be != NULL, FALSE);
  if (!be->ops->sync (be, error))
    return FALSE;
  if (be->error) {
    g_propagate_error (error, g_steal_pointer (&be->error));
    return FALSE;
  }
  return TRUE;
}

void
mt_backend_set_error (MtBackend *be, GError *error)
{
  g_return_if_fail (be != NULL);
  if (be->error)
    g_error_free (error);
  else
    be->error = error;
}

/* ---- the CUDA backend: a module loaded on first use -------------------------------- */

/* The CUDA backend lives in its own module (libmt-cuda.so, with the CUDA runtime, NVRTC,
 * cuBLAS and cuDNN behind it), loaded the first time a run asks for the GPU: a CPU run
 * neither maps those libraries (a quarter of a gigabyte) nor pays for loading them. */
#define CUDA_MODULE "libmt-cuda.so"

typedef gboolean (*CudaProbeFn) (char **description, GError **error);
typedef MtBackend *(*CudaNewFn) (GError **error);
typedef GStrv (*CudaEnvironmentFn) (void);

static GModule *cuda_module;
static CudaProbeFn cuda_probe_fn;
static CudaNewFn cuda_new_fn;
static CudaEnvironmentFn cuda_environment_fn;
static char *cuda_load_error;

/* Where the module may be: $MT_BACKEND_PATH, then beside this library (installed:
 * LIBDIR/masktune-1.0/backends; in the build tree: ml/cuda/.libs), then MT_BACKENDDIR. */
static GPtrArray *
cuda_module_dirs (void)
{
  GPtrArray *dirs = g_ptr_array_new_with_free_func (g_free);
  const char *env = g_getenv ("MT_BACKEND_PATH");
  g_auto (GStrv) parts = env ? g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1) : NULL;
  for (guint i = 0; parts && parts[i]; i++)
    if (*parts[i])
      g_ptr_array_add (dirs, g_strdup (parts[i]));
  Dl_info info;
  if (dladdr ((void *) mt_backend_new, &info) && info.dli_fname) {
    g_autofree char *here = g_path_get_dirname (info.dli_fname);
    g_ptr_array_add (dirs, g_build_filename (here, "masktune-1.0", "backends", NULL));
    g_ptr_array_add (dirs, g_build_filename (here, "..", "ml", "cuda", ".libs", NULL));
  }
#ifdef MT_BACKENDDIR
  g_ptr_array_add (dirs, g_strdup (MT_BACKENDDIR));
#endif
  return dirs;
}

/* $MT_CUDA_MODULE: one module file to load instead of searching for libmt-cuda.so (the
 * tests' CUDA simulator, libmt-cuda-sim.so). */
static const char *
cuda_module_override (void)
{
  const char *m = g_getenv ("MT_CUDA_MODULE");
  return m && *m ? m : NULL;
}

static gpointer
cuda_load (gpointer unused)
{
  (void) unused;
  g_autoptr (GPtrArray) dirs = cuda_module_dirs ();
  const char *only = cuda_module_override ();
  GString *tried = g_string_new (NULL);
  for (guint i = 0; i < (only ? 1 : dirs->len) && !cuda_module; i++) {
    g_autofree char *path = only ? g_strdup (only) : g_build_filename (dirs->pdata[i], CUDA_MODULE, NULL);
    if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
      g_string_append_printf (tried, "%s%s", tried->len ? ", " : "", only ? path : (char *) dirs->pdata[i]);
      continue;
    }
    GModule *m = g_module_open (path, G_MODULE_BIND_LOCAL);
    gpointer probe = NULL, make = NULL;
    if (m && g_module_symbol (m, "mt_cuda_module_probe", &probe) && g_module_symbol (m, "mt_cuda_module_new", &make)) {
      cuda_module = m;
      cuda_probe_fn = (CudaProbeFn) probe;
      cuda_new_fn = (CudaNewFn) make;
      gpointer env = NULL;
      if (g_module_symbol (m, "mt_cuda_module_environment", &env))
        cuda_environment_fn = (CudaEnvironmentFn) env;
    } else {
      g_string_append_printf (tried, "%s%s (%s)", tried->len ? ", " : "", path, g_module_error ());
      if (m)
        g_module_close (m);
    }
  }
  if (!cuda_module)
    cuda_load_error = g_strdup_printf ("the CUDA backend module (%s) is not here; looked in %s",
                                       only ? "$MT_CUDA_MODULE" : CUDA_MODULE, tried->str);
  g_string_free (tried, TRUE);
  return NULL;
}

/* The module, loaded once; FALSE with @error when it is not there. */
static gboolean
cuda_ready (GError **error)
{
  if (!cuda_built ()) {
    g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "this masktune was built without CUDA");
    return FALSE;
  }
  /* No NVIDIA kernel driver, no device: said without loading any CUDA library. The
   * driver shows itself by its control device, its first GPU's, its /proc entry (not
   * every sandbox has all three) or, under WSL, /dev/dxg. */
  static const char *const driver_paths[] = { "/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia/version",
                                              "/dev/dxg" };
  /* A module named by $MT_CUDA_MODULE answers for itself (the simulator needs no driver). */
  gboolean driver = cuda_module_override () != NULL;
  for (guint i = 0; i < G_N_ELEMENTS (driver_paths) && !driver; i++)
    driver = g_file_test (driver_paths[i], G_FILE_TEST_EXISTS);
  if (!driver) {
    g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED,
                 "no CUDA device: no NVIDIA driver here (no /dev/nvidiactl, /dev/nvidia0 or /proc/driver/nvidia)");
    return FALSE;
  }
  static GOnce once = G_ONCE_INIT;
  g_once (&once, cuda_load, NULL);
  if (!cuda_module) {
    g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "%s", cuda_load_error);
    return FALSE;
  }
  return TRUE;
}

gboolean
mt_cuda_backend_probe (char **description, GError **error)
{
  return cuda_ready (error) && cuda_probe_fn (description, error);
}

MtBackend *
mt_cuda_backend_new (GError **error)
{
  return cuda_ready (error) ? cuda_new_fn (error) : NULL;
}

GStrv
mt_cuda_backend_environment (void)
{
  g_autofree char *device = NULL;
  if (!cuda_ready (NULL) || !cuda_probe_fn (&device, NULL))
    return g_strsplit ("device=none", "\n", -1);
  if (cuda_environment_fn)
    return cuda_environment_fn ();
  g_autofree char *line = g_strdup_printf ("device=%s", device);
  return g_strsplit (line, "\n", -1);
}

GStrv
mt_backend_environment (const char *name)
{
  return g_strcmp0 (name, "cuda") == 0 ? mt_cuda_backend_environment () : mt_cpu_backend_environment ();
}

gboolean
mt_device_choice_from_string (const char *s, MtDeviceChoice *out)
{
  static const struct {
    const char *name;
    MtDeviceChoice choice;
  } names[] = { { "auto", MT_DEVICE_CHOICE_AUTO }, { "cpu", MT_DEVICE_CHOICE_CPU }, { "cuda", MT_DEVICE_CHOICE_CUDA } };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_strcmp0 (s, names[i].name) == 0) {
      *out = names[i].choice;
      return TRUE;
    }
  return FALSE;
}

const char *
mt_device_resolve (MtDeviceChoice choice, char **notice, GError **error)
{
  if (choice == MT_DEVICE_CHOICE_CPU)
    return "cpu";
  g_autoptr (GError) why = NULL;
  gboolean gpu = mt_backend_probe ("cuda", NULL, &why);
  if (choice == MT_DEVICE_CHOICE_CUDA) {
    if (!gpu) {
      g_propagate_error (error, g_steal_pointer (&why));
      return NULL;
    }
    return "cuda";
  }
  /* auto stays on the CPU until the CUDA path has run on a GPU (it has been checked on
   * the host only: tests/test-device-model, tests/test-cuda-emu); --device cuda runs it. */
  if (notice && cuda_built ())
    *notice = gpu ? g_strdup ("a CUDA device is present, but auto runs on the CPU until the CUDA path has been "
                              "checked on a GPU: --device cuda runs it")
                  : g_strdup_printf ("running on the CPU (%s)", why->message);
  return "cpu";
}

