#!/usr/bin/env bash
# LoRA vs LoRA+WTA@0.3 (issue 5) from a trained base, the setting LoRA is
# meant for. No pretrained weights are reachable here, so the base is the
# small BERT fine-tuned exactly on SST-2 for BASE_STEPS steps (seed 1); both
# variants then continue from its exported model.onnx with adapters (rank 16)
# on every linear layer, base weights frozen, 3 seeds each, two runs at a
# time on one thread each. Prints a Markdown table.
#   scripts/lora-study.sh [BASE_STEPS] [LORA_STEPS] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/study.sh
basesteps=${1:-150} lorasteps=${2:-300} out=${3:-runs/lora-study}
data=../shared/data/sst2 vocab=../shared/tokenizers/bert-base-uncased.vocab.txt
[[ -d $data ]] || { echo "needs ../shared/data/sst2" >&2; exit 1; }
mkdir -p "$out"
crsc=$out/crsc # a binary of its own, as in t5-study.sh
CGO_ENABLED=0 go build -o "$crsc" ./cmd/crsc
common=(--task sst2 --data "$data" --vocab "$vocab" --max-len 48 --batch 32 --warmup 0.1 --log-every 500)
if [[ ! -f $out/base/model.onnx ]]; then
	rm -rf "$out/base"
	"$crsc" train --arch bert-small "${common[@]}" --max-steps "$basesteps" --lr 5e-4 --keep 1 --seed 1 --out "$out/base" | tail -3
fi
lora=(--lora 16 --lora-targets 'query|key|value|attention.output.dense|intermediate.dense|output.dense'
	--max-steps "$lorasteps" --lr 1e-3)
run() { # name seed flags...
	study_run "$crsc" "$out" "$1" "$2" "$out/base/model.onnx" "${common[@]}" "${lora[@]}" --threads 1 "${@:3}"
}
rm -f "$out/rows.md"
for seed in 1 2 3; do
	run lora16 "$seed" --keep 1 &
	run lora16+wta0.3 "$seed" --keep 0.3 &
	wait
done
{
	echo "base: $(sed -n 's/.*"accuracy":\([0-9.]*\).*/\1/p' "$out/base/metrics.jsonl" | tail -1) dev accuracy after $basesteps exact steps"
	echo
	study_table "$out"
} >"$out/table.md"
cat "$out/table.md"
