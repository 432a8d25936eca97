/* Plain double-precision references of the CPU ops: direct loops, no tricks, written
 * from the definitions. The tests check their gradients against central finite
 * differences and the fast float32 ops against them. */
#pragma once

#include "mt-ops.h"

G_BEGIN_DECLS

void   mt_ref_conv2d_forward  (const MtConvSpec *s, const double *x, int n, int h, int w,
                               const double *weight, const double *bias, double *y);
void   mt_ref_conv2d_backward (const MtConvSpec *s, const double *x, int n, int h, int w,
                               const double *weight, const double *dy, double *dx,
                               double *dweight, double *dbias);
void   mt_ref_batchnorm_forward  (double eps, const double *x, int n, int c, int hw,
                                  const double *gamma, const double *beta, double *y);
void   mt_ref_batchnorm_backward (double eps, const double *x, int n, int c, int hw,
                                  const double *gamma, const double *dy, double *dx,
                                  double *dgamma, double *dbeta);
void   mt_ref_relu_forward  (const double *x, gsize len, double *y);
void   mt_ref_relu_backward (const double *x, const double *dy, gsize len, double *dx);
void   mt_ref_maxpool2_forward  (const double *x, int n, int c, int h, int w, double *y);
void   mt_ref_maxpool2_backward (const double *x, int n, int c, int h, int w, const double *dy, double *dx);
void   mt_ref_linear_forward  (const double *x, int n, int in, int out, const double *weight,
                               const double *bias, double *y);
void   mt_ref_linear_backward (const double *x, int n, int in, int out, const double *weight,
                               const double *dy, double *dx, double *dweight, double *dbias);
double mt_ref_cross_entropy   (const double *logits, const gint64 *labels, int n, int classes,
                               double *dlogits);

G_END_DECLS
