/* Class-activation maps as backend ops (cam_seed, cam_maps): the host's algorithm
 * (ml/mt-saliency.c), and its double reference. */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-ref-ops.h"
#include "ml/mt-elementwise.h"

#include <math.h>
#include <string.h>

void
mt_cpu_cam_seed (const float *logits, const gint64 *labels, int n, int classes, float *dlogits)
{
  memset (dlogits, 0, (gsize) n * classes * sizeof (float));
  for (int i = 0; i < n; i++) {
    const float *z = logits + (gsize) i * classes;
    dlogits[(gsize) i * classes + mt_ew_cam_target (z, classes, labels != NULL, labels ? labels[i] : 0)] = 1.0f;
  }
}

/* pytorch-grad-cam's weights in double, written out once more from its definitions. */
static double
ref_weight (MtCamMethod method, const double *a, const double *g, int hw)
{
  double sa = 0, sg = 0, sga = 0, pp = 0;
  for (int p = 0; p < hw; p++) {
    sa += a[p];
    sg += g[p];
    sga += g[p] * a[p];
  }
  for (int p = 0; p < hw; p++)
    if (g[p] > 0)  /* ReLU(G) alpha; alpha is 0 where G is */
      pp += g[p] * (g[p] * g[p]) / (2 * g[p] * g[p] + sa * g[p] * g[p] * g[p] + 1e-7);
  switch (method) {
  case MT_CAM_XGRADCAM: return sga / (sa + 1e-7);
  case MT_CAM_GRADCAM: return sg / hw;
  case MT_CAM_GRADCAM_PP: return pp;
  case MT_CAM_LAYERCAM: break;
  }
  return 0;
}

static double
ref_bilinear (const double *in, int ih, int iw, int oh, int ow, int y, int x)
{
  double fy = MAX ((y + 0.5) * ih / oh - 0.5, 0), fx = MAX ((x + 0.5) * iw / ow - 0.5, 0);
  int y0 = MIN ((int) fy, ih - 1), x0 = MIN ((int) fx, iw - 1);
  int y1 = MIN (y0 + 1, ih - 1), x1 = MIN (x0 + 1, iw - 1);
  double ty = fy - y0, tx = fx - x0;
  return (in[y0 * iw + x0] * (1 - tx) + in[y0 * iw + x1] * tx) * (1 - ty) +
         (in[y1 * iw + x0] * (1 - tx) + in[y1 * iw + x1] * tx) * ty;
}

void
mt_ref_cam_maps (MtCamMethod method, const double *a, const double *g, int n, int c, int h, int w, int oh, int ow,
                 double *maps)
{
  int hw = h * w;
  g_autofree double *cam = g_new (double, hw);
  for (int i = 0; i < n; i++) {
    const double *as = a + (gsize) i * c * hw, *gs = g + (gsize) i * c * hw;
    for (int p = 0; p < hw; p++)
      cam[p] = 0;
    for (int ch = 0; ch < c; ch++) {
      const double *ac = as + (gsize) ch * hw, *gc = gs + (gsize) ch * hw;
      double wc = ref_weight (method, ac, gc, hw);
      for (int p = 0; p < hw; p++)
        cam[p] += (method == MT_CAM_LAYERCAM ? MAX (gc[p], 0) : wc) * ac[p];
    }
    double lo = INFINITY, hi = -INFINITY;
    for (int p = 0; p < hw; p++) {
      cam[p] = MAX (cam[p], 0);
      lo = MIN (lo, cam[p]);
    }
    for (int p = 0; p < hw; p++)
      hi = MAX (hi, cam[p] - lo);
    for (int p = 0; p < hw; p++)
      cam[p] = (cam[p] - lo) / (hi + 1e-7);
    double *dst = maps + (gsize) i * oh * ow;
    for (int y = 0; y < oh; y++)
      for (int x = 0; x < ow; x++)
        dst[y * ow + x] = oh == h && ow == w ? cam[y * w + x] : ref_bilinear (cam, h, w, oh, ow, y, x);
  }
}
