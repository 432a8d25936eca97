#include "base/mt-rng.h"

static guint64
splitmix64 (guint64 *x)
{
  guint64 z = (*x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void
mt_rng_seed (MtRng *rng, guint64 seed)
{
  guint64 x = seed;
  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64 (&x);
}

static inline guint64
rotl (guint64 x, int k)
{
  return (x << k) | (x >> (64 - k));
}

guint64
mt_rng_next (MtRng *rng)
{
  guint64 *s = rng->s;
  guint64 result = rotl (s[1] * 5, 7) * 9;
  guint64 t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return result;
}

guint64
mt_rng_below (MtRng *rng, guint64 bound)
{
  g_return_val_if_fail (bound > 0, 0);
  /* Rejection keeps every value equally likely. */
  guint64 limit = G_MAXUINT64 - G_MAXUINT64 % bound;
  guint64 r;
  do
    r = mt_rng_next (rng);
  while (r >= limit);
  return r % bound;
}

double
mt_rng_uniform (MtRng *rng)
{
  return (mt_rng_next (rng) >> 11) * 0x1.0p-53;
}

void
mt_rng_shuffle (MtRng *rng, gint64 *items, gsize n)
{
  for (gsize i = n; i > 1; i--) {
    gsize j = mt_rng_below (rng, i);
    gint64 t = items[i - 1];
    items[i - 1] = items[j];
    items[j] = t;
  }
}
