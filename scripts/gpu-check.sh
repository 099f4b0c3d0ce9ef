#!/usr/bin/env bash
# The GPU checks of the CUDA backend, for a lent GPU machine, which has no Go:
# build here, carry bin/, run there, one part per device command.
#
#   here:       scripts/gpu-check.sh --build       # bin/crsc, bin/cuda.test, bin/gpu.test (CGO_ENABLED=0, stripped)
#   on the GPU: PARTS=checks scripts/gpu-check.sh  # results in $OUT (or /tmp/gpu-check)
#
# Device limits this fits: one command runs at most 10 minutes, a session has
# 15 minutes of device time in all (the machine's start included) and at most
# 8 files come back from $OUT. So the work is split into PARTS, each cut off
# at PART_LIMIT seconds (default 420, well under 8 minutes: a step that
# would run past it is cut short or skipped, and says so), each writing two
# files to $OUT: <part>.txt (its summary) and <part>.log (the logs of its
# steps), so all four parts together still come back. Run them in this
# order, most important first, one call each (or two short ones together):
#
#   1. PARTS=checks  crsc selftest --device cuda (stops at the first sticky
#                    CUDA error, naming the kernel); the cuda and runtime/gpu
#                    tests on the device (CRSC_TEST_DEVICE=cuda)
#   2. PARTS=bench   one round of a BERT-base training step (BATCH × SEQ,
#                    forward + backward): crsc exact, crsc WTA@0.3, PyTorch on
#                    the same GPU; peak device memory; crsc plan's predicted
#                    factor beside the measured one
#   3. PARTS=batch   the largest batch that fits, full fine-tuning vs
#                    LoRA+WTA@0.1 (crsc probes its plan's prediction and 10 %
#                    above it; PyTorch searches its own)
#   4. PARTS=train   crsc train --device cuda (AdamW on the device), exact and
#                    --keep 0.3 --attention, on a BERT-base-shaped model
#                    exported from PyTorch (testdata/onnx/gen.py's BERT, 768
#                    hidden, 12 layers) at TRAIN_BATCHES × SEQ on a generated
#                    sst2 TSV, against PyTorch training the same model with
#                    AdamW on the same GPU (ms per optimizer step)
#
# Each part prints its wall time and file count at the end. Without the
# three binaries it stops at once with one line saying so.
#
# Dry run here, on the CPU emulator of a GPU and tiny models, to check the
# script itself (PyTorch on the CPU: Debian's /usr/bin/python3 has it; no
# largest-batch search for it):
#   DEVICE=emu ARCH=bert-tiny BATCH=4 SEQ=32 STEPS=2 BUDGET=64MiB \
#   TRAIN_SHAPE=32,2,2,64 TRAIN_BATCHES=4 TRAIN_STEPS=4 PY=/usr/bin/python3 \
#   PARTS="checks bench batch train" scripts/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bins=(bin/crsc bin/cuda.test bin/gpu.test)
if [[ ${1:-} == --build ]]; then
	mkdir -p bin
	# Stripped: bin/ travels with the working tree, 64 MiB in all.
	CGO_ENABLED=0 go build -ldflags="-s -w" -o bin/crsc ./cmd/crsc
	CGO_ENABLED=0 go test -c -ldflags="-s -w" -o bin/cuda.test ./runtime/cuda
	CGO_ENABLED=0 go test -c -ldflags="-s -w" -o bin/gpu.test ./runtime/gpu
	for b in "${bins[@]}"; do
		[[ -x $b ]] || { echo "gpu-check: --build did not produce $b" >&2; exit 1; }
	done
	ls -l "${bins[@]}"
	du -ch "${bins[@]}" | tail -1
	exit
fi
for b in "${bins[@]}"; do
	if [[ ! -f $b || ! -x $b ]]; then
		echo "gpu-check: $b is missing or not executable; build it with scripts/gpu-check.sh --build (here, with Go) and carry bin/" >&2
		exit 2
	fi
done

