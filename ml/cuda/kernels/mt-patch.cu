// Planting the biaser's square patch (nodes/mt-biaser.c).
#include "mt-cuda-common.cuh"

// The biaser's square patch on the samples marked in @patched (RGB images).
MT_KERNEL void mt_plant_square (unsigned char *images, const unsigned char *patched,
                                             int n, int h, int w, int y0, int x0, int size,
                                             unsigned char r, unsigned char g, unsigned char b) {
  GRID_STRIDE (i, (i64) n * size * size) {
    i64 s = i / (size * size);
    int o = (int) (i % (size * size)), y = y0 + o / size, x = x0 + o % size;
    if (!patched[s] || y >= h || x >= w) continue;
    unsigned char *img = images + s * 3 * h * w;
    img[y * w + x] = r;
    img[h * w + y * w + x] = g;
    img[2 * h * w + y * w + x] = b;
  }
}
