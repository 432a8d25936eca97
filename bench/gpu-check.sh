#!/bin/sh
# On a machine with an NVIDIA GPU that can build masktune (its -dev packages installed):
# builds, packs the GPU checks as bench/gpu-pack.sh does, and runs them there and then
# (bench/gpu-run.sh: the CUDA tests with MT_REQUIRE_GPU=1, so that a skip fails; the
# benchmarks beside PyTorch eager; the pipelines; compute-sanitizer). A GPU machine that
# cannot build gets the bundle packed on one that can.
#   bench/gpu-check.sh [DIR]   (default: gpu-bundle; exit status: run.sh's)
set -eu
cd "$(dirname "$0")/.."
out=${1:-gpu-bundle}
[ -x configure ] || ./autogen.sh >/dev/null
[ -f Makefile ] || ./configure -q
bench/gpu-pack.sh "$out"
exec "$out/run.sh"
