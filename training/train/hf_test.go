package train

import (
	"bytes"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"crsc/internal/tbevents"
	"crsc/internal/testutil"
)

// metricsRecords reads a run's metrics.jsonl.
func metricsRecords(t *testing.T, dir string) []metricsRecord {
	t.Helper()
	return testutil.Must(t, readMetrics, dir)
}

func evalSteps(recs []metricsRecord) []int {
	var steps []int
	for _, r := range recs {
		if r.Eval != nil {
			steps = append(steps, r.Step)
		}
	}
	return steps
}

// TestSchedules: the learning rate each step logs follows --schedule
// after the warmup (2 steps here, of 8).
func TestSchedules(t *testing.T) {
	const lr, warm, total = 5e-3, 2.0, 8.0
	for _, c := range []struct {
		schedule string
		want     func(x float64) float64 // x: 1-based step after the warmup
	}{
		{ScheduleLinear, func(x float64) float64 { return lr * (total - x + 1) / (total - warm) }},
		{ScheduleCosine, func(x float64) float64 { return lr * 0.5 * (1 + math.Cos(math.Pi*(x-warm-1)/(total-warm))) }},
		{ScheduleConstant, func(float64) float64 { return lr }},
	} {
		t.Run(c.schedule, func(t *testing.T) {
			cfg := tinyConfig(t, "wta", "none")
			cfg.Schedule, cfg.Epochs, cfg.NoExport = c.schedule, 1, true
			if _, err := Run(cfg); err != nil {
				t.Fatal(err)
			}
			var got []float64
			for _, r := range metricsRecords(t, cfg.Out) {
				if r.LR != nil {
					got = append(got, *r.LR)
				}
			}
			if len(got) != total {
				t.Fatalf("%d lr values, want %v", len(got), total)
			}
			for i, v := range got {
				x := float64(i + 1)
				want := lr * x / warm
				if x > warm {
					want = c.want(x)
				}
				if math.Abs(v-want) > 1e-6*lr {
					t.Errorf("step %v: lr %g, want %g", x, v, want)
				}
			}
		})
	}
}

// TestEvalEvery: --eval-every 3 evaluates at steps 3, 6, … and at the
// run's end, not at the epochs' ends.
func TestEvalEvery(t *testing.T) {
	for _, c := range []struct {
		every int
		want  []int
	}{
		{0, []int{8, 16}}, // each epoch's end
		{3, []int{3, 6, 9, 12, 15, 16}},
		{4, []int{4, 8, 12, 16}}, // the last step's evaluation is not repeated
	} {
		cfg := tinyConfig(t, "wta", "none")
		cfg.EvalEvery, cfg.NoExport = c.every, true
		if _, err := Run(cfg); err != nil {
			t.Fatal(err)
		}
		if got := evalSteps(metricsRecords(t, cfg.Out)); !slices.Equal(got, c.want) {
			t.Errorf("--eval-every %d: evaluated at steps %v, want %v", c.every, got, c.want)
		}
	}
}

// TestPatience: with --patience 2 and a --min-delta no evaluation can
// beat, the run stops at its third evaluation; model.onnx is the best
// checkpoint's, and --resume of the stopped run trains no further.
func TestPatience(t *testing.T) {
	cfg := tinyConfig(t, "wta", "none")
	cfg.EvalEvery, cfg.Patience, cfg.MinDelta = 2, 2, 1
	var progress bytes.Buffer
	cfg.Progress = &progress
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.StoppedEarly || res.Steps != 6 {
		t.Fatalf("stopped early %v after %d steps, want true after 6", res.StoppedEarly, res.Steps)
	}
	if !strings.Contains(progress.String(), "early stop at step 6: accuracy has not improved by more than 1 for 2 evaluations") {
		t.Errorf("progress lacks the early stop:\n%s", progress.String())
	}
	recs := metricsRecords(t, cfg.Out)
	best := math.Inf(-1)
	for _, r := range recs {
		if r.Eval != nil {
			best = math.Max(best, r.Eval["accuracy"])
		}
	}
	if res.Best != best {
		t.Errorf("best %v, want the best evaluation %v", res.Best, best)
	}
	m, err := Evaluate(EvalConfig{Model: filepath.Join(cfg.Out, ModelFile), Task: "sst2", Data: writeTSV(t, cfg.EvalExamples), MaxLen: 16, Batch: 8, Tokenizer: cfg.Tokenizer})
	if err != nil {
		t.Fatal(err)
	}
	if m["accuracy"] != best {
		t.Errorf("model.onnx accuracy %v, want the best checkpoint's %v", m["accuracy"], best)
	}
	cfg.Resume, cfg.Progress = true, nil
	again, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again.Steps != 6 || !again.StoppedEarly || len(metricsRecords(t, cfg.Out)) != len(recs) {
		t.Errorf("--resume of the stopped run: %d steps, stopped early %v", again.Steps, again.StoppedEarly)
	}
}

