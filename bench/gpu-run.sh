#!/bin/bash
# On a GPU machine, from a folder bench/gpu-pack.sh made: everything the CUDA issue asks to
# see on a GPU, in one call, most telling first:
#   1. the CUDA tests, which fail (not skip) without a usable GPU (MT_REQUIRE_GPU=1);
#   2. the benchmarks: bench-cuda (with and without CUDA graphs) and PyTorch eager's same
#      steps on this GPU;
#   3. the digits pipeline twice with --device cuda and fresh caches (the same objects, or
#      the CUDA path is not deterministic);
#   4. the whole Fashion-MNIST MaskTune pipeline with --device cuda, and the same work in
#      PyTorch eager (bench/bench_torch_pipeline.py);
#   4b. the mask sweep's 32 independent branches with -j 1 and -j 8 (the same objects;
#       how much sooner with 8 at a time);
#   5. compute-sanitizer's memcheck on test-cuda, test-backend-ops and test-device-model,
#      then racecheck, synccheck and initcheck on test-cuda.
# Each step has a time limit and the whole a deadline (MT_GPU_BUDGET_S seconds, default
# 540), so a hang costs its step, not the rest; a step that no longer fits is reported as
# not run. Logs go to ./logs; where $OUT is set (a device call's output folder, which
# brings back 8 files at most) this summary goes to $OUT/summary.txt and the logs, packed
# after every step, to $OUT/logs.tar.gz, so that they come back even from a call cut
# short. Exit status: 0 only when everything passed.
#   ./run.sh
# MT_GPU_REHEARSAL=1 rehearses it where there is no GPU (tests/test-gpu-bundle.sh does, so
# that what runs on the rare lent GPU has run before): every step and every line of the
# summary, on the CPU backend and PyTorch's CPU at small sizes; the GPU tests then fail,
# as they must without a GPU. MT_GPU_PYTHON: the python3 with PyTorch (default python3).
set -u
if [ "${MT_GPU_REHEARSAL:-0}" = 1 ]; then
  dev=cpu bench_images=512 torch_iters=2 small="-s train.limit=1000 -s test.limit=500"
  torch_small="--limit 1000 --test-limit 500 --epochs 1"
else
  dev=cuda bench_images=60000 torch_iters=20 small= torch_small=
fi
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
logs=$here/logs
rm -rf "$logs"
mkdir -p "$logs"
tee_pid=
if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
  exec > >(tee "$OUT/summary.txt") 2>&1
  tee_pid=$!
fi
save_logs () {
  if [ -n "${OUT:-}" ]; then
    tar -czf "$OUT/logs.tgz.part" -C "$here" logs && mv "$OUT/logs.tgz.part" "$OUT/logs.tar.gz"
  fi
}
deadline=$(( $(date +%s) + ${MT_GPU_BUDGET_S:-540} ))
status=0
# The libraries travel compressed (the bundle must stay under a device call's 64 MiB).
if [ ! -d lib ] && [ -f libs.tar.xz ]; then tar -xJf libs.tar.xz || { echo "libs.tar.xz: cannot unpack"; exit 1; }; fi
# cuDNN and cuBLAS where the machine has them: the CUDA toolkit, or PyTorch's wheels.
extra=$(python3 - 2>/dev/null <<'PY'
import glob, os, site
dirs = []
for s in site.getsitepackages() + [site.getusersitepackages()]:
    dirs += glob.glob(os.path.join(s, "nvidia", "*", "lib")) + glob.glob(os.path.join(s, "torch", "lib"))
print(":".join(dirs))
PY
)
orig_ld=${LD_LIBRARY_PATH:-}
# Base libraries the machine has itself are its own (as new or newer, and what its other
# programs, compute-sanitizer among them, were built against); ours wait in lib/spare for
# a machine without them, or one whose copies are too old for our programs.
mkdir -p lib/spare
has_lib () {
  local d
  for d in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib64 /usr/lib64 /usr/lib; do
    [ -e "$d/$1" ] && return 0
  done
  return 1
}
for so in libstdc++.so.6 libgcc_s.so.1 libgomp.so.1 libz.so.1 libexpat.so.1 libffi.so.8 libselinux.so.1 \
          libpcre2-8.so.0 libmount.so.1 libblkid.so.1 libbsd.so.0 libmd.so.0; do
  if [ -f "lib/$so" ] && has_lib "$so"; then mv "lib/$so" lib/spare/; fi
