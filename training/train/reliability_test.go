package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
	"crsc/internal/testutil"
	"crsc/training/checkpoint"
	"crsc/training/data"
)

// errKilled is what an injected failure point returns: the run ends
// there without any of its end-of-run work, as a kill would.
var errKilled = errors.New("killed (test)")

// killAt makes the run end at the named failure point (see checkFail).
func killAt(t *testing.T, point string) {
	t.Helper()
	failAt = func(p string) error {
		if p == point {
			return errKilled
		}
		return nil
	}
	t.Cleanup(func() { failAt = nil })
}

// metricsWithoutTiming reads metrics.jsonl without the timing fields
// (step_ms, tokens_per_s, peak_rss_bytes, time), which differ between any two runs.
func metricsWithoutTiming(t *testing.T, dir string) []string {
	t.Helper()
	return testutil.Must(t, ComparableMetrics, dir)
}

func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d lines, uninterrupted %d:\n%s\nvs\n%s", what, len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: line %d\n got %s\nwant %s", what, i+1, got[i], want[i])
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	return testutil.Must(t, os.ReadFile, path)
}

// TestResumeAfterInterruptions: runs ended at failure points (between a
// step's checkpoint and the next, after the last step's checkpoint but
// before the final evaluation, before the export) and resumed, once or
// several times, end with the uninterrupted run's metrics.jsonl (timing
// fields aside), model.onnx and best metric; a killed write's temporary
// file is removed on resume, other files are left alone.
func TestResumeAfterInterruptions(t *testing.T) {
	cfg := func() Config {
		c := tinyConfig(t, "wta", "ema")
		c.StaticPadding = true
		c.SaveEvery, c.LogEvery = 3, 5 // windows that straddle checkpoints
		return c
	}
	full := cfg()
	want, err := Run(full)
	if err != nil {
		t.Fatal(err)
	}
	wantMetrics := metricsWithoutTiming(t, full.Out)
	wantModel := readFile(t, filepath.Join(full.Out, ModelFile))
	for _, tc := range []struct {
		name  string
		kills []string // one run per kill, then a resume to the end
	}{
		{"mid-epoch, lines after the checkpoint", []string{"after step 5"}},
		{"several resumes", []string{"after step 4", "after step 10", "after step 14"}},
		{"after the last step's checkpoint, before the final evaluation", []string{"after step 16"}},
		{"before the export", []string{"before export"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg()
			if tc.kills[0] == "after step 16" {
				c.SaveEvery = 16 // the last step's checkpoint, before the evaluation after it
			}
			// A user's file and a killed write's leftover.
			notes := filepath.Join(c.Out, "notes.txt")
			stale := filepath.Join(c.Out, ".checkpoint.safetensors.tmp-123")
			for _, p := range []string{notes, stale} {
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for i, point := range tc.kills {
				killAt(t, point)
				c.Resume = i > 0
				if _, err := Run(c); !errors.Is(err, errKilled) {
					t.Fatalf("run %d: %v, want the injected kill at %q", i+1, err, point)
				}
			}
			failAt = nil
			c.Resume = true
			got, err := Run(c)
			if err != nil {
				t.Fatal(err)
			}
			if got.Best != want.Best || fmt.Sprint(got.Eval) != fmt.Sprint(want.Eval) {
				t.Errorf("resumed: best %v eval %v; uninterrupted: best %v eval %v", got.Best, got.Eval, want.Best, want.Eval)
			}
			sameLines(t, "metrics.jsonl", metricsWithoutTiming(t, c.Out), wantMetrics)
			if !bytes.Equal(readFile(t, filepath.Join(c.Out, ModelFile)), wantModel) {
				t.Error("model.onnx differs from the uninterrupted run's")
			}
			if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("stale temporary file: %v", err)
			}
			if _, err := os.Stat(notes); err != nil {
				t.Errorf("the user's file: %v", err)
			}
		})
	}
}

