# Sourced by the SST-2 study scripts (sst2-study.sh, lora-study.sh,
# t5-study.sh): one `crsc train` run of a study, recorded as a row of its
# Markdown table, and the table.

# study_run CRSC OUT NAME SEED TRAIN_ARGS...: runs `CRSC train TRAIN_ARGS`
# with --seed SEED into OUT/NAME-sSEED and appends its row to OUT/rows.md,
# from the end of its output and its memory.txt.
study_run() {
	local crsc=$1 out=$2 name=$3 seed=$4 log acc time mem arena
	shift 4
	local dir=$out/$name-s$seed
	rm -rf "$dir"
	log=$("$crsc" train "$@" --seed "$seed" --out "$dir" 2>&1 | tail -6)
	acc=$(echo "$log" | sed -n 's/^best accuracy: *//p')
	time=$(echo "$log" | sed -n 's|^steps: .* in \([^ ]*\) (\([0-9]*\) tokens/s.*|\1, \2 tok/s|p')
	mem=$(echo "$log" | sed -n 's/.*peak RSS \(.*\)$/\1/p')
	arena=$(sed -n 's/^ *arena (planned peak) *\([0-9.]* [KMG]iB\).*/\1/p' "$dir/memory.txt" | head -1)
	echo "| $name | $seed | $acc | $time | $arena | $mem |" >>"$out/rows.md"
	echo "$name s$seed: $acc"
}

# study_table OUT: the table's header, then OUT/rows.md by run and seed.
study_table() {
	echo "| run | seed | dev accuracy | wall time, tokens/s | planned arena | peak RSS |"
	echo "|---|---|---|---|---|---|"
	sort -t'|' -k2,2 -k3,3n "$1/rows.md"
}
