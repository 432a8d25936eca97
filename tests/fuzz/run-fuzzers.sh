#!/bin/sh
# Builds the libFuzzer harnesses with clang (ASan + UBSan + coverage) from the committed
# sources in _build-fuzz/, then fuzzes each reader for SECONDS (default 300), two at a
# time, starting from the seed corpus. Prints executions and findings per target; any
# crashing input is left in _build-fuzz/findings/TARGET/ — fix it, then copy it to
# tests/fuzz/crashes/TARGET/ so make check replays it from then on.
#
#   tests/fuzz/run-fuzzers.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-300}
[ $# -gt 0 ] && shift
targets=${*:-pipe idx npy safetensors manifest cachedir}
top=$PWD/_build-fuzz

build=$top/src/build
if [ ! -x "$build/tests/fuzz/fuzz-npy" ] || [ -n "${REBUILD:-}" ]; then
  rm -rf "$top" && mkdir -p "$top/src"
  git archive HEAD | tar -x -C "$top/src"
  (cd "$top/src" && ./autogen.sh >/dev/null 2>&1 && mkdir build && cd build &&
   CC=clang ../configure -q --enable-fuzzing --without-cuda >/dev/null &&
   make -s -j"$(nproc)" >/dev/null 2>&1) || { echo "run-fuzzers: the build failed"; exit 1; }
fi

run_one () {
  t=$1
  rm -rf "$top/work/$t" "$top/findings/$t"
  mkdir -p "$top/work/$t" "$top/findings/$t"
  cp tests/fuzz/corpus/"$t"/* "$top/work/$t/"
  # Leaks are checked by make check's sanitizer run; here only crashes and UB count.
  ASAN_OPTIONS=detect_leaks=0 "$build/tests/fuzz/fuzz-$t" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$top/findings/$t/" "$top/work/$t" > "$top/$t.log" 2>&1 || true
}

running=0
for t in $targets; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge 2 ]; then wait; running=0; fi
done
wait

printf '%-12s %14s %8s %s\n' target executions corpus findings
for t in $targets; do
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$top/$t.log" | tail -1)
  found=$(ls "$top/findings/$t" | wc -l)
  printf '%-12s %14s %8s %s\n' "$t" "${execs:-?}" "$(ls "$top/work/$t" | wc -l)" "$found"
done
