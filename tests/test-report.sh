#!/bin/sh
# mtrun report writes a page that opens from disk: every picture it names is there, the
# DAG is an SVG, and (where Debian's chromium is installed) a headless browser loads it
# with every image decoded and nothing on the console; its screenshot is kept as
# tests/report-screenshot.png for a person to look at.
set -u
work=$(mktemp -d "${TMPDIR:-/tmp}/mt-report-XXXXXX")
trap 'rm -rf "$work"' EXIT
export MT_CACHE_DIR="$work/cache"
cat > "$work/p.pipe" <<'PIPE'
param k in [1.0, 2.0]
train  = mnist(limit=400)
test   = mnist(split="test", limit=300)
biased = biaser(train, conflict_ratio=0.05)
biased_test = biaser(test, conflict_ratio=1.0)
erm    = trainer(biased, epochs=2, batch_size=64)
cam    = xgradcam(erm, biased)
masked = masker(biased, cam, k=$k)
tuned  = finetuner(erm, masked.dataset, state=erm.state)
report = evaluator(models=[erm, tuned[*]], tests=[biased_test])
look   = preview(biased, saliency=cam, mask=masked[k=2].mask, masked=masked[k=2].dataset, count=4)
PIPE
fail=0
"$MTRUN" run -q -j 2 "$work/p.pipe" || { echo "FAIL: the pipeline did not run"; exit 1; }
"$MTRUN" report -q "$work/p.pipe" -o "$work/page" || { echo "FAIL: mtrun report failed"; exit 1; }
page="$work/page/index.html"
[ -s "$page" ] || { echo "FAIL: no index.html"; exit 1; }
grep -q '<svg' "$work/page/dag.svg" || { echo "FAIL: dag.svg is not an SVG"; fail=1; }
images=0
for src in $(sed -n 's/.*<img src="\([^"]*\)".*/\1/p' "$page"); do
  images=$((images + 1))
  [ -s "$work/page/$src" ] || { echo "FAIL: the page shows $src, which is not there"; fail=1; }
done
# The DAG, datasets, maps, masks, the preview and the training curves.
[ "$images" -ge 10 ] || { echo "FAIL: only $images pictures in the page"; fail=1; }
for want in 'tuned[k=2]' 'Comparison' 'worst group' 'heat maps' 'masks (white: kept)' 'accuracy per epoch'; do
  grep -qF "$want" "$page" || { echo "FAIL: the page has no '$want'"; fail=1; }
done
if grep -q 'http' "$page"; then echo "FAIL: the page names a URL (it must open offline)"; fail=1; fi

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "SKIP: the browser check (apt-get install chromium)"
else
  flags="--headless --no-sandbox --disable-gpu --hide-scrollbars --allow-file-access-from-files"
  dom=$(timeout 120 "$browser" $flags --virtual-time-budget=20000 --enable-logging=stderr --v=0 --dump-dom \
        "file://$page" 2>"$work/console.log")
  loaded=$(printf '%s' "$dom" | sed -n 's/.*data-images="\([0-9]*\)\/\([0-9]*\)".*/\1 \2/p' | head -1)
  set -- $loaded
  if [ $# -ne 2 ] || [ "$1" != "$2" ] || [ "$1" -lt "$images" ]; then
    echo "FAIL: chromium decoded ${1:-?} of ${2:-?} images (the page has $images)"; fail=1
  else
    echo "chromium: $1 of $2 images decoded"
  fi
  if grep -E 'CONSOLE|Uncaught|Failed to load resource' "$work/console.log"; then
    echo "FAIL: the browser's console has messages"; fail=1
  fi
  timeout 120 "$browser" $flags --window-size=1280,2400 --screenshot="$MT_BUILDDIR/tests/report-screenshot.png" \
    "file://$page" >/dev/null 2>&1 || { echo "FAIL: no screenshot"; fail=1; }
fi
[ $fail = 0 ] && echo "PASS: the report opens from disk with every picture"
exit $fail
