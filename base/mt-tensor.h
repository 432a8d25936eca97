/* A refcounted, contiguous, row-major tensor of up to MT_TENSOR_MAX_DIMS dimensions. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define MT_TENSOR_MAX_DIMS 8

typedef enum {
  MT_DTYPE_F32,
  MT_DTYPE_F64,
  MT_DTYPE_U8,
  MT_DTYPE_I32,
  MT_DTYPE_I64,
  MT_DTYPE_BOOL,
} MtDType;

typedef enum {
  MT_DEVICE_CPU,
  MT_DEVICE_CUDA,
} MtDevice;

typedef struct _MtTensor MtTensor;

struct _MtTensor {
  MtDType  dtype;
  MtDevice device;
  int      ndim;
  gint64   shape[MT_TENSOR_MAX_DIMS];
  gpointer data;      /* 64-byte aligned, nbytes long */
  gsize    nbytes;
  /*< private >*/
  gatomicrefcount ref_count;
};

#define MT_TYPE_TENSOR (mt_tensor_get_type ())
GType     mt_tensor_get_type (void);

MtTensor *mt_tensor_new      (MtDType dtype, int ndim, const gint64 *shape);
MtTensor *mt_tensor_new_from_data (MtDType dtype, int ndim, const gint64 *shape,
                                   gconstpointer data);
/* For readers that fill the whole tensor: contents undefined (pages untouched until
 * written), and a shape that does not fit, or memory that cannot be had, is a GError,
 * never an abort. */
MtTensor *mt_tensor_try_alloc (MtDType dtype, int ndim, const gint64 *shape, GError **error);
MtTensor *mt_tensor_ref      (MtTensor *t);
void      mt_tensor_unref    (MtTensor *t);
gint64    mt_tensor_numel    (const MtTensor *t);
gboolean  mt_tensor_equal    (const MtTensor *a, const MtTensor *b);
char     *mt_tensor_shape_string (const MtTensor *t);

gsize       mt_dtype_size (MtDType dtype);
const char *mt_dtype_name (MtDType dtype);   /* "float32", "uint8", ... */
gboolean    mt_dtype_from_name (const char *name, MtDType *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtTensor, mt_tensor_unref)

G_END_DECLS