out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
out=$(cd "$out" && pwd) # parts cd into cuda/ and runtime/gpu/
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
batch=${BATCH:-32} seq=${SEQ:-128} steps=${STEPS:-10} device=${DEVICE:-cuda} arch=${ARCH:-bert-base}
py=${PY:-python3} # the GPU image's python3 has PyTorch
torchdev=cpu
[[ $device == cuda ]] && torchdev=cuda
part_limit=${PART_LIMIT:-420}
parts=${PARTS:-checks}
for p in $parts; do
	case $p in checks | bench | batch | train) ;; *)
		echo "gpu-check: unknown part '$p' in PARTS (want checks, bench, batch, train)" >&2
		exit 2
		;;
	esac
done

# ---- helpers: every part has a summary ($sum), a log ($log) and a deadline.
part=
sum=
log=
deadline=0
say() { echo "$*" | tee -a "$sum"; }

# step NAME LIMIT CMD...: run CMD with stdout to $scratch/NAME.out and stderr
# appended to the part's log, under LIMIT seconds cut to what is left of the
# part. A failure is noted in the summary and returns non-zero; it never
# ends the script (callers add `|| true` where they go on regardless).
step() {
	local name=$1 limit=$2
	shift 2
	local left=$((deadline - SECONDS - 5))
	if ((left < 10)); then
		say "  SKIP $name: the part's ${part_limit} s are spent"
		: >"$scratch/$name.out"
		return 1
	fi
	((limit > left)) && limit=$left
	echo "==== $name (limit ${limit} s): $*" >>"$log"
	local t0=$SECONDS rc=0
	timeout -k 5 "$limit" "$@" >"$scratch/$name.out" 2>"$scratch/$name.err" || rc=$?
	tail -n 200 "$scratch/$name.err" | cut -c1-2000 >>"$log"
	echo "==== $name: exit $rc after $((SECONDS - t0)) s" >>"$log"
	if ((rc == 124 || rc == 137)); then
		say "  FAIL $name: timed out after ${limit} s"
	elif ((rc != 0)); then
		local why
		why=$(cat "$scratch/$name.out" "$scratch/$name.err" | grep -v '^[[:space:]]*$' | tail -1 | cut -c1-300)
		say "  FAIL $name: exit $rc: $why"
	fi
	return $rc
}

# keep NAME [LINES]: append step NAME's stdout to the log (its last LINES).
keep() {
	[[ -f $scratch/$1.out ]] || return 0
	echo "---- $1 output" >>"$log"
	tail -n "${2:-400}" "$scratch/$1.out" | cut -c1-2000 >>"$log"
}

begin() {
	part=$1
	sum=$out/$part.txt
	log=$out/$part.log
	: >"$sum"
	: >"$log"
	deadline=$((SECONDS + part_limit))
	part_start=$SECONDS
	say "== part $part (device $device, limit $part_limit s)"
	if command -v nvidia-smi >/dev/null 2>&1; then
		nvidia-smi --query-gpu=name,memory.total,memory.free,driver_version --format=csv,noheader 2>&1 | tee -a "$sum" || true
	else
		say "  (no nvidia-smi here)"
	fi
}

end() {
	local n
	n=$(find "$out" -maxdepth 1 -type f \( -name "$part.txt" -o -name "$part.log" \) | wc -l)
	say "== part $part: $((SECONDS - part_start)) s wall, $n files ($part.txt, $part.log)"
}

# json NAME RUN: step NAME's JSON lines, each tagged {"run": RUN, ...}.
json() { grep '^{' "$scratch/$1.out" | sed "s/^{/{\"run\":\"$2\",/" || true; }

# ---- 1. checks
part_checks() {
	begin checks
	say "-- crsc selftest --device $device"
	step selftest 200 bin/crsc selftest --device "$device" --verbose || true
	keep selftest 1000
	grep -v '^ok   kernel' "$scratch/selftest.out" | cut -c1-400 | tee -a "$sum" || true

	say "-- go tests on the device (cuda: driver, cuBLAS, NVRTC; runtime/gpu: every case)"
	local testdev=
	[[ $device == cuda ]] && testdev=cuda # else the emulator
	(cd cuda && step cuda-test 90 ../bin/cuda.test -test.run 'TestGPU|TestOpen|NVRTC|FakeGPU' -test.v) || true
	keep cuda-test
	grep -E '^(--- |ok|FAIL|PASS)' "$scratch/cuda-test.out" | tee -a "$sum" || true
	(cd runtime/gpu && step gpu-test 150 env CRSC_TEST_DEVICE="$testdev" ../../bin/gpu.test -test.short) || true
	keep gpu-test
	tail -3 "$scratch/gpu-test.out" | tee -a "$sum" || true
	end
}

