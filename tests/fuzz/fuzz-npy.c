/* The .npy reader. A file it accepts must survive a write and a second read unchanged. */
#include "tests/fuzz/mt-fuzz.h"
#include "tests/mt-internal.h"

#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  mt_fuzz_init ();
  g_autoptr (GError) err = NULL;
  g_autoptr (MtTensor) t = mt_npy_decode (data, size, "fuzz.npy", &err);
  g_assert ((t != NULL) != (err != NULL));
  if (!t)
    return 0;
  g_autoptr (GBytes) again = mt_npy_encode (t);
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (again, &len);
  g_autoptr (MtTensor) t2 = mt_npy_decode (p, len, "re-encoded", NULL);
  g_assert (t2 && t2->dtype == t->dtype && t2->ndim == t->ndim && t2->nbytes == t->nbytes);
  g_assert (t->nbytes == 0 || memcmp (t->data, t2->data, t->nbytes) == 0);
  return 0;
}
