#!/usr/bin/env bash
# Every GPU check of the CUDA issue in one run on a lent GPU machine, which
# has no Go: build here, carry bin/, run there.
#
#   here:      scripts/gpu-check.sh --build     # bin/crsc, bin/cuda.test, bin/gpu.test (CGO_ENABLED=0)
#   on the GPU: scripts/gpu-check.sh            # results in $OUT (or /tmp/gpu-check)
#
# It runs: crsc selftest --device cuda; the cuda and runtime/gpu tests on the
# real device; a BERT-base training step (32 × 128) exact and WTA@0.3 against
# PyTorch on the same GPU, alternating; crsc plan's predicted memory factor
# beside the measured one; and the largest batch that fits, full fine-tuning
# vs LoRA+WTA@0.1 (crsc probes the plan's prediction and 10 % above it,
# PyTorch searches its own). Each step has its own time limit, so one hang
# cannot eat the lease; the summary is in $OUT/summary.txt.
#
# PARTS picks what to run (default all three, about 10 minutes on an H100;
# split into two calls to stay inside one call's limit):
#   PARTS="checks bench" scripts/gpu-check.sh     # selftest, tests, step time and memory
#   PARTS=batch scripts/gpu-check.sh              # largest batch that fits
#
# Dry run here, on the CPU emulator of a GPU and a tiny model, to check the
# script itself (PyTorch on the CPU, no largest-batch search for it):
#   DEVICE=emu ARCH=bert-tiny BATCH=4 SEQ=32 STEPS=2 BUDGET=64MiB scripts/gpu-check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
if [[ ${1:-} == --build ]]; then
	set -e
	mkdir -p bin
	# Stripped: bin/ travels with the working tree, 64 MiB in all.
	CGO_ENABLED=0 go build -ldflags="-s -w" -o bin/crsc ./cmd/crsc
	CGO_ENABLED=0 go test -c -ldflags="-s -w" -o bin/cuda.test ./cuda
	CGO_ENABLED=0 go test -c -ldflags="-s -w" -o bin/gpu.test ./runtime/gpu
	ls -l bin
	exit
fi
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
sum=$out/summary.txt
: >"$sum"
say() { echo "$*" | tee -a "$sum"; }
batch=${BATCH:-32} seq=${SEQ:-128} steps=${STEPS:-10} device=${DEVICE:-cuda} arch=${ARCH:-bert-base}
torchdev=cpu py=${PY:-python3} # the device image's python3 has PyTorch
[[ $device == cuda ]] && torchdev=cuda

parts=${PARTS:-checks bench batch}
has() { [[ " $parts " == *" $1 "* ]]; }

say "== machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$sum"

if has checks; then
say "== crsc selftest --device $device"
timeout 300 bin/crsc selftest --device "$device" --verbose >"$out/selftest.txt" 2>&1
grep -v '^ok   kernel' "$out/selftest.txt" | cut -c1-400 | tee -a "$sum"

say "== go tests on the GPU (cuda: driver, cuBLAS, NVRTC; runtime/gpu: every case on the device)"
(cd cuda && timeout 120 ../bin/cuda.test -test.run 'TestGPU|TestOpen|NVRTC' -test.v 2>&1) >"$out/cuda-test.txt"
grep -E '^(--- |ok|FAIL|PASS)' "$out/cuda-test.txt" | tee -a "$sum"
testdev=
[[ $device == cuda ]] && testdev=cuda # else the emulator
(cd runtime/gpu && CRSC_TEST_DEVICE=$testdev timeout 240 ../../bin/gpu.test -test.short 2>&1) >"$out/gpu-test.txt"
tail -3 "$out/gpu-test.txt" | tee -a "$sum"
fi

bench=$out/bench.jsonl
if has bench; then
say "== $arch training step $batch × $seq (forward + backward), alternating, 2 rounds"
: >"$bench"
for round in 1 2; do
	timeout 240 bin/crsc bench --device "$device" --arch "$arch" --batch "$batch" --seq "$seq" --steps "$steps" --json 2>>"$out/bench.err" |
		sed 's/^{/{"run":"crsc exact",/' >>"$bench"
	timeout 240 bin/crsc bench --device "$device" --arch "$arch" --batch "$batch" --seq "$seq" --steps "$steps" --keep 0.3 --attention --json 2>>"$out/bench.err" |
		sed 's/^{/{"run":"crsc wta0.3",/' >>"$bench"
	timeout 240 "$py" scripts/torch_bert_step.py --device "$torchdev" --batch "$batch" --seq "$seq" --steps "$steps" 2>>"$out/bench.err" |
		sed 's/^{/{"run":"pytorch",/' >>"$bench"
