/* The .pipe language: lexer, parser, literal conversion, graph building, diagnostics. */
#include "tests/fuzz/mt-fuzz.h"
#include "tests/mt-internal.h"

#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  mt_fuzz_init ();
  /* A file with a NUL byte is refused before parsing (mt_graph_load_file). */
  if (memchr (data, 0, size))
    return 0;
  g_autofree char *src = g_strndup ((const char *) data, size);
  MtRegistry *reg = mt_registry_get_default ();
  g_autoptr (GError) err = NULL;
  g_autoptr (MtDag) g = mt_graph_load_string ("fuzz.pipe", src, reg, NULL, &err);
  g_assert ((g != NULL) != (err != NULL));
  if (g) {
    g_autofree char *dot = mt_dag_to_dot (g, NULL, NULL);
  }
  /* The same text as a --set value. */
  g_autoptr (GError) err2 = NULL;
  g_autoptr (MtAstValue) v = mt_parse_cli_value (src, &err2);
  return 0;
}
