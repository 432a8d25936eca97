#!/bin/sh
# Replays every fuzzer's seed corpus and every input that once crashed it
# (tests/fuzz/crashes/TARGET/) through the harness: run by make check, so a fixed
# crash stays fixed. The harnesses assert what each reader promises.
set -e
src="${MT_SRCDIR:-.}/tests/fuzz"
bin="${MT_BUILDDIR:-.}/tests/fuzz"
for target in pipe idx npy safetensors manifest cachedir; do
  set -- "$src/corpus/$target"
  [ -d "$src/crashes/$target" ] && set -- "$@" "$src/crashes/$target"
  "$bin/fuzz-$target" "$@"
done
