//go:build ort

package optim

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"crsc/compiler/onnx"
	"crsc/internal/ortoracle"
	"crsc/runtime"
)

// TestORTParity runs the exported optimizer_model.onnx in ONNX Runtime and
// on crsc's CPU kernels; the updates must agree. Run with -tags ort after
// scripts/fetch-ort.sh.
func TestORTParity(t *testing.T) {
	infos := testInfos()
	g, err := BuildAdamW(infos, DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "optimizer_model.onnx")
	if err := onnx.Save(g, path); err != nil {
		t.Fatal(err)
	}
	inputs := graphFeeds(g, rand.New(rand.NewPCG(7, 8)), 3)
	want, err := ortoracle.Run(path, inputs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := runtime.Run(g, inputs, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		for i := range w.F32 {
			a, b := float64(got[name].F32[i]), float64(w.F32[i])
			if math.Abs(a-b) > 1e-6*math.Max(math.Abs(b), 1e-3) {
				t.Fatalf("%s[%d]: crsc %g, ONNX Runtime %g", name, i, a, b)
			}
		}
	}
	if len(want) != 3*len(infos) {
		t.Fatalf("ONNX Runtime returned %d outputs, want %d", len(want), 3*len(infos))
	}
}
