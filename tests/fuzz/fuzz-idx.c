/* The IDX reader (MNIST, Fashion-MNIST, user files), plain and gzip-compressed. It reads
 * files through zlib, so the input goes through a file in a private directory. */
#include "tests/fuzz/mt-fuzz.h"
#include "tests/mt-internal.h"

#include <glib/gstdio.h>
#include <stdlib.h>

static char *path;

static void
cleanup (void)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_unlink (path);
  g_rmdir (dir);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  mt_fuzz_init ();
  if (!path) {
    /* The configurable limit on what a header may claim, below libFuzzer's malloc limit:
     * a gzip trailer can be forged to match any claim up to it. */
    g_setenv ("MT_MAX_INPUT_BYTES", "268435456", TRUE);
    g_autofree char *dir = g_dir_make_tmp ("mt-fuzz-idx-XXXXXX", NULL);
    g_assert (dir);
    path = g_build_filename (dir, "input-idx1-ubyte", NULL);
    atexit (cleanup);
  }
  g_assert (g_file_set_contents (path, (const char *) data, (gssize) size, NULL));
  g_autoptr (GError) err = NULL;
  g_autoptr (MtTensor) t = mt_idx_load (path, &err);
  g_assert ((t != NULL) != (err != NULL));
  return 0;
}
