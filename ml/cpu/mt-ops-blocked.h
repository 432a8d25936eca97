/* The blocked ops of mt-ops.h under their names for one instruction set (MT_ISA, see
 * mt-isa.h): their sources define these, mt-isa.c calls them. No include guard: mt-isa.c
 * includes it once per instruction set. */
#include "ml/cpu/mt-isa.h"
#include "ml/mt-backend.h"

void MT_ISA_NAME (mt_cpu_batchnorm_blocked_forward_train) (const MtBnSpec *s, MtBnShare *share, const float *x, int n,
                                                           int c, int hw, const float *gamma, const float *beta,
                                                           gboolean relu, float *y, float *save_mean,
                                                           float *save_invstd, float *running_mean,
                                                           float *running_var);
void MT_ISA_NAME (mt_cpu_batchnorm_blocked_forward_eval) (const MtBnSpec *s, const float *x, int n, int c, int hw,
                                                          const float *gamma, const float *beta, gboolean relu,
                                                          float *y, const float *running_mean,
                                                          const float *running_var);
void MT_ISA_NAME (mt_cpu_batchnorm_blocked_backward_train) (MtBnShare *share, const float *x, int n, int c, int hw,
                                                            const float *gamma,
                                                            const float *save_mean, const float *save_invstd,
                                                            const float *y, const float *dy, float *dx, float *dgamma,
                                                            float *dbeta);
void MT_ISA_NAME (mt_cpu_batchnorm_blocked_backward_eval) (const MtBnSpec *s, int n, int c, int hw,
                                                           const float *gamma, const float *running_var,
                                                           const float *y, const float *dy, float *dx);
void MT_ISA_NAME (mt_cpu_maxpool2_blocked_forward) (const float *x, int n, int c, int h, int w, float *y,
                                                    gint32 *argmax);
void MT_ISA_NAME (mt_cpu_maxpool2_blocked_backward) (const gint32 *argmax, int n, int c, int h, int w,
                                                     const float *dy, float *dx);
void MT_ISA_NAME (mt_cpu_maxpool_blocked_forward) (const MtPoolSpec *s, const float *x, int n, int c, int h, int w,
                                                   float *y, gint32 *argmax);
void MT_ISA_NAME (mt_cpu_maxpool_blocked_backward) (const MtPoolSpec *s, const gint32 *argmax, int n, int c, int h,
                                                    int w, const float *dy, float *dx);
void MT_ISA_NAME (mt_cpu_avgpool_blocked_forward) (const float *x, int n, int c, int hw, float *y);
void MT_ISA_NAME (mt_cpu_avgpool_blocked_backward) (const float *dy, int n, int c, int hw, float *dx);
void MT_ISA_NAME (mt_cpu_shortcut_layout_forward) (const float *x, int n, int c, int h, int w, int out_c, int stride,
                                                   float *y);
void MT_ISA_NAME (mt_cpu_shortcut_layout_backward) (const float *dy, int n, int c, int h, int w, int out_c,
                                                    int stride, float *dx);
