/* The CPU backend's layout of 4-D activations: oneDNN's nChw16c on CPUs whose oneDNN
 * kernels are AVX-512 ones, nChw8c on the others (channels in blocks of 16 or 8, the block
 * innermost: one vector register per pixel), when the channel count fills the blocks;
 * else plain NCHW. Every layout takes exactly n * c * h * w floats, and a tensor with one
 * pixel per plane (h = w = 1, every 2-D tensor) is the same in all of them. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The blocks' sizes: the vectors of the blocked ops (ml/cpu/mt-simd.h) are 8 floats, and a
 * block is one or two of them. */
#define MT_LAYOUT_VECTOR 8
#define MT_LAYOUT_MAX_BLOCK 16

/* The block size of this process, fixed at the first call: 16 where oneDNN runs AVX-512
 * kernels, else 8; $MT_LAYOUT_BLOCK=8 or 16 chooses. */
int      mt_layout_block     (void);
/* Tests, before any tensor is made: another block size (8 or 16). */
void     mt_layout_set_block (int block);

static inline gboolean
mt_layout_blocked (int c)
{
  return c > 0 && c % mt_layout_block () == 0;
}

/* Where element (i, ch, p) of an [n, c, hw] tensor lives in its layout. */
static inline gsize
mt_layout_index (int c, int hw, int i, int ch, int p)
{
  if (!mt_layout_blocked (c))
    return ((gsize) i * c + ch) * hw + p;
  int b = mt_layout_block ();
  return (((gsize) i * (c / b) + ch / b) * hw + p) * b + ch % b;
}

/* Converts between NCHW and the layout (a copy where they are the same). */
void mt_layout_from_nchw (const float *x, int n, int c, int hw, float *y);
void mt_layout_to_nchw   (const float *x, int n, int c, int hw, float *y);

G_END_DECLS
