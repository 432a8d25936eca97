/* SGD with momentum and weight decay, exactly torch.optim.SGD (dampening 0, no Nesterov). */
#include "ml/cpu/mt-ops.h"
#include "ml/cpu/mt-ref-ops.h"

void
mt_cpu_sgd_step (float *param, const float *grad, float *buf, gsize len, double lr,
             double momentum, double weight_decay, gboolean first_step)
{
  float lr_f = (float) lr, mom = (float) momentum, wd = (float) weight_decay;
  for (gsize i = 0; i < len; i++) {
    float g = grad[i] + wd * param[i];
    /* PyTorch starts the momentum buffer at the first gradient, not at zero. */
    buf[i] = first_step || momentum == 0 ? g : mom * buf[i] + g;
    param[i] -= lr_f * buf[i];
  }
}

/* ---- the double-precision reference ---------------------------------------------- */

void
mt_ref_sgd_step (double *param, const double *grad, double *buf, gsize len, double lr, double momentum,
                 double weight_decay, gboolean first_step)
{
  for (gsize i = 0; i < len; i++) {
    double g = grad[i] + weight_decay * param[i];
    buf[i] = first_step || momentum == 0 ? g : momentum * buf[i] + g;
    param[i] -= lr * buf[i];
  }
}
