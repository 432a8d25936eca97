#include "config.h"
#include "ml/mt-backend.h"
#include "base/mt-error.h"

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

gboolean
mt_backend_probe (const char *name, char **description, GError **error)
{
  g_return_val_if_fail (name != NULL, FALSE);
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
  g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "no backend '%s' (backends: cpu, cuda)", name);
  return NULL;
}

void
mt_backend_free (MtBackend *be)
{
  if (!be || be == mt_backend_cpu ())
    return;
  g_clear_error (&be->error);
  be->ops->destroy (be);
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

#ifndef HAVE_CUDA
gboolean
mt_cuda_backend_probe (char **description, GError **error)
{
  g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED, "this masktune was built without CUDA");
  return FALSE;
}

MtBackend *
mt_cuda_backend_new (GError **error)
{
  return mt_cuda_backend_probe (NULL, error) ? NULL : NULL;
}
#endif

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
    /* The device code below (kernels) exists; the training path on the device does
     * not yet, and a run must not pretend otherwise. */
    g_set_error (error, MT_ERROR, MT_ERROR_UNSUPPORTED,
                 "--device cuda: the CUDA training and saliency path is not built yet; use --device cpu");
    return NULL;
  }
  if (notice && cuda_built ())
    *notice = gpu ? g_strdup ("a CUDA device is present, but the CUDA path is not built yet: running on the CPU")
                  : g_strdup_printf ("running on the CPU (%s)", why->message);
  return "cpu";
}

