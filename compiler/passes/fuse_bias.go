package passes

import "crsc/compiler/ir"

// FuseBiasAdd gives a linear layer's bias to its product:
//
//	Add(MatMul(x, w), b)  → ai.crsc.MatMul(x, w, b)      (b: [N], w 2-D)
//
// The CPU GEMM then adds the bias to each tile of the output as it
// finishes it, instead of a separate Add reading and writing the whole
// activation again (BERT-base: 72 of them a step, 3 or 12 MiB each). The
// result is bit-identical (each element is still the rounded product plus
// its bias). It applies only where the product's own output has no other
// reader, so nothing (backward included) needs the value before the bias;
// the bias gradient, taken from the Add's output gradient, is unchanged.
// Run it, like FoldTransposes, on a finished graph for the CPU backend,
// whose MatMul kernel takes the third input.
func FuseBiasAdd(g *ir.Graph, _ *Config) error {
	only := soleReaders(g)
	removed := map[*ir.Node]bool{}
	for _, add := range g.Nodes {
		if add.Op != "Add" || add.Domain != "" || len(add.Inputs) != 2 || len(add.Outputs) != 1 {
			continue
		}
		for i, v := range add.Inputs {
			mm, bias := v.Producer, add.Inputs[1-i]
			if mm == nil || !isMatMul(mm) || only(v) != add || !isRowBias(bias, v) || !isTallGEMM(mm) || !sameDims(v.Shape, add.Outputs[0].Shape) {
				continue
			}
			absorb(mm, add, []*ir.Value{mm.In(0), mm.In(1), bias})
			removed[add] = true
			break
		}
	}
	if len(removed) > 0 {
		dropNodes(g, removed, CrscDomain)
	}
	return nil
}

// isTallGEMM: the product is the single tall GEMM the CPU kernel fuses
// epilogues into: a float32 x of rank ≥ 2, not transposed, times a rank-2
// w, every dim of the product known.
func isTallGEMM(mm *ir.Node) bool {
	x, w, v := mm.In(0), mm.In(1), mm.Outputs[0]
	return x != nil && w != nil && x.HasShape && w.HasShape && len(w.Shape) == 2 && len(x.Shape) >= 2 &&
		mm.Attrs.Int("transA", 0) == 0 && x.DType == ir.Float32 && v.HasShape && v.Shape.IsStatic()
}

// isRowBias: b is a float32 vector as long as the last dim of v.
func isRowBias(b, v *ir.Value) bool {
	if b == nil || !b.HasShape || len(b.Shape) != 1 || b.DType != ir.Float32 || !v.HasShape || len(v.Shape) == 0 {
		return false
	}
	last := v.Shape[len(v.Shape)-1]
	return b.Shape[0].IsFixed() && last.IsFixed() && b.Shape[0].Size == last.Size
}

// sameDims: two shapes with the same fixed sizes.
func sameDims(a, b ir.Shape) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].IsFixed() || !b[i].IsFixed() || a[i].Size != b[i].Size {
			return false
		}
	}
	return true
}
