/* The CPU backend's use of oneDNN: its engine, memory descriptors in the backend's
 * activation layout (mt-layout.h), and the convolution, whose primitives are made once
 * per shape (mt-dnnl-conv.c). Same contracts as the plain ops of mt-ops.h, on tensors in
 * the activation layout. */
#pragma once

#include "ml/mt-backend.h"

#include <dnnl.h>

G_BEGIN_DECLS

dnnl_engine_t mt_dnnl_engine (void);
/* [n, c, h, w] f32 in the activation layout. */
void          mt_dnnl_md     (dnnl_memory_desc_t *md, int n, int c, int h, int w);

gsize mt_dnnl_conv2d_workspace (const MtConvSpec *s, int n, int h, int w);
void  mt_dnnl_conv2d_forward   (const MtConvSpec *s, const float *x, int n, int h, int w, const float *weight,
                                const float *bias, float *y, float *work);
void  mt_dnnl_conv2d_backward  (const MtConvSpec *s, const float *x, int n, int h, int w, const float *weight,
                                const float *dy, float *dx, float *dweight, float *dbias, float *work);
/* The implementation oneDNN chose: 0 forward, 1 backward data, 2 backward weights ("jit:avx2"). */
const char *mt_dnnl_conv2d_impl (const MtConvSpec *s, int n, int h, int w, int which);

G_END_DECLS
