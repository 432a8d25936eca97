/* Replays files (or every file of directories) through a fuzz harness: the regression
 * side of fuzzing, for builds without libFuzzer. Exit status 0 when all ran. */
#include "tests/fuzz/mt-fuzz.h"

#include <glib.h>
#include <stdio.h>

static int
replay (const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) err = NULL;
  if (!g_file_get_contents (path, &data, &len, &err)) {
    fprintf (stderr, "fuzz-main: %s\n", err->message);
    return 1;
  }
  LLVMFuzzerTestOneInput ((const uint8_t *) data, len);
  return 0;
}

int
main (int argc, char **argv)
{
  int failed = 0, n = 0;
  for (int i = 1; i < argc; i++) {
    if (!g_file_test (argv[i], G_FILE_TEST_IS_DIR)) {
      failed |= replay (argv[i]);
      n++;
      continue;
    }
    g_autoptr (GDir) dir = g_dir_open (argv[i], 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name (dir))) {
      g_autofree char *p = g_build_filename (argv[i], name, NULL);
      failed |= replay (p);
      n++;
    }
  }
  printf ("%s: %d inputs replayed\n", argv[0], n);
  return failed;
}
