#!/bin/sh
# Planning time of a long pipeline: a chain of N nodes (default 100000), `mtrun run -n`,
# median of 5 runs. Usage: bench/bench-plan.sh [N]   (from a built tree)
set -eu
n=${1:-100000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk -v n="$n" 'BEGIN { print "n0 = mnist(limit=10)"; for (i = 1; i < n; i++) printf "n%d = biaser(n%d)\n", i, i - 1 }' > "$tmp/chain.pipe"
mtrun=$(dirname "$0")/../mtrun
for i in 1 2 3 4 5; do
  /usr/bin/time -f "%e" env MT_CACHE_DIR="$tmp/cache" "$mtrun" run -n "$tmp/chain.pipe" 2>&1 >/dev/null | tail -1
done | sort -n | sed -n 3p | sed "s/^/$n nodes planned in (median of 5, seconds): /"
