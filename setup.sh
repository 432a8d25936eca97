#!/usr/bin/env bash
# One command from a fresh Debian 12 machine: install what is missing, build, and run
# the main pipeline. The test suite is then: make -j2 check
set -euo pipefail
cd "$(dirname "$0")"

packages=(build-essential autoconf automake libtool pkgconf libglib2.0-dev libjson-glib-dev
          libpng-dev libjpeg62-turbo-dev libcairo2-dev fonts-dejavu-core zlib1g-dev libdnnl-dev check python3 python3-numpy dataset-fashion-mnist)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

[ -x configure ] || ./autogen.sh
[ -f Makefile ] || ./configure ${CONFIGURE_FLAGS:-}
make -j"$(nproc)"

# The main job: MaskTune on the bundled MNIST digits.
./mtrun run pipelines/masktune_mnist.pipe
for node in train_preview masked_preview panels erm masktune report; do
  ./mtrun cache export -q -p pipelines/masktune_mnist.pipe "$node" out/
done
echo "setup: done; results in out/ (out/report.table.md, out/report.accuracy.png, out/panels.image.png, ...)"
