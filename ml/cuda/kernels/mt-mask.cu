// Masks from heat maps and their application (ml/mt-mask.c).
#include "mt-cuda-common.cuh"
#include "ml/mt-elementwise.h"

// The cut rules (mean_std, threshold, mean_scale), one thread per map: mt_ew_mask_cut
// sums in the CPU's order, so the masks are the CPU's. keep: 1 kept.
MT_KERNEL void mt_mask_cut (const float *heat, unsigned char *keep, i64 n, int len, int method, double param) {
  GRID_STRIDE (s, n) {
    const float *m = heat + s * len;
    unsigned char *kp = keep + s * len;
    double cut = 0;
    int some = mt_ew_mask_cut (method, m, len, param, &cut);
    for (int p = 0; p < len; p++) kp[p] = some && m[p] > cut ? 0 : 1;
  }
}
// top_k, one block per map: the m hottest pixels, equally hot ones by position. A radix
// select over the heat's order keys (8 bits a round, hottest digit first) finds the key
// of the m-th hottest and how many of that key are taken; thread 0 then takes those in
// position order.
MT_KERNEL void mt_mask_top_k (const float *heat, unsigned char *keep, int len, int m) {
  const float *h = heat + (i64) blockIdx.x * len;
  unsigned char *kp = keep + (i64) blockIdx.x * len;
  __shared__ unsigned hist[256];
  __shared__ unsigned chosen[2];  // the key's bits found so far, how many of them to take
  unsigned prefix = 0, high = 0, want = (unsigned) m;
  for (int shift = 24; shift >= 0 && m > 0; shift -= 8) {
    for (int d = threadIdx.x; d < 256; d += blockDim.x) hist[d] = 0;
    __syncthreads ();
    for (int p = threadIdx.x; p < len; p += blockDim.x) {
      unsigned key = mt_ew_mask_heat_key (h[p]);
      if ((key & high) == prefix) atomicAdd (&hist[(key >> shift) & 255u], 1u);
    }
    __syncthreads ();
    if (threadIdx.x == 0) {
      unsigned left = want;
      chosen[0] = prefix | (mt_ew_mask_radix_digit (hist, &left) << shift);
      chosen[1] = left;
    }
    __syncthreads ();
    prefix = chosen[0];
    want = chosen[1];
    high |= 255u << shift;
    __syncthreads ();
  }
  for (int p = threadIdx.x; p < len; p += blockDim.x)
    kp[p] = m > 0 && mt_ew_mask_heat_key (h[p]) > prefix ? 0 : 1;
  __syncthreads ();
  if (threadIdx.x == 0 && m > 0)
    for (int p = 0; p < len && want > 0; p++)
      if (mt_ew_mask_heat_key (h[p]) == prefix) { kp[p] = 0; want--; }
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