# ---- 2. bench: one round, crsc exact, crsc WTA@0.3, PyTorch, then the plan.
part_bench() {
	begin bench
	say "-- $arch training step $batch × $seq (forward + backward), $steps steps each"
	local b=(bin/crsc bench --device "$device" --arch "$arch" --batch "$batch" --seq "$seq" --steps "$steps" --json)
	step crsc-exact 120 "${b[@]}" || true
	step crsc-wta 120 "${b[@]}" --keep 0.3 --attention || true
	step torch 120 "$py" scripts/torch_bert_step.py --device "$torchdev" --batch "$batch" --seq "$seq" --steps "$steps" || true
	local p=(bin/crsc plan --arch "$arch" --batch "$batch" --seq "$seq" --dropout 0 --json)
	step plan-full 30 "${p[@]}" --no-memory-rewrites || true
	step plan-wta 30 "${p[@]}" --keep 0.3 --attention || true
	{
		json crsc-exact "crsc exact"
		json crsc-wta "crsc wta0.3"
		json torch pytorch
		json plan-full "plan full"
		json plan-wta "plan wta0.3"
	} >"$scratch/bench.jsonl"
	cat "$scratch/bench.jsonl" >>"$sum"
	"$py" - "$scratch/bench.jsonl" <<'PY' 2>>"$log" | tee -a "$sum" || say "  FAIL bench summary (see bench.log)"
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {r["run"]: r for r in runs}
nan = float("nan")
ms = lambda n: by.get(n, {}).get("median_ms", nan)
ex, wta, pt = ms("crsc exact"), ms("crsc wta0.3"), ms("pytorch")
print(f"step time (median): crsc exact {ex:.1f} ms, crsc WTA@0.3 {wta:.1f} ms, PyTorch {pt:.1f} ms")
print(f"  exact / PyTorch = {ex/pt:.2f} (target <= 1.3); WTA@0.3 / exact = {wta/ex:.2f}")
dev = lambda n: by.get(n, {}).get("device_peak_bytes", 0)
pw, pp = dev("crsc wta0.3"), dev("pytorch")
# crsc bench and the PyTorch step run no optimizer: compare peaks without its state.
peak = lambda p: p.get("params_bytes", 0) + p.get("arena_bytes", 0)
predicted = peak(by.get("plan full", {})) / max(peak(by.get("plan wta0.3", {})), 1)
print(f"peak device memory: crsc WTA@0.3 {pw/2**30:.2f} GiB, crsc exact {dev('crsc exact')/2**30:.2f} GiB, PyTorch full {pp/2**30:.2f} GiB")
print(f"  PyTorch full / crsc WTA@0.3 = {pp/max(pw,1):.2f}; crsc plan predicts full / WTA@0.3 = {predicted:.2f} (target: measured >= predicted)")
for n in ("crsc exact", "crsc wta0.3"):
    if n in by:
        print(f"  {n}: fallbacks {by[n].get('fallbacks')} on {by[n].get('device')}")
PY
	end
}

