#!/usr/bin/env bash
# SST-2 study of issue 5: a small BERT (4 layers, hidden 256, random init:
# no pretrained weights are reachable) fine-tuned exact, WTA@0.3 and WTA@0.1
# with 3 seeds each, plus LoRA exact vs LoRA+WTA@0.3, on the same budget of
# steps; prints a Markdown table of dev accuracy, wall time, planned arena
# and peak RSS.
#   scripts/sst2-study.sh [STEPS] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/study.sh
steps=${1:-300} out=${2:-runs/sst2-study}
data=../shared/data/sst2 vocab=../shared/tokenizers/bert-base-uncased.vocab.txt
[[ -d $data ]] || { echo "needs ../shared/data/sst2" >&2; exit 1; }
mkdir -p bin "$out"
CGO_ENABLED=0 go build -o bin/crsc ./cmd/crsc
common=(--arch bert-small --task sst2 --data "$data" --vocab "$vocab" --max-len 48 --batch 32
	--max-steps "$steps" --lr 5e-4 --warmup 0.1 --log-every 100)
run() { # name seed flags...
	study_run bin/crsc "$out" "$1" "$2" "${common[@]}" "${@:3}"
}
rm -f "$out/rows.md"
for seed in 1 2 3; do
	run exact "$seed" --keep 1
	run wta0.3 "$seed" --keep 0.3
	run wta0.1 "$seed" --keep 0.1
done
run lora8 1 --lora 8 --lr 2e-3 --keep 1
run lora8+wta0.3 1 --lora 8 --lr 2e-3 --keep 0.3
study_table "$out" >"$out/table.md"
cat "$out/table.md"
