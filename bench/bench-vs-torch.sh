#!/usr/bin/env bash
# masktune's CPU backend against PyTorch on the same machine, in alternating rounds (this
# machine is shared: one program's good minute must not be the other's bad one), medians
# of each. SmallCNN training steps and saliency passes, batch 128, at 1 and 2 threads.
#
#   make bench/bench-cpu && bench/bench-vs-torch.sh [ROUNDS] [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
iters=${2:-20}
python=${PYTHON:-/usr/bin/python3}
[ -x bench/bench-cpu ] || { echo "bench-vs-torch: build bench/bench-cpu first (make bench/bench-cpu)" >&2; exit 2; }
"$python" -c 'import torch' 2>/dev/null || { echo "bench-vs-torch: no PyTorch for $python" >&2; exit 2; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in 1 2; do
  for r in $(seq "$rounds"); do
    ./bench/bench-cpu --quiet --threads "$t" --iters "$iters" >>"$log"
    "$python" bench/bench_torch.py --quiet --threads "$t" --iters "$iters" >>"$log"
  done
done
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
printf "%-8s %-9s %12s %12s %7s   (img/s, medians of %d alternating rounds)\n" threads pass masktune torch ratio "$rounds"
for t in 1 2; do
  for pass in training saliency; do
    col=$([ "$pass" = training ] && echo 5 || echo 7)
    ours=$(grep "^masktune threads $t:" "$log" | awk -v c="$col" '{print $c}' | median)
    theirs=$(grep "^torch threads $t:" "$log" | awk -v c="$col" '{print $c}' | median)
    printf "%-8s %-9s %12.0f %12.0f %6.2fx\n" "$t" "$pass" "$ours" "$theirs" "$(awk -v a="$ours" -v b="$theirs" 'BEGIN {print a / b}')"
  done
done