done
export LD_LIBRARY_PATH="$here/lib:/usr/local/cuda/lib64${extra:+:$extra}${orig_ld:+:$orig_ld}"
if ! bin/mtrun --version > /dev/null 2>&1 && [ -n "$(ls lib/spare)" ]; then
  mv lib/spare/* lib/
  echo "the machine's base libraries do not suit the bundle's programs: using the bundle's own"
fi
bin/mtrun --version || echo "bin/mtrun does not start here (above: why)"
# PyTorch's programs run with the machine's own library path, not the bundle's.
py=(env LD_LIBRARY_PATH="$orig_ld" "${MT_GPU_PYTHON:-python3}")
export MT_BACKEND_PATH="$here/backends" MT_BUILDDIR="$here" MT_SRCDIR="$here" MT_REQUIRE_GPU=1
export CK_DEFAULT_TIMEOUT=600 MT_DATA_DIR="$here/data"
# The plots' font from the bundle, whatever fonts the machine has.
mkdir -p fontcache
printf '<?xml version="1.0"?>\n<fontconfig><dir>%s/fonts</dir><cachedir>%s/fontcache</cachedir></fontconfig>\n' \
  "$here" "$here" > fonts.conf
export FONTCONFIG_FILE="$here/fonts.conf"

# step NAME LIMIT_S LOG CMD...: CMD with its output in $logs/LOG, cut at LIMIT_S or at the
# deadline; returns CMD's status (124: cut short, 125: not run).
step () {
  local name=$1 limit=$2 log=$3 left
  shift 3
  left=$(( deadline - $(date +%s) ))
  if [ "$left" -lt 20 ]; then
    printf '%-36s %s\n' "$name" "not run: out of time (MT_GPU_BUDGET_S)"
    status=1
    return 125
  fi
  [ "$limit" -le "$left" ] || limit=$left
  local t0 rc
  t0=$(date +%s%N)
  timeout -k 5 "$limit" "$@" > "$logs/$log" 2>&1
  rc=$?
  [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || { echo "(cut after $limit s)" >> "$logs/$log"; rc=124; }
  step_s=$(awk "BEGIN { printf \"%.1f\", ($(date +%s%N) - $t0) / 1e9 }")
  save_logs
  return "$rc"
}

# A cache's objects (their names are their digests: the same list, the same bytes); mtrun's
# closing line in a run's log ("N nodes: ... in S s"), and its S.
objects () { (cd "$1/objects" && find . -type f | sort); }
run_line () { grep -E '^[0-9]+ nodes: .* in [0-9.]+ s$' "$logs/$1" | tail -1; }
run_wall () { run_line "$1" | sed 's/.* in \([0-9.]*\) s$/\1/'; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$logs/gpu.txt" 2>&1 ||
  echo "nvidia-smi: no GPU visible" >> "$logs/gpu.txt"
cat "$logs/gpu.txt"

# 1. The CUDA tests: their cases that use a GPU (SUITE:CASE, CASE empty for all). The
# others run on the host alone, as in CI: test-cuda's NVRTC case (a cubin for every
# architecture, 40 s), test-device-model's guard-backend cases.
for run in test-cuda:core test-backend-ops: test-device-model:cuda; do
  t=${run%%:*} tc=${run#*:}
  step "$t" 150 "$t.log" env ${tc:+CK_RUN_CASE=$tc} "bin/$t"; rc=$?
  [ "$rc" -eq 125 ] && continue
  [ "$rc" -eq 0 ] || status=1
  printf '%-36s %s (%s s)\n' "$t" "$(grep -E '^[0-9]+%: Checks' "$logs/$t.log" || echo "did not finish ($t.log)")" "$step_s"
  grep -E ':[FE]:' "$logs/$t.log" | head -5 | sed 's/^/  /'
done
printf '%-36s %s\n' "parity run on" "$(sed -n 's/^CUDA parity on //p' "$logs/test-cuda.log" 2>/dev/null | head -1)"

# 2. The benchmarks: masktune's device path and PyTorch eager on this GPU.
if step "bench-cuda" 120 bench-cuda.log bin/bench-cuda --backend "$dev" --images "$bench_images" --epochs 3; then
  sed -n 's/^\(training\|saliency\|masks\)/bench-cuda \1/p' "$logs/bench-cuda.log"
elif [ $? -ne 125 ]; then echo "bench-cuda: failed (bench-cuda.log)"; tail -3 "$logs/bench-cuda.log"; status=1; fi
# The same without CUDA graphs: what recording the step saves.
if step "bench-cuda MT_GRAPHS=0" 90 bench-cuda-eager.log env MT_GRAPHS=0 bin/bench-cuda --backend "$dev" \
     --images "$bench_images" --epochs 2; then
  sed -n 's/^training/bench-cuda MT_GRAPHS=0 training/p' "$logs/bench-cuda-eager.log"
elif [ $? -ne 125 ]; then echo "bench-cuda MT_GRAPHS=0: failed (bench-cuda-eager.log)"; status=1; fi
if step "bench_torch.py" 120 bench-torch.log "${py[@]}" bench/bench_torch.py "$torch_iters" --device "$dev"; then
  tail -1 "$logs/bench-torch.log"
elif [ $? -ne 125 ]; then echo "bench_torch.py --device $dev: failed (bench-torch.log)"; tail -3 "$logs/bench-torch.log"; fi
# The issue's targets, from the two figures of this one run: an epoch in 0.15 s or less,
# and at least 5 times PyTorch eager's epoch on this GPU.
# Both as an epoch of 60,000 images at their best rate (bench-cuda's epochs are of
# $bench_images; PyTorch's last line is its best thread count on a CPU).
ours=$(sed -n 's/^training: best epoch [0-9.]* s, \([0-9.]*\) img\/s.*/\1/p' "$logs/bench-cuda.log" 2>/dev/null)
theirs=$(sed -n 's/.*an epoch of 60,000: \([0-9.]*\) s.*/\1/p' "$logs/bench-torch.log" 2>/dev/null | tail -1)
if [ -n "$ours" ] && [ -n "$theirs" ]; then
  awk -v a="$(awk -v r="$ours" 'BEGIN { printf "%.4f", 60000 / r }')" -v b="$theirs" 'BEGIN {
    printf "%-36s masktune %.3f s, PyTorch eager %.3f s: %.2fx; targets <= 0.15 s (%s) and >= 5x (%s)\n",
           "training epoch (60,000 images)", a, b, b / a, (a <= 0.15 ? "met" : "missed"), (b / a >= 5 ? "met" : "missed") }'
