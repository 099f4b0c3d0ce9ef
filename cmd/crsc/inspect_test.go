package main

import (
	"strings"
	"testing"

	"crsc/compiler/passes"
)

// TestInspectAfter: inspect --after prints the graph after every pass of
// the load, training and lowering pipelines, and the training passes change it as they say
// (WTA-CRS adds SampleRows nodes, the stash bf16 Casts).
func TestInspectAfter(t *testing.T) {
	model := "../../testdata/onnx/bert_tiny_cls.op13.eval.onnx"
	shapes := []string{"--shape", "input_ids=2x8", "--shape", "attention_mask=2x8", "--shape", "token_type_ids=2x8"}
	graphs := map[string]string{}
	for _, pl := range [][]passes.Pass{passes.Load, passes.TrainingPipeline, passes.Lowering} {
		for _, p := range pl {
			args := append([]string{"inspect", model, "--after", p.Name, "--stash", "bf16"}, shapes...)
			code, stdout, stderr := crsc(args...)
			if code != 0 || !strings.Contains(stdout, "graph after "+p.Name+":") {
				t.Fatalf("--after %s: exit %d: %s", p.Name, code, stderr)
			}
			_, graphs[p.Name], _ = strings.Cut(stdout, "graph after "+p.Name+":")
		}
	}
	for _, c := range []struct{ pass, op string }{{"wtacrs", "SampleRows"}, {"stash", ":bf16["}, {"autodiff", "grad/"}} {
		if !strings.Contains(graphs[c.pass], c.op) {
			t.Errorf("graph after %s has no %s", c.pass, c.op)
		}
	}
	if graphs["memory-rewrites"] == graphs["wtacrs"] {
		t.Error("wtacrs left the graph as memory-rewrites did")
	}
	// The engine's lowering, after the training passes: the linear
	// layers' bias Adds go into their GEMMs.
	if a, b := strings.Count(graphs["fuse-bias-add"], " = Add("), strings.Count(graphs["stash"], " = Add("); a >= b {
		t.Errorf("fuse-bias-add left %d Adds of the %d after stash", a, b)
	}
	if code, _, stderr := crsc("inspect", model, "--after", "nope"); code != 1 || !strings.Contains(stderr, "no such pass") {
		t.Errorf("--after nope: exit %d: %s", code, stderr)
	}
}

// TestCompileHFExport: compile and plan take a folder's model.onnx and a
// classifier's logits as the loss by default; a bare encoder and an
// Optimum seq2seq folder are refused in one line saying what to do.
func TestCompileHFExport(t *testing.T) {
	out := t.TempDir()
	if code, stdout, stderr := crsc("compile", hfModels+"hf_distilbert_seqcls", "-o", out); code != 0 || !strings.Contains(stdout, "trained:") {
		t.Errorf("compile a classifier folder: exit %d: %s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := crsc("plan", hfModels+"hf_distilbert_seqcls", "--seq", "32", "--batch", "2"); code != 0 || !strings.Contains(stdout, "planned peak") {
		t.Errorf("plan a classifier folder: exit %d: %s%s", code, stdout, stderr)
	}
	for _, c := range []struct{ cmd, model, want string }{
		{"compile", hfModels + "hf_bert_model", "no loss or logits output"},
		{"compile", hfModels + "optimum_t5_tiny", "crsc train links the two"},
		{"plan", hfModels + "hf_bert_model", "no loss or logits output"},
	} {
		args := []string{c.cmd, c.model, "-o", out}
		if c.cmd == "plan" {
			args = []string{c.cmd, c.model, "--seq", "32"}
		}
		code, _, stderr := crsc(args...)
		if code != 1 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%s %s: exit %d, stderr %q: want one line with %q", c.cmd, c.model, code, stderr, c.want)
		}
	}
}
