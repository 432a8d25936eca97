#!/bin/sh
# The GPU bundle (bench/gpu-pack.sh) stays fit for the one device call a lent GPU gets,
# which has no -dev packages and no network:
#   - every shared library its programs and modules load is in it, or is glibc's or CUDA's;
#   - its mtrun starts on those libraries, with its CUDA module where run.sh looks;
#   - its PyTorch scripts import from inside it (the benchmarks' SmallCNN, with no python/);
#   - its run.sh, out of time at once, runs nothing, says so of every step, leaves the
#     summary and the packed logs where a device call collects them, and fails.
# What its steps do without a GPU (fail, not skip) is MT_REQUIRE_GPU's, tested where they run.
set -u
src=$(cd "$MT_SRCDIR" && pwd) build=$(cd "$MT_BUILDDIR" && pwd)
if [ "$src" != "$build" ]; then
  echo "SKIP: an out-of-tree build; bench/gpu-pack.sh packs an in-tree one"
  exit 77
fi
if [ ! -f "$build/ml/cuda/.libs/libmt-cuda.so" ]; then
  echo "SKIP: built without the CUDA toolkit: there is no CUDA module to pack"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
b=$tmp/bundle
fail=0
"$src/bench/gpu-pack.sh" --no-build "$b" > "$tmp/pack.log" 2>&1 || { cat "$tmp/pack.log"; echo "FAIL: gpu-pack.sh"; exit 1; }
for f in run.sh libs.tar.xz bin/mtrun bin/test-cuda bin/test-backend-ops bin/test-device-model bin/bench-cuda \
         backends/libmt-cuda.so bench/bench_torch.py bench/bench_torch_pipeline.py tests/check_torch_smallcnn.py \
         pipelines/masktune_mnist.pipe pipelines/masktune_fashion.pipe data/mnist fonts/DejaVuSans.ttf; do
  [ -e "$b/$f" ] || { echo "FAIL: the bundle has no $f"; fail=1; }
done
(cd "$b" && tar -xJf libs.tar.xz) || { echo "FAIL: libs.tar.xz does not unpack"; exit 1; }

# Every library resolved from the bundle, or one a GPU machine has: glibc's, CUDA's.
for f in "$b"/bin/* "$b"/lib/* "$b"/backends/*; do
  LD_LIBRARY_PATH="$b/lib:/usr/local/cuda/lib64" ldd "$f" 2>/dev/null
done > "$tmp/ldd.txt"
outside=$(awk '$2 == "=>" && $3 != "not" {print $1, $3}' "$tmp/ldd.txt" | grep -v " $b/lib/" |
          grep -v -E '^(libc|libm|libdl|libpthread|librt|ld-linux[^ ]*|libcudart|libcublas|libcublasLt|libcudnn[^ ]*|libnvrtc|libcuda)\.so' |
          sort -u)
[ -z "$outside" ] || { echo "FAIL: libraries from outside the bundle:"; echo "$outside"; fail=1; }
missing=$(grep "not found" "$tmp/ldd.txt" | sort -u)
[ -z "$missing" ] || { echo "FAIL: libraries not found:"; echo "$missing"; fail=1; }

v=$(cd "$b" && LD_LIBRARY_PATH="$b/lib:/usr/local/cuda/lib64" MT_BACKEND_PATH="$b/backends" bin/mtrun --version 2>&1)
case $v in
  mtrun*) ;;
  *) echo "FAIL: the bundle's mtrun does not start: $v"; fail=1 ;;
esac

py=${PYTHON3:-python3}
if "$py" -c 'import torch' 2>/dev/null; then
  for s in bench_torch bench_torch_pipeline; do
    out=$(cd "$b" && "$py" -c "import sys; sys.path.insert(0, 'bench'); import $s" 2>&1) || { echo "FAIL: bench/$s.py does not import in the bundle:"; echo "$out"; fail=1; }
  done
else
  echo "PyTorch not installed: the bundle's benchmark scripts not imported"
fi

# Out of time from the start: every step reported as not run, the summary and the logs in
# $OUT, a failing exit.
mkdir -p "$tmp/out"
(cd "$b" && OUT="$tmp/out" MT_GPU_BUDGET_S=0 ./run.sh) > "$tmp/run.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] || { echo "FAIL: run.sh exits 0 having run nothing"; fail=1; }
n=$(grep -c 'not run: out of time' "$tmp/out/summary.txt" 2>/dev/null)
[ "${n:-0}" -ge 10 ] || { echo "FAIL: run.sh reported ${n:-no} steps as not run (10 or more expected):"; cat "$tmp/run.log"; fail=1; }
grep -q 'run.sh: something failed or did not run' "$tmp/out/summary.txt" 2>/dev/null ||
  { echo "FAIL: no closing line in \$OUT/summary.txt"; fail=1; }
tar -tzf "$tmp/out/logs.tar.gz" > /dev/null 2>&1 || { echo "FAIL: no \$OUT/logs.tar.gz"; fail=1; }
files=$(find "$tmp/out" -type f | wc -l)
[ "$files" -le 8 ] || { echo "FAIL: $files files in \$OUT (a device call brings back 8)"; fail=1; }

[ $fail = 0 ] && echo "PASS: the GPU bundle is whole, starts, and its run.sh fails when nothing ran ($(du -sm "$b" | cut -f1) MiB unpacked)"
exit $fail