// rewriteMeta saves the checkpoint in dir again with fn applied to its
// tensors and metadata (checksums recomputed: what a bug, or an edit,
// would leave, which the checksums do not catch).
func rewriteMeta(t *testing.T, dir string, fn func(state map[string]*ir.Tensor, meta map[string]string)) {
	t.Helper()
	path := filepath.Join(dir, CheckpointFile)
	state, meta, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	fn(state, meta)
	if err := checkpoint.Save(path, state, meta); err != nil {
		t.Fatal(err)
	}
}

// TestResumeChecksCheckpoint: a checkpoint whose metadata does not parse
// or does not fit the run, or whose parameters are not finite, is refused
// with the field (or tensor) named, and nothing is trained or written.
func TestResumeChecksCheckpoint(t *testing.T) {
	base := tinyConfig(t, "exact", "none")
	base.StopAfter = 3 // 8 steps per epoch, 16 in all
	if _, err := Run(base); err != nil {
		t.Fatal(err)
	}
	orig := readFile(t, filepath.Join(base.Out, CheckpointFile))
	set := func(k, v string) func(map[string]*ir.Tensor, map[string]string) {
		return func(_ map[string]*ir.Tensor, m map[string]string) { m[k] = v }
	}
	for _, tc := range []struct {
		name string
		edit func(map[string]*ir.Tensor, map[string]string)
		want string
	}{
		{"flipped byte in step", set("step", "3\x01"), `step="3\x01" is not an integer`},
		{"step past the run", set("step", "999999"), "step=999999 is outside this run's [0, 16]"},
		{"negative batch", set("batch", "-3"), "batch=-3 is outside this run's [0, 8]"},
		{"epoch past the run", set("epoch", "7"), "epoch=7 is outside"},
		{"step not at epoch and batch", set("step", "5"), "step 5 does not match epoch 0 and batch 3"},
		{"best", set("best", "high"), `best="high" is not a number`},
		{"have_best", set("have_best", "maybe"), `have_best="maybe" is not true or false`},
		{"no step", func(_ map[string]*ir.Tensor, m map[string]string) { delete(m, "step") }, `no "step"`},
		{"metrics length", set("metrics_bytes", "x"), `metrics_bytes="x" is not an integer`},
		{"NaN parameter", func(s map[string]*ir.Tensor, _ map[string]string) {
			for name, v := range s {
				if strings.HasPrefix(name, checkpoint.ParamPrefix) && strings.Contains(name, "classifier") && len(v.F32) > 2 {
					v.F32[2] = float32(math.NaN())
				}
			}
		}, "a parameter is not finite: tensor \"param/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(base.Out, CheckpointFile), orig, 0o644); err != nil {
				t.Fatal(err)
			}
			rewriteMeta(t, base.Out, tc.edit)
			before := readFile(t, filepath.Join(base.Out, MetricsFile))
			c := base
			c.StopAfter, c.Resume = 0, true
			_, err := Run(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "--resume: ") {
				t.Fatalf("got %v, want …%s…", err, tc.want)
			}
			if !bytes.Equal(readFile(t, filepath.Join(base.Out, MetricsFile)), before) {
				t.Error("metrics.jsonl changed")
			}
		})
	}
}

