/* The CPU backend's use of oneDNN: the convolution, on tensors in the backend's
 * activation layout (mt-layout.h), whose primitives are made once per shape
 * (mt-dnnl-conv.c). Same contracts as the plain ops of mt-ops.h, on tensors in
 * the activation layout. */
#pragma once

#include "ml/mt-backend.h"

#include <dnnl.h>

G_BEGIN_DECLS

gsize mt_dnnl_conv2d_workspace (const MtConvSpec *s, int n, int h, int w);
/* With @relu, y = max (conv (x) + bias, 0), the ReLU a post-op of the convolution where
 * oneDNN has one: TRUE when the ReLU was applied (else y is the convolution alone). */
gboolean mt_dnnl_conv2d_forward (const MtConvSpec *s, const float *x, int n, int h, int w, const float *weight,
                                 const float *bias, gboolean relu, float *y, float *work);
void  mt_dnnl_conv2d_backward  (const MtConvSpec *s, const float *x, int n, int h, int w, const float *weight,
                                const float *dy, float *dx, float *dweight, float *dbias, float *work);

G_END_DECLS
