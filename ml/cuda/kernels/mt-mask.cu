// Masks from heat maps and their application (ml/mt-mask.c).
#include "mt-cuda-common.cuh"

// MaskTune's rule, one block per map: mask heat > mean + k std of the positive heat
// (population std, as numpy's); a map with no positive heat masks nothing. keep: 1 kept.
MT_KERNEL void mt_mask_mean_std (const float *heat, unsigned char *keep, int hw, double k) {
  const float *m = heat + (i64) blockIdx.x * hw;
  unsigned char *kp = keep + (i64) blockIdx.x * hw;
  double sum = 0, pos = 0;
  for (int p = threadIdx.x; p < hw; p += blockDim.x)
    if (m[p] > 0) { sum += m[p]; pos += 1; }
  sum = block_sum (sum);
  pos = block_sum (pos);
  if (pos == 0) {
    for (int p = threadIdx.x; p < hw; p += blockDim.x) kp[p] = 1;
    return;
  }
  double mean = sum / pos, sq = 0;
  for (int p = threadIdx.x; p < hw; p += blockDim.x)
    if (m[p] > 0) sq += (m[p] - mean) * (m[p] - mean);
  sq = block_sum (sq);
  double cut = mean + k * sqrt (sq / pos);
  for (int p = threadIdx.x; p < hw; p += blockDim.x) kp[p] = m[p] > cut ? 0 : 1;
}
// heat > tau is masked (tau compared as float, as the maps are stored).
MT_KERNEL void mt_mask_threshold (const float *heat, unsigned char *keep, i64 n, float tau) {
  GRID_STRIDE (i, n) keep[i] = heat[i] > tau ? 0 : 1;
}
// Zeroes every channel of the pixels a mask drops.
MT_KERNEL void mt_apply_mask (unsigned char *images, const unsigned char *keep,
                                           int n, int c, int hw) {
  GRID_STRIDE (i, (i64) n * c * hw) {
    i64 s = i / ((i64) c * hw);
    int p = (int) (i % hw);
    if (!keep[s * hw + p]) images[i] = 0;
  }
}
