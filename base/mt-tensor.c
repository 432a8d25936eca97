#include "base/mt-tensor.h"
#include "base/mt-error.h"

#include <stdlib.h>
#include <string.h>

G_DEFINE_BOXED_TYPE (MtTensor, mt_tensor, mt_tensor_ref, mt_tensor_unref)

static const struct {
  const char *name;
  gsize size;
} dtype_info[] = {
  [MT_DTYPE_F32] = { "float32", 4 },
  [MT_DTYPE_F64] = { "float64", 8 },
  [MT_DTYPE_U8] = { "uint8", 1 },
  [MT_DTYPE_I32] = { "int32", 4 },
  [MT_DTYPE_I64] = { "int64", 8 },
  [MT_DTYPE_BOOL] = { "bool", 1 },
};

gsize
mt_dtype_size (MtDType dtype)
{
  g_return_val_if_fail (dtype <= MT_DTYPE_BOOL, 0);
  return dtype_info[dtype].size;
}

const char *
mt_dtype_name (MtDType dtype)
{
  g_return_val_if_fail (dtype <= MT_DTYPE_BOOL, "invalid");
  return dtype_info[dtype].name;
}

gboolean
mt_dtype_from_name (const char *name, MtDType *out)
{
  g_return_val_if_fail (name != NULL, FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (dtype_info); i++)
    if (g_strcmp0 (name, dtype_info[i].name) == 0) {
      *out = (MtDType) i;
      return TRUE;
    }
  return FALSE;
}

/* The one allocation path: sizes checked, failures a GError, contents zeroed or not. */
static MtTensor *
tensor_alloc (MtDType dtype, int ndim, const gint64 *shape, gboolean zero, GError **error)
{
  gsize numel = 1, nbytes = 0;
  for (int i = 0; i < ndim; i++)
    if (shape[i] < 0 || !g_size_checked_mul (&numel, numel, (gsize) shape[i])) {
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "a tensor of that shape does not fit in memory");
      return NULL;
    }
  if (!g_size_checked_mul (&nbytes, numel, mt_dtype_size (dtype)) || nbytes > G_MAXSIZE - 64) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "a tensor of that shape does not fit in memory");
    return NULL;
  }
  /* Aligned for SIMD kernels; never NULL so empty tensors need no special case. */
  gsize alloc = MAX ((nbytes + 63) & ~(gsize) 63, 64);
  void *data = aligned_alloc (64, alloc);
  if (!data) {
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "out of memory for a tensor of %" G_GSIZE_FORMAT " bytes", nbytes);
    return NULL;
  }
  if (zero)
    memset (data, 0, alloc);
  MtTensor *t = g_new0 (MtTensor, 1);
  t->dtype = dtype;
  t->device = MT_DEVICE_CPU;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++)
    t->shape[i] = shape[i];
  t->nbytes = nbytes;
  t->data = data;
  g_atomic_ref_count_init (&t->ref_count);
  return t;
}

MtTensor *
mt_tensor_new (MtDType dtype, int ndim, const gint64 *shape)
{
  g_return_val_if_fail (ndim >= 0 && ndim <= MT_TENSOR_MAX_DIMS && (ndim == 0 || shape != NULL), NULL);
  for (int i = 0; i < ndim; i++)
    g_return_val_if_fail (shape[i] >= 0, NULL);
  g_autoptr (GError) error = NULL;
  MtTensor *t = tensor_alloc (dtype, ndim, shape, TRUE, &error);
  if (!t)
    g_error ("mt_tensor_new: %s", error->message);
  return t;
}

MtTensor *
mt_tensor_try_alloc (MtDType dtype, int ndim, const gint64 *shape, GError **error)
{
  g_return_val_if_fail (ndim >= 0 && ndim <= MT_TENSOR_MAX_DIMS && (ndim == 0 || shape != NULL), NULL);
  return tensor_alloc (dtype, ndim, shape, FALSE, error);
}

MtTensor *
mt_tensor_new_from_data (MtDType dtype, int ndim, const gint64 *shape, gconstpointer data)
{
  MtTensor *t = mt_tensor_new (dtype, ndim, shape);
  if (t->nbytes)
    memcpy (t->data, data, t->nbytes);
  return t;
}

MtTensor *
mt_tensor_ref (MtTensor *t)
{
  g_return_val_if_fail (t != NULL, NULL);
  g_atomic_ref_count_inc (&t->ref_count);
  return t;
}

void
mt_tensor_unref (MtTensor *t)
{
  if (t == NULL)
    return;
  if (g_atomic_ref_count_dec (&t->ref_count)) {
    free (t->data);
    g_free (t);
  }
}

gint64
mt_tensor_numel (const MtTensor *t)
{
  g_return_val_if_fail (t != NULL, 0);
  gint64 n = 1;
  for (int i = 0; i < t->ndim; i++)
    n *= t->shape[i];
  return n;
}

gboolean
mt_tensor_equal (const MtTensor *a, const MtTensor *b)
{
  if (a->dtype != b->dtype || a->ndim != b->ndim)
    return FALSE;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i])
      return FALSE;
  return a->nbytes == 0 || memcmp (a->data, b->data, a->nbytes) == 0;
}

char *
mt_tensor_shape_string (const MtTensor *t)
{
  g_return_val_if_fail (t != NULL, NULL);
  GString *s = g_string_new ("[");
  for (int i = 0; i < t->ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", t->shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}
