package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crsc/training/data"
)

// hfModels are the generated Hugging-Face-layout exports.
const hfModels = "../../testdata/onnx/"

// writePairsCSV writes MNLI-like pairs as a CSV with its own column
// names and string labels (both positive, both negative, mixed).
func writePairsCSV(t *testing.T, dir, name string, n int, seed int64) string {
	t.Helper()
	a, b := data.Synthetic(n, seed), data.Synthetic(n, seed+100)
	labels := []string{"upbeat", "gloomy", "mixed"}
	var s strings.Builder
	s.WriteString("review,other,verdict\n")
	for i := range a {
		class := 2
		if a[i].Class == b[i].Class {
			class = 1 - a[i].Class
		}
		fmt.Fprintf(&s, "%s,%s,%s\n", a[i].TextA, b[i].TextA, labels[class])
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(s.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTrainHFExportCLI: a bare encoder export with TF-style input names
// trains as --task custom from a CSV with string labels: the run says
// the head it added, exports it, and crsc eval scores the export.
func TestTrainHFExportCLI(t *testing.T) {
	_, vocab := writeTrainData(t, 8)
	dir := t.TempDir()
	trainCSV, devCSV := writePairsCSV(t, dir, "train.csv", 64, 1), writePairsCSV(t, dir, "dev.csv", 16, 2)
	out := filepath.Join(dir, "run")
	custom := []string{"--task", "custom", "--labels", "upbeat,gloomy,mixed", "--text-columns", "review,other", "--label-column", "verdict"}
	args := append([]string{"train", hfModels + "hf_bert_tf_names", "--data", trainCSV, "--eval-data", devCSV, "--vocab", vocab,
		"--out", out, "--batch", "8", "--max-len", "32", "--max-steps", "4", "--threads", "1", "--lr", "5e-3"}, custom...)
	code, stdout, stderr := crsc(args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"model: added head: logits [batch, 3]", "∘ pooler_output", "accuracy:"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, stderr = crsc(append([]string{"eval", filepath.Join(out, "model.onnx"), "--data", devCSV, "--vocab", vocab, "--max-len", "32"}, custom...)...)
	if code != 0 || !strings.HasPrefix(stdout, "accuracy:") {
		t.Fatalf("eval: exit %d: %s%s", code, stdout, stderr)
	}
	// The run's own config.json reproduces it (custom task and all).
	if code, _, stderr := crsc("train", "--config", filepath.Join(out, "config.json"), "--out", filepath.Join(dir, "again"), "--max-steps", "1"); code != 0 {
		t.Errorf("--config of the run: exit %d: %s", code, stderr)
	}
}

// TestEvalMNLISplits: crsc train and crsc eval on a folder score MNLI's
// matched and mismatched dev files both.
func TestEvalMNLISplits(t *testing.T) {
	_, vocab := writeTrainData(t, 8)
	dir := t.TempDir()
	for split, seed := range map[string]int64{"train": 1, "dev_matched": 2, "dev_mismatched": 3} {
		a, b := data.Synthetic(24, seed), data.Synthetic(24, seed+100)
		var s strings.Builder
		s.WriteString("sentence1\tsentence2\tlabel\n")
		for i := range a {
			fmt.Fprintf(&s, "%s\t%s\t%d\n", a[i].TextA, b[i].TextA, i%3)
		}
		if err := os.WriteFile(filepath.Join(dir, split+".tsv"), []byte(s.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "run")
	code, stdout, stderr := crsc("train", hfModels+"hf_bert_model", "--task", "mnli", "--data", dir, "--vocab", vocab, "--out", out,
		"--batch", "8", "--max-len", "32", "--max-steps", "2", "--threads", "1")
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	// The run evaluates both splits; the matched one selects the best.
	if !strings.Contains(stdout, "\naccuracy:") || !strings.Contains(stdout, "dev_mismatched accuracy:") || !strings.Contains(stdout, "dev_mismatched/accuracy") {
		t.Errorf("train on MNLI should report dev_mismatched too:\n%s", stdout)
	}
	code, stdout, stderr = crsc("eval", filepath.Join(out, "model.onnx"), "--task", "mnli", "--data", dir, "--vocab", vocab, "--max-len", "32")
	if code != 0 || !strings.Contains(stdout, "dev_matched accuracy:") || !strings.Contains(stdout, "dev_mismatched accuracy:") {
		t.Errorf("eval: exit %d:\n%s%s", code, stdout, stderr)
	}
}

// TestHFExportErrors: what crsc cannot read gets one line naming why and
// what would make it trainable.
func TestHFExportErrors(t *testing.T) {
	dataDir, vocab := writeTrainData(t, 16)
	empty := t.TempDir()
	for _, c := range []struct {
		name  string
		args  []string
		wants string
	}{
		{"unknown role", []string{hfModels + "hf_bert_model", "--input", "mask=attention_mask"}, `--input mask=attention_mask: unknown role "mask"`},
		{"override names no input", []string{hfModels + "hf_bert_model", "--input", "attention_mask=nope"}, "names no input"},
		{"--head none on a bare encoder", []string{hfModels + "hf_bert_model", "--head", "none"}, "--head none, but no output holds [batch, 2] logits"},
		{"--head pooler on a classifier", []string{hfModels + "hf_distilbert_seqcls", "--head", "mean"}, `already holds the logits`},
		{"--head bogus", []string{hfModels + "hf_bert_model", "--head", "cls"}, `--head "cls": want one of auto, pooler, first, mean, none`},
		{"--output not an output", []string{hfModels + "hf_bert_model", "--output", "nope"}, "nope"},
		{"custom flags without custom", []string{hfModels + "hf_bert_model", "--labels", "a,b"}, "describe --task custom, not --task sst2"},
		{"a folder without a model", []string{empty}, "a folder with no .onnx file"},
		{"--decoder with a folder", []string{hfModels + "optimum_t5_tiny", "--decoder", "x.onnx"}, "give the encoder file, or the folder alone"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"train"}, c.args...)
			args = append(args, "--task", "sst2", "--data", dataDir, "--vocab", vocab, "--out", filepath.Join(t.TempDir(), "run"),
				"--batch", "8", "--max-len", "32", "--max-steps", "1")
			code, _, stderr := crsc(args...)
			if code != 1 || !strings.Contains(stderr, c.wants) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("exit %d, stderr %q: want exit 1 and one line with %q", code, stderr, c.wants)
			}
		})
	}
}
