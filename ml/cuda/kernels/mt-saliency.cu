// CAM weights, combination, scaling and bilinear resizing (ml/mt-saliency.c).
#include "mt-cuda-common.cuh"
#include "ml/mt-elementwise.h"

// The seed of a saliency backward, one thread per sample: one-hot rows at the target.
MT_KERNEL void mt_cam_seed (const float *logits, const i64 *labels, float *dlogits, int n, int classes) {
  GRID_STRIDE (i, n) {
    const float *z = logits + i * classes;
    int t = mt_ew_cam_target (z, classes, labels != 0, labels ? labels[i] : 0);
    for (int k = 0; k < classes; k++) dlogits[i * classes + k] = k == t ? 1.0f : 0.0f;
  }
}
// Channel weights, one thread per (sample, channel), each summed in the CPU's order (a
// layer's maps are small: SmallCNN's 64 pixels, ResNet's 49): the CPU's bits.
MT_KERNEL void mt_cam_weights (const float *a, const float *g, float *weights, i64 nc, int hw, int method) {
  GRID_STRIDE (i, nc) weights[i] = mt_ew_cam_weight (method, a + i * hw, g + i * hw, hw);
}
// cam[s, p] = ReLU(sum_c w[s, c] A[s, c, p]) (LayerCAM: ReLU(G) for w), channels in order.
MT_KERNEL void mt_cam_combine (const float *a, const float *g, const float *weights, float *cam,
                               int n, int c, int hw, int method) {
  GRID_STRIDE (i, (i64) n * hw) {
    i64 s = i / hw, off = s * c * hw;
    cam[i] = mt_ew_cam_pixel (method, a + off, g + off, weights + s * c, c, hw, i % hw);
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
