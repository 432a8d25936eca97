#include "ml/mt-saliency.h"
#include "ml/mt-elementwise.h"

#include <math.h>

/* The channels' weights first, then each pixel over the channels: the order of the
 * kernels (ml/cuda/kernels/mt-saliency.cu), which share this arithmetic. */
static void
cam_compute (MtCamMethod method, const float *a, const float *g, int c, int hw, float *weights, float *cam)
{
  for (int ch = 0; ch < c; ch++)
    weights[ch] = mt_ew_cam_weight (method, a + (gsize) ch * hw, g + (gsize) ch * hw, hw);
  for (int p = 0; p < hw; p++)
    cam[p] = mt_ew_cam_pixel (method, a, g, weights, c, hw, p);
}

void
mt_cam_compute (MtCamMethod method, const float *a, const float *g, int c, int hw, float *cam)
{
  g_autofree float *weights = g_new (float, MAX (c, 1));
  cam_compute (method, a, g, c, hw, weights, cam);
}

void
mt_cam_maps (MtCamMethod method, const float *a, const float *g, int n, int c, int h, int w, int oh, int ow,
             float *work, float *maps)
{
  gsize per = (gsize) c * h * w;
  gboolean resize = oh != h || ow != w;
  float *weights = work, *cam = work + (gsize) n * c;
  for (int i = 0; i < n; i++) {
    float *dst = resize ? cam + (gsize) i * h * w : maps + (gsize) i * oh * ow;
    cam_compute (method, a + i * per, g + i * per, c, h * w, weights + (gsize) i * c, dst);
    mt_cam_scale (dst, h * w);
    if (resize)
      mt_resize_bilinear (dst, h, w, maps + (gsize) i * oh * ow, oh, ow);
  }
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
