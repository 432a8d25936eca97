/* The CPU backend's layout of 4-D activations: oneDNN's nChw8c (channels in blocks of 8,
 * the block innermost: one AVX2 vector per pixel) when the channel count fills the
 * blocks, else plain NCHW. Both take exactly n * c * h * w floats, and a tensor with one
 * pixel per plane (h = w = 1, every 2-D tensor) is the same in both. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MT_LAYOUT_BLOCK 8

static inline gboolean
mt_layout_blocked (int c)
{
  return c > 0 && c % MT_LAYOUT_BLOCK == 0;
}

/* Where element (i, ch, p) of an [n, c, hw] tensor lives in its layout. */
static inline gsize
mt_layout_index (int c, int hw, int i, int ch, int p)
{
  if (!mt_layout_blocked (c))
    return ((gsize) i * c + ch) * hw + p;
  return (((gsize) i * (c / MT_LAYOUT_BLOCK) + ch / MT_LAYOUT_BLOCK) * hw + p) * MT_LAYOUT_BLOCK +
         ch % MT_LAYOUT_BLOCK;
}

/* Converts between NCHW and the layout (a copy where they are the same). */
void mt_layout_from_nchw (const float *x, int n, int c, int hw, float *y);
void mt_layout_to_nchw   (const float *x, int n, int c, int hw, float *y);

G_END_DECLS
