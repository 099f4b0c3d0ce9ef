package passes_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/internal/npy"
	"crsc/internal/testutil"
	"crsc/runtime"
)

// refParams is the part of testdata/onnx/ref/<model>/params.json we need:
// per export, initializer name → the file holding torch's gradient for it.
type refParams struct {
	Exports map[string]map[string]struct {
		GradFile string `json:"grad_file"`
		Kind     string `json:"kind"`
	} `json:"exports"`
}

func readNpyDir(t *testing.T, dir, prefix string) map[string]*ir.Tensor {
	t.Helper()
	m, err := npy.ReadDir(dir, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func norm(t *ir.Tensor) float64 {
	s := 0.0
	for i := 0; i < t.Len(); i++ {
		s += t.Float64At(i) * t.Float64At(i)
	}
	return math.Sqrt(s)
}

// relErr is ‖got − want‖ / max(‖want‖, floor). The floor (1e-4 of the
// largest gradient norm in the model) covers parameters whose true gradient
// is zero by symmetry, such as attention key biases (softmax is invariant to
// a per-row shift), where both sides hold only rounding noise.
func relErr(got, want *ir.Tensor, floor float64) float64 {
	var diff float64
	for i := 0; i < want.Len(); i++ {
		d := got.Float64At(i) - want.Float64At(i)
		diff += d * d
	}
	return math.Sqrt(diff) / math.Max(norm(want), floor)
}

// TestWholeModelGradients: for the tiny BERT (loss = Σ logits ⊙ cotangent)
// and the tiny T5 (its own LM loss), every parameter's gradient agrees with
// PyTorch autograd to a relative error of 1e-3, on both reference input sets.
func TestWholeModelGradients(t *testing.T) {
	for _, tc := range []struct {
		model string
		loss  passes.LossSpec
	}{
		{"bert_tiny_cls", passes.LossSpec{Kind: passes.LossVJP, Output: "logits"}},
		{"t5_tiny", passes.LossSpec{}},
	} {
		export := tc.model + ".op13.eval.onnx"
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "onnx", "ref", tc.model, "params.json"))
		if err != nil {
			t.Fatal(err)
		}
		var ref refParams
		if err := json.Unmarshal(data, &ref); err != nil {
			t.Fatal(err)
		}
		sets, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "onnx", "ref", tc.model, "set*"))
		for _, set := range sets {
			t.Run(tc.model+"/"+filepath.Base(set), func(t *testing.T) {
				g, err := onnx.Load(filepath.Join("..", "..", "testdata", "onnx", export))
				if err != nil {
					t.Fatal(err)
				}
				inputs := testutil.LoadWithInputs(t, g, set)
				trained, err := trainedParams(g, passes.TrainingSpec{Loss: tc.loss})
				if err != nil {
					t.Fatal(err)
				}
				if tc.loss.Kind == passes.LossVJP {
					cot, err := npy.ReadFile(filepath.Join(set, "cotangent_logits.npy"))
					if err != nil {
						t.Fatal(err)
					}
					inputs["logits_cotangent"] = cot
				}
				got := testutil.Run(t, g, inputs, runtime.Options{})
				refs := map[string]*ir.Tensor{}
				largest := 0.0
				for name, info := range ref.Exports[export] {
					if info.Kind != "param" {
						continue
					}
					want, err := npy.ReadFile(filepath.Join(set, info.GradFile))
					if err != nil {
						t.Fatal(err)
					}
					refs[name] = want
					largest = math.Max(largest, norm(want))
				}
				checked := 0
				for _, pg := range trained {
					want, ok := refs[pg.Param.Name]
					if !ok {
						t.Errorf("parameter %s has no torch reference", pg.Param.Name)
						continue
					}
					if e := relErr(got[pg.Grad.Name], want, 1e-4*largest); e > 1e-3 || math.IsNaN(e) {
						t.Errorf("%s: relative error %.3g", pg.Param.Name, e)
					}
					checked++
				}
				if checked != len(refs) {
					t.Errorf("checked %d parameters, torch has %d", checked, len(refs))
				}
			})
		}
	}
}
