package passes

import "crsc/compiler/ir"

// FoldHeadTransposes lets batched products read their operands, and write
// their result, through the permutations that Transposes around them
// apply:
//
//	MatMul(Transpose(q, [0 2 1 3]), Transpose(k, [0 2 3 1]))
//	    → ai.crsc.MatMul(q, k, permA=[0 2 1 3], permB=[0 2 3 1])
//	Transpose(MatMul(p, v), [0 2 1 3])
//	    → ai.crsc.MatMul(p, v, permY=[0 2 1 3])
//
// Attention splits the heads out of [batch, seq, heads, dim] with such
// Transposes and merges them back with another: four copies of a
// [batch·seq, hidden] activation per layer forward, and as many backward.
// A GEMM reads a matrix with any row stride, so each head's matrix is read
// (and written) where it lies instead (runtime/shapes.StridedMatMul). It
// applies where both operands have rank ≥ 3 (attention's products, not a
// linear layer's tall GEMM) and each permutation keeps a matrix's rows or
// columns contiguous; results are bit-identical. A Transpose left with no
// reader goes. Run it after fold-transposes, which turns the last-two-dims
// swaps into trans flags first; CPU only (see LoweringFor).
func FoldHeadTransposes(g *ir.Graph, _ *Config) error {
	only := soleReaders(g)
	removed := map[*ir.Node]bool{}
	changed := false
	for _, n := range g.Nodes {
		if !isBatchedProduct(n) {
			continue
		}
		for i, attr := range []string{"permA", "permB"} {
			t := n.Inputs[i].Producer
			if t == nil || n.Attrs.Has(attr) || !isHeadTranspose(t, func(p []int64) bool {
				r := int64(len(p))
				return p[r-1] == r-1 || p[r-2] == r-1 // the source's rows stay rows or become columns
			}) {
				continue
			}
			setAttr(n, attr, ir.IntsAttr(t.Attrs.Ints("perm")...))
			n.Inputs[i] = t.In(0)
			n.Domain, changed = CrscDomain, true
		}
		if t := only(n.Outputs[0]); t != nil && !n.Attrs.Has("permY") && isHeadTranspose(t, func(p []int64) bool {
			r := int64(len(p))
			return p[r-1] == r-1 // the result's rows stay contiguous
		}) {
			setAttr(n, "permY", ir.IntsAttr(t.Attrs.Ints("perm")...))
			absorb(n, t, n.Inputs)
			removed[t], changed = true, true
		}
	}
	if !changed {
		return nil
	}
	outputs := map[*ir.Value]bool{}
	for _, v := range g.Outputs {
		outputs[v] = true
	}
	readers := g.Consumers()
	for _, n := range g.Nodes {
		if n.Op == "Transpose" && n.Domain == "" && !outputs[n.Outputs[0]] && len(readers[n.Outputs[0]]) == 0 {
			removed[n] = true
		}
	}
	dropNodes(g, removed, CrscDomain)
	return nil
}

// isBatchedProduct: a MatMul of two float32 operands of rank ≥ 3 with no
// epilogue.
func isBatchedProduct(n *ir.Node) bool {
	if !isMatMul(n) || n.Attrs.Has("activation") {
		return false
	}
	for _, v := range n.Inputs {
		if v == nil || !v.HasShape || len(v.Shape) < 3 || v.DType != ir.Float32 {
			return false
		}
	}
	return true
}

// isHeadTranspose: a default-domain float32 Transpose of rank ≥ 3 with an
// explicit perm that ok accepts.
func isHeadTranspose(t *ir.Node, ok func(perm []int64) bool) bool {
	if t.Op != "Transpose" || t.Domain != "" || len(t.Inputs) != 1 || len(t.Outputs) != 1 || t.In(0) == nil {
		return false
	}
	p := t.Attrs.Ints("perm")
	return len(p) >= 3 && t.In(0).HasShape && len(t.In(0).Shape) == len(p) && t.In(0).DType == ir.Float32 && ok(p)
}

// setAttr sets one attribute of n, making its map if it has none.
func setAttr(n *ir.Node, name string, a *ir.Attr) {
	if n.Attrs == nil {
		n.Attrs = ir.Attrs{}
	}
	n.Attrs[name] = a
}
