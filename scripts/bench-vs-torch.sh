#!/usr/bin/env bash
# Times a BERT-base-shaped step in crsc and in PyTorch (Debian's torch, CPU)
# alternately, ROUNDS times each, on the same threads, and prints each run
# and the ratio of the medians. Usage:
#   scripts/bench-vs-torch.sh [train|forward] [BATCH] [SEQ] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-train} batch=${2:-8} seq=${3:-128} rounds=${4:-3}
py=/usr/bin/python3
"$py" -c "import torch" 2>/dev/null || { echo "needs Debian's python3-torch (apt-get install python3-torch)" >&2; exit 1; }
mkdir -p bin
CGO_ENABLED=0 go build -o bin/crsc ./cmd/crsc
export OMP_WAIT_POLICY=PASSIVE   # torch's spinning OpenMP threads otherwise fight OpenBLAS's
crsc_runs=() torch_runs=()
for ((r = 1; r <= rounds; r++)); do
	c=$(bin/crsc bench --arch bert-base --mode "$mode" --batch "$batch" --seq "$seq" --steps 3 --threads 2 --json 2>/dev/null)
	t=$("$py" scripts/torch_bert_step.py --mode "$mode" --batch "$batch" --seq "$seq" --steps 3 --threads 2)
	echo "round $r crsc:    $c"
	echo "round $r pytorch: $t"
	crsc_runs+=("$c") torch_runs+=("$t")
done
"$py" - "${crsc_runs[@]}" "${torch_runs[@]}" <<'PY'
import json, statistics, sys
runs = [json.loads(a) for a in sys.argv[1:]]
half = len(runs) // 2
c, t = runs[:half], runs[half:]
cm = statistics.median(r["median_ms"] for r in c)
tm = statistics.median(r["median_ms"] for r in t)
cr = max(r["peak_rss_bytes"] for r in c) / 2**30
tr = max(r["peak_rss_bytes"] for r in t) / 2**30
print(f"{c[0]['mode']} batch {c[0]['batch']}x{c[0]['seq']}: crsc {cm:.0f} ms, pytorch {tm:.0f} ms, ratio {cm/tm:.2f}; "
      f"peak RSS crsc {cr:.2f} GiB, pytorch {tr:.2f} GiB, ratio {cr/tr:.2f}")
PY
