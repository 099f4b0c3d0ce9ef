package testutil

import (
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/internal/npy"
	"crsc/runtime"
)

// LoadWithInputs reads the input_*.npy files of the reference set in folder
// set and runs Load on g with them; it returns the inputs by name.
func LoadWithInputs(t testing.TB, g *ir.Graph, set string) map[string]*ir.Tensor {
	t.Helper()
	inputs, err := npy.ReadDir(set, "input_")
	if err != nil {
		t.Fatal(err)
	}
	Load(t, g, inputs)
	return inputs
}

// Load runs the load passes on g with the shapes of bind's tensors bound to
// the inputs of those names (folding the shape subgraphs) and the CPU
// backend's op support, as a test does before running a tiny export.
func Load(t testing.TB, g *ir.Graph, bind map[string]*ir.Tensor) {
	t.Helper()
	shapes := map[string]ir.Shape{}
	for name, x := range bind {
		shapes[name] = ir.StaticShape(x.Shape...)
	}
	LoadShapes(t, g, shapes)
}

// LoadShapes runs the load passes on g with shapes bound to the inputs of
// those names (nil: none) and the CPU backend's op support.
func LoadShapes(t testing.TB, g *ir.Graph, shapes map[string]ir.Shape) {
	t.Helper()
	cfg := &passes.Config{Shapes: shapes, Supports: runtime.CPU(runtime.Options{}).Supports}
	if err := passes.Run(g, passes.Load, cfg); err != nil {
		t.Fatal(err)
	}
}

// LoadFile imports the ONNX model at path and loads it as LoadShapes does.
func LoadFile(t testing.TB, path string, shapes map[string]ir.Shape) *ir.Graph {
	t.Helper()
	g, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	LoadShapes(t, g, shapes)
	return g
}

// Run runs g with opt on the executor's CPU backend and returns its
// outputs by name, failing the test on an error.
func Run(t testing.TB, g *ir.Graph, feeds map[string]*ir.Tensor, opt runtime.Options) map[string]*ir.Tensor {
	t.Helper()
	out, err := runtime.Run(g, feeds, opt)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Must returns f(arg), failing the test on an error: a call the test
// cannot go on without, in one line.
func Must[A, T any](t testing.TB, f func(A) (T, error), arg A) T {
	t.Helper()
	v, err := f(arg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// WantErr checks a table case's error: with want set, that err contains it
// (true: the case is done); else that there is none.
func WantErr(t testing.TB, err error, want string) bool {
	t.Helper()
	if want != "" {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want %q", err, want)
		}
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}
