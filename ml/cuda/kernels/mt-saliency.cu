// CAM weights, combination, scaling and bilinear resizing (ml/mt-saliency.c).
#include "mt-cuda-common.cuh"
#include "ml/mt-elementwise.h"

// XGradCAM channel weights, one block per (sample, channel): sum(G A) / (sum(A) + 1e-7),
// accumulated in double as on the CPU.
MT_KERNEL void mt_cam_weights_xgradcam (const float *a, const float *g, float *weights, int hw) {
  const float *ac = a + (i64) blockIdx.x * hw, *gc = g + (i64) blockIdx.x * hw;
  double ga = 0, sa = 0;
  for (int p = threadIdx.x; p < hw; p += blockDim.x) {
    ga += (double) gc[p] * ac[p];
    sa += ac[p];
  }
  ga = block_sum (ga);
  sa = block_sum (sa);
  if (threadIdx.x == 0) weights[blockIdx.x] = (float) (ga / (sa + 1e-7));
}
// Grad-CAM's weights: the mean gradient of each channel.
MT_KERNEL void mt_cam_weights_gradcam (const float *a, const float *g, float *weights, int hw) {
  const float *gc = g + (i64) blockIdx.x * hw;
  double s = 0;
  for (int p = threadIdx.x; p < hw; p += blockDim.x) s += gc[p];
  s = block_sum (s);
  if (threadIdx.x == 0) weights[blockIdx.x] = (float) (s / hw);
}
// cam[n, p] = ReLU(sum_c w[n, c] A[n, c, p]), channels summed in order as on the CPU.
MT_KERNEL void mt_cam_combine (const float *a, const float *weights, float *cam,
                                            int n, int c, int hw) {
  GRID_STRIDE (i, (i64) n * hw) {
    i64 s = i / hw;
    int p = (int) (i % hw);
    float acc = 0.0f;
    for (int ch = 0; ch < c; ch++) acc += weights[s * c + ch] * a[(s * c + ch) * hw + p];
    cam[i] = acc > 0.0f ? acc : 0.0f;
  }
}
// pytorch-grad-cam's scaling, one block per map: (cam - min) / (max after that + 1e-7).
MT_KERNEL void mt_cam_scale (float *cam, int hw) {
  float *m = cam + (i64) blockIdx.x * hw;
  float lo = 3.4e38f;
  for (int p = threadIdx.x; p < hw; p += blockDim.x) lo = fminf (lo, m[p]);
  lo = block_reduce (lo, MinOp ());
  float hi = -3.4e38f;
  for (int p = threadIdx.x; p < hw; p += blockDim.x) { m[p] -= lo; hi = fmaxf (hi, m[p]); }
  hi = block_reduce (hi, MaxOp ());
  for (int p = threadIdx.x; p < hw; p += blockDim.x) m[p] /= (float) (1e-7 + hi);
}

// Bilinear resizing with half-pixel centres (OpenCV's INTER_LINEAR), per map.
MT_KERNEL void mt_resize_bilinear (const float *in, int ih, int iw, float *out,
                                                int oh, int ow, int maps) {
  double sy = (double) ih / oh, sx = (double) iw / ow;
  GRID_STRIDE (i, (i64) maps * oh * ow) {
    i64 m = i / (oh * ow);
    int o = (int) (i % (oh * ow)), y = o / ow, x = o % ow;
    int y0, y1, x0, x1;
    float fy, fx;
    mt_ew_bilinear_coord (y, sy, ih, &y0, &y1, &fy);
    mt_ew_bilinear_coord (x, sx, iw, &x0, &x1, &fx);
    const float *s = in + m * ih * iw;
    float top = s[y0 * iw + x0] * (1 - fx) + s[y0 * iw + x1] * fx;
    float bottom = s[y1 * iw + x0] * (1 - fx) + s[y1 * iw + x1] * fx;
    out[i] = top * (1 - fy) + bottom * fy;
  }
}