// TestResumeRefusesChanges: --resume with another model, other data or
// an option that changes the arithmetic is refused with the option and
// both values, config.json untouched; --resume-with-changes continues; an
// option that does not change the schedule is not a change.
func TestResumeRefusesChanges(t *testing.T) {
	model := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(model, readFile(t, "../../testdata/onnx/bert_tiny_cls.op17.train.onnx"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := tinyConfig(t, "exact", "none")
	base.Model, base.Arch = model, ""
	base.StopAfter = 3
	if _, err := Run(base); err != nil {
		t.Fatal(err)
	}
	ckpt := readFile(t, filepath.Join(base.Out, CheckpointFile))
	config := readFile(t, filepath.Join(base.Out, ConfigFile))
	other := readFile(t, "../../testdata/onnx/bert_tiny_cls.op14.train.onnx")
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string // "": accepted
	}{
		{"lr", func(c *Config) { c.LR = 1e-3 }, "--lr was 0.005 when the run started, now 0.001"},
		{"batch", func(c *Config) { c.Batch = 4 }, "--batch was 8 when the run started, now 4"},
		{"keep", func(c *Config) { c.Spec.Sampling.Keep = 0.5 }, "--keep was 0.3 when the run started, now 0.5"},
		{"lora", func(c *Config) { c.Spec.LoRA = passes.LoRASpec{Rank: 2, BitFit: true} }, "--lora was 0 when the run started, now 2"},
		{"weight decay", func(c *Config) { c.WeightDecay = 0.1 }, "--weight-decay was 0 when the run started, now 0.1"},
		{"clip", func(c *Config) { c.ClipNorm = 5 }, "--clip was 1 when the run started, now 5"},
		{"warmup", func(c *Config) { c.Warmup = 3 }, "--warmup was 2 when the run started, now 3"},
		{"max-len", func(c *Config) { c.MaxLen = 32 }, "--max-len was 16 when the run started, now 32"},
		{"estimator", func(c *Config) { c.Spec.Sampling.Estimator = "wta" }, "--estimator was exact when the run started, now wta"},
		{"epochs", func(c *Config) { c.Epochs = 3 }, "--epochs was 2 when the run started, now 3"},
		{"max-steps", func(c *Config) { c.MaxSteps = 10 }, "--max-steps was 0 when the run started, now 10"},
		{"epochs beyond max-steps: same schedule", func(c *Config) { c.Epochs = 3; c.MaxSteps = 16 }, ""},
		{"grad accum", func(c *Config) { c.Accum = 2 }, "--grad-accum was 1 when the run started, now 2"},
		{"training data", func(c *Config) { c.TrainExamples = data.Synthetic(64, 9) }, "the training data was in memory, sha256 "},
		{"model file", func(c *Config) {
			if err := os.WriteFile(model, other, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "the model file was "},
		{"with changes", func(c *Config) { c.LR = 1e-3; c.ResumeWithChanges = true }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for path, b := range map[string][]byte{filepath.Join(base.Out, CheckpointFile): ckpt, filepath.Join(base.Out, ConfigFile): config} {
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			defer os.WriteFile(model, readFile(t, "../../testdata/onnx/bert_tiny_cls.op17.train.onnx"), 0o644)
			c := base
			c.StopAfter, c.Resume, c.NoExport = 1, true, true
			tc.edit(&c)
			_, err := Run(c)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want …%s…", err, tc.want)
			}
			if !bytes.Equal(readFile(t, filepath.Join(base.Out, ConfigFile)), config) {
				t.Error("a refused resume rewrote config.json")
			}
		})
	}
}

// TestConfigJSONSnakeCase: every key of config.json is snake_case.
func TestConfigJSONSnakeCase(t *testing.T) {
	c := tinyConfig(t, "wta", "none")
	c.MaxSteps, c.NoExport = 1, true
	c.Spec.LoRA = passes.LoRASpec{Rank: 2, BitFit: true}
	if _, err := Run(c); err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(readFile(t, filepath.Join(c.Out, ConfigFile)), &v); err != nil {
		t.Fatal(err)
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		if m, ok := v.(map[string]any); ok {
			for k, x := range m {
				if !snake.MatchString(k) {
					t.Errorf("config.json: key %s%q is not snake_case", path, k)
				}
				walk(path+k+".", x)
			}
		}
	}
	walk("", v)
}

// TestNonFiniteParameterNamed: a NaN parameter during training is
// reported as such, naming the tensor, not as a learning-rate problem.
func TestNonFiniteParameterNamed(t *testing.T) {
	c := tinyConfig(t, "exact", "none")
	c.Defaults()
	tr, err := setup(&c)
	if err != nil {
		t.Fatal(err)
	}
	var name string
	for n := range tr.params {
		if strings.Contains(n, "classifier") && strings.Contains(n, "weight") {
			name = n
		}
	}
	if name == "" {
		t.Fatalf("no classifier weight among %d parameters", len(tr.params))
	}
	tr.params[name].F32[1] = float32(math.Inf(1))
	_, err = tr.run()
	if err == nil || !strings.Contains(err.Error(), "a parameter is not finite") || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "--lr") {
		t.Fatalf("got %v, want the non-finite parameter %s named", err, name)
	}
}

// TestRunDirLocked: a second writer of a run directory fails at once
// naming the holder; the lock goes with its holder.
func TestRunDirLocked(t *testing.T) {
	c := tinyConfig(t, "exact", "none")
	c.MaxSteps, c.NoExport = 1, true
	l, err := lockRunDir(c.Out)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(c)
	if want := fmt.Sprintf("is in use by crsc train (pid %d on host ", os.Getpid()); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want …%s…", err, want)
	}
	if _, err := os.Stat(filepath.Join(c.Out, ConfigFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused run wrote config.json: %v", err)
	}
	l.release()
	if _, err := Run(c); err != nil {
		t.Fatal(err)
	}
}

// TestDemoDirectory: the demo writes only a directory that is empty, new
// or marked as a demo's; a re-run replaces the demo's files and keeps
// anything else.
func TestDemoDirectory(t *testing.T) {
	c := tinyConfig(t, "exact", "none")
	c.MaxSteps, c.NoExport, c.Demo = 1, true, true
	// A user's directory: refused, untouched.
	user := filepath.Join(c.Out, "thesis.tex")
	if err := os.WriteFile(user, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(c); err == nil || !strings.Contains(err.Error(), "is not a demo run directory") {
		t.Fatalf("got %v", err)
	}
	if entries, _ := os.ReadDir(c.Out); len(entries) != 1 {
		t.Errorf("the refused demo wrote into the directory: %d entries", len(entries))
	}
	// A new directory, then a re-run over it.
	c.Out = filepath.Join(t.TempDir(), "runs", "demo")
	for i := range 2 {
		if _, err := Run(c); err != nil {
			t.Fatalf("demo run %d: %v", i+1, err)
		}
		if i == 0 {
			if err := os.WriteFile(filepath.Join(c.Out, "mine.txt"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(c.Out, "mine.txt")); err != nil {
		t.Errorf("the re-run removed a file the demo did not make: %v", err)
	}
}

// TestGNormEMARealRows: the ema ĝ averages over real rows only and starts
// an unseen position at the mean of the seen ones, and survives a
// checkpoint round trip.
func TestGNormEMARealRows(t *testing.T) {
	layers := []passes.LayerDecision{{GNormInput: "gnorm/l", GNormOutput: "gnorm_out/l", PaddingMask: "attention_mask", Rows: 8}}
	g := newGNorms("ema", 0.5, 2, 4, layers)
	// Row 0 has 3 tokens, row 1 has 1: position 3 is padding in both.
	mask := ir.FromInt64([]int{2, 4}, []int64{1, 1, 1, 0, 1, 0, 0, 0})
	out := map[string]*ir.Tensor{"gnorm_out/l": ir.FromFloat32([]int{8}, []float32{2, 4, 6, 0, 4, 0, 0, 0})}
	feeds := map[string]*ir.Tensor{"attention_mask": mask}
	if err := g.update(out, feeds, []int{0, 1}); err != nil {
		t.Fatal(err)
	}
	g.feed(feeds, []int{0, 1})
	got := feeds["gnorm/l"].F32[:4]
	// Positions 0..2: means over real rows 3, 4, 6; position 3 unseen:
	// their mean, 13/3.
	want := []float32{3, 4, 6, float32(13.0 / 3)}
	for p := range want {
		if math.Abs(float64(got[p]-want[p])) > 1e-6 {
			t.Fatalf("ĝ = %v, want %v", got, want)
		}
	}
	// Through a checkpoint: the same estimates.
	h := newGNorms("ema", 0.5, 2, 4, layers)
	if err := h.load(g.state()); err != nil {
		t.Fatal(err)
	}
	f2 := map[string]*ir.Tensor{}
	h.feed(f2, []int{0, 1})
	if fmt.Sprint(f2["gnorm/l"].F32) != fmt.Sprint(feeds["gnorm/l"].F32) {
		t.Errorf("after a checkpoint: %v, before %v", f2["gnorm/l"].F32, feeds["gnorm/l"].F32)
	}
}
