/* Adam with L2 weight decay, as torch.optim.Adam (amsgrad off): the moments are updated
 * in place and the step is bias-corrected by the 1-based step count. */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-ref-ops.h"
#include "ml/mt-elementwise.h"

#include <math.h>

void
mt_cpu_adam_step (const MtAdamSpec *s, float *param, const float *grad, float *m, float *v, gsize len)
{
  /* PyTorch computes the scalars in double, then applies them to float tensors. */
  double bc1 = 1 - pow (s->beta1, (double) s->step), bc2 = 1 - pow (s->beta2, (double) s->step);
  float step_size = (float) (s->lr / bc1), bc2_sqrt = (float) sqrt (bc2);
  float w1 = (float) (1 - s->beta1), b2 = (float) s->beta2, w2 = (float) (1 - s->beta2);
  float wd = (float) s->weight_decay, eps = (float) s->eps;
  int decay = s->weight_decay != 0;
  for (gsize i = 0; i < len; i++)
    mt_ew_adam (&param[i], grad[i], &m[i], &v[i], step_size, bc2_sqrt, w1, b2, w2, wd, eps, decay);
}

/* ---- the double-precision reference ---------------------------------------------- */

void
mt_ref_adam_step (const MtAdamSpec *s, double *param, const double *grad, double *m, double *v, gsize len)
{
  double bc1 = 1 - pow (s->beta1, (double) s->step), bc2 = 1 - pow (s->beta2, (double) s->step);
  for (gsize i = 0; i < len; i++) {
    double g = grad[i] + s->weight_decay * param[i];
    m[i] = s->beta1 * m[i] + (1 - s->beta1) * g;
    v[i] = s->beta2 * v[i] + (1 - s->beta2) * g * g;
    param[i] -= s->lr / bc1 * m[i] / (sqrt (v[i]) / sqrt (bc2) + s->eps);
  }
}
