/* Batch-slice threading: each of T threads (the caller's and T - 1 workers) runs one
 * slice of every batch through the whole step with its ops on that thread alone, on the
 * model or one of its replicas (same weights, own activations and gradients). The
 * threads meet at each training-mode batch norm, which normalises with the whole batch's
 * statistics (mt-backend.h: MtBnShare), once to gather the logits for the loss, and once
 * to add up the slices' gradients in slice order: a few barriers a step instead of one
 * per op. On a shared machine a thread that loses its core then delays the others at
 * those few points only, where threading inside each op stalls at every op.
 *
 * A step's bytes depend on the slice count (the convolutions' and the linear layers'
 * gradients are sums of the slices'), never on timing; batch norm's statistics and
 * gradients, the loss and the logits are those of the whole batch. */
#pragma once

#include "ml/mt-model.h"

G_BEGIN_DECLS

typedef struct _MtSlices MtSlices;

/* "slices", or "ops" where $MT_THREADING=ops asks for threading inside each op. */
const char  *mt_slices_threading (void);

/* Steps of @m on @slices threads (0: the backend's thread count). One slice where the
 * backend cannot slice (a GPU's), or with $MT_THREADING=ops: then each op threads its own
 * work, as a single step on the model does. */
MtSlices    *mt_slices_new   (MtModel *m, int slices);
void         mt_slices_free  (MtSlices *s);
int          mt_slices_count (MtSlices *s);

/* Forward in training mode, softmax cross-entropy (mean over the batch) and backward on
 * @n NCHW images @x with labels @y, both in the model's backend memory
 * (mt_model_load_input, mt_staging_put): the whole batch's gradients in the model's
 * parameters, its batch norms' running statistics updated once. Writes the loss to
 * *@loss and the count of correct predictions to *@correct (may be NULL), in backend
 * memory too: nothing waits for a device. */
void         mt_slices_train_step   (MtSlices *s, const float *x, const gint64 *y, int n, double *loss,
                                     gint64 *correct);
/* The logits [n, classes] in evaluation mode, owned by @s until its next call, in the
 * backend's memory as @x is. */
const float *mt_slices_forward_eval (MtSlices *s, const float *x, int n);

/* For passes whose images are independent (saliency maps): @fn (model, first, count,
 * @data) once per slice of @n images, on the slice's thread with the slice's model (the
 * model or a replica: mt_model_keep_output() it before mt_slices_new()), whose ops run on
 * that thread alone; returns when every slice is done. With one slice, @fn on the whole
 * batch on the caller's thread. */
typedef void (*MtSliceFunc) (MtModel *m, int first, int count, gpointer data);
void         mt_slices_map          (MtSlices *s, int n, MtSliceFunc fn, gpointer data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtSlices, mt_slices_free)

G_END_DECLS