else
  echo "training epoch targets: not measured (bench-cuda or bench_torch.py gave no figure)"; status=1
fi
# Saliency likewise (no target; PyTorch's side stops at the gradient of the last block,
# masktune's makes the maps too).
ours=$(sed -n 's/^saliency: best pass [0-9.]* s, \([0-9.]*\) img\/s.*/\1/p' "$logs/bench-cuda.log" 2>/dev/null)
theirs=$(sed -n 's/.* saliency *\([0-9.]*\) img\/s.*/\1/p' "$logs/bench-torch.log" 2>/dev/null | tail -1)
if [ -n "$ours" ] && [ -n "$theirs" ]; then
  awk -v a="$ours" -v b="$theirs" 'BEGIN {
    printf "%-36s masktune %.3f s, PyTorch eager %.3f s: %.2fx\n", "saliency pass (60,000 images)", 60000 / a,
           60000 / b, a / b }'
fi

# 3. The digits pipeline twice, each with a fresh cache: the same objects (their names are
# their digests).
runs_ok=0
for k in 1 2; do
  rm -rf "cache$k"
  if step "pipeline run $k" 120 "pipeline-$k.log" bin/mtrun run -q -j 4 --device "$dev" -C "cache$k" -s epochs=1 \
       $small pipelines/masktune_mnist.pipe; then
    runs_ok=$((runs_ok + 1)); printf '%-36s %s s\n' "digits pipeline run $k (--device $dev)" "$step_s"
  elif [ $? -ne 125 ]; then echo "digits pipeline run $k: failed (pipeline-$k.log)"; tail -3 "$logs/pipeline-$k.log"; status=1; fi
done
if [ "$runs_ok" = 2 ]; then
  if [ "$(objects cache1)" = "$(objects cache2)" ]
  then echo "digits pipeline outputs: byte-identical across the two runs ($(objects cache1 | wc -l) objects)"
  else echo "digits pipeline outputs: differ between the two runs"; status=1; fi
fi

# 4. The whole Fashion-MNIST MaskTune pipeline, masktune on the GPU, then PyTorch eager.
fashion=$here/data/fashion-mnist
# Rehearsed on the digits where the bundle has no Fashion-MNIST: the same steps.
[ -d "$fashion" ] || [ "$dev" = cuda ] || fashion=$here/data/mnist
if [ -d "$fashion" ]; then
  rm -rf cache-fashion
  if step "fashion pipeline" 180 pipeline-fashion.log bin/mtrun run -j 4 --device "$dev" -C cache-fashion \
       -s root="$fashion" ${small:+-s epochs=1 $small} pipelines/masktune_fashion.pipe; then
    printf '%-36s %s s (%s)\n' "fashion pipeline (--device $dev)" "$step_s" \
      "$(run_line pipeline-fashion.log)"
    grep -E '^  done ' "$logs/pipeline-fashion.log" | sed 's/^ */  /'
    sed -n '/^| model/,/^$/p' "$logs/pipeline-fashion.log"
  elif [ $? -ne 125 ]; then echo "fashion pipeline: failed (pipeline-fashion.log)"; tail -3 "$logs/pipeline-fashion.log"; status=1; fi
  if step "fashion pipeline in torch" 180 torch-pipeline.log \
       "${py[@]}" bench/bench_torch_pipeline.py --device "$dev" --root "$fashion" $torch_small; then
    cat "$logs/torch-pipeline.log"
  elif [ $? -ne 125 ]; then echo "bench_torch_pipeline.py: failed (torch-pipeline.log)"; tail -3 "$logs/torch-pipeline.log"; fi
