/* The masking rules: which pixels of a heat map MaskTune hides. */
#pragma once

#include <glib.h>

#include "ml/mt-elementwise.h"

G_BEGIN_DECLS

/* The values the kernels know them by (ml/mt-elementwise.h). */
typedef enum {
  MT_MASK_MEAN_STD = MT_EW_MASK_MEAN_STD,      /* heat > mean + k * std of the positive values (MaskTune's rule) */
  MT_MASK_THRESHOLD = MT_EW_MASK_THRESHOLD,    /* heat > tau */
  MT_MASK_TOP_K = MT_EW_MASK_TOP_K,            /* the fraction of pixels with the highest heat */
  MT_MASK_MEAN_SCALE = MT_EW_MASK_MEAN_SCALE,  /* heat > factor * mean(heat) */
} MtMaskMethod;

typedef struct {
  MtMaskMethod method;
  double k;         /* mean_std */
  double tau;       /* threshold */
  double fraction;  /* top_k: masks floor(fraction * pixels + 0.5), highest first, ties by position */
  double factor;    /* mean_scale */
} MtMaskRule;

/* Writes keep[i] = 1 for kept and 0 for masked pixels of one map; returns how many
 * were masked. A mean_std map without a positive value masks nothing. */
int mt_mask_compute (const MtMaskRule *rule, const float *heat, int len, guint8 *keep);

/* The rule's parameter for mt_ew_mask_cut (k, tau or factor; top_k: none). */
double mt_mask_rule_param (const MtMaskRule *rule);

/* The index of the first map of @n [@len] that holds a NaN or an infinity, or -1: no rule
 * orders those (the masker refuses them). */
gint64 mt_mask_find_nonfinite (const float *heat, gint64 n, int len);

/* Upsamples a keep-mask [ih, iw] to [oh, ow]: nearest neighbour (half-pixel centres), or
 * bilinear interpolation of the 0/1 values kept where >= 0.5. */
void mt_mask_upsample (const guint8 *in, int ih, int iw, guint8 *out, int oh, int ow, gboolean bilinear);

G_END_DECLS
