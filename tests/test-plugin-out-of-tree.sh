#!/bin/sh
# The example plugin builds out of tree against an installed masktune, found with
# pkg-config masktune-1.0, and mtrun loads it.
set -eu
: "${MT_BUILDDIR:?run through make check}" "${MT_SRCDIR:?}" "${MTRUN:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

${MAKE:-make} -s -C "$MT_BUILDDIR" install DESTDIR="$tmp/root" >"$tmp/install.log" 2>&1 || {
  cat "$tmp/install.log"; echo "FAIL: make install"; exit 1; }
# A staged install: point the .pc file's prefix at the staging directory.
pc=$(find "$tmp/root" -name masktune-1.0.pc | head -n 1)
prefix=$(sed -n 's/^prefix=//p' "$pc")
mkdir -p "$tmp/pc"
sed "s|^prefix=.*|prefix=$tmp/root$prefix|" "$pc" >"$tmp/pc/masktune-1.0.pc"
export PKG_CONFIG_PATH="$tmp/pc"
pkg-config --exists masktune-1.0 || { echo "FAIL: pkg-config does not find masktune-1.0"; exit 1; }
ver=$(pkg-config --modversion masktune-1.0)

mkdir -p "$tmp/plug"
cp "$MT_SRCDIR/nodes/plugins/mt-threshold-mask.c" "$MT_SRCDIR/nodes/plugins/mt-random-mask.c" \
   "$MT_SRCDIR/nodes/plugins/Makefile.example" "$tmp/plug/"
${MAKE:-make} -s -C "$tmp/plug" -f Makefile.example >"$tmp/build.log" 2>&1 || {
  cat "$tmp/build.log"; echo "FAIL: out-of-tree plugin build"; exit 1; }

out=$(MT_PLUGIN_PATH= "$MTRUN" inspect --plugin-path "$tmp/plug" threshold_mask)
echo "$out" | grep -q "origin:   $tmp/plug/threshold-mask.so" || { echo "$out"; echo "FAIL: plugin not loaded from $tmp/plug"; exit 1; }
echo "$out" | grep -q "threshold        mask pixels whose saliency is at least this" || { echo "$out"; echo "FAIL: properties"; exit 1; }
# The mask node runs in a pipeline, found through MT_PLUGIN_PATH alone.
cat >"$tmp/p.pipe" <<'PIPE'
d = mnist(limit=20)
b = biaser(d)
r = random_mask(b, min_size=6, max_size=6, seed=3)
PIPE
MT_PLUGIN_PATH="$tmp/plug" MT_CACHE_DIR="$tmp/cache" "$MTRUN" run -q "$tmp/p.pipe" || { echo "FAIL: random_mask pipeline"; exit 1; }
MT_PLUGIN_PATH="$tmp/plug" MT_CACHE_DIR="$tmp/cache" "$MTRUN" cache export -q -p "$tmp/p.pipe" r "$tmp/out" || { echo "FAIL: export"; exit 1; }
[ -s "$tmp/out/r.mask.npy" ] && [ -s "$tmp/out/r.dataset.safetensors" ] || { echo "FAIL: random_mask outputs"; exit 1; }
echo "out-of-tree plugins built against masktune $ver, loaded, and random_mask ran in a pipeline"
echo "1 passed, 0 failed"
