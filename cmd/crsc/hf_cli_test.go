package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"

	"crsc/training/train"
)

// readConfig reads a run's config.json as generic JSON.
func readConfig(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, train.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func sampling(cfg map[string]any) map[string]any {
	return cfg["spec"].(map[string]any)["sampling"].(map[string]any)
}

// TestTrainSamplesByDefault: crsc train is WTA-CRS at keep 0.3 unless told
// --keep 1 or --estimator exact, and its first line says what is sampled.
func TestTrainSamplesByDefault(t *testing.T) {
	dataDir, vocab := writeTrainData(t, 32)
	for _, c := range []struct {
		flags     []string
		estimator string
		keep      float64
		first     string
	}{
		{nil, "wta", 0.3, "WTA-CRS keep 0.3: 7 of 12 linear layers sampled, 5 exact — see memory.txt"},
		{[]string{"--keep", "0.1", "--estimator", "crs"}, "crs", 0.1, "CRS keep 0.1: 7 of 12 linear layers sampled, 5 exact"},
		{[]string{"--keep", "1"}, "exact", 1, "exact training: no weight gradient is sampled"},
		{[]string{"--estimator", "exact"}, "exact", 0.3, "exact training: no weight gradient is sampled"},
	} {
		out := filepath.Join(t.TempDir(), "run")
		args := append([]string{"train", tinyTrainModel, "--task", "sst2", "--data", dataDir, "--vocab", vocab, "--out", out,
			"--batch", "8", "--max-len", "32", "--max-steps", "1", "--threads", "1"}, c.flags...)
		code, stdout, stderr := crsc(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.flags, code, stderr)
		}
		if first, _, _ := strings.Cut(stdout, "\n"); !strings.HasPrefix(first, c.first) {
			t.Errorf("%v: first line %q, want %q…", c.flags, first, c.first)
		}
		s := sampling(readConfig(t, out))
		if s["estimator"] != c.estimator || s["keep"] != c.keep {
			t.Errorf("%v: config.json sampling %v, want estimator %s keep %v", c.flags, s, c.estimator, c.keep)
		}
	}
}

// TestCompileSamplesByDefault: compile too; --keep 1 is the exact graph.
func TestCompileSamplesByDefault(t *testing.T) {
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{nil, "wta-crs:   4 of 12 linear layers sampled"},
		{[]string{"--keep", "1"}, "wta-crs:   none: exact training graph"},
		{[]string{"--estimator", "exact"}, "wta-crs:   none: exact training graph"},
	} {
		args := append([]string{"compile", tinyBert, "--loss", "cross-entropy", "--output", "logits", "-o", t.TempDir()}, c.flags...)
		code, stdout, stderr := crsc(args...)
		if code != 0 || !strings.Contains(stdout, c.want) {
			t.Errorf("%v: exit %d, want %q in\n%s%s", c.flags, code, c.want, stdout, stderr)
		}
		if strings.Contains(stdout, "sampled") && strings.Contains(stdout, "keeps 0 of") {
			t.Errorf("%v: %s", c.flags, stdout)
		}
	}
}

// TestTrainConfigFile: --config reads a run's config.json (the run is
// reproduced, command-line flags winning) or a file with flag names; an
// unknown key is an error.
func TestTrainConfigFile(t *testing.T) {
	dataDir, vocab := writeTrainData(t, 32)
	first := filepath.Join(t.TempDir(), "first")
	if code, _, stderr := crsc("train", tinyTrainModel, "--task", "sst2", "--data", dataDir, "--vocab", vocab, "--out", first,
		"--batch", "8", "--max-len", "32", "--max-steps", "2", "--lr", "4e-3", "--schedule", "cosine", "--keep", "0.5",
		"--min-rows", "4", "--threads", "1", "--log-every", "1"); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	// The same run again from its config.json, into another directory
	// and with one step more: everything else as the first.
	again := filepath.Join(t.TempDir(), "again")
	if code, _, stderr := crsc("train", "--config", filepath.Join(first, train.ConfigFile), "--out", again, "--max-steps", "3"); code != 0 {
		t.Fatalf("--config: exit %d: %s", code, stderr)
	}
	a, b := readConfig(t, first), readConfig(t, again)
	if b["max_steps"] != 3.0 || b["out"] != again {
		t.Errorf("command-line flags did not win: max_steps %v, out %v", b["max_steps"], b["out"])
	}
	delete(a, "max_steps")
	delete(b, "max_steps")
	delete(a, "out")
	delete(b, "out")
	if !reflect.DeepEqual(a, b) {
		t.Errorf("config.json from --config:\n%v\nwant the first run's:\n%v", b, a)
	}
	// With nothing overridden but --out, the run itself is reproduced:
	// the same fine-tuned model, byte for byte.
	same := filepath.Join(t.TempDir(), "same")
	if code, _, stderr := crsc("train", "--config", filepath.Join(first, train.ConfigFile), "--out", same); code != 0 {
		t.Fatalf("--config, same run: exit %d: %s", code, stderr)
	}
	m1, err1 := os.ReadFile(filepath.Join(first, train.ModelFile))
	m2, err2 := os.ReadFile(filepath.Join(same, train.ModelFile))
	if err1 != nil || err2 != nil || !bytes.Equal(m1, m2) {
		t.Errorf("the run from its config.json exported another model (%v, %v)", err1, err2)
	}
	// A file of one's own, with flag names.
	mine := filepath.Join(t.TempDir(), "mine.json")
	os.WriteFile(mine, []byte(`{"task": "sst2", "data": "`+dataDir+`", "vocab": "`+vocab+`", "batch": 8, "max-len": 32,
		"max-steps": 2, "schedule": "constant", "keep": 1, "threads": 1}`), 0o644)
	third := filepath.Join(t.TempDir(), "third")
	if code, _, stderr := crsc("train", tinyTrainModel, "--config", mine, "--out", third); code != 0 {
		t.Fatalf("--config with flag names: exit %d: %s", code, stderr)
	}
	if c := readConfig(t, third); c["schedule"] != "constant" || sampling(c)["estimator"] != "exact" || c["batch"] != 8.0 {
		t.Errorf("config.json from flag names: %v", c)
	}
	for _, c := range []struct{ file, want string }{
		{`{"learning_rate": 1}`, `unknown key "learning_rate"`},
		{`{"batch": "eight"}`, `batch = eight: invalid argument`},
		{`[1, 2]`, "not a JSON object"},
	} {
		bad := filepath.Join(t.TempDir(), "bad.json")
		os.WriteFile(bad, []byte(c.file), 0o644)
		code, _, stderr := crsc("train", tinyTrainModel, "--config", bad, "--out", filepath.Join(t.TempDir(), "x"))
		if code == 0 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%s: exit %d, %q; want one line with %q", c.file, code, stderr, c.want)
		}
	}
}

