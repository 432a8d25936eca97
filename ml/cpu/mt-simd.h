/* Eight floats (one nChw8c pixel) as a GCC/Clang vector: portable code that compiles to
 * one AVX register where there is one, with branch-free selects (a compare gives an
 * all-ones or all-zeros lane mask). */
#pragma once

#include <glib.h>
#include <string.h>

/* The vectors never cross a call boundary (everything here is inline): GCC's note that
 * their ABI depends on -mavx does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float  MtV8f __attribute__ ((vector_size (32)));
typedef gint32 MtV8i __attribute__ ((vector_size (32)));

static inline MtV8f
mt_v8f_load (const float *p)
{
  MtV8f v;
  memcpy (&v, p, sizeof v);
  return v;
}

static inline void
mt_v8f_store (float *p, MtV8f v)
{
  memcpy (p, &v, sizeof v);
}

static inline MtV8i
mt_v8i_load (const gint32 *p)
{
  MtV8i v;
  memcpy (&v, p, sizeof v);
  return v;
}

static inline void
mt_v8i_store (gint32 *p, MtV8i v)
{
  memcpy (p, &v, sizeof v);
}

static inline MtV8f
mt_v8f_splat (float x)
{
  return (MtV8f) { x, x, x, x, x, x, x, x };
}

static inline MtV8i
mt_v8i_splat (gint32 x)
{
  return (MtV8i) { x, x, x, x, x, x, x, x };
}

/* mask ? a : b, lane by lane (mask lanes all ones or all zeros). */
static inline MtV8f
mt_v8f_select (MtV8i mask, MtV8f a, MtV8f b)
{
  return (MtV8f) (((MtV8i) a & mask) | ((MtV8i) b & ~mask));
}

static inline MtV8i
mt_v8i_select (MtV8i mask, MtV8i a, MtV8i b)
{
  return (a & mask) | (b & ~mask);
}
