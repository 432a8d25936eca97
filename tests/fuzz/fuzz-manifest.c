/* The cache manifest reader: what decides whether a cached result is trusted. */
#include "tests/fuzz/mt-fuzz.h"
#include "tests/mt-internal.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  mt_fuzz_init ();
  g_autoptr (GError) err = NULL;
  MtManifest *m = mt_manifest_parse ((const char *) data, size, "fuzz.json", &err);
  g_assert ((m != NULL) != (err != NULL));
  if (m)
    mt_manifest_free (m);
  return 0;
}
