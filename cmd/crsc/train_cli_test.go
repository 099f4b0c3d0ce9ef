package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"crsc/internal/testutil"
	"crsc/training/checkpoint"
	"crsc/training/data"
	"crsc/training/train"
)

// tinyTrainModel is the bundled tiny BERT the demo trains (vocab 120, 64
// positions).
const tinyTrainModel = "../../testdata/onnx/bert_tiny_cls.op17.train.onnx"

// writeTrainData writes a --data folder (train.tsv, dev.tsv) of synthetic
// sentiment examples and the matching vocab.txt.
func writeTrainData(t *testing.T, nTrain int) (dir, vocab string) {
	t.Helper()
	dir = t.TempDir()
	words, err := data.SyntheticVocab(120)
	if err != nil {
		t.Fatal(err)
	}
	vocab = filepath.Join(dir, "vocab.txt")
	if err := os.WriteFile(vocab, []byte(strings.Join(words, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for split, ex := range map[string][]data.Example{"train": data.Synthetic(nTrain, 1), "dev": data.Synthetic(24, 2)} {
		var b strings.Builder
		b.WriteString("sentence\tlabel\n")
		for _, e := range ex {
			fmt.Fprintf(&b, "%s\t%d\n", e.TextA, e.Class)
		}
		if err := os.WriteFile(filepath.Join(dir, split+".tsv"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, vocab
}

// TestTrainEvalFlags: bad arguments and numeric flags of train and eval
// exit 1 with one line naming the flag and what it accepts, before any
// work: no run directory is made.
func TestTrainEvalFlags(t *testing.T) {
	dataDir, vocab := writeTrainData(t, 32)
	out := filepath.Join(t.TempDir(), "run")
	train := func(args ...string) []string {
		return append([]string{"train", tinyTrainModel, "--task", "sst2", "--data", dataDir, "--vocab", vocab, "--out", out}, args...)
	}
	eval := func(args ...string) []string {
		return append([]string{"eval", tinyTrainModel, "--task", "sst2", "--data", dataDir, "--vocab", vocab}, args...)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--task", "sst2", "--data", dataDir, "--vocab", vocab, "--out", out}, "no model: give MODEL.onnx or --arch"},
		{train("--arch", "bert-tiny"), "both MODEL (" + tinyTrainModel + ") and --arch bert-tiny: give one"},
		{train("--batch", "0"), "--batch 0: want an integer ≥ 1"},
		{train("--epochs", "0"), "--epochs 0: want an integer ≥ 1"},
		{train("--grad-accum", "0"), "--grad-accum 0: want an integer ≥ 1"},
		{train("--lr", "0"), "--lr 0: want a finite number > 0"},
		{train("--lr", "NaN"), "--lr NaN: want a finite number > 0"},
		{train("--lr", "-1e-3"), "--lr -0.001: want a finite number > 0"},
		{train("--weight-decay", "NaN"), "--weight-decay NaN: want a finite number ≥ 0"},
		{train("--warmup", "-1"), "--warmup -1: want a finite number ≥ 0"},
		{train("--clip", "-1"), "--clip -1: want a finite number ≥ 0"},
		{train("--clip", "Inf"), "--clip +Inf: want a finite number ≥ 0"},
		{train("--max-len", "0"), "--max-len 0: want an integer ≥ 4"},
		{train("--tgt-len", "-1"), "--tgt-len -1: want an integer ≥ 0"},
		{train("--lora", "-1"), "--lora -1: want an integer ≥ 0"},
		{train("--threads", "-1"), "--threads -1: want an integer ≥ 0"},
		{train("--max-steps", "-1"), "--max-steps -1: want an integer ≥ 0"},
		{train("--save-every", "-1"), "--save-every -1: want an integer ≥ 0"},
		{train("--log-every", "-1"), "--log-every -1: want an integer ≥ 0"},
		{train("--keep", "0"), "--keep 0: want a number in (0, 1]"},
		{train("--resume-with-changes"), "--resume-with-changes goes with --resume"},
		{train("--resume", "--max-len", "32"), "--resume: no checkpoint at "},
		{train("--resume"), "--resume: no checkpoint at "}, // before the model is looked at
		{[]string{"train", "--out", out, "--batch", "4"}, "no model: give MODEL.onnx or --arch"},
		{eval("--batch", "0"), "--batch 0: want an integer ≥ 1"},
		{eval("--max-len", "0"), "--max-len 0: want an integer ≥ 4"},
		{eval("--threads", "-2"), "--threads -2: want an integer ≥ 0"},
		{eval("--tgt-len", "-1"), "--tgt-len -1: want an integer ≥ 0"},
		{[]string{"eval", tinyTrainModel, "--task", "sst2", "--data", t.TempDir(), "--vocab", vocab}, "--data: "},
	} {
		code, _, stderr := crsc(c.args...)
		line := strings.TrimSpace(stderr)
		if code == 0 || !strings.Contains(line, c.want) || strings.Contains(line, "\n") {
			t.Errorf("%v: exit %d, stderr %q; want one line with %q", c.args[1:], code, stderr, c.want)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v: the refused run made its directory", c.args[1:])
		}
	}
	// eval takes a --data folder, as train does: its dev split.
	if code, stdout, stderr := crsc(eval("--batch", "8", "--max-len", "32")...); code != 0 || !strings.Contains(stdout, "accuracy:") {
		t.Errorf("eval --data DIR: exit %d, %s%s", code, stdout, stderr)
	}
}

// metricsLines reads metrics.jsonl without the timing fields (step_ms,
// tokens_per_s, peak_rss_bytes, time), which differ between any two runs.
func metricsLines(t *testing.T, dir string) []string {
	t.Helper()
	return testutil.Must(t, train.ComparableMetrics, dir)
}

// TestTrainKilled kills a real `crsc train` process mid-run: while it
// runs (stopped with SIGSTOP), a second writer of its directory fails at
// once naming it; after SIGKILL, --resume ends with the uninterrupted
// run's metrics.jsonl (timing fields aside) and model.onnx.
func TestTrainKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds crsc")
	}
	bin := filepath.Join(t.TempDir(), "crsc")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dataDir, vocab := writeTrainData(t, 2000)
	args := func(out string, extra ...string) []string {
		return append([]string{"train", tinyTrainModel, "--task", "sst2", "--data", dataDir, "--vocab", vocab, "--out", out,
			"--batch", "8", "--max-len", "32", "--epochs", "1", "--max-steps", "200", "--lr", "5e-3", "--keep", "0.3", "--gnorm", "ema",
			"--save-every", "7", "--log-every", "5", "--threads", "1"}, extra...)
	}
	full := filepath.Join(t.TempDir(), "full")
	if code, _, stderr := crsc(args(full)...); code != 0 {
		t.Fatalf("uninterrupted run: exit %d: %s", code, stderr)
	}

	dir := filepath.Join(t.TempDir(), "killed")
	cmd := exec.Command(bin, args(dir)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ckpt := filepath.Join(dir, train.CheckpointFile)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		if _, err := os.Stat(ckpt); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint after 30 s")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := crsc(args(dir, "--resume")...)
	if want := fmt.Sprintf("is in use by crsc train (pid %d on host", cmd.Process.Pid); code == 0 || !strings.Contains(stderr, want) {
		t.Errorf("a second writer: exit %d, %q; want …%s…", code, stderr, want)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	_, meta, err := checkpoint.Load(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed with the checkpoint at step %s of 200", meta["step"])
	if meta["step"] == "200" {
		t.Fatal("the run ended before the kill")
	}
	if code, _, stderr := crsc(args(dir, "--resume")...); code != 0 {
		t.Fatalf("--resume: exit %d: %s", code, stderr)
	}
	want, got := metricsLines(t, full), metricsLines(t, dir)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("metrics.jsonl after the kill and --resume:\n%s\nuninterrupted:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	a, _ := os.ReadFile(filepath.Join(full, train.ModelFile))
	b, _ := os.ReadFile(filepath.Join(dir, train.ModelFile))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("model.onnx differs from the uninterrupted run's")
	}
}

// TestDemoRefusesUserDir: the demo (crsc train without a model or data)
// does not write into, let alone empty, a directory it did not make.
func TestDemoRefusesUserDir(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "results.csv")
	if err := os.WriteFile(mine, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := crsc("train", "--out", dir)
	if code == 0 || !strings.Contains(stderr, "is not a demo run directory") || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
		t.Fatalf("exit %d, %q", code, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the refused demo changed the directory: %d entries", len(entries))
	}
}

// TestTrainResumeCLI: through the command line, 0 means 0 (--log-every 0:
// only the last step's line; --clip 0: no clipping), a changed option on
// --resume is refused in one line naming it and both values, config.json
// kept, and --resume-with-changes continues.
func TestTrainResumeCLI(t *testing.T) {
	dataDir, vocab := writeTrainData(t, 64)
	out := filepath.Join(t.TempDir(), "run")
	args := func(extra ...string) []string {
		return append([]string{"train", tinyTrainModel, "--task", "sst2", "--data", dataDir, "--vocab", vocab, "--out", out,
			"--batch", "8", "--max-len", "32", "--epochs", "1", "--lr", "5e-3", "--log-every", "0", "--clip", "0", "--threads", "1"}, extra...)
	}
	if code, _, stderr := crsc(args("--max-steps", "4")...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if lines := metricsLines(t, out); len(lines) != 2 || !strings.Contains(lines[0], `"step":4`) || !strings.Contains(lines[1], `"eval"`) {
		t.Errorf("--log-every 0: metrics.jsonl %v, want the last step's line and the evaluation", lines)
	}
	var cfg map[string]any
	config, _ := os.ReadFile(filepath.Join(out, train.ConfigFile))
	if err := json.Unmarshal(config, &cfg); err != nil || cfg["clip_norm"] != 0.0 || cfg["log_every"] != 0.0 {
		t.Errorf("config.json: clip_norm %v, log_every %v (%v), want 0 and 0", cfg["clip_norm"], cfg["log_every"], err)
	}
	code, _, stderr := crsc(args("--max-steps", "4", "--resume", "--lr", "1e-3")...)
	if want := "--resume: --lr was 0.005 when the run started, now 0.001: pass --resume-with-changes"; code == 0 || !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
		t.Errorf("changed --lr: exit %d, %q; want one line with %q", code, stderr, want)
	}
	if after, _ := os.ReadFile(filepath.Join(out, train.ConfigFile)); !bytes.Equal(after, config) {
		t.Error("the refused resume rewrote config.json")
	}
	if code, _, stderr := crsc(args("--max-steps", "4", "--resume", "--lr", "1e-3", "--resume-with-changes")...); code != 0 {
		t.Errorf("--resume-with-changes: exit %d: %s", code, stderr)
	}
}
