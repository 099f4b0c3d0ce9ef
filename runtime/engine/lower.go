package engine

import (
	"fmt"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
)

// lower rewrites a bound graph, in place and before its memory is planned,
// into the form the backends run fastest; every graph output keeps its
// value and, bit for bit, its result. It runs here rather than in the
// compiler's pipelines because the passes that look for patterns (WTA-CRS
// finds linear layers by their weight's Transpose) must see the graph as
// exported and differentiated.
//
// FoldTransposes: a training step of a torch export no longer transposes
// every weight forward and every weight gradient backward (BERT-base,
// 8 × 128, 2 threads: about 0.5 s of a 2.6 s step).
//
// FuseBiasAdd (CPU only: the GPU MatMul has no bias input): a linear
// layer's bias is added inside its GEMM instead of by a separate Add.
func lower(g *ir.Graph, cpu bool) error {
	steps := []passes.Pass{{Name: "fold-transposes", Run: passes.FoldTransposes}}
	if cpu {
		steps = append(steps, passes.Pass{Name: "fuse-bias-add", Run: passes.FuseBiasAdd})
	}
	if err := passes.Run(g, steps, nil); err != nil {
		return fmt.Errorf("lowering for the backend: %v", err)
	}
	return nil
}
