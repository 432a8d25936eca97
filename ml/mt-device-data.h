/* A dataset held in a backend's memory: its uint8 images and labels uploaded once, and
 * each training batch gathered there (gather_batch) from indices the host drew, so that
 * a device makes its batches without an upload, a copy or a wait per step. The host's
 * loader makes them where this does not apply: on host backends (the CPU, whose memory
 * the loader writes in place), for streamed datasets, with augmentation (drawn on the
 * host), or for a dataset larger than MT_DEVICE_DATA_MAX_BYTES. */
#pragma once

#include "ml/mt-backend.h"
#include "base/mt-bundle.h"

G_BEGIN_DECLS

#define MT_DEVICE_DATA_MAX_BYTES ((gsize) 4 << 30)

typedef struct _MtDeviceData MtDeviceData;

/* @data (a checked, in-memory dataset) on @be, or NULL where the loader should make the
 * batches (see above). */
MtDeviceData *mt_device_data_new   (MtBackend *be, MtBundle *data);
void          mt_device_data_free  (MtDeviceData *d);
/* A pass over samples @idx[0..n): the indices uploaded once. */
void          mt_device_data_start (MtDeviceData *d, const gint64 *idx, gint64 n);
/* The pass's samples @first .. @first + @n into @x (the model's input, by @s) and @y
 * (labels), both in the backend's memory. */
void          mt_device_data_batch (MtDeviceData *d, const MtInputSpec *s, gint64 first, int n, float *x,
                                    gint64 *y);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtDeviceData, mt_device_data_free)

G_END_DECLS
