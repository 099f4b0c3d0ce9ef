package train

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
	"crsc/runtime/device"
	"crsc/training/checkpoint"
	"crsc/training/data"
	"crsc/training/tokenize"
)

// tinyConfig trains the built-in demo architecture (hidden 32) on a few
// synthetic examples: fast enough for unit tests.
func tinyConfig(t *testing.T, estimator, gnorm string) Config {
	t.Helper()
	vocab, err := data.SyntheticVocab(demoArch.Vocab)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenize.NewWordPiece(vocab, true)
	if err != nil {
		t.Fatal(err)
	}
	Archs["demo-tiny"] = demoArch
	return Config{
		Arch: "demo-tiny", Task: "sst2", MaxLen: 16, Batch: 8, Epochs: 2, LR: 5e-3, Warmup: 2, Seed: 3,
		Out: t.TempDir(), LogEvery: 1, Threads: 1, NoExport: false,
		Spec:          passes.TrainingSpec{Memory: true, Sampling: passes.SamplingSpec{Estimator: estimator, Keep: 0.3, MinRows: 4, GNorm: gnorm, Layers: "auto"}},
		TrainExamples: data.Synthetic(64, 1), EvalExamples: data.Synthetic(24, 2), Tokenizer: tok,
	}
}

func TestTrainLowersLoss(t *testing.T) {
	c := tinyConfig(t, "wta", "none")
	c.Epochs = 3
	res, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 24 {
		t.Fatalf("steps %d, want 24", res.Steps)
	}
	b, err := os.ReadFile(filepath.Join(c.Out, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	first, last := lossOf(t, lines[0]), lossOf(t, lines[len(lines)-2])
	if !(last < first) {
		t.Errorf("loss went from %v to %v", first, last)
	}
	for _, f := range []string{ConfigFile, PlotFile, MemoryFile, CheckpointFile, BestFile, ModelFile} {
		if _, err := os.Stat(filepath.Join(c.Out, f)); err != nil {
			t.Errorf("run directory: %v", err)
		}
	}
	// The exported model evaluates to the best checkpoint's metric.
	m, err := Evaluate(EvalConfig{Model: filepath.Join(c.Out, ModelFile), Task: "sst2", Data: writeTSV(t, c.EvalExamples), MaxLen: 16, Batch: 8, Tokenizer: c.Tokenizer})
	if err != nil {
		t.Fatal(err)
	}
	if m["accuracy"] != res.Best {
		t.Errorf("exported model accuracy %v, best during training %v", m["accuracy"], res.Best)
	}
}

func lossOf(t *testing.T, line string) float64 {
	var v float64
	i := strings.Index(line, `"loss":`)
	if i < 0 {
		t.Fatalf("no loss in %s", line)
	}
	if _, err := fmtSscan(line[i+7:], &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// writeTSV writes examples as a GLUE file: sentence and label, or for
// pairs sentence1, sentence2 and label (the class index).
func writeTSV(t *testing.T, ex []data.Example) string {
	var b strings.Builder
	pair := len(ex) > 0 && ex[0].TextB != ""
	if pair {
		b.WriteString("sentence1\tsentence2\tlabel\n")
	} else {
		b.WriteString("sentence\tlabel\n")
	}
	for _, e := range ex {
		if pair {
			b.WriteString(e.TextA + "\t" + e.TextB + "\t" + strconv.Itoa(e.Class) + "\n")
		} else {
			b.WriteString(e.TextA + "\t" + strconv.Itoa(e.Class) + "\n")
		}
	}
	p := filepath.Join(t.TempDir(), "dev.tsv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestResumeBitIdentical stops a run after k steps and resumes it: the
// final parameters equal an uninterrupted run's bit for bit. With the
// ‖G‖ cache, its estimates travel in the checkpoint too.
func TestResumeBitIdentical(t *testing.T) {
	for _, gnorm := range []string{"none", "cache"} {
		t.Run(gnorm, func(t *testing.T) {
			full := tinyConfig(t, "wta", gnorm)
			full.NoExport = true
			want, err := Run(full)
			if err != nil {
				t.Fatal(err)
			}
			part := tinyConfig(t, "wta", gnorm)
			part.NoExport = true
			part.StopAfter = 5 // mid-epoch (8 steps per epoch)
			if r, err := Run(part); err != nil || !r.Stopped {
				t.Fatalf("first half: %v, stopped %v", err, r != nil && r.Stopped)
			}
			part.StopAfter = 0
			part.Resume = true
			got, err := Run(part)
			if err != nil {
				t.Fatal(err)
			}
			if got.Steps != want.Steps {
				t.Fatalf("steps %d vs %d", got.Steps, want.Steps)
			}
			for name, p := range want.Params {
				q := got.Params[name]
				for i := range p.F32 {
					if p.F32[i] != q.F32[i] {
						t.Fatalf("%s[%d]: resumed %v, uninterrupted %v", name, i, q.F32[i], p.F32[i])
					}
				}
			}
		})
	}
}

func TestBadInputs(t *testing.T) {
	t.Run("corrupt checkpoint", func(t *testing.T) {
		c := tinyConfig(t, "exact", "none")
		c.Resume = true
		if err := os.WriteFile(filepath.Join(c.Out, CheckpointFile), []byte("garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Run(c)
		if err == nil || !strings.Contains(err.Error(), "--resume") {
			t.Fatalf("got %v", err)
		}
		if b, _ := os.ReadFile(filepath.Join(c.Out, CheckpointFile)); string(b) != "garbage" {
			t.Fatal("the checkpoint was overwritten")
		}
	})
	t.Run("missing checkpoint", func(t *testing.T) {
		c := tinyConfig(t, "exact", "none")
		c.Resume = true
		if _, err := Run(c); err == nil || !strings.Contains(err.Error(), "no checkpoint") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("existing run without resume", func(t *testing.T) {
		c := tinyConfig(t, "exact", "none")
		c.MaxSteps = 1
		if _, err := Run(c); err != nil {
			t.Fatal(err)
		}
		before, _, err := checkpoint.Load(filepath.Join(c.Out, CheckpointFile))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Run(c); err == nil || !strings.Contains(err.Error(), "--resume") {
			t.Fatalf("got %v", err)
		}
		after, _, _ := checkpoint.Load(filepath.Join(c.Out, CheckpointFile))
		if len(after) != len(before) {
			t.Fatal("checkpoint changed")
		}
	})
	t.Run("vocab mismatch", func(t *testing.T) {
		c := tinyConfig(t, "exact", "none")
		tok, _ := tokenize.NewWordPiece([]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"}, true)
		c.Tokenizer = tok
		c.Model = filepath.Join(c.Out, "m.onnx")
		// Export a model with vocab 120 first.
		full := tinyConfig(t, "exact", "none")
		full.MaxSteps = 1
		if _, err := Run(full); err != nil {
			t.Fatal(err)
		}
		c.Model, c.Arch = filepath.Join(full.Out, ModelFile), ""
		if _, err := Run(c); err == nil || !strings.Contains(err.Error(), "5 tokens but the model's word embedding has 120 rows") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("max-len beyond the positions", func(t *testing.T) {
		c := tinyConfig(t, "exact", "none")
		c.Model, c.Arch, c.MaxLen = "../../testdata/onnx/bert_tiny_cls.op17.train.onnx", "", 100
		if _, err := Run(c); err == nil || !strings.Contains(err.Error(), "--max-len 100 exceeds the 64 positions") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestDynamicPadding: batches are padded to their longest example (rounded
// up to PadMultiple), each length gets its own compiled graph, and every
// graph trains the very tensors the optimizer updates; with LoRA too,
// whose adapters a fresh compile would otherwise draw anew.
func TestDynamicPadding(t *testing.T) {
	for _, lora := range []int{0, 4} {
		c := tinyConfig(t, "wta", "none")
		c.MaxLen, c.MaxSteps = 32, 6
		c.Spec.LoRA = passes.LoRASpec{Rank: lora, BitFit: true}
		c.Defaults()
		tr, err := setup(&c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.run(); err != nil {
			t.Fatal(err)
		}
		if len(tr.byLen) == 0 {
			t.Fatalf("lora %d: every batch ran at --max-len %d: no dynamic padding", lora, c.MaxLen)
		}
		for L, g := range tr.byLen {
			if L%PadMultiple != 0 || L >= c.MaxLen {
				t.Errorf("graph for length %d", L)
			}
			for _, v := range g.Inits {
				if p, ok := tr.params[v.Name]; ok && p != v.Init {
					t.Errorf("lora %d, length %d: %s is not the trained tensor", lora, L, v.Name)
				}
			}
		}
	}
}

func TestPaddedLen(t *testing.T) {
	e := newEncoded(make([]data.Example, 3), 20, 0, nil)
	for _, n := range []int{3, 9, 20} {
		ids, mask := make([]int64, 20), make([]int64, 20)
		for i := range n {
			mask[i] = 1
		}
		e.add(ids, mask, nil)
	}
	for _, tc := range []struct {
		rows []int
		want int
	}{{[]int{0}, 8}, {[]int{0, 1}, 16}, {[]int{0, -1}, 8}, {[]int{2}, 20}} {
		if got := e.paddedLen(tc.rows); got != tc.want {
			t.Errorf("paddedLen(%v) = %d, want %d", tc.rows, got, tc.want)
		}
	}
}

// openEmu opens the CUDA emulator for a training test, closed when the
// test ends; it skips the test in -short mode or without the emulator.
func openEmu(t *testing.T) *device.Device {
	t.Helper()
	if testing.Short() {
		t.Skip("training on the emulator")
	}
	dev, err := device.Open("emu")
	if err != nil {
		t.Skipf("no emulator: %v", err)
	}
	t.Cleanup(func() { dev.Close() })
	return dev
}

// TestTrainOnDeviceMatchesCPU: three WTA-CRS training steps through the
// CUDA backend (on the CPU emulator of a GPU) end with the parameters the
// CPU runtime reaches: same rows sampled, same Dropout, same updates.
func TestTrainOnDeviceMatchesCPU(t *testing.T) {
	dev := openEmu(t)
	var onDevice *Result
	run := func(d *device.Device) map[string]*ir.Tensor {
		c := tinyConfig(t, "wta", "none")
		c.MaxSteps, c.NoExport, c.Device = 3, true, d
		res, err := Run(c)
		if err != nil {
			t.Fatal(err)
		}
		if d != nil {
			onDevice = res
		}
		return res.Params
	}
	want, got := run(nil), run(dev)
	// The weights stay on the device: a step moves the batch in and the
	// loss and gradient norm out (and, with WTA-CRS, the row norms out and
	// the chosen rows in: the selection runs on the host), nothing the
	// size of the model.
	m := onDevice.Memory
	t.Logf("last step: %d bytes to the device, %d back", m.LastStepUpload, m.LastStepDownload)
	var params int64
	for _, p := range want {
		params += p.Bytes()
	}
	if m.LastStepUpload <= 0 || m.LastStepDownload <= 0 || m.LastStepUpload+m.LastStepDownload > params/4 {
		t.Errorf("last step moved %d bytes to the device and %d back (parameters: %d bytes)", m.LastStepUpload, m.LastStepDownload, params)
	}
	for name, w := range want {
		g := got[name]
		for i, v := range w.F32 {
			if d := math.Abs(float64(g.F32[i] - v)); d > 1e-5*(1+math.Abs(float64(v))) {
				t.Fatalf("%s[%d]: device %v, cpu %v", name, i, g.F32[i], v)
			}
		}
	}
}
