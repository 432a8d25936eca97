/* Fuzz harnesses: each file defines LLVMFuzzerTestOneInput for one reader. Built with
 * libFuzzer (configure --enable-fuzzing, clang) they fuzz; built with fuzz-main.c they
 * replay a corpus, so every input ever found to crash stays a regression test in
 * make check. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A reader must answer bad input with a GError, never with a GLib warning or critical
 * (a failed precondition): those abort here, so the fuzzer reports them as crashes. */
static inline void
mt_fuzz_init (void)
{
  static gboolean done;
  if (!done) {
    g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
    done = TRUE;
  }
}