done
plan() { bin/crsc plan --arch "$arch" --batch "$batch" --seq "$seq" --dropout 0 --json "$@"; }
plan --no-memory-rewrites | sed 's/^{/{"run":"plan full",/' >>"$bench"
plan --keep 0.3 --attention | sed 's/^{/{"run":"plan wta0.3",/' >>"$bench"
fi

if has batch; then
say "== largest batch at seq $seq on this GPU: full vs LoRA+WTA@0.1"
if [[ -z ${BUDGET:-} ]]; then
	free=$(nvidia-smi --query-gpu=memory.free --format=csv,noheader,nounits | head -1) # MiB
	BUDGET=$((free * 95 / 100))MiB
fi
budget=$BUDGET
probe() { # name flags...: the plan's largest batch, then measured at it and 10 % above
	local name=$1
	shift
	local b
	b=$(bin/crsc plan --arch "$arch" --seq "$seq" --dropout 0 --budget "$budget" --json "$@" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_batch"])')
	if ! [[ $b =~ ^[0-9]+$ ]] || ((b < 1)); then
		echo "{\"run\":\"fits $name\",\"error\":\"crsc plan gave no batch under $budget\"}" >>"$bench"
		return
	fi
	for try in "$b" $((b * 11 / 10)); do
		if timeout 200 bin/crsc bench --device "$device" --arch "$arch" --batch "$try" --seq "$seq" --steps 1 --json "$@" >"$out/probe.json" 2>"$out/probe.err"; then
			echo "{\"run\":\"fits $name\",\"planned_max\":$b,\"batch\":$try,\"fits\":true}" >>"$bench"
		else
			echo "{\"run\":\"fits $name\",\"planned_max\":$b,\"batch\":$try,\"fits\":false,\"error\":$(tail -1 "$out/probe.err" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()[:200]))')}" >>"$bench"
		fi
	done
}
probe full --no-memory-rewrites
probe lora+wta0.1 --lora 32 --keep 0.1 --attention
if [[ $torchdev == cuda ]]; then
	timeout 400 "$py" scripts/torch_bert_step.py --device cuda --seq "$seq" --batch 64 --max-batch 2>>"$out/bench.err" |
		sed 's/^{/{"run":"pytorch max batch",/' >>"$bench"
fi
fi

touch "$bench"
python3 - "$bench" <<'PY' | tee -a "$sum"
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
by = {}
for r in runs:
    by.setdefault(r["run"], []).append(r)
def med(name, key="median_ms"):
    v = [r[key] for r in by.get(name, []) if key in r]
    return statistics.median(v) if v else float("nan")
ex, wta, pt = med("crsc exact"), med("crsc wta0.3"), med("pytorch")
print(f"step time (median of runs' medians): crsc exact {ex:.1f} ms, crsc WTA@0.3 {wta:.1f} ms, PyTorch {pt:.1f} ms")
print(f"  exact / PyTorch = {ex/pt:.2f} (target <= 1.3); WTA@0.3 / exact = {wta/ex:.2f}")
dev = lambda name: max((r.get("device_peak_bytes", 0) for r in by.get(name, [])), default=0)
pw, pp = dev("crsc wta0.3"), dev("pytorch")
pf, pwp = by.get("plan full", [{}])[0], by.get("plan wta0.3", [{}])[0]
# crsc bench and the PyTorch step run no optimizer: compare peaks without its state.
peak = lambda p: p.get("params_bytes", 0) + p.get("arena_bytes", 0)
predicted = peak(pf) / max(peak(pwp), 1)
print(f"peak device memory: crsc WTA@0.3 {pw/2**30:.2f} GiB, crsc exact {dev('crsc exact')/2**30:.2f} GiB, PyTorch full {pp/2**30:.2f} GiB")
print(f"  PyTorch full / crsc WTA@0.3 = {pp/max(pw,1):.2f}; crsc plan predicts full / WTA@0.3 = {predicted:.2f} (target: measured >= predicted)")
for r in runs:
    if r["run"].startswith("fits") or r["run"] == "pytorch max batch":
        print("  ", json.dumps(r))
for name in ("crsc exact", "crsc wta0.3"):
    for r in by.get(name, [])[:1]:
        print(f"  {name}: fallbacks {r.get('fallbacks')} on {r.get('device')}")
PY
