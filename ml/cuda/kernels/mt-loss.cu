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

// The batch's mean loss and correct count from mt_cross_entropy's per-sample values,
// added by one thread in sample order as the CPU adds them (the same bits), into device
// memory: the step does not wait for the host to read them.
MT_KERNEL void mt_loss_total (const double *loss, const int *correct, int n, double *mean, i64 *right) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  double total = 0;
  i64 hits = 0;
  for (int i = 0; i < n; i++) {
    total += loss[i];
    hits += correct[i];
  }
  *mean = total / n;
  if (right) *right = hits;
}
