/* The data loader's throughput and memory: streams every JPEG/PNG of a folder (any
 * depth) through resize + centre crop in batches, with N workers, and reports images/s
 * and the peak RSS; then, with --hold, decodes them all into memory as load="memory"
 * does, for the comparison.
 *
 *   bench-loader DIR [--crop 224] [--resize 256] [--batch 128] [--workers 0] [--hold] */
#include "ml/mt-dataset.h"
#include "ml/mt-loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <glib/gstdio.h>

static void
collect (const char *root, const char *rel, GPtrArray *out)
{
  g_autofree char *dir = g_build_filename (root, rel, NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  if (!d)
    return;
  const char *name;
  while ((name = g_dir_read_name (d))) {
    g_autofree char *r = *rel ? g_build_filename (rel, name, NULL) : g_strdup (name);
    g_autofree char *p = g_build_filename (root, r, NULL);
    if (g_file_test (p, G_FILE_TEST_IS_DIR))
      collect (root, r, out);
    else if (g_str_has_suffix (name, ".jpg") || g_str_has_suffix (name, ".png"))
      g_ptr_array_add (out, g_steal_pointer (&r));
  }
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static double
peak_mib (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

int
main (int argc, char **argv)
{
  int crop = 224, resize = 256, batch = 128, workers = 0;
  gboolean hold = FALSE;
  GOptionEntry entries[] = {
    { "crop", 0, 0, G_OPTION_ARG_INT, &crop, "centre crop", "N" },
    { "resize", 0, 0, G_OPTION_ARG_INT, &resize, "shorter side", "N" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "batch size", "N" },
    { "workers", 0, 0, G_OPTION_ARG_INT, &workers, "decoding threads (0: up to 4)", "N" },
    { "hold", 0, 0, G_OPTION_ARG_NONE, &hold, "also decode all into memory", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) oc = g_option_context_new ("DIR");
  g_option_context_add_main_entries (oc, entries, NULL);
  if (!g_option_context_parse (oc, &argc, &argv, NULL) || argc != 2) {
    fprintf (stderr, "usage: bench-loader DIR [--crop N] [--resize N] [--batch N] [--workers N] [--hold]\n");
    return 2;
  }
  g_autoptr (GPtrArray) rel = g_ptr_array_new_with_free_func (g_free);
  collect (argv[1], "", rel);
  g_ptr_array_sort (rel, cmp_str);
  gint64 n = rel->len, vs[] = { n };
  if (n == 0) {
    fprintf (stderr, "no images under %s\n", argv[1]);
    return 1;
  }
  g_autoptr (MtTensor) sizes = mt_tensor_new (MT_DTYPE_I64, 1, vs);
  g_autoptr (MtTensor) labels = mt_tensor_new (MT_DTYPE_I64, 1, vs);
  for (gint64 i = 0; i < n; i++) {
    g_autofree char *p = g_build_filename (argv[1], rel->pdata[i], NULL);
    GStatBuf st;
    ((gint64 *) sizes->data)[i] = g_stat (p, &st) == 0 ? (gint64) st.st_size : 0;
  }
  g_autofree char *root = g_canonicalize_filename (argv[1], NULL);
  g_autoptr (MtBundle) b = mt_dataset_new_streamed (root, rel, sizes, labels, NULL, resize, crop, 3, crop, crop);
  g_autoptr (GError) err = NULL;
  g_autoptr (MtLoader) l = mt_loader_new (b, workers);
  gint64 t0 = g_get_monotonic_time ();
  mt_loader_start (l, NULL, n, batch, NULL, 0);
  const guint8 *px;
  int got = 0;
  guint64 sum = 0;
  while ((px = mt_loader_next (l, &got, NULL, &err)))
    sum += px[0];
  if (err) {
    fprintf (stderr, "%s\n", err->message);
    return 1;
  }
  double secs = (g_get_monotonic_time () - t0) / 1e6;
  printf ("streamed: %" G_GINT64_FORMAT " images %dx%d, batch %d: %.0f img/s, peak RSS %.0f MiB (checksum %" G_GUINT64_FORMAT ")\n",
          n, crop, crop, batch, n / secs, peak_mib (), sum);
  if (hold) {
    t0 = g_get_monotonic_time ();
    g_autoptr (MtTensor) all = mt_loader_gather (b, NULL, 0, &err);
    (void) all;
    printf ("held:     %.0f img/s, peak RSS %.0f MiB\n", n / ((g_get_monotonic_time () - t0) / 1e6), peak_mib ());
  }
  return 0;
}
