package passes_test

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
	"crsc/internal/testutil"
	"crsc/runtime"
)

// TestMissingRulesListedAtOnce: every op on the path without a gradient rule
// is named, with its nodes, in one error.
func TestMissingRulesListedAtOnce(t *testing.T) {
	g := ir.NewGraph("m", 17)
	w := g.AddInit("w", ir.FromFloat32([]int{2, 2}, []float32{1, 2, 3, 4}))
	a := g.AddNode("Sin", "sin_1", []*ir.Value{w}, 1, nil)
	b := g.AddNode("Cos", "cos_1", []*ir.Value{a.Outputs[0]}, 1, nil)
	c := g.AddNode("Sin", "sin_2", []*ir.Value{b.Outputs[0]}, 1, nil)
	c.Outputs[0].Name = "y"
	g.Outputs = []*ir.Value{c.Outputs[0]}
	_, err := passes.Compile(g, passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: "y"}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"Cos (nodes cos_1)", "Sin (nodes sin_1, sin_2)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func tinyBert(t *testing.T) *ir.Graph {
	return testutil.LoadFile(t, "../../testdata/onnx/bert_tiny_cls.op13.eval.onnx", map[string]ir.Shape{"input_ids": ir.StaticShape(2, 7)})
}

// TestTrainSelection: --train and --freeze narrow the trained set, and a
// bad regexp is an error.
func TestTrainSelection(t *testing.T) {
	count := func(sel passes.TrainSelection) (int, error) {
		g := tinyBert(t)
		trained, err := trainedParams(g, passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: "logits"}, Train: sel})
		return len(trained), err
	}
	all, err := count(passes.TrainSelection{})
	if err != nil {
		t.Fatal(err)
	}
	classifier, _ := count(passes.TrainSelection{Train: `^classifier\.`})
	frozen, _ := count(passes.TrainSelection{Freeze: `^classifier\.`})
	if classifier != 2 || frozen != all-2 {
		t.Fatalf("all %d, classifier only %d (want 2), frozen classifier %d (want %d)", all, classifier, frozen, all-2)
	}
	if _, err := count(passes.TrainSelection{Train: "("}); err == nil || !strings.Contains(err.Error(), "--train") {
		t.Fatalf("bad regexp: %v", err)
	}
	if _, err := count(passes.TrainSelection{Train: "nothing matches this"}); err == nil {
		t.Fatal("an empty trained set is accepted")
	}
}

// TestLossKinds: cross-entropy and MSE losses on the tiny BERT's logits get
// gradients that match a directional finite difference of the loss.
func TestLossKinds(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	ids := make([]int64, 14)
	for i := range ids {
		ids[i] = int64(1 + r.Intn(100))
	}
	ones := make([]int64, 14)
	for i := range ones {
		ones[i] = 1
	}
	for _, tc := range []struct {
		kind  string
		extra map[string]*ir.Tensor
	}{
		{passes.LossCrossEntropy, map[string]*ir.Tensor{"labels": ir.FromInt64([]int{2}, []int64{1, 0})}},
		{passes.LossMSE, map[string]*ir.Tensor{"targets": ir.FromFloat32([]int{2, 2}, []float32{0.5, -1, 2, 0})}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			g := tinyBert(t)
			trained, err := trainedParams(g, passes.TrainingSpec{Loss: passes.LossSpec{Kind: tc.kind, Output: "logits"}})
			if err != nil {
				t.Fatal(err)
			}
			feeds := map[string]*ir.Tensor{
				"input_ids":      ir.FromInt64([]int{2, 7}, ids),
				"attention_mask": ir.FromInt64([]int{2, 7}, ones),
				"token_type_ids": ir.FromInt64([]int{2, 7}, make([]int64, 14)),
			}
			for k, v := range tc.extra {
				feeds[k] = v
			}
			res := testutil.Run(t, g, feeds, runtime.Options{})
			dirs := map[*ir.Value][]float32{}
			analytic := 0.0
			for _, pg := range trained {
				d := make([]float32, pg.Param.Init.Len())
				for i := range d {
					d[i] = float32(r.NormFloat64()) * 0.05
					analytic += float64(d[i]) * res[pg.Grad.Name].Float64At(i)
				}
				dirs[pg.Param] = d
			}
			loss := func(h float32) float64 {
				for p, d := range dirs {
					for i := range d {
						p.Init.F32[i] += h * d[i]
					}
				}
				out := testutil.Run(t, g, feeds, runtime.Options{})
				for p, d := range dirs {
					for i := range d {
						p.Init.F32[i] -= h * d[i]
					}
				}
				return out[passes.LossName].Float64At(0)
			}
			fd := (loss(1e-2) - loss(-1e-2)) / 2e-2
			if math.Abs(fd-analytic) > 1e-2*math.Max(math.Abs(fd), 1e-3) {
				t.Fatalf("directional derivative %.6g, finite difference %.6g", analytic, fd)
			}
		})
	}
}

// trainedParams compiles g and returns its parameters' gradients, for the
// tests that need only them.
func trainedParams(g *ir.Graph, spec passes.TrainingSpec) ([]passes.ParamGrad, error) {
	t, err := passes.Compile(g, spec)
	if err != nil {
		return nil, err
	}
	return t.Trained, nil
}
