/* A small, fast, seedable random number generator (xoshiro256**, seeded through
 * splitmix64) whose streams never change between versions or platforms: results
 * that depend on a seed stay reproducible, and so do their cache keys. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint64 s[4];
} MtRng;

void    mt_rng_seed      (MtRng *rng, guint64 seed);
guint64 mt_rng_next      (MtRng *rng);
/* Uniform in [0, bound), bound > 0, without modulo bias. */
guint64 mt_rng_below     (MtRng *rng, guint64 bound);
/* Uniform in [0, 1) with 53 random bits. */
double  mt_rng_uniform   (MtRng *rng);
/* Fisher-Yates shuffle of @n indices. */
void    mt_rng_shuffle   (MtRng *rng, gint64 *items, gsize n);

G_END_DECLS
