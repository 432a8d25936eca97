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
cp "$MT_SRCDIR/nodes/plugins/mt-threshold-mask.c" "$MT_SRCDIR/nodes/plugins/Makefile.example" "$tmp/plug/"
${MAKE:-make} -s -C "$tmp/plug" -f Makefile.example >"$tmp/build.log" 2>&1 || {
  cat "$tmp/build.log"; echo "FAIL: out-of-tree plugin build"; exit 1; }

out=$(MT_PLUGIN_PATH= "$MTRUN" inspect --plugin-path "$tmp/plug" threshold_mask)
echo "$out" | grep -q "origin:   $tmp/plug/threshold-mask.so" || { echo "$out"; echo "FAIL: plugin not loaded from $tmp/plug"; exit 1; }
echo "$out" | grep -q "threshold        mask pixels whose saliency is at least this" || { echo "$out"; echo "FAIL: properties"; exit 1; }
echo "out-of-tree plugin built against masktune $ver and loaded"
echo "1 passed, 0 failed"
