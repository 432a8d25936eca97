#!/bin/sh
# On the build machine (which has the -dev packages): builds the GPU checks and packs them,
# with the shared libraries they need that a GPU machine may lack (GLib, json-glib, Check,
# oneDNN, libpng, cairo, ...; not CUDA, cuDNN, cuBLAS or glibc, which it has), into one
# folder that bench/gpu-run.sh (copied in as run.sh) runs there:
#   bench/gpu-pack.sh [--no-build] [DIR]   (default: gpu-bundle; then DIR/run.sh there)
# --no-build packs what is built (tests/test-gpu-bundle.sh, inside make check).
set -eu
cd "$(dirname "$0")/.."
build=1
[ "${1:-}" != --no-build ] || { build=0; shift; }
out=${1:-gpu-bundle}
programs="tests/test-cuda tests/test-backend-ops tests/test-train tests/test-device-model bench/bench-cuda"
if [ "$build" = 1 ]; then
  make -s -j"$(nproc)" >/dev/null
  make -s $programs >/dev/null
fi
for t in $programs mtrun ml/cuda/.libs/libmt-cuda.so; do
  [ -e "$t" ] || { echo "gpu-pack: $t is not built (configure finds the CUDA toolkit; make)" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/backends" "$out/bench" "$out/tests" "$out/pipelines" "$out/data"
for t in $programs mtrun; do
  # libtool keeps the real program in .libs where it links shared libraries of the tree
  d=$(dirname "$t") b=$(basename "$t")
  if [ -x "$d/.libs/$b" ]; then cp "$d/.libs/$b" "$out/bin/"; else cp "$t" "$out/bin/"; fi
done
# PyTorch's side of the benchmarks, and the digits and Fashion-MNIST pipelines with their
# data (Debian's dataset-fashion-mnist, 30 MB) for the runs there.
cp bench/bench_torch.py bench/bench_torch_pipeline.py "$out/bench/"
cp tests/check_torch_smallcnn.py "$out/tests/"
cp pipelines/masktune_mnist.pipe pipelines/masktune_fashion.pipe pipelines/mask_sweep.pipe "$out/pipelines/"
cp -r data/mnist "$out/data/"
fashion=/usr/share/datasets/fashion-mnist
if [ -d "$fashion" ]; then mkdir -p "$out/data/fashion-mnist" && cp "$fashion"/*-ubyte* "$out/data/fashion-mnist/"
else echo "gpu-pack: no $fashion (apt-get install dataset-fashion-mnist): run.sh will not run the Fashion-MNIST pipeline" >&2; fi
# The plots' font, found through a configuration of the bundle's own (the GPU machine may
# have no fonts or no fontconfig configuration).
mkdir -p "$out/fonts"
cp -L /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf "$out/fonts/"
cp -L .libs/libmasktune.so.0 "$out/lib/"
cp -L ml/cuda/.libs/libmt-cuda.so "$out/backends/"
mkdir -p "$out/.libs" && ln -sf ../lib/libmasktune.so.0 "$out/.libs/libmasktune.so"
for f in "$out"/bin/* "$out"/lib/* "$out"/backends/*; do ldd "$f" 2>/dev/null; done |
  awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u |
  grep -v -E '/(libcuda|libcudart|libcudnn[^/]*|libcublas[^/]*|libnvrtc[^/]*|libnvJitLink|libc|libm|libdl|libpthread|librt|ld-linux[^/]*)\.so' |
  while read -r lib; do cp -L "$lib" "$out/lib/"; done
# The libraries compressed (60 MB, oneDNN's 40 of it, to about 13): a device call carries
# 64 MiB at most. run.sh unpacks them.
(cd "$out" && tar -cJf libs.tar.xz lib && rm -rf lib)
cp bench/gpu-run.sh "$out/run.sh"
chmod +x "$out/run.sh"
size=$(du -sm "$out" | cut -f1)
echo "gpu-pack: $out, $size MiB"
[ "$size" -lt 62 ] || { echo "gpu-pack: $out is $size MiB, over what a device call carries (64 MiB)" >&2; exit 1; }
