/* SGD with momentum, Nesterov and weight decay, exactly torch.optim.SGD (dampening 0). */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-ref-ops.h"
#include "ml/mt-elementwise.h"

void
mt_cpu_sgd_step (const MtSgdSpec *s, float *param, const float *grad, float *buf, gsize len, gboolean first_step)
{
  float lr = (float) s->lr, mom = (float) s->momentum, wd = (float) s->weight_decay;
  /* Without momentum no buffer: PyTorch keeps none, so it is left as it is (and may be
   * NULL). PyTorch starts the buffer at the first gradient, not at zero. */
  float unused = 0;
  for (gsize i = 0; i < len; i++)
    mt_ew_sgd (&param[i], grad[i], mom == 0.0f ? &unused : &buf[i], lr, mom, wd, first_step, s->nesterov);
}

/* ---- the double-precision reference ---------------------------------------------- */

void
mt_ref_sgd_step (const MtSgdSpec *s, double *param, const double *grad, double *buf, gsize len, gboolean first_step)
{
  for (gsize i = 0; i < len; i++) {
    double g = grad[i] + s->weight_decay * param[i];
    if (s->momentum == 0) {
      param[i] -= s->lr * g;
      continue;
    }
    buf[i] = first_step ? g : s->momentum * buf[i] + g;
    param[i] -= s->lr * (s->nesterov ? g + s->momentum * buf[i] : buf[i]);
  }
}