// TestTrainNewFlags: the new flags' values are checked up front, and the
// run's end says so when nothing was evaluated (no "best accuracy: 0").
func TestTrainNewFlags(t *testing.T) {
	dataDir, vocab := writeTrainData(t, 32)
	out := filepath.Join(t.TempDir(), "run")
	args := func(extra ...string) []string {
		return append([]string{"train", tinyTrainModel, "--task", "sst2", "--vocab", vocab, "--out", out,
			"--batch", "8", "--max-len", "32", "--max-steps", "2", "--threads", "1"}, extra...)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{args("--data", dataDir, "--schedule", "step"), `--schedule "step": want linear, cosine or constant`},
		{args("--data", dataDir, "--eval-every", "-1"), "--eval-every -1: want an integer ≥ 0"},
		{args("--data", dataDir, "--patience", "-1"), "--patience -1: want an integer ≥ 0"},
		{args("--data", dataDir, "--patience", "2", "--min-delta", "NaN"), "--min-delta NaN: want a finite number ≥ 0"},
		{args("--data", dataDir, "--min-delta", "0.1"), "--min-delta goes with --patience"},
		{args("--data", filepath.Join(dataDir, "train.tsv"), "--patience", "2"), "--patience 2 needs evaluation data"},
		{args("--data", dataDir, "--keep", "1", "--gnorm", "ema"), "--gnorm is a sampling setting: --keep 1 trains exactly"},
	} {
		code, _, stderr := crsc(c.args...)
		if code == 0 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, %q; want one line with %q", c.args[len(c.args)-2:], code, stderr, c.want)
		}
	}
	code, stdout, stderr := crsc(args("--data", filepath.Join(dataDir, "train.tsv"))...)
	if code != 0 {
		t.Fatalf("train file alone: exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "best ") || !strings.Contains(stdout, "no evaluation: no dev file") {
		t.Errorf("train file alone:\n%s", stdout)
	}
	for _, f := range []string{train.MetricsCSVFile, train.PlotFile, train.MemoryPlotFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := train.EventFile(out); err != nil {
		t.Error(err)
	}
}

// TestVersion: crsc --version names the build (module version, Go).
func TestVersion(t *testing.T) {
	code, stdout, stderr := crsc("--version")
	if code != 0 || !strings.HasPrefix(stdout, "crsc ") || !strings.Contains(stdout, "go1.") {
		t.Errorf("exit %d, %q %q", code, stdout, stderr)
	}
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, c := range []struct {
		info debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3, go1.26.8"},
		{debug.BuildInfo{GoVersion: "go1.26.8"}, "(devel), go1.26.8"},
		{debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "88ff7ce", "vcs.time", "2026-12-02T14:00:00Z", "vcs.modified", "true")},
			"(devel), revision 88ff7ce (2026-12-02T14:00:00Z), modified, go1.26.8"},
		{debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.1.0"}, Settings: vcs("vcs.revision", "abc", "vcs.modified", "false")},
			"v0.1.0, revision abc, go1.26.8"},
	} {
		if got := formatVersion(&c.info); got != c.want {
			t.Errorf("formatVersion = %q, want %q", got, c.want)
		}
	}
}