// TestDerivedLogs: metrics.csv and the TensorBoard event file hold what
// metrics.jsonl holds, also after a run stopped mid-epoch (lines past its
// checkpoint) and resumed; epochs are 1-based in every file.
func TestDerivedLogs(t *testing.T) {
	cfg := tinyConfig(t, "wta", "none")
	cfg.NoExport, cfg.SaveEvery = true, 3
	cfg.StopAfter = 5
	if _, err := Run(cfg); err != nil {
		t.Fatal(err)
	}
	cfg.StopAfter, cfg.Resume = 0, true
	if _, err := Run(cfg); err != nil {
		t.Fatal(err)
	}
	recs := metricsRecords(t, cfg.Out)
	// Steps 1-8 are epoch 1, its evaluation too; 9-16 epoch 2.
	for _, r := range recs {
		if want := (r.Step-1)/8 + 1; r.Epoch != want {
			t.Errorf("step %d: epoch %d, want %d", r.Step, r.Epoch, want)
		}
	}
	f, err := os.Open(filepath.Join(cfg.Out, MetricsCSVFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(recs)+1 || rows[0][0] != "step" || rows[0][len(rows[0])-1] != "eval_accuracy" {
		t.Fatalf("metrics.csv: %d rows, header %v; metrics.jsonl has %d lines", len(rows), rows[0], len(recs))
	}
	path, err := EventFile(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(path), "events.out.tfevents.") {
		t.Errorf("event file %s", path)
	}
	events, err := tbevents.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != len(recs)+1 || events[0].FileVersion != tbevents.FileVersion {
		t.Fatalf("%d events for %d metrics lines; first %+v", len(events), len(recs), events[0])
	}
	var lossSteps []int64
	for i, r := range recs {
		e := events[i+1]
		if e.Step != int64(r.Step) {
			t.Errorf("event %d: step %d, want %d", i+1, e.Step, r.Step)
		}
		if r.Loss != nil {
			lossSteps = append(lossSteps, e.Step)
			if e.Scalars[TagLoss] != float32(*r.Loss) || e.Scalars[TagLR] != float32(*r.LR) || e.Scalars[TagPeakRSS] <= 0 || e.Scalars[TagTokens] <= 0 {
				t.Errorf("step %d: scalars %v, loss %v", r.Step, e.Scalars, *r.Loss)
			}
		}
		if r.Eval != nil && e.Scalars["eval/accuracy"] != float32(r.Eval["accuracy"]) {
			t.Errorf("step %d: eval scalars %v, want accuracy %v", r.Step, e.Scalars, r.Eval["accuracy"])
		}
	}
	// The resume ran steps 4-5 again: each step appears once, in order.
	if want := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}; !slices.Equal(lossSteps, want) {
		t.Errorf("loss logged at steps %v, want %v", lossSteps, want)
	}
}

// TestKeepsAllRowsIsExact: a layer the compiler sampled but whose k = N
// (here --min-rows above every layer's rows) is reported exact, in the
// first line and in memory.txt.
func TestKeepsAllRowsIsExact(t *testing.T) {
	for _, c := range []struct {
		minRows  int
		wantLine string
		sampled  bool
	}{
		{4, "WTA-CRS keep 0.3: 4 of 12 linear layers sampled, 8 exact — see memory.txt", true},
		{1000, "WTA-CRS keep 0.3: 0 of 12 linear layers sampled, 12 exact — see memory.txt", false},
	} {
		cfg := tinyConfig(t, "wta", "none")
		cfg.Spec.Sampling.MinRows, cfg.MaxSteps, cfg.NoExport = c.minRows, 1, true
		var progress bytes.Buffer
		cfg.Progress = &progress
		if _, err := Run(cfg); err != nil {
			t.Fatal(err)
		}
		if first, _, _ := strings.Cut(progress.String(), "\n"); first != c.wantLine {
			t.Errorf("--min-rows %d: first line %q, want %q", c.minRows, first, c.wantLine)
		}
		report, _ := os.ReadFile(filepath.Join(cfg.Out, MemoryFile))
		if !c.sampled && !strings.Contains(string(report), "all 128 rows kept (k = N") {
			t.Errorf("memory.txt does not say why a k = N layer is exact:\n%s", report)
		}
		if got := strings.Contains(string(report), "  sampled "); got != c.sampled {
			t.Errorf("--min-rows %d: memory.txt has sampled layers: %v, want %v\n%s", c.minRows, got, c.sampled, report)
		}
	}
}

// TestPaddedRange: a metric's axis pads around its points and stays in
// the metric's range; one point gets a readable span.
func TestPaddedRange(t *testing.T) {
	for _, c := range []struct {
		lo, hi, floor, ceil float64
		want                [2]float64
	}{
		{0.8, 0.8, 0, 1, [2]float64{0.75, 0.85}},    // one evaluation
		{1, 1, 0, 1, [2]float64{0.95, 1}},           // clamped at the top
		{0, 0.5, 0, 1, [2]float64{0, 0.55}},         // and at the bottom
		{-0.2, 0.3, -1, 1, [2]float64{-0.25, 0.35}}, // matthews
	} {
		lo, hi := paddedRange(c.lo, c.hi, 0.05, c.floor, c.ceil)
		if math.Abs(lo-c.want[0]) > 1e-12 || math.Abs(hi-c.want[1]) > 1e-12 {
			t.Errorf("paddedRange(%v, %v) = [%v, %v], want %v", c.lo, c.hi, lo, hi, c.want)
		}
	}
}

// TestPlotsWritten: a run writes curves.png and memory.png (PNG files),
// also when the run has no evaluation set, and says so instead of a best.
func TestPlotsWritten(t *testing.T) {
	for _, withEval := range []bool{true, false} {
		cfg := tinyConfig(t, "wta", "none")
		cfg.MaxSteps, cfg.NoExport = 4, true
		if !withEval {
			cfg.EvalExamples = nil
		}
		res, err := Run(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Evaluated != withEval {
			t.Errorf("evaluation set %v: Evaluated %v", withEval, res.Evaluated)
		}
		for _, f := range []string{PlotFile, MemoryPlotFile} {
			b, err := os.ReadFile(filepath.Join(cfg.Out, f))
			if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
				t.Errorf("%s: %v (%d bytes)", f, err, len(b))
			}
		}
		if os.Getenv("CRSC_KEEP_PLOTS") != "" {
			for _, f := range []string{PlotFile, MemoryPlotFile} {
				b, _ := os.ReadFile(filepath.Join(cfg.Out, f))
				os.WriteFile(filepath.Join(os.Getenv("CRSC_KEEP_PLOTS"), map[bool]string{true: "eval-", false: "noeval-"}[withEval]+f), b, 0o644)
			}
		}
	}
}

// TestScheduleRecorded: --resume refuses a changed --schedule (it changes
// every later step's learning rate).
func TestScheduleRecorded(t *testing.T) {
	cfg := tinyConfig(t, "wta", "none")
	cfg.Schedule, cfg.StopAfter, cfg.NoExport = ScheduleCosine, 2, true
	if _, err := Run(cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Schedule, cfg.StopAfter, cfg.Resume = ScheduleLinear, 0, true
	want := "--schedule was cosine when the run started, now linear"
	if _, err := Run(cfg); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want …%s…", err, want)
	}
}
