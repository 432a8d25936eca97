/* A backend for tests whose memory host code cannot touch, standing in for a GPU's: the
 * CPU's ops on buffers whose addresses fault when dereferenced. Its pointers lie in a
 * reserved range mapped with no access; each op translates them to where the data
 * really is (a second mapping at the same offsets) and runs the CPU's op there. So a
 * model, trainer or node that reads or writes backend memory from host code, instead of
 * through upload/download, crashes here as it would read garbage on a GPU; and an op
 * handed a host pointer where backend memory belongs fails with the op's name. Results
 * are the CPU backend's bytes, since its ops do the work. */
#pragma once

#include "ml/mt-backend.h"

G_BEGIN_DECLS

MtBackend *mt_guard_backend_new (void);
/* TRUE when @p is in the guarded range (any guard backend's). */
gboolean   mt_guard_backend_owns (const void *p);
/* Bytes allocated and not freed, over every guard backend. */
gsize      mt_guard_backend_in_use (void);
/* Optimizer ops (sgd_step, adam_step) run so far, over every guard backend: recorded ones
 * count when they are replayed. */
guint      mt_guard_backend_optimizer_ops (void);

G_END_DECLS
