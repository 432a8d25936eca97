/* Random training augmentations as torchvision's transforms define them, on one uint8
 * [C, H, W] image, drawn from a seed so that every run (and every worker thread) makes
 * the same ones: RandomResizedCrop back to the image's size, RandomCrop with zero
 * padding (the CIFAR recipe), then RandomHorizontalFlip. */
#pragma once

#include <glib.h>

#include "base/mt-rng.h"

G_BEGIN_DECLS

typedef enum {
  MT_AUGMENT_CROP_NONE,
  MT_AUGMENT_CROP_RESIZED,   /* RandomResizedCrop(size, scale, ratio), bilinear antialiased */
  MT_AUGMENT_CROP_PADDED,    /* RandomCrop(size, padding) */
} MtAugmentCrop;

typedef struct {
  MtAugmentCrop crop;
  double scale[2];           /* RandomResizedCrop: area fraction range (0.08, 1) in torchvision; MaskTune 0.7 */
  double ratio[2];           /* aspect range, (3/4, 4/3) */
  int padding;               /* RandomCrop: pixels of zeros on each side */
  gboolean flip;             /* RandomHorizontalFlip(0.5) */
} MtAugment;

/* TRUE when @a changes anything. */
gboolean mt_augment_active (const MtAugment *a);

/* torchvision's RandomResizedCrop.get_params on an @h x @w image: the crop's top, left,
 * height and width (ten tries, then the central crop of the nearest allowed ratio). */
void     mt_augment_resized_crop_params (const MtAugment *a, MtRng *rng, int h, int w,
                                         int *top, int *left, int *ch, int *cw);

/* Applies @a to @img (uint8 [c, h, w]) in place, with draws from @seed alone. */
void     mt_augment_apply (const MtAugment *a, guint64 seed, guint8 *img, int c, int h, int w);

G_END_DECLS
