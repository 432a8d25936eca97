/* SGD with momentum and weight decay, exactly torch.optim.SGD (dampening 0, no Nesterov). */
#include "mt-ops.h"

void
mt_sgd_step (float *param, const float *grad, float *buf, gsize len, double lr,
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
