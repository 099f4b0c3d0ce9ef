package passes_test

import (
	"testing"

	"crsc/compiler/onnx"
	"crsc/compiler/passes"
	"crsc/runtime"
)

// TestFuseGelu: the exact-GELU subgraphs of the tiny BERT exports (both the
// opset-13 and opset-17 spellings) become one Gelu node per layer, and no
// Erf is left. TestParityWithTorch checks the fused numerics.
func TestFuseGelu(t *testing.T) {
	for _, path := range []string{"../../testdata/onnx/bert_tiny_cls.op13.eval.onnx", "../../testdata/onnx/bert_tiny_cls.op17.train.onnx"} {
		g, err := onnx.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := passes.Run(g, passes.Load, &passes.Config{Supports: runtime.CPU(runtime.Options{}).Supports}); err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, n := range g.Nodes {
			counts[n.Domain+"."+n.Op]++
		}
		if counts["com.microsoft.Gelu"] != 2 || counts[".Erf"] != 0 {
			t.Errorf("%s: %d Gelu and %d Erf nodes after fusion, want 2 and 0", path, counts["com.microsoft.Gelu"], counts[".Erf"])
		}
	}
}
