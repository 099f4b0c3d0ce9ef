package passes_test

import (
	"slices"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/runtime"
)

// TestFoldTransposes: on the tiny BERT training exports (torch writes
// MatMul(x, Transpose(W)) + Add(bias) for every linear layer) the compiled
// training graph loses every transpose of a weight and of a weight
// gradient (FoldTransposes), then every bias Add of a linear layer
// (FuseBiasAdd), and after each the loss and every gradient come out bit
// for bit as before, exact and sampled.
func TestFoldTransposes(t *testing.T) {
	for _, tc := range []struct {
		name, model string
		sampling    passes.SamplingSpec
	}{
		{"op14 train export, exact", "bert_tiny_cls.op14.train.onnx", passes.SamplingSpec{}},
		{"op17 train export, exact", "bert_tiny_cls.op17.train.onnx", passes.SamplingSpec{}},
		{"op14 train export, wta@0.3 with attention", "bert_tiny_cls.op14.train.onnx", passes.SamplingSpec{Estimator: "wta", Keep: 0.3, Layers: "auto", Attention: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := onnx.Load("../../testdata/onnx/" + tc.model)
			if err != nil {
				t.Fatal(err)
			}
			cfg := &passes.Config{Shapes: map[string]ir.Shape{"input_ids": ir.StaticShape(4, 16)}, Supports: runtime.CPU(runtime.Options{}).Supports}
			if err := passes.Run(g, passes.Load, cfg); err != nil {
				t.Fatal(err)
			}
			spec := passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: "logits"}, Memory: true, Sampling: tc.sampling}
			if _, err := passes.Compile(g, spec); err != nil {
				t.Fatal(err)
			}
			feeds := tinyBertFeeds(3)
			run := func() map[string]*ir.Tensor {
				res, err := runtime.Run(g, feeds, runtime.Options{Seed: 5, Threads: 2})
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			want := run()
			before := len(g.Nodes)
			if err := passes.FoldTransposes(g, nil); err != nil {
				t.Fatal(err)
			}
			if err := g.Verify(); err != nil {
				t.Fatal(err)
			}
			for _, n := range g.Nodes {
				if n.Op == "Transpose" && (n.In(0).IsConst() || n.In(0).Producer != nil && n.In(0).Producer.Op == "Gemm") {
					t.Errorf("%s: a transpose of %s is left", n.Name, n.In(0).Name)
				}
			}
			if len(g.Nodes) >= before {
				t.Errorf("%d nodes before folding, %d after: nothing folded", before, len(g.Nodes))
			}
			same := func(pass string) {
				got := run()
				for name, w := range want {
					if !slices.Equal(got[name].F32, w.F32) {
						t.Errorf("after %s: %s changed", pass, name)
					}
				}
			}
			same("FoldTransposes")
			if err := passes.FuseBiasAdd(g, nil); err != nil {
				t.Fatal(err)
			}
			if err := g.Verify(); err != nil {
				t.Fatal(err)
			}
			fused := 0
			for _, n := range g.Nodes {
				if n.Op == "Add" && n.In(0).Producer != nil && n.In(0).Producer.Op == "MatMul" && len(n.In(1).Shape) == 1 {
					t.Errorf("%s: the bias add of %s is left", n.Name, n.In(0).Producer.Name)
				}
				if n.Op == "MatMul" && len(n.Inputs) == 3 {
					fused++
				}
			}
			if fused == 0 {
				t.Error("no bias add fused")
			}
			same("FuseBiasAdd")
		})
	}
}
