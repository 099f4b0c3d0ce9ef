#!/usr/bin/env bash
# Times a BERT-base-shaped training step exact and with WTA-CRS sampling,
# alternating ROUNDS times, and prints the median step times and their ratio.
#   scripts/bench-keep.sh [KEEP] [BATCH] [SEQ] [ROUNDS] [extra crsc bench flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
keep=${1:-0.3} batch=${2:-8} seq=${3:-128} rounds=${4:-3}
shift $(($# < 4 ? $# : 4))
mkdir -p bin
CGO_ENABLED=0 go build -o bin/crsc ./cmd/crsc
exact=() sampled=()
for ((r = 1; r <= rounds; r++)); do
	e=$(bin/crsc bench --arch bert-base --batch "$batch" --seq "$seq" --steps 2 --json 2>/dev/null)
	s=$(bin/crsc bench --arch bert-base --batch "$batch" --seq "$seq" --steps 2 --keep "$keep" --json "$@" 2>/dev/null)
	echo "round $r exact:   $e"
	echo "round $r keep $keep: $s"
	exact+=("$(echo "$e" | sed 's/.*"median_ms":\([0-9.]*\).*/\1/')")
	sampled+=("$(echo "$s" | sed 's/.*"median_ms":\([0-9.]*\).*/\1/')")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
me=$(median "${exact[@]}") ms=$(median "${sampled[@]}")
awk -v e="$me" -v s="$ms" -v k="$keep" 'BEGIN{printf "exact %.0f ms, keep %s %.0f ms: ratio %.3f\n", e, k, s, s/e}'
