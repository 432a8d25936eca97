#!/bin/sh
# On a machine with an NVIDIA GPU: build, run the CUDA tests (kernels compiled by NVRTC
# and checked against the CPU ops), the same under compute-sanitizer, and print a short
# table. Usage: bench/gpu-check.sh   (from anywhere in the tree)
set -eu
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi: no GPU visible"
[ -x configure ] || ./autogen.sh >/dev/null
[ -f Makefile ] || ./configure -q
make -s -j"$(nproc)" >/dev/null
make -s tests/test-cuda >/dev/null
status=0
MT_SRCDIR=$PWD MT_BUILDDIR=$PWD MT_BACKEND_PATH=$PWD/ml/cuda/.libs ./tests/test-cuda > gpu-check.log 2>&1 || status=$?
sanitizer=skipped
if command -v compute-sanitizer >/dev/null 2>&1; then
  if CK_FORK=no MT_BACKEND_PATH=$PWD/ml/cuda/.libs ./libtool --mode=execute compute-sanitizer --tool memcheck --error-exitcode 3 \
       ./tests/test-cuda > gpu-sanitizer.log 2>&1; then sanitizer=clean; else sanitizer="errors (gpu-sanitizer.log)"; fi
fi
printf '%-34s %s\n' "CUDA tests" "$(grep -E '^[0-9]+%: Checks' gpu-check.log || echo failed)"
printf '%-34s %s\n' "parity run on" "$(sed -n 's/^CUDA parity on //p' gpu-check.log | head -1)"
grep '^SKIP' gpu-check.log | sort -u | sed 's/^/  /' || true
printf '%-34s %s\n' "compute-sanitizer memcheck" "$sanitizer"
printf '%-34s %s\n' "training epoch / XGradCAM / pipeline" "not measured: the CUDA training path is not built yet"
exit "$status"
