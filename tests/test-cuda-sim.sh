#!/bin/sh
# The CUDA backend's host code, run without a GPU: the backend module built on the host's
# CUDA simulator (ml/cuda/sim/mt-cuda-sim.h: deferred stream work, device memory the host
# cannot touch, cuBLAS's and cuDNN's argument rules, graph capture's) instead of NVIDIA's
# runtime, cuBLAS and cuDNN. With MT_REQUIRE_GPU=1, so that nothing skips:
#   - test-backend-ops: every op of the CUDA backend against the double-precision references;
#   - test-device-model's CUDA case: training SmallCNN (SGD) and resnet20 (Adam) with CUDA
#     graphs against eager steps, byte for byte (its other cases run on the CPU);
#   - mtrun run --device cuda -j 2 on tests/cuda-sim.pipe (two instances, two streams): twice
#     with fresh caches, the same bytes; the manifests name the simulated device; the
#     models learn as on the CPU (accuracies within 5 points of the CPU run's; the worst
#     groups, a few dozen images, are not compared).
set -u
if [ ! -f "${MT_CUDA_SIM_MODULE:-}" ]; then
  echo "SKIP: built without the CUDA toolkit: there is no simulated CUDA backend"
  exit 77
fi
build=$(cd "$MT_BUILDDIR" && pwd) src=$(cd "$MT_SRCDIR" && pwd)
export MT_CUDA_MODULE="$MT_CUDA_SIM_MODULE" MT_REQUIRE_GPU=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# Under ASan and UBSan the simulated device is several times slower: the ops, the
# training case and the ops with MT_CUDA_SYNC=1 took 15 minutes there, the pipeline more.
# The ops run there, with and without MT_CUDA_SYNC=1; the normal build runs the rest.
tests="test-backend-ops test-device-model"
if [ "${MT_SANITIZERS:-no}" = yes ]; then
  tests=test-backend-ops
  echo "(a sanitizer build: test-device-model and the pipeline on the simulated device are left to the normal build)"
fi
for t in $tests; do
  case=
  [ "$t" = test-device-model ] && case=cuda
  if env ${case:+CK_RUN_CASE=$case} "$build/tests/$t" > "$tmp/$t.log" 2>&1; then
    echo "PASS: $t on the simulated CUDA device ($(grep -o 'Checks: [0-9]*' "$tmp/$t.log"))"
  else
    cat "$tmp/$t.log"
    echo "FAIL: $t on the simulated CUDA device"
    fail=1
  fi
done

# MT_CUDA_SYNC=1: each kernel waited for, no graphs; the same ops' results.
if MT_CUDA_SYNC=1 "$build/tests/test-backend-ops" > "$tmp/sync.log" 2>&1; then
  echo "PASS: test-backend-ops with MT_CUDA_SYNC=1 ($(grep -o 'Checks: [0-9]*' "$tmp/sync.log"))"
else
  cat "$tmp/sync.log"; echo "FAIL: test-backend-ops with MT_CUDA_SYNC=1"; fail=1
fi

[ "${MT_SANITIZERS:-no}" = yes ] && exit $fail
pipe="$src/tests/cuda-sim.pipe"
for side in a b; do
  "$MTRUN" run -q -j 2 --device cuda -C "$tmp/$side" "$pipe" > "$tmp/run-$side.log" 2>&1 ||
    { cat "$tmp/run-$side.log"; echo "FAIL: mtrun run --device cuda ($side)"; fail=1; }
done
"$MTRUN" run -q -j 2 --device cpu -C "$tmp/cpu" "$pipe" > "$tmp/run-cpu.log" 2>&1 ||
  { cat "$tmp/run-cpu.log"; echo "FAIL: mtrun run --device cpu"; fail=1; }
objects () { (cd "$1/objects" && find . -type f | sort); }
if [ "$(objects "$tmp/a")" = "$(objects "$tmp/b")" ] && [ -n "$(objects "$tmp/a")" ]; then
  echo "PASS: two runs on the simulated device, fresh caches: the same $(objects "$tmp/a" | wc -l) objects"
else
  echo "FAIL: two runs on the simulated device made different outputs"
  fail=1
fi
"$MTRUN" cache show erm -C "$tmp/a" -p "$pipe" > "$tmp/manifest.txt" 2>&1
grep -q '"backend": "cuda"' "$tmp/manifest.txt" && grep -q '"device": "masktune.s CUDA simulator' "$tmp/manifest.txt" ||
  { grep -A8 '"backend"' "$tmp/manifest.txt"; echo "FAIL: the manifest does not name the simulated CUDA device"; fail=1; }
# The evaluator's table: | model | raw acc | raw worst | biased acc | biased worst |.
table () { grep -E '^\| (erm|masktune) \|' "$1"; }
"$MTRUN" run -j 2 --device cuda -C "$tmp/a" "$pipe" > "$tmp/table-a.txt" 2>&1
"$MTRUN" run -j 2 --device cpu -C "$tmp/cpu" "$pipe" > "$tmp/table-cpu.txt" 2>&1
table "$tmp/table-a.txt" > "$tmp/ta"
table "$tmp/table-cpu.txt" > "$tmp/tc"
if [ "$(wc -l < "$tmp/ta")" -eq 2 ] && [ "$(wc -l < "$tmp/tc")" -eq 2 ] &&
   paste -d '|' "$tmp/ta" "$tmp/tc" | awk -F'|' '{ for (i = 3; i <= 5; i += 2) { d = $i - $(i + 7); if (d < 0) d = -d; if (d > 5) bad = 1 } } END { exit bad }'; then
  echo "PASS: accuracies on the simulated device within 5 points of the CPU's"
else
  echo "device:"; cat "$tmp/ta"; echo "cpu:"; cat "$tmp/tc"
  echo "FAIL: the simulated device's models do not learn as the CPU's do"
  fail=1
fi
exit $fail
