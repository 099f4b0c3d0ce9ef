//go:build ort

package optim

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"crsc/compiler/ir"
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
	rng := rand.New(rand.NewPCG(7, 8))
	inputs := map[string]*ir.Tensor{
		LearningRateInput: ir.ScalarF32(1e-3),
		StepInput:         ir.FromInt64([]int{}, []int64{3}),
	}
	for _, v := range g.Inputs[2:] {
		shape, _ := v.Shape.Ints()
		inputs[v.Name] = randTensor(rng, shape, 1)
		if strings.HasSuffix(v.Name, ".exp_avg_sq") {
			for i, x := range inputs[v.Name].F32 {
				inputs[v.Name].F32[i] = x * x
			}
		}
	}
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
