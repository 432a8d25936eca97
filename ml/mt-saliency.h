/* Class-activation maps from activations A and gradients G at a layer, as
 * pytorch-grad-cam computes them (the implementation MaskTune uses), and the bilinear
 * upsampling to the input size. */
#pragma once

#include <glib.h>

#include "ml/mt-elementwise.h"

G_BEGIN_DECLS

/* The kernels take these as ints (ml/mt-elementwise.h). */
typedef enum {
  MT_CAM_XGRADCAM = MT_EW_CAM_XGRADCAM,      /* w_c = sum(G * A) / (sum(A) + 1e-7) */
  MT_CAM_GRADCAM = MT_EW_CAM_GRADCAM,        /* w_c = mean(G) */
  MT_CAM_GRADCAM_PP = MT_EW_CAM_GRADCAM_PP,  /* Grad-CAM++ */
  MT_CAM_LAYERCAM = MT_EW_CAM_LAYERCAM,      /* cam = sum_c ReLU(G) * A */
} MtCamMethod;

/* One sample: @a and @g are [c, h*w]; writes ReLU(sum_c w_c A_c) into @cam [h*w]. */
void mt_cam_compute (MtCamMethod method, const float *a, const float *g, int c, int hw, float *cam);
/* (cam - min) / (max - min + 1e-7) in place: pytorch-grad-cam's scale_cam_image. */
void mt_cam_scale   (float *cam, int len);
/* Bilinear resize with half-pixel centres (OpenCV INTER_LINEAR, PyTorch
 * align_corners=False), [ih, iw] -> [oh, ow]. */
void mt_resize_bilinear (const float *in, int ih, int iw, float *out, int oh, int ow);

/* The floats of scratch mt_cam_maps takes for @n samples of @c channels of @h x @w. */
static inline gsize mt_cam_work_floats (int n, int c, int h, int w) { return (gsize) n * c + (gsize) n * h * w; }
/* @n samples' maps from @a and @g [n, c, h, w]: computed, scaled and, unless [@oh, @ow] is
 * [@h, @w], resized into @maps [n, oh, ow]; @work: mt_cam_work_floats. */
void mt_cam_maps (MtCamMethod method, const float *a, const float *g, int n, int c, int h, int w, int oh, int ow,
                  float *work, float *maps);

G_END_DECLS
