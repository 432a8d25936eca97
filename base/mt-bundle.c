#include "base/mt-bundle.h"

#include <string.h>

struct _MtBundle {
  gatomicrefcount ref_count;
  GHashTable *tensors;   /* name -> MtTensor* */
  GHashTable *metadata;  /* key -> value */
};

G_DEFINE_BOXED_TYPE (MtBundle, mt_bundle, mt_bundle_ref, mt_bundle_unref)

MtBundle *
mt_bundle_new (void)
{
  MtBundle *b = g_new0 (MtBundle, 1);
  g_atomic_ref_count_init (&b->ref_count);
  b->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) mt_tensor_unref);
  b->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return b;
}

MtBundle *
mt_bundle_ref (MtBundle *b)
{
  g_atomic_ref_count_inc (&b->ref_count);
  return b;
}

void
mt_bundle_unref (MtBundle *b)
{
  if (b && g_atomic_ref_count_dec (&b->ref_count)) {
    g_hash_table_unref (b->tensors);
    g_hash_table_unref (b->metadata);
    g_free (b);
  }
}

void
mt_bundle_set (MtBundle *b, const char *name, MtTensor *t)
{
  g_hash_table_replace (b->tensors, g_strdup (name), mt_tensor_ref (t));
}

MtTensor *
mt_bundle_get (MtBundle *b, const char *name)
{
  return g_hash_table_lookup (b->tensors, name);
}

guint
mt_bundle_size (MtBundle *b)
{
  return g_hash_table_size (b->tensors);
}

static int
cmp_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

const char **
mt_bundle_names (MtBundle *b)
{
  guint n = 0;
  const char **names = (const char **) g_hash_table_get_keys_as_array (b->tensors, &n);
  qsort (names, n, sizeof (char *), cmp_names);
  return names;
}

void
mt_bundle_set_metadata (MtBundle *b, const char *key, const char *value)
{
  g_hash_table_replace (b->metadata, g_strdup (key), g_strdup (value));
}

const char *
mt_bundle_get_metadata (MtBundle *b, const char *key)
{
  return g_hash_table_lookup (b->metadata, key);
}

GHashTable *
mt_bundle_metadata (MtBundle *b)
{
  return b->metadata;
}
