package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
	"crsc/internal/npy"
)

// TestFlagValidation: every out-of-range, non-finite or contradictory flag
// of plan, study, run, grad, compile and inspect exits non-zero with one
// line on stderr that names the flag (or input) and what is accepted, and
// without doing the work.
func TestFlagValidation(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, "long_ids.npy") // 100 tokens; the tiny BERT has 64 positions
	if err := npy.WriteFile(long, ir.FromInt64([]int{1, 100}, make([]int64, 100))); err != nil {
		t.Fatal(err)
	}
	mask := filepath.Join(dir, "long_mask.npy")
	if err := npy.WriteFile(mask, ir.FromInt64([]int{1, 100}, make([]int64, 100))); err != nil {
		t.Fatal(err)
	}
	feeds := []string{"--input", "input_ids=" + long, "--input", "attention_mask=" + mask, "--input", "token_type_ids=" + mask}
	emptySeq := filepath.Join(dir, "empty_seq.npy")
	if err := npy.WriteFile(emptySeq, ir.FromInt64([]int{2, 0}, nil)); err != nil {
		t.Fatal(err)
	}
	emptyBatch := filepath.Join(dir, "empty_batch.npy")
	if err := npy.WriteFile(emptyBatch, ir.FromInt64([]int{0, 8}, nil)); err != nil {
		t.Fatal(err)
	}
	feedAll := func(path string) []string {
		return []string{"run", tinyBert, "--out", dir, "--input", "input_ids=" + path, "--input", "attention_mask=" + path, "--input", "token_type_ids=" + path}
	}
	ce := []string{"--loss", "cross-entropy", "--output", "logits", "-o", filepath.Join(dir, "out")}
	compile := func(args ...string) []string { return append(append([]string{"compile", tinyBert}, ce...), args...) }
	plan := func(args ...string) []string {
		return append([]string{"plan", "--arch", "bert-tiny", "--top", "0"}, args...)
	}
	gradWith := func(cotangent string, args ...string) []string {
		return append([]string{"grad", tinyBert, "--out", dir,
			"--input", "input_ids=" + refSet + "input_input_ids.npy", "--input", "attention_mask=" + refSet + "input_attention_mask.npy",
			"--input", "token_type_ids=" + refSet + "input_token_type_ids.npy", "--cotangent", cotangent}, args...)
	}
	grad := func(args ...string) []string { return gradWith("logits="+refSet+"output_logits.npy", args...) }
	cot3 := filepath.Join(dir, "cot3.npy")
	if err := npy.WriteFile(cot3, ir.FromFloat32([]int{3}, make([]float32, 3))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		// plan
		{"plan dropout 2", plan("--dropout", "2"), "--dropout 2: want a number in [0, 1)"},
		{"plan dropout 1", plan("--dropout", "1"), "--dropout 1: want a number in [0, 1)"},
		{"plan dropout NaN", plan("--dropout", "NaN"), "--dropout NaN: want a number in [0, 1)"},
		{"plan dropout -0.1", plan("--dropout", "-0.1"), "--dropout -0.1"},
		{"plan batch huge", plan("--batch", "100000000000000"), "--batch 100000000000000: want an integer in [1, 16777216]"},
		{"plan seq huge", plan("--seq", "2000000"), "--seq 2000000: want an integer in [1, 1048576]"},
		{"plan tokens", plan("--batch", "16777216", "--seq", "512"), "--batch 16777216 × --seq 512 is 8589934592 tokens a step: want at most 2147483648"},
		{"plan tgt-len -1", plan("--tgt-len", "-1"), "--tgt-len -1: want an integer in [1, 1048576]"},
		{"plan tgt-len 0", plan("--tgt-len", "0"), "--tgt-len 0: want an integer in [1, 1048576]"},
		{"plan top -1", plan("--top", "-1"), "--top -1: want an integer ≥ 0"},
		{"plan batch 0", plan("--batch", "0"), "--batch 0: want an integer in [1, 16777216]"},
		{"plan seq -5", plan("--seq", "-5"), "--seq -5: want an integer in [1, 1048576]"},
		{"plan budget NaN", plan("--budget", "NaNGiB"), `--budget "NaNGiB": want a finite size`},
		{"plan budget Inf", plan("--budget", "+InfMiB"), `--budget "+InfMiB": want a finite size`},
		{"plan budget negative", plan("--budget", "-1GiB"), `--budget size "-1GiB"`},
		{"plan budget overflow", plan("--budget", "1e30GiB"), `--budget "1e30GiB": want a size from 1 byte to 8 EiB`},
		{"plan keep 0", plan("--keep", "0"), "--keep 0: want a number in (0, 1]"},
		{"plan keep NaN", plan("--keep", "NaN"), "--keep NaN: want a number in (0, 1]"},
		{"plan min-rows -1", plan("--min-rows", "-1"), "--min-rows -1: want an integer ≥ 0"},
		{"plan lora -1", plan("--lora", "-1"), "--lora -1: want an integer ≥ 0"},
		{"plan lora-alpha Inf", plan("--lora", "4", "--lora-alpha", "Inf"), "--lora-alpha +Inf: want a finite number ≥ 0"},
		{"plan lora-alpha -1", plan("--lora", "4", "--lora-alpha", "-1"), "--lora-alpha -1: want a finite number ≥ 0"},
		{"plan lora-alpha without lora", plan("--lora-alpha", "8"), "--lora-alpha needs --lora R"},
		{"plan lora-targets without lora", plan("--lora-targets", "query"), "--lora-targets needs --lora R"},
		{"plan lora too big", plan("--lora", "100000"), "--lora 100000: larger than any layer of the model (the largest takes a rank of at most 64)"},
		{"plan model and arch", []string{"plan", tinyBert, "--arch", "bert-base"}, "--arch bert-base with model file"},
		{"plan batch and budget", plan("--batch", "4", "--budget", "3GiB"), "--batch 4 with --budget 3GiB: --budget finds the largest batch itself"},
		{"plan model and dropout", []string{"plan", tinyBert, "--dropout", "0.2"}, "--dropout applies to --arch presets"},
		{"plan seq over positions", []string{"plan", tinyBert, "--seq", "600"}, "--seq 600: longer than the model's 64 positions (bert.embeddings.position_embeddings.weight): use --seq 64 or less"},
		{"plan preset seq over positions", []string{"plan", "--arch", "bert-base", "--seq", "1000"}, "--seq 1000: longer than the model's 512 positions"},
		{"plan layers match nothing", plan("--keep", "0.3", "--layers", "nothing-matches"), `--layers "nothing-matches" matches none of the 12 linear layers`},
		// study
		{"study bogus", []string{"study", "bogus"}, `unknown study "bogus" (known: variance)`},
		{"study without a name", []string{"study"}, "study: name a study (variance)"},
		{"study repeats 0", []string{"study", "variance", "--repeats", "0"}, "--repeats 0: want an integer ≥ 2"},
		{"study steps 0", []string{"study", "variance", "--steps", "0"}, "--steps 0: want an integer ≥ 1"},
		{"study snapshot over steps", []string{"study", "variance", "--snapshot", "100"}, "--snapshot 100: want an integer in [1, 64]"},
		{"study examples 0", []string{"study", "variance", "--examples", "0"}, "--examples 0: want an integer ≥ 32"},
		{"study examples not a multiple", []string{"study", "variance", "--examples", "33"}, "--examples 33: want a multiple of the batch, 32"},
		// run, inspect
		{"run threads -1", []string{"run", tinyBert, "--threads", "-1", "--out", dir}, "--threads -1: want an integer ≥ 0"},
		{"run sequence over positions", append([]string{"run", tinyBert, "--out", dir}, feeds...), `input "input_ids" has sequence length 100, longer than the model's 64 positions (bert.embeddings.position_embeddings.weight): use 64 or less`},
		{"run empty sequence", feedAll(emptySeq), `input "input_ids" has shape [2,0]: an empty sequence`},
		{"run empty batch", feedAll(emptyBatch), `input "input_ids" has shape [0,8]: an empty batch`},
		{"inspect shape dim 0", []string{"inspect", tinyBert, "--shape", "input_ids=0x8"}, `--shape "input_ids=0x8": dim 0: want a dim ≥ 1`},
		{"inspect shape trailing x", []string{"inspect", tinyBert, "--shape", "input_ids=2x"}, `--shape "input_ids=2x": an empty dim`},
		{"inspect shape no dims", []string{"inspect", tinyBert, "--shape", "input_ids="}, `--shape "input_ids=": no dims`},
		{"inspect shape fraction", []string{"inspect", tinyBert, "--shape", "input_ids=2.5x8"}, `dim "2.5" is neither a positive integer nor a symbol name`},
		{"inspect shape twice", []string{"inspect", tinyBert, "--shape", "input_ids=2x8", "--shape", "input_ids=3x8"}, "--shape input_ids given twice"},
		{"inspect sequence over positions", []string{"inspect", tinyBert, "--shape", "input_ids=2x600"}, `input "input_ids" has sequence length 600, longer than the model's 64 positions`},
		// compile, grad
		{"compile lora over the dims", compile("--lora", "100000"), "--lora 100000: larger than any layer of the model (the largest takes a rank of at most 32)"},
		{"compile lora 33", compile("--lora", "33"), "--lora 33: larger than any layer"},
		{"compile layers match nothing", compile("--keep", "0.1", "--layers", "nothing-matches"), `--layers "nothing-matches" matches none of the 12 linear layers (such as "/bert/encoder/layer.0/attention/self/query/MatMul"): nothing would be sampled`},
		{"compile keep 2", compile("--keep", "2"), "--keep 2: want a number in (0, 1]"},
		{"compile keep -Inf", compile("--keep", "-Inf"), "--keep -Inf: want a number in (0, 1]"},
		{"compile min-rows -3", compile("--keep", "0.5", "--min-rows", "-3"), "--min-rows -3: want an integer ≥ 0"},
		{"compile lora -1", compile("--lora", "-1"), "--lora -1: want an integer ≥ 0"},
		{"compile lora-alpha NaN", compile("--lora", "4", "--lora-alpha", "NaN"), "--lora-alpha NaN: want a finite number ≥ 0"},
		{"compile shape over positions", compile("--shape", "input_ids=1x65"), `input "input_ids" has sequence length 65, longer than the model's 64 positions`},
		{"grad cotangent dtype", gradWith("logits=" + refSet + "input_input_ids.npy"), `--cotangent logits=` + refSet + `input_input_ids.npy: the array is i64, output "logits" is f32`},
		{"grad cotangent shape", gradWith("logits=" + cot3), `: the array has shape [3], output "logits" has [`},
		{"grad gnorm", grad("--keep", "0.5", "--gnorm", "ema"), "--gnorm: grad runs one step"},
		{"compile layers without sampling", compile("--keep", "1", "--layers", "query"), "--layers is a sampling setting: --keep 1 trains exactly: give --keep K (< 1) to sample"},
		{"plan min-rows without sampling", plan("--min-rows", "4"), "--min-rows is a sampling setting"},
		{"plan attention without sampling", plan("--attention"), "--attention is a sampling setting"},
		{"grad keep 0", grad("--keep", "0"), "--keep 0: want a number in (0, 1]"},
		{"grad lora over the dims", grad("--lora", "1000"), "--lora 1000: larger than any layer"},
		{"grad layers match nothing", grad("--keep", "0.5", "--layers", "^zzz$"), `--layers "^zzz$" matches none of the 12 linear layers`},
		{"bench steps 0", []string{"bench", "--arch", "bert-tiny", "--steps", "0"}, "--steps 0: want an integer"},
		{"bench steps -1", []string{"bench", "--arch", "bert-tiny", "--steps", "-1"}, "--steps -1: want an integer"},
		{"bench batch 0", []string{"bench", "--arch", "bert-tiny", "--batch", "0"}, "--batch 0: want an integer in [1, 16777216]"},
		{"bench threads 0", []string{"bench", "--arch", "bert-tiny", "--threads", "0"}, "--threads 0: want an integer in [1, 4096]"},
		{"bench top -1", []string{"bench", "--arch", "bert-tiny", "--top", "-1"}, "--top -1: want an integer ≥ 0"},
		{"bench dropout NaN", []string{"bench", "--arch", "bert-tiny", "--dropout", "NaN"}, "--dropout NaN: want a number in [0, 1)"},
		{"bench no-optimizer forward", []string{"bench", "--arch", "bert-tiny", "--mode", "forward", "--no-optimizer"}, "--no-optimizer times a training step"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := crsc(c.args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr: %s", code, stderr)
			}
			if strings.Count(strings.TrimRight(stderr, "\n"), "\n") != 0 || strings.Contains(stderr, "goroutine") {
				t.Fatalf("want one line on stderr, got:\n%s", stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Fatalf("stderr %q lacks %q", stderr, c.want)
			}
		})
	}
}

