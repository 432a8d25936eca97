#!/bin/bash
# On a GPU machine, from a folder bench/gpu-pack.sh made: the CUDA checks, which fail (not
# skip) without a usable GPU (MT_REQUIRE_GPU=1), then the same under compute-sanitizer's
# four tools, and a short table. Exit status: 0 only when everything passed.
#   ./run.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
# cuDNN and cuBLAS where the machine has them: the CUDA toolkit, or PyTorch's wheels.
extra=$(python3 - 2>/dev/null <<'PY'
import glob, os, site
dirs = []
for s in site.getsitepackages() + [site.getusersitepackages()]:
    dirs += glob.glob(os.path.join(s, "nvidia", "*", "lib")) + glob.glob(os.path.join(s, "torch", "lib"))
print(":".join(dirs))
PY
)
export LD_LIBRARY_PATH="$here/lib:/usr/local/cuda/lib64${extra:+:$extra}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export MT_BACKEND_PATH="$here/backends" MT_BUILDDIR="$here" MT_SRCDIR="$here" MT_REQUIRE_GPU=1
export CK_DEFAULT_TIMEOUT=600
cd "$here"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi: no GPU visible"
status=0
for t in test-cuda test-backend-ops test-device-model; do
  "bin/$t" > "$t.log" 2>&1 || status=1
  printf '%-34s %s\n' "$t" "$(grep -E '^[0-9]+%: Checks' "$t.log" || echo "did not finish ($t.log)")"
  grep -E ':[FE]:' "$t.log" | head -5 | sed 's/^/  /'
done
printf '%-34s %s\n' "parity run on" "$(sed -n 's/^CUDA parity on //p' test-cuda.log | head -1)"
if command -v compute-sanitizer >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/compute-sanitizer ]; then
  cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  for tool in memcheck racecheck synccheck initcheck; do
    if CK_FORK=no "$cs" --tool "$tool" --error-exitcode 3 bin/test-cuda > "sanitizer-$tool.log" 2>&1; then r=clean
    else r="errors (sanitizer-$tool.log)"; status=1; fi
    printf '%-34s %s\n' "compute-sanitizer $tool" "$r"
  done
else
  echo "compute-sanitizer: not found"; status=1
fi
# The benchmarks: masktune's device path (bench/bench-cuda) and PyTorch eager on this GPU.
if bin/bench-cuda --epochs 3 > bench-cuda.log 2>&1; then sed -n 's/^\(training\|saliency\|masks\)/bench-cuda \1/p' bench-cuda.log
else echo "bench-cuda: failed (bench-cuda.log)"; status=1; fi
# The same without CUDA graphs: what recording the step saves.
if MT_GRAPHS=0 bin/bench-cuda --epochs 2 > bench-cuda-eager.log 2>&1
then sed -n 's/^training/bench-cuda MT_GRAPHS=0 training/p' bench-cuda-eager.log
else echo "bench-cuda MT_GRAPHS=0: failed (bench-cuda-eager.log)"; status=1; fi
python3 bench/bench_torch.py 20 --device cuda > bench-torch.log 2>&1 && tail -1 bench-torch.log ||
  echo "bench_torch.py --device cuda: failed (bench-torch.log)"
# The digits pipeline on the GPU twice, each with a fresh cache: the same objects (their
# names are their digests), or the CUDA path is not deterministic.
export MT_DATA_DIR="$here/data"
runs_ok=0
for k in 1 2; do
  rm -rf "cache$k"
  start=$(date +%s%N)
  if bin/mtrun run -q -j 4 --device cuda -C "cache$k" -s epochs=1 pipelines/masktune_mnist.pipe > "pipeline-$k.log" 2>&1
  then runs_ok=$((runs_ok + 1)); printf '%-34s %s s\n' "pipeline run $k (--device cuda)" "$(awk "BEGIN { printf \"%.1f\", ($(date +%s%N) - $start) / 1e9 }")"
  else echo "pipeline run $k: failed (pipeline-$k.log)"; tail -3 "pipeline-$k.log"; status=1; fi
done
if [ "$runs_ok" = 2 ]; then
  if diff -q <(cd cache1/objects && find . -type f | sort) <(cd cache2/objects && find . -type f | sort) >/dev/null
  then echo "pipeline outputs: byte-identical across the two runs"
  else echo "pipeline outputs: differ between the two runs"; status=1; fi
fi
exit "$status"
