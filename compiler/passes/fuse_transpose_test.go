package passes_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"crsc/compiler/ir"
	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/runtime"
)

// TestLowering runs the lowering passes one by one on the tiny exports —
// training graphs (torch writes MatMul(x, Transpose(W)) + Add(bias) for
// every linear layer; autodiff transposes every weight gradient) and
// forward graphs (GELU or ReLU after a linear layer, residual Adds,
// attention's head Transposes) — and after each checks that every output
// (loss, gradients, logits) comes out bit for bit as before, and that the
// pass folded what it is for in that graph (its nodes gone, its leftovers
// named).
func TestLowering(t *testing.T) {
	fp := []string{"fold-transposes", "fuse-bias-add"}
	for _, tc := range []struct {
		name, model string
		train       bool
		sampling    passes.SamplingSpec
		folds       []string // the passes that must remove nodes here
	}{
		{"op14 train export, exact", "bert_tiny_cls.op14.train.onnx", true, passes.SamplingSpec{}, append(fp, "fold-head-transposes")},
		{"op17 train export, exact", "bert_tiny_cls.op17.train.onnx", true, passes.SamplingSpec{}, append(fp, "fold-head-transposes")},
		{"op14 train export, wta@0.3 with attention", "bert_tiny_cls.op14.train.onnx", true, passes.SamplingSpec{Estimator: "wta", Keep: 0.3, Layers: "auto", Attention: true}, fp},
		{"op17 eval export", "bert_tiny_cls.op17.eval.onnx", false, passes.SamplingSpec{}, []string{"fold-head-transposes", "fuse-bias-add", "fuse-epilogues"}},
		{"t5 op17 eval export", "t5_tiny.op17.eval.onnx", false, passes.SamplingSpec{}, []string{"fold-head-transposes", "fuse-epilogues"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := onnx.Load("../../testdata/onnx/" + tc.model)
			if err != nil {
				t.Fatal(err)
			}
			feeds := tinyBertFeeds(3)
			shapes := map[string]ir.Shape{"input_ids": ir.StaticShape(4, 16)}
			if !tc.train { // the eval exports' inputs; the T5 decoder reads (and predicts) the encoder's ids
				feeds = encoderFeeds(g, 4, 16, 100, 3)
				if strings.HasPrefix(tc.model, "t5") {
					feeds["decoder_input_ids"], feeds["labels"] = feeds["input_ids"], feeds["input_ids"]
					shapes["decoder_input_ids"] = ir.StaticShape(4, 16)
				}
			}
			cfg := &passes.Config{Shapes: shapes, Supports: runtime.CPU(runtime.Options{}).Supports}
			if err := passes.Run(g, passes.Load, cfg); err != nil {
				t.Fatal(err)
			}
			if tc.train {
				spec := passes.TrainingSpec{Loss: passes.LossSpec{Kind: passes.LossVJP, Output: "logits"}, Memory: true, Sampling: tc.sampling}
				if _, err := passes.Compile(g, spec); err != nil {
					t.Fatal(err)
				}
			}
			run := func() map[string]*ir.Tensor {
				res, err := runtime.Run(g, feeds, runtime.Options{Seed: 5, Threads: 2})
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			want := run()
			for _, p := range passes.Lowering {
				before := len(g.Nodes)
				if err := passes.Run(g, []passes.Pass{p}, nil); err != nil {
					t.Fatal(err)
				}
				if slices.Contains(tc.folds, p.Name) && len(g.Nodes) >= before {
					t.Errorf("%s: %d nodes before, %d after: nothing folded", p.Name, before, len(g.Nodes))
				}
				if left := lowered[p.Name](g); left != "" {
					t.Errorf("after %s: %s", p.Name, left)
				}
				got := run()
				for name, w := range want {
					if !slices.EqualFunc(got[name].F32, w.F32, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
						t.Errorf("after %s: %s changed", p.Name, name)
					}
				}
			}
		})
	}
}

// lowered names, per lowering pass, what the pass should have left no
// trace of ("": nothing left).
var lowered = map[string]func(g *ir.Graph) string{
	"fold-transposes": func(g *ir.Graph) string {
		return firstNode(g, func(n *ir.Node) bool {
			return n.Op == "Transpose" && (n.In(0).IsConst() || n.In(0).Producer != nil && n.In(0).Producer.Op == "Gemm")
		}, "a transpose of a weight or of a weight gradient")
	},
	"fold-head-transposes": func(g *ir.Graph) string {
		readers := g.Consumers()
		return firstNode(g, func(n *ir.Node) bool {
			return n.Op == "Transpose" && len(n.In(0).Shape) == 4 && len(readers[n.Outputs[0]]) > 0 &&
				!slices.ContainsFunc(readers[n.Outputs[0]], func(r *ir.Node) bool { return r.Op != "MatMul" })
		}, "a head transpose read only by products")
	},
	"fuse-bias-add": func(g *ir.Graph) string {
		return firstNode(g, func(n *ir.Node) bool {
			return n.Op == "Add" && n.In(0).Producer != nil && n.In(0).Producer.Op == "MatMul" && len(n.In(0).Producer.Inputs) == 2 &&
				len(n.In(0).Producer.In(1).Shape) == 2 && len(n.In(1).Shape) == 1
		}, "a linear layer's bias add")
	},
	"fuse-epilogues": func(g *ir.Graph) string {
		readers := g.Consumers()
		return firstNode(g, func(n *ir.Node) bool {
			p := n.In(0).Producer
			lone := p != nil && p.Op == "MatMul" && len(readers[n.In(0)]) == 1
			scale := n.Op == "Div" && n.In(1).IsConst() && n.In(1).Init.Len() == 1 && n.In(1).Init.Float64At(0) == 4 // tiny BERT's √(head dim)
			return lone && (scale || (n.Op == "Gelu" || n.Op == "Relu") && len(p.In(1).Shape) == 2)
		}, "an activation of a linear layer, or attention's scale, that nothing else reads")
	},
}

// firstNode describes the first node of g that bad holds for, as what.
func firstNode(g *ir.Graph, bad func(*ir.Node) bool, what string) string {
	for _, n := range g.Nodes {
		if bad(n) {
			return what + " is left: " + n.Name
		}
	}
	return ""
}
