// The uint8 -> float conversion of image batches (the CPU gather in ml/mt-dataset.c).
#include "mt-cuda-common.cuh"

// uint8 images to float in [0, 1], as the CPU's gather does.
MT_KERNEL void mt_u8_to_f32 (const unsigned char *x, float *y, i64 n) {
  GRID_STRIDE (i, n) y[i] = x[i] * (1.0f / 255.0f);
}
