#!/bin/sh
# The GPU bundle (bench/gpu-pack.sh) stays fit for the one device call a lent GPU gets,
# which has no -dev packages and no network:
#   - every shared library its programs and modules load is in it, or is glibc's or CUDA's;
#   - its mtrun starts on those libraries, with its CUDA module where run.sh looks;
#   - its PyTorch scripts import from inside it (the benchmarks' SmallCNN, with no python/);
#   - its run.sh, out of time at once, runs nothing, says so of every step, leaves the
#     summary and the packed logs where a device call collects them, and fails;
#   - its run.sh rehearsed on the CPU (MT_GPU_REHEARSAL=1) runs every step and reports
#     every figure it reports on a GPU.
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
         pipelines/masktune_mnist.pipe pipelines/masktune_fashion.pipe pipelines/mask_sweep.pipe data/mnist fonts/DejaVuSans.ttf; do
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

# The rehearsal (MT_GPU_REHEARSAL=1): every step as on a GPU, on the CPU at small sizes,
# with a stand-in for compute-sanitizer that runs the suite it is given. Each figure the
# summary reports on a GPU is there, made by the same lines of run.sh; only the GPU tests
# (and so the suites under the sanitizer) fail.
mkdir -p "$tmp/fake" "$tmp/out2"
printf '%s\n' '#!/bin/sh' '# A stand-in: drops compute-sanitizer'"'"'s options (each with its value), runs the program.' \
  'while [ "${1#--}" != "$1" ]; do shift 2; done' 'exec "$@"' > "$tmp/fake/compute-sanitizer"
chmod +x "$tmp/fake/compute-sanitizer"
(cd "$b" && PATH="$tmp/fake:$PATH" OUT="$tmp/out2" MT_GPU_REHEARSAL=1 MT_GPU_PYTHON="$py" MT_GPU_BUDGET_S=900 \
   ./run.sh) > "$tmp/rehearsal.log" 2>&1
rc=$?
sum=$tmp/out2/summary.txt
expect () {
  grep -q -E "$1" "$sum" 2>/dev/null || { echo "FAIL: the rehearsal's summary has no line matching: $1"; fail=1; }
}
expect '^test-cuda +[0-9]+%: Checks: 5,'
expect '^test-backend-ops +[0-9]+%: Checks: [0-9]+,'
expect '^test-device-model +[0-9]+%: Checks: 2,'
expect '^bench-cuda training: best epoch [0-9.]+ s, [0-9]+ img/s'
expect '^bench-cuda saliency: best pass [0-9.]+ s'
expect '^bench-cuda masks: mean_std best pass'
expect '^bench-cuda MT_GRAPHS=0 training: best epoch [0-9.]+ s'
expect '^digits pipeline run 2 \(--device cpu\) +[0-9.]+ s$'
expect '^digits pipeline outputs: byte-identical across the two runs \([0-9]+ objects\)$'
expect '^fashion pipeline \(--device cpu\) +[0-9.]+ s \(12 nodes: 12 ran, 0 cached, 0 failed in [0-9.]+ s\)$'
expect '^  done +erm +trainer +[0-9.]+ s$'
expect '^\| masktune \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$'
for j in 1 8; do
  expect "^mask sweep -j $j \(--device cpu\) +40 nodes: 40 ran, 0 cached, 0 failed in [0-9.]+ s; the nodes took [0-9.]+ s: [0-9.]+ at a time$"
done
expect '^mask sweep outputs: byte-identical with -j 1 and -j 8 \([0-9]+ objects\); -j 8 took [0-9.]+ s, -j 1 [0-9.]+ s: [0-9.]+x$'
for run in memcheck:test-cuda racecheck:test-cuda synccheck:test-cuda initcheck:test-cuda memcheck:test-backend-ops \
           memcheck:test-device-model; do
  expect "^compute-sanitizer ${run%%:*} ${run#*:} +no errors found, but the suite failed under it, status 1"
done
# Under each tool only the suites' GPU cases ran: test-device-model's has 2 checks.
grep -q 'Checks: 2,' "$b/logs/sanitizer-memcheck-test-device-model.log" 2>/dev/null ||
  { echo "FAIL: test-device-model under the sanitizer did not run its CUDA case alone"; fail=1; }
if "$py" -c 'import torch' 2>/dev/null; then
  expect '^training epoch \(60,000 images\) +masktune [0-9.]+ s, PyTorch eager [0-9.]+ s: [0-9.]+x; targets <= 0.15 s \((met|missed)\) and >= 5x \((met|missed)\)$'
  expect '^torch pipeline: [0-9.]+ s'
  expect '^saliency pass \(60,000 images\) +masktune [0-9.]+ s, PyTorch eager [0-9.]+ s: [0-9.]+x$'
fi
if grep -E '^(bench|digits|fashion|mask sweep|training epoch targets).*(: failed \(|not measured|differ between)' "$sum" 2>/dev/null; then
  echo "FAIL: a step of the rehearsal that needs no GPU failed (above)"; fail=1
fi
[ "$rc" -ne 0 ] || { echo "FAIL: the rehearsal's run.sh exits 0 although its GPU tests cannot pass"; fail=1; }
[ $fail = 0 ] || { echo "the rehearsal's output:"; cat "$tmp/rehearsal.log"; }

[ $fail = 0 ] && echo "PASS: the GPU bundle is whole, starts, its run.sh fails when nothing ran and reports every figure when rehearsed ($(du -sm "$b" | cut -f1) MiB unpacked)"
exit $fail
