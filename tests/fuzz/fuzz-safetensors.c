/* The .safetensors reader (datasets, models, optimizer state). Accepted files must
 * round-trip through the writer. */
#include "tests/fuzz/mt-fuzz.h"
#include "tests/mt-internal.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  mt_fuzz_init ();
  g_autoptr (GError) err = NULL;
  g_autoptr (MtBundle) b = mt_safetensors_decode (data, size, "fuzz.safetensors", &err);
  g_assert ((b != NULL) != (err != NULL));
  if (!b)
    return 0;
  g_autoptr (GBytes) again = mt_safetensors_encode (b);
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (again, &len);
  g_autoptr (MtBundle) b2 = mt_safetensors_decode (p, len, "re-encoded", NULL);
  g_assert (b2 && mt_bundle_size (b2) == mt_bundle_size (b));
  /* Whatever a dataset check says, it must say it without crashing. */
  g_autoptr (GError) derr = NULL;
  mt_dataset_check (b, "fuzz", &derr);
  g_autoptr (GError) merr = NULL;
  g_autoptr (MtModel) m = mt_model_from_bundle (b, "fuzz", &merr);
  return 0;
}
