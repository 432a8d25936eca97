/* Fuzz harnesses: each file defines LLVMFuzzerTestOneInput for one reader. Built with
 * libFuzzer (configure --enable-fuzzing, clang) they fuzz; built with fuzz-main.c they
 * replay a corpus, so every input ever found to crash stays a regression test in
 * make check. */
#pragma once

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
