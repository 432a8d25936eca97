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
  g_return_val_if_fail (b != NULL, NULL);
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
  g_return_if_fail (b != NULL && name != NULL && t != NULL);
  g_hash_table_replace (b->tensors, g_strdup (name), mt_tensor_ref (t));
}

MtTensor *
mt_bundle_get (MtBundle *b, const char *name)
{
  g_return_val_if_fail (b != NULL && name != NULL, NULL);
  return g_hash_table_lookup (b->tensors, name);
}

guint
mt_bundle_size (MtBundle *b)
{
  g_return_val_if_fail (b != NULL, 0);
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
  g_return_val_if_fail (b != NULL, NULL);
  guint n = 0;
  const char **names = (const char **) g_hash_table_get_keys_as_array (b->tensors, &n);
  qsort (names, n, sizeof (char *), cmp_names);
  return names;
}

void
mt_bundle_set_metadata (MtBundle *b, const char *key, const char *value)
{
  g_return_if_fail (b != NULL);
  g_hash_table_replace (b->metadata, g_strdup (key), g_strdup (value));
}

const char *
mt_bundle_get_metadata (MtBundle *b, const char *key)
{
  g_return_val_if_fail (b != NULL, NULL);
  return g_hash_table_lookup (b->metadata, key);
}

GHashTable *
mt_bundle_metadata (MtBundle *b)
{
  g_return_val_if_fail (b != NULL, NULL);
  return b->metadata;
}

void
mt_bundle_add_prefixed (MtBundle *dst, const char *prefix, MtBundle *src)
{
  g_return_if_fail (dst != NULL && prefix != NULL && src != NULL);
  g_autofree const char **names = mt_bundle_names (src);
  for (guint i = 0; names[i]; i++) {
    g_autofree char *name = g_strdup_printf ("%s.%s", prefix, names[i]);
    mt_bundle_set (dst, name, mt_bundle_get (src, names[i]));
  }
}

gboolean
mt_bundle_take_prefixed (MtBundle *dst, const char *prefix, MtBundle *src, char **missing)
{
  g_return_val_if_fail (dst != NULL && prefix != NULL && src != NULL, FALSE);
  g_autofree const char **names = mt_bundle_names (dst);
  for (guint i = 0; names[i]; i++) {
    g_autofree char *name = g_strdup_printf ("%s.%s", prefix, names[i]);
    MtTensor *t = mt_bundle_get (src, name);
    if (!t) {
      if (missing)
        *missing = g_steal_pointer (&name);
      return FALSE;
    }
    mt_bundle_set (dst, names[i], t);
  }
  return TRUE;
}
