// The uint8 -> float conversion of image batches (the CPU gather in ml/mt-dataset.c), and
// batches gathered from a dataset held on the device (ml/cpu/mt-op-gather.c).
#include "mt-cuda-common.cuh"
#include "ml/mt-elementwise.h"

// uint8 images to float in [0, 1], as the CPU's gather does.
MT_KERNEL void mt_u8_to_f32 (const unsigned char *x, float *y, i64 n) {
  GRID_STRIDE (i, n) y[i] = x[i] * (1.0f / 255.0f);
}

// gather_batch: batch image i is image idx[i] of the dataset (@per = c * hw pixels each),
// as mt_ew_input_pixel makes the model's input; the first pixel's thread copies the label.
MT_KERNEL void mt_gather_batch (const unsigned char *images, const i64 *labels, const i64 *idx, float *x, i64 *y,
                                int n, int c, i64 hw, int plain, float mean0, float mean1, float mean2,
                                float inv0, float inv1, float inv2) {
  i64 per = c * hw;
  GRID_STRIDE (i, n * per) {
    i64 img = i / per, k = i % per;
    int ch = (int) (k / hw);
    float mean = ch == 0 ? mean0 : ch == 1 ? mean1 : mean2, inv = ch == 0 ? inv0 : ch == 1 ? inv1 : inv2;
    i64 src = idx[img];
    x[i] = mt_ew_input_pixel (images[src * per + k], plain, mean, inv);
    if (k == 0) y[img] = labels[src];
  }
}
