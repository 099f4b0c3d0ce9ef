#!/usr/bin/env bash
# The engine benchmark: `crsc train` (exact, and --keep 0.3 --attention)
# against PyTorch on the same BERT-base-shaped classifier, full training
# steps (Dropout 0.1, cross-entropy, backward, clipping, AdamW), batch
# BATCH × 128, static padding, the three run alternately ROUNDS times on
# THREADS threads. The model is testdata/onnx/gen.py's Hugging-Face-structured
# BERT exported by Debian's torch in training mode (opset 14); crsc trains
# it on SST-2 (../shared/data/sst2), PyTorch on random ids of the same shape.
# Prints each run, then the medians and ratios: step time (the first two
# steps of each run left out), peak RSS, and crsc's plan total.
#
#   scripts/train-vs-torch.sh [ROUNDS] [BATCH] [STEPS]
#
# Needs /usr/bin/python3 with torch (apt-get install python3-torch
# libopenblas0-pthread). OMP_WAIT_POLICY=PASSIVE is set for PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2} batch=${2:-8} steps=${3:-6} threads=${THREADS:-2}
py=/usr/bin/python3
shared=../shared
"$py" -c "import torch" 2>/dev/null || { echo "train-vs-torch: needs Debian's python3-torch" >&2; exit 1; }
[[ -f $shared/data/sst2/train.tsv ]] || { echo "train-vs-torch: $shared/data/sst2/train.tsv is missing" >&2; exit 1; }
mkdir -p bin .cache/bench
CGO_ENABLED=0 go build -o bin/crsc ./cmd/crsc
model=.cache/bench/bert-base-train.onnx
if [[ ! -f $model ]]; then
	echo "== exporting BERT-base (training mode, opset 14) to $model"
	"$py" scripts/torch_train_step.py --export "$model" >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -9 "$shared/data/sst2/dev.tsv" >"$work/dev.tsv" # the final evaluation is not what is timed
export OMP_WAIT_POLICY=PASSIVE

# crsc_run NAME FLAGS...: one crsc train run; prints a JSON line.
crsc_run() {
	local name=$1 out=$work/$1
	shift
	rm -rf "$out"
	/usr/bin/time -f '%M' -o "$work/rss" bin/crsc train "$model" --task sst2 --data "$shared/data/sst2/train.tsv" \
		--eval-data "$work/dev.tsv" --vocab "$shared/tokenizers/bert-base-uncased.vocab.txt" --batch "$batch" --max-len 128 \
		--static-padding --lr 2e-5 --max-steps "$steps" --log-every 1 --threads "$threads" --out "$out" "$@" >"$work/$name.log" 2>&1 ||
		{ cat "$work/$name.log" >&2; exit 1; }
	"$py" - "$name" "$out" "$(cat "$work/rss")" <<'PY'
import json, re, statistics, sys
name, out, rss_kb = sys.argv[1], sys.argv[2], int(sys.argv[3])
ms = [r["step_ms"] for r in map(json.loads, open(out + "/metrics.jsonl")) if "step_ms" in r]
total = re.search(r"^planned: ([0-9.]+) (GiB|MiB)", open(out + "/memory.txt").read(), re.M)
plan = float(total.group(1)) * (2**30 if total.group(2) == "GiB" else 2**20)
print(json.dumps({"run": name, "ms_per_step": statistics.median(ms[2:] or ms), "peak_rss_bytes": rss_kb * 1024, "plan_total_bytes": plan}))
PY
}

torch_run() {
	"$py" scripts/torch_train_step.py --batch "$batch" --seq 128 --steps "$((steps + 2))" --threads "$threads" |
		"$py" -c 'import json,sys; r=json.loads(sys.stdin.read()); r["run"]="pytorch"; print(json.dumps(r))'
}

results=$work/results.jsonl
for ((r = 1; r <= rounds; r++)); do
	for side in exact wta torch; do
		case $side in
		exact) line=$(crsc_run exact --keep 1) ;; # crsc train samples at 0.3 by default
		wta) line=$(crsc_run wta --keep 0.3 --attention) ;;
		torch) line=$(torch_run) ;;
		esac
		echo "round $r: $line"
		echo "$line" >>"$results"
	done
done
"$py" - "$results" "$batch" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
def med(name, key):
    return statistics.median(r[key] for r in runs if r["run"] == name)
ex, wta, pt = (med(n, "ms_per_step") for n in ("exact", "wta", "pytorch"))
rex, rwta, rpt = (med(n, "peak_rss_bytes") / 2**30 for n in ("exact", "wta", "pytorch"))
pex, pwta = med("exact", "plan_total_bytes") / 2**30, med("wta", "plan_total_bytes") / 2**30
spread = lambda n: "%.0f–%.0f" % (min(r["ms_per_step"] for r in runs if r["run"] == n), max(r["ms_per_step"] for r in runs if r["run"] == n))
print(f"BERT-base {sys.argv[2]}x128 full training step, {len(runs)//3} rounds:")
print(f"  step time: crsc exact {ex:.0f} ms ({spread('exact')}), crsc wta@0.3+attention {wta:.0f} ms ({spread('wta')}), pytorch {pt:.0f} ms ({spread('pytorch')})")
print(f"  ratios: exact/pytorch {ex/pt:.2f} (target <= 0.9), wta/exact {wta/ex:.2f} (target <= 1)")
print(f"  peak RSS: crsc exact {rex:.2f} GiB (plan {pex:.2f}, {rex/pex:.2f}x; target <= 1.1), wta {rwta:.2f} GiB (plan {pwta:.2f}), pytorch {rpt:.2f} GiB")
print(f"  exact/pytorch RSS {rex/rpt:.2f} (target <= 0.7); wta saves {rex-rwta:.3f} GiB of the planned {pex-pwta:.3f} GiB ({(rex-rwta)/max(pex-pwta,1e-9):.0%}; target >= 80%)")
PY