// TestFlagValidationAccepts: the edges of each accepted range, and the
// documented zero values, still work.
func TestFlagValidationAccepts(t *testing.T) {
	dir := t.TempDir()
	ce := []string{"--loss", "cross-entropy", "--output", "logits", "-o", filepath.Join(dir, "out")}
	for _, args := range [][]string{
		{"plan", "--arch", "bert-tiny", "--top", "0", "--dropout", "0", "--lora", "64", "--lora-alpha", "0", "--seq", "128"},
		{"plan", tinyBert, "--seq", "64", "--batch", "1", "--keep", "1", "--min-rows", "0", "--json"},
		{"plan", "--arch", "bert-tiny", "--keep", "0.3", "--layers", "query", "--json"},
		append([]string{"compile", tinyBert, "--lora", "32"}, ce...),
		append([]string{"compile", tinyBert, "--estimator", "exact", "--layers", "nothing-matches"}, ce...),
		append([]string{"compile", tinyBert, "--keep", "0.5", "--layers", "query", "--shape", "input_ids=2x64"}, ce...),
		{"inspect", tinyBert, "--shape", "input_ids=2x64", "--no-graph"},
		{"inspect", tinyBert, "--shape", "input_ids=batch x 64", "--shape", "attention_mask=batchx64", "--no-graph"},
	} {
		if code, _, stderr := crsc(args...); code != 0 {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
}

func TestCheckHelpers(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string // "" for accepted
	}{
		{checkRange("x", 0, 0, 1), ""},
		{checkRange("x", 1, 0, 1), ""},
		{checkRange("x", 1.5, 0, 1), "--x 1.5: want a number in [0, 1]"},
		{checkRange("x", math.NaN(), 0, math.Inf(1)), "--x NaN: want a finite number ≥ 0"},
		{checkRange("x", math.Inf(1), 0, math.Inf(1)), "--x +Inf: want a finite number ≥ 0"},
		{checkBelow("x", 0, 0, 1), ""},
		{checkBelow("x", 1, 0, 1), "--x 1: want a number in [0, 1)"},
		{checkAbove("x", 1, 0, 1), ""},
		{checkAbove("x", 0, 0, 1), "--x 0: want a number in (0, 1]"},
		{checkAbove("x", 0, 0, math.Inf(1)), "--x 0: want a finite number > 0"},
		{checkInt("n", 3, 1, 3), ""},
		{checkInt("n", 4, 1, 3), "--n 4: want an integer in [1, 3]"},
		{checkInt("n", -1, 0, noLimit), "--n -1: want an integer ≥ 0"},
		{firstError(nil, checkInt("a", 0, 1, noLimit), checkInt("b", 0, 1, noLimit)), "--a 0: want an integer ≥ 1"},
	} {
		if c.want == "" && c.err != nil || c.want != "" && (c.err == nil || c.err.Error() != c.want) {
			t.Errorf("got %v, want %q", c.err, c.want)
		}
	}
}

// TestCheckLoRAAdapters: the rank is checked against each adapted layer,
// not only against the largest.
func TestCheckLoRAAdapters(t *testing.T) {
	g := ir.NewGraph("lora", 13)
	g.AddInit("wide.lora_A", ir.NewTensor(ir.Float32, 64, 16))
	g.AddInit("wide.lora_B", ir.NewTensor(ir.Float32, 16, 64))
	g.AddInit("narrow.lora_A", ir.NewTensor(ir.Float32, 64, 16))
	g.AddInit("narrow.lora_B", ir.NewTensor(ir.Float32, 16, 8))
	tr := &passes.Training{Graph: g, Adapters: []string{"wide.lora_A", "wide.lora_B", "narrow.lora_A", "narrow.lora_B"}}
	err := checkLoRAAdapters(tr, 16)
	if err == nil || err.Error() != "--lora 16: larger than layer narrow (64×8), which takes a rank of at most 8" {
		t.Fatalf("got %v", err)
	}
	tr.Adapters = tr.Adapters[:2]
	if err := checkLoRAAdapters(tr, 16); err != nil {
		t.Fatal(err)
	}
}
