/* What the chart and panel drawers share: cairo surfaces out as tensors, and text. */
#pragma once

#include <cairo.h>

#include "base/mt-tensor.h"

G_BEGIN_DECLS

/* An RGB24 image surface as a uint8 [H, W, 3] tensor. */
MtTensor *mt_plot_surface_to_tensor (cairo_surface_t *surface);
/* @s at (@x, @y baseline); @align 0 left, 1 centre, 2 right. */
void      mt_plot_text (cairo_t *cr, double x, double y, int align, double size, gboolean bold, const char *s);

G_END_DECLS
