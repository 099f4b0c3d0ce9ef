# Sourced by the study scripts (lora-study.sh, t5-study.sh): how one
# `crsc train` run becomes a row of the study's Markdown table, and the table.

# study_row NAME SEED DIR LOG ROWS: appends NAME's row to ROWS, from the tail
# LOG of the run's output and the run directory DIR's memory.txt.
study_row() {
	local name=$1 seed=$2 dir=$3 log=$4 rows=$5 acc time mem arena
	acc=$(echo "$log" | sed -n 's/^best accuracy: *//p')
	time=$(echo "$log" | sed -n 's|^steps: .* in \([^ ]*\) (\([0-9]*\) tokens/s.*|\1, \2 tok/s|p')
	mem=$(echo "$log" | sed -n 's/.*peak RSS \(.*\)$/\1/p')
	arena=$(sed -n 's/^ *arena (planned peak) *\([0-9.]* [KMG]iB\).*/\1/p' "$dir/memory.txt" | head -1)
	echo "| $name | $seed | $acc | $time | $arena | $mem |" >>"$rows"
	echo "$name s$seed: $acc"
}

# study_table ROWS: the table's header, then ROWS by run and seed.
study_table() {
	echo "| run | seed | dev accuracy | wall time, tokens/s | planned arena | peak RSS |"
	echo "|---|---|---|---|---|---|"
	sort -t'|' -k2,2 -k3,3n "$1"
}