# ---- 3. batch: the largest batch that fits at SEQ.
part_batch() {
	begin batch
	local budget=${BUDGET:-}
	if [[ -z $budget ]]; then
		local free
		free=$(nvidia-smi --query-gpu=memory.free --format=csv,noheader,nounits | head -1) # MiB
		budget=$((free * 95 / 100))MiB
	fi
	say "-- largest batch at seq $seq within $budget: full vs LoRA+WTA@0.1"
	: >"$scratch/batch.jsonl"
	probe() { # name flags...: the plan's largest batch, then measured at it and 10 % above
		local name=$1
		shift
		local b
		step "plan-$name" 30 bin/crsc plan --arch "$arch" --seq "$seq" --dropout 0 --budget "$budget" --json "$@" || true
		b=$("$py" -c 'import json,sys; print(json.load(sys.stdin)["max_batch"])' <"$scratch/plan-$name.out" 2>>"$log" || true)
		if ! [[ $b =~ ^[0-9]+$ ]] || ((b < 1)); then
			echo "{\"run\":\"fits $name\",\"error\":\"crsc plan gave no batch under $budget\"}" >>"$scratch/batch.jsonl"
			return
		fi
		local try
		for try in "$b" $((b * 11 / 10)); do
			if step "fits-$name-$try" 90 bin/crsc bench --device "$device" --arch "$arch" --batch "$try" --seq "$seq" --steps 1 --json "$@"; then
				echo "{\"run\":\"fits $name\",\"planned_max\":$b,\"batch\":$try,\"fits\":true}" >>"$scratch/batch.jsonl"
			else
				echo "{\"run\":\"fits $name\",\"planned_max\":$b,\"batch\":$try,\"fits\":false}" >>"$scratch/batch.jsonl"
			fi
		done
	}
	probe full --no-memory-rewrites
	probe lora+wta0.1 --lora 32 --keep 0.1 --attention
	if [[ $torchdev == cuda ]]; then
		step torch-max 150 "$py" scripts/torch_bert_step.py --device cuda --seq "$seq" --batch 64 --max-batch || true
		json torch-max "pytorch max batch" >>"$scratch/batch.jsonl"
	else
		say "  (PyTorch's largest-batch search needs a GPU: skipped)"
	fi
	cat "$scratch/batch.jsonl" | tee -a "$sum"
	end
}

# train_runs BATCH: crsc train exact, then WTA@0.3, on ${model[@]} (of
# part_train); one JSON line each into train.jsonl. Fails if exact failed.
train_runs() {
	local b=$1 run flags rc=0
	for run in exact wta0.3; do
		flags=(--keep 1) # exact (crsc train samples at 0.3 by default)
		[[ $run == wta0.3 ]] && flags=(--keep 0.3 --attention)
		rm -rf "$scratch/run-$run-$b"
		if step "train-$run-$b" 150 bin/crsc train "${model[@]}" --task sst2 --data "$scratch/data" --vocab "$scratch/vocab.txt" \
			--device "$device" --batch "$b" --max-len "$seq" --static-padding --epochs 1 --max-steps "$tsteps" --log-every 1 \
			--out "$scratch/run-$run-$b" "${flags[@]}"; then
			"$py" - "$scratch/run-$run-$b/metrics.jsonl" "$b" "$seq" "crsc $run" >>"$scratch/train.jsonl" 2>>"$log" <<'PY' || true
import json, sys
path, b, seq, run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
# tokens_per_s is cumulative from the first step; with every row filled to
# seq tokens, step k ended k*b*seq/tps seconds after the start.
t = {r["step"]: r["step"] * b * seq / r["tokens_per_s"] for r in map(json.loads, open(path)) if "tokens_per_s" in r}
n = max(t)
w = 2 if n > 3 else 0  # leave out the first steps (compiling, first transfers)
print(json.dumps({"run": run, "batch": b, "seq": seq, "steps": n, "ms_per_step": (t[n] - t.get(w, 0)) / (n - w) * 1000, "first_step_ms": t[1] * 1000}))
PY
		elif [[ $run == exact ]]; then
			rc=1
		fi
		keep "train-$run-$b" 6
		rm -rf "$scratch/run-$run-$b" # checkpoints: a BERT-base one with AdamW state is 1.3 GB
		((rc == 0)) || return $rc
	done
}

