/* Fuzz harnesses: each file defines LLVMFuzzerTestOneInput for one reader. Built with
 * libFuzzer (configure --enable-fuzzing, clang) they fuzz; built with fuzz-main.c they
 * replay a corpus, so every input ever found to crash stays a regression test in
 * make check. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A reader must answer bad input with a GError, never with a GLib warning or critical
 * (a failed precondition): those abort here, so the fuzzer records them as crashes
 * (abort, not GLib's breakpoint trap, which libFuzzer does not catch). */
static GLogWriterOutput
mt_fuzz_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  GLogWriterOutput r = g_log_writer_standard_streams (level, fields, n_fields, user_data);
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_LEVEL_ERROR))
    abort ();
  return r;
}

static inline void
mt_fuzz_init (void)
{
  static gboolean done;
  if (!done) {
    g_log_set_writer_func (mt_fuzz_log_writer, NULL, NULL);
    done = TRUE;
  }
}
