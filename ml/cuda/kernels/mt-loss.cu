// Softmax cross-entropy (ml/cpu/mt-op-loss.c).
#include "mt-cuda-common.cuh"

// Softmax cross-entropy, one thread per sample: the sample's loss, its correctness
// (argmax, first maximum) and d loss / d logits for the mean over the batch.
MT_KERNEL void mt_cross_entropy (const float *logits, const i64 *labels, float *dlogits,
                                              double *loss, int *correct, int n, int classes) {
  GRID_STRIDE (i, n) {
    const float *z = logits + i * classes;
    int arg = 0;
    for (int k = 1; k < classes; k++) if (z[k] > z[arg]) arg = k;
    double mx = z[arg], sum = 0;
    for (int k = 0; k < classes; k++) sum += exp ((double) z[k] - mx);
    double lse = mx + log (sum);
    i64 y = labels[i];
    loss[i] = lse - z[y];
    correct[i] = arg == y;
    if (dlogits)
      for (int k = 0; k < classes; k++)
        dlogits[i * classes + k] = (float) ((exp ((double) z[k] - lse) - (k == y)) / n);
  }
}