# ---- 4. train: crsc train --device cuda vs PyTorch + AdamW, same model.
part_train() {
	begin train
	local shape=${TRAIN_SHAPE:-768,12,12,3072} tsteps=${TRAIN_STEPS:-12} tbatches=${TRAIN_BATCHES:-8 32}
	local model=() peer=scripts/torch_train_step.py
	# Data: a generated sst2 TSV whose sentences fill SEQ tokens, and a
	# WordPiece vocab of BERT's 30522 entries holding every word whole.
	"$py" - "$scratch" "$seq" "$tsteps" "$tbatches" <<'PY' 2>>"$log"
import os, random, sys
d, seq, steps, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), [int(b) for b in sys.argv[4].split()]
rng = random.Random(1)
good, bad = ["good", "fine", "great", "nice", "warm"], ["bad", "dull", "poor", "awful", "cold"]
special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
filler = ["w%05d" % i for i in range(30522 - len(special) - len(good) - len(bad))]  # BERT's 30522 rows
with open(os.path.join(d, "vocab.txt"), "w") as f:
    f.write("\n".join(special + good + bad + filler) + "\n")
os.makedirs(os.path.join(d, "data"), exist_ok=True)
def rows(n):
    for _ in range(n):
        y = rng.randrange(2)
        words = [rng.choice(filler) for _ in range(seq + 8)]
        for i in rng.sample(range(len(words)), 6):
            words[i] = rng.choice(good if y else bad)
        yield " ".join(words), y
for split, n in (("train", steps * max(batches) + 8), ("dev", 2 * max(batches))):
    with open(os.path.join(d, "data", split + ".tsv"), "w") as f:
        f.write("sentence\tlabel\n")
        for s, y in rows(n):
            f.write(f"{s}\t{y}\n")
PY
	# The model: PyTorch's BERT (gen.py) exported at TRAIN_SHAPE, or a
	# built-in --arch (TRAIN_ARCH=bert-small; set TRAIN_SHAPE to match).
	if [[ -n ${TRAIN_ARCH:-} ]]; then
		model=(--arch "$TRAIN_ARCH")
	elif step export 120 "$py" "$peer" --shape "$shape" --export "$scratch/bert.onnx"; then
		model=("$scratch/bert.onnx")
	else
		shape=256,4,4,1024
		model=(--arch bert-small)
		say "  (no exported model, see train.log: falling back to --arch bert-small, shape $shape)"
	fi
	keep export 5
	say "-- crsc train --device $device ${model[*]##*/} (shape hidden,layers,heads,ffn = $shape), $tsteps optimizer steps × $seq tokens, batches $tbatches"
	: >"$scratch/train.jsonl"
	local b
	for b in $tbatches; do
		if ! train_runs "$b" && [[ ${model[0]} != --arch ]]; then
			shape=256,4,4,1024
			model=(--arch bert-small)
			say "  (crsc train failed on the exported model, see train.log: falling back to --arch bert-small, shape $shape)"
			train_runs "$b" || true
		fi
		step "torch-train-$b" 120 "$py" "$peer" --shape "$shape" --device "$torchdev" --batch "$b" --seq "$seq" --steps "$tsteps" || true
		json "torch-train-$b" pytorch >>"$scratch/train.jsonl"
	done
	cat "$scratch/train.jsonl" >>"$sum"
	"$py" - "$scratch/train.jsonl" <<'PY' 2>>"$log" | tee -a "$sum" || say "  FAIL train summary (see train.log)"
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for b in sorted({r["batch"] for r in runs}):
    by = {r["run"]: r for r in runs if r["batch"] == b}
    ms = lambda n: by.get(n, {}).get("ms_per_step", float("nan"))
    ex, wta, pt = ms("crsc exact"), ms("crsc wta0.3"), ms("pytorch")
    print(f"batch {b}: ms per optimizer step: crsc train exact {ex:.1f}, WTA@0.3 {wta:.1f}, PyTorch+AdamW {pt:.1f}; "
          f"exact / PyTorch = {ex/pt:.2f}, WTA@0.3 / exact = {wta/ex:.2f}")
PY
	end
}


for p in $parts; do
	"part_$p"
done
n=$(find "$out" -maxdepth 1 -type f | wc -l)
failed=$(cat $(for p in $parts; do echo "$out/$p.txt"; done) | grep -c '^  \(FAIL\|SKIP\)' || true)
echo "== $out holds $n files (at most 8 come back from a device command); $failed steps failed or skipped"
((failed == 0))
