#include "base/mt-tensor.h"

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

MtTensor *
mt_tensor_new (MtDType dtype, int ndim, const gint64 *shape)
{
  g_return_val_if_fail (ndim >= 0 && ndim <= MT_TENSOR_MAX_DIMS, NULL);
  MtTensor *t = g_new0 (MtTensor, 1);
  gsize numel = 1;
  t->dtype = dtype;
  t->device = MT_DEVICE_CPU;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) {
    g_return_val_if_fail (shape[i] >= 0, NULL);
    t->shape[i] = shape[i];
    if (!g_size_checked_mul (&numel, numel, (gsize) shape[i]))
      g_error ("mt_tensor_new: shape overflows");
  }
  if (!g_size_checked_mul (&t->nbytes, numel, mt_dtype_size (dtype)))
    g_error ("mt_tensor_new: size overflows");
  /* Aligned for SIMD kernels; never NULL so empty tensors need no special case. */
  gsize alloc = (t->nbytes + 63) & ~(gsize) 63;
  t->data = aligned_alloc (64, alloc ? alloc : 64);
  if (t->data == NULL)
    g_error ("mt_tensor_new: out of memory (%" G_GSIZE_FORMAT " bytes)", t->nbytes);
  memset (t->data, 0, alloc ? alloc : 64);
  g_atomic_ref_count_init (&t->ref_count);
  return t;
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