else
  echo "fashion pipeline: not run (the bundle has no data/fashion-mnist)"; status=1
fi

# 4b. Independent branches side by side: the mask sweep (16 maskers and 16 fine-tunings
# on one ERM model's maps), with -j 1 and then -j 8, each running node on its own backend
# instance and stream: the same objects either way (bytes do not depend on what ran
# beside what), and how much sooner -j 8 ends. Per run, the nodes' summed time over its
# wall time: how many ran at once.
sweeps=0
for j in 1 8; do
  rm -rf "cache-sweep$j"
  if step "mask sweep -j $j" 150 "pipeline-sweep-$j.log" bin/mtrun run -j "$j" --device "$dev" -C "cache-sweep$j" \
       -s epochs=1 $small pipelines/mask_sweep.pipe; then
    sweeps=$((sweeps + 1))
    awk -v what="mask sweep -j $j (--device $dev)" -v line="$(run_line "pipeline-sweep-$j.log")" \
        -v wall="$(run_wall "pipeline-sweep-$j.log")" '/^  done / { busy += $(NF - 1) }
      END { printf "%-36s %s; the nodes took %.1f s: %.1f at a time\n", what, line, busy, (wall > 0 ? busy / wall : 0) }' \
      "$logs/pipeline-sweep-$j.log"
  elif [ $? -ne 125 ]; then echo "mask sweep -j $j: failed (pipeline-sweep-$j.log)"; tail -3 "$logs/pipeline-sweep-$j.log"; status=1; fi
done
if [ "$sweeps" = 2 ]; then
  if [ "$(objects cache-sweep1)" = "$(objects cache-sweep8)" ]; then
    awk -v n="$(objects cache-sweep1 | wc -l)" -v a="$(run_wall pipeline-sweep-1.log)" \
        -v b="$(run_wall pipeline-sweep-8.log)" 'BEGIN {
      printf "mask sweep outputs: byte-identical with -j 1 and -j 8 (%d objects); -j 8 took %.1f s, -j 1 %.1f s: %.2fx\n",
             n, b, a, (b > 0 ? a / b : 0) }'
  else echo "mask sweep outputs: differ between -j 1 and -j 8"; status=1; fi
fi

# 5. compute-sanitizer on the CUDA tests' kernels and library calls.
cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ -x "$cs" ]; then
  # memcheck first on the three GPU suites' GPU cases (test-cuda's parity of the kernels;
  # every op through the backend, cuDNN and cuBLAS among them; training with CUDA graphs),
  # then the other three tools on test-cuda's (its NVRTC case, a cubin for every
  # architecture, runs on the host alone). TOOL:SUITE:CASE, CASE empty for all.
  for run in memcheck:test-cuda:core memcheck:test-backend-ops: memcheck:test-device-model:cuda \
             racecheck:test-cuda:core synccheck:test-cuda:core initcheck:test-cuda:core; do
    tool=${run%%:*} t=${run#*:} tc=${t#*:} t=${t%%:*}
    name="compute-sanitizer $tool $t"
    step "$name" 150 "sanitizer-$tool-$t.log" \
      env CK_FORK=no ${tc:+CK_RUN_CASE=$tc} "$cs" --tool "$tool" --print-limit 50 --error-exitcode 3 "bin/$t"; rc=$?
    case $rc in
      0) printf '%-36s %s (%s s)\n' "$name" clean "$step_s" ;;
      125) ;;
      124) printf '%-36s %s\n' "$name" "cut short (sanitizer-$tool-$t.log)"; status=1 ;;
      3) printf '%-36s %s\n' "$name" "errors (sanitizer-$tool-$t.log)"; status=1 ;;
      *) printf '%-36s %s\n' "$name" "no errors found, but the suite failed under it, status $rc (sanitizer-$tool-$t.log)"
         status=1 ;;
    esac
  done
else
  echo "compute-sanitizer: not found"; status=1
fi
echo "run.sh: $( [ "$status" = 0 ] && echo "everything passed" || echo "something failed or did not run")"
save_logs
# The summary's last lines reach $OUT/summary.txt before the call collects it.
if [ -n "$tee_pid" ]; then exec >&- 2>&-; wait "$tee_pid"; fi
exit "$status"
