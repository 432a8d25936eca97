#pragma once

#include "mt-registry.h"

G_BEGIN_DECLS

/* Registers the node types compiled into libmasktune. */
void mt_builtins_register (MtRegistry *reg);

G_END_DECLS
