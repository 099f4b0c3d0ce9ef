#!/usr/bin/env bash
# SST-2 study of issue 5, second half: the tiny T5 trained text to text
# (random init) exact, WTA@0.3 and WTA@0.1 with 3 seeds each, and LoRA vs
# LoRA+WTA@0.3 on the small BERT with adapters on every linear layer (so that
# some adapter inputs are sampled), 3 seeds each. Two runs at a time, one
# thread each; prints a Markdown table of dev accuracy, wall time and peak
# memory.
#   scripts/t5-study.sh [T5_STEPS] [LORA_STEPS] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/study.sh
t5steps=${1:-1200} lorasteps=${2:-400} out=${3:-runs/t5-study}
data=../shared/data/sst2
tok=../shared/tokenizers/t5-small.tokenizer.json vocab=../shared/tokenizers/bert-base-uncased.vocab.txt
[[ -d $data ]] || { echo "needs ../shared/data/sst2" >&2; exit 1; }
mkdir -p "$out"
# A binary of its own: rebuilding bin/crsc meanwhile must not change later runs.
crsc=$out/crsc
CGO_ENABLED=0 go build -o "$crsc" ./cmd/crsc
t5=(--arch t5-tiny --tokenizer "$tok" --max-len 48 --batch 32 --max-steps "$t5steps" --lr 3e-3 --warmup 0.1)
lora=(--arch bert-small --vocab "$vocab" --max-len 48 --batch 32 --max-steps "$lorasteps" --lr 2e-3 --warmup 0.1
	--lora 16 --lora-targets 'query|key|value|attention.output.dense|intermediate.dense|output.dense')
run() { # name seed flags...
	study_run "$crsc" "$out" "$1" "$2" --task sst2 --data "$data" --threads 1 --log-every 500 "${@:3}"
}
rm -f "$out/rows.md"
jobs=()
for seed in 1 2 3; do
	jobs+=("t5-exact $seed ${t5[*]@Q} --keep 1" "t5-wta0.3 $seed ${t5[*]@Q} --keep 0.3" "t5-wta0.1 $seed ${t5[*]@Q} --keep 0.1")
	jobs+=("lora16 $seed ${lora[*]@Q} --keep 1" "lora16+wta0.3 $seed ${lora[*]@Q} --keep 0.3")
done
for ((i = 0; i < ${#jobs[@]}; i += 2)); do
	eval "run ${jobs[i]}" &
	if ((i + 1 < ${#jobs[@]})); then eval "run ${jobs[i+1]}" & fi
	wait
done
study_table "$out" >"$out/table.md"
cat "$out/table.md"
