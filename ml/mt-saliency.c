#include "ml/mt-saliency.h"
#include "ml/mt-elementwise.h"

#include <math.h>

void
mt_cam_compute (MtCamMethod method, const float *a, const float *g, int c, int hw, float *cam)
{
  for (int p = 0; p < hw; p++)
    cam[p] = 0;
  for (int ch = 0; ch < c; ch++) {
    const float *ac = a + (gsize) ch * hw, *gc = g + (gsize) ch * hw;
    double w = 0;
    switch (method) {
    case MT_CAM_XGRADCAM: {
      double ga = 0, sa = 0;
      for (int p = 0; p < hw; p++) {
        ga += (double) gc[p] * ac[p];
        sa += ac[p];
      }
      w = ga / (sa + 1e-7);
      break;
    }
    case MT_CAM_GRADCAM:
      for (int p = 0; p < hw; p++)
        w += gc[p];
      w /= hw;
      break;
    case MT_CAM_GRADCAM_PP: {
      double sa = 0;
      for (int p = 0; p < hw; p++)
        sa += ac[p];
      for (int p = 0; p < hw; p++) {
        double g1 = gc[p], g2 = g1 * g1, g3 = g2 * g1;
        double alpha = g1 != 0 ? g2 / (2 * g2 + sa * g3 + 1e-7) : 0;
        w += (g1 > 0 ? g1 : 0) * alpha;
      }
      break;
    }
    case MT_CAM_LAYERCAM:
      for (int p = 0; p < hw; p++)
        cam[p] += (gc[p] > 0 ? gc[p] : 0) * ac[p];
      continue;
    }
    for (int p = 0; p < hw; p++)
      cam[p] += (float) w * ac[p];
  }
  for (int p = 0; p < hw; p++)
    cam[p] = cam[p] > 0 ? cam[p] : 0;
}

void
mt_cam_scale (float *cam, int len)
{
  float lo = cam[0], hi;
  for (int p = 1; p < len; p++)
    lo = MIN (lo, cam[p]);
  for (int p = 0; p < len; p++)
    cam[p] -= lo;
  hi = cam[0];
  for (int p = 1; p < len; p++)
    hi = MAX (hi, cam[p]);
  for (int p = 0; p < len; p++)
    cam[p] /= (float) (1e-7 + hi);
}

void
mt_resize_bilinear (const float *in, int ih, int iw, float *out, int oh, int ow)
{
  double sy = (double) ih / oh, sx = (double) iw / ow;
  for (int y = 0; y < oh; y++) {
    int y0, y1;
    float fy;
    mt_ew_bilinear_coord (y, sy, ih, &y0, &y1, &fy);
    for (int x = 0; x < ow; x++) {
      int x0, x1;
      float fx;
      mt_ew_bilinear_coord (x, sx, iw, &x0, &x1, &fx);
      float top = in[y0 * iw + x0] * (1 - fx) + in[y0 * iw + x1] * fx;
      float bottom = in[y1 * iw + x0] * (1 - fx) + in[y1 * iw + x1] * fx;
      out[y * ow + x] = top * (1 - fy) + bottom * fy;
    }
  }
}
