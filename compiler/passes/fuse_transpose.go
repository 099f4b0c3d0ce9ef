package passes

import "crsc/compiler/ir"

// FoldTransposes removes the transposes a product can read through its
// transA/transB attributes instead:
//
//	MatMul(x, Transpose(w))          → ai.crsc.MatMul(x, w, transB=1)
//	Transpose(Gemm(a, b, tA, tB))    → Gemm(b, a, !tB, !tA)    (no C input)
//
// Exporters in training mode write every linear layer as the first form
// (torch keeps the weight [out, in] and transposes it each step), and
// autodiff then gives the weight gradient as the second: for BERT-base two
// full passes over every weight matrix per step, about a fifth of the
// step. A GEMM packs its operands anyway, so reading one transposed costs
// nothing there.
//
// Results are bit-identical: the same products are summed in the same
// order, only packed from the other layout. Run it on a finished graph
// (forward, or training after autodiff and the rewrites that look for the
// Transpose of a weight); it keeps every graph output's value.
func FoldTransposes(g *ir.Graph, _ *Config) error {
	readers := g.Consumers()
	outputs := map[*ir.Value]bool{}
	for _, v := range g.Outputs {
		outputs[v] = true
	}
	removed := map[*ir.Node]bool{}
	for _, n := range g.Nodes {
		switch {
		case isMatMul(n):
			foldOperandTransposes(g, n, readers)
		case isPlainTranspose(n, 2):
			if foldGemmTranspose(n, readers, outputs) {
				removed[n] = true
			}
		}
	}
	// A transpose all of whose readers now read its source goes.
	for _, n := range g.Nodes {
		if isPlainTranspose(n, -1) && !outputs[n.Outputs[0]] && len(readers[n.Outputs[0]]) == 0 {
			removed[n] = true
		}
	}
	if len(removed) > 0 {
		dropNodes(g, removed, CrscDomain)
	}
	return nil
}

// isMatMul: ONNX MatMul or ai.crsc.MatMul (the one with transA/transB).
func isMatMul(n *ir.Node) bool {
	return n.Op == "MatMul" && (n.Domain == "" || n.Domain == CrscDomain) && len(n.Inputs) == 2 && len(n.Outputs) == 1
}

// isPlainTranspose: a default-domain Transpose swapping the last two dims
// of a ranked input (of the given rank; -1: any rank ≥ 2).
func isPlainTranspose(n *ir.Node, rank int) bool {
	if n.Op != "Transpose" || n.Domain != "" || len(n.Inputs) != 1 || len(n.Outputs) != 1 || n.In(0) == nil || !n.In(0).HasShape {
		return false
	}
	r := len(n.In(0).Shape)
	return r >= 2 && (rank < 0 || r == rank) && isLastTwoSwap(n, r)
}

// foldOperandTransposes makes MatMul n read each operand that is a
// last-two-dims Transpose from the transpose's source, flipping its
// trans flag. Both operands must have rank ≥ 2: numpy's promotion of 1-D
// operands does not commute with a transpose.
func foldOperandTransposes(g *ir.Graph, n *ir.Node, readers map[*ir.Value][]*ir.Node) {
	for _, v := range n.Inputs {
		if v == nil || !v.HasShape || len(v.Shape) < 2 {
			return
		}
	}
	attr := [2]string{"transA", "transB"}
	for i, v := range n.Inputs {
		t := v.Producer
		if t == nil || !isPlainTranspose(t, -1) {
			continue
		}
		if n.Domain == "" {
			n.Domain = CrscDomain
			declareDomain(g, CrscDomain)
		}
		if n.Attrs == nil {
			n.Attrs = ir.Attrs{}
		}
		flip := n.Attrs.Int(attr[i], 0) == 0
		if flip {
			n.Attrs[attr[i]] = ir.IntAttr(1)
		} else {
			delete(n.Attrs, attr[i])
		}
		src := t.In(0)
		n.Inputs[i] = src
		readers[v] = dropReader(readers[v], n)
		readers[src] = append(readers[src], n)
	}
}

// foldGemmTranspose rewrites t = Transpose(Gemm(a, b)) as Gemm(b, a) with
// both operands' trans flags flipped, producing t's output; it applies when
// the Gemm has no C and t is its only reader.
func foldGemmTranspose(t *ir.Node, readers map[*ir.Value][]*ir.Node, outputs map[*ir.Value]bool) bool {
	v := t.In(0)
	p := v.Producer
	if p == nil || p.Op != "Gemm" || p.Domain != "" || len(p.Outputs) != 1 || len(p.Inputs) < 2 || len(p.Inputs) > 2 && p.In(2) != nil {
		return false
	}
	if outputs[v] || len(readers[v]) != 1 {
		return false
	}
	ta, tb := p.Attrs.Int("transA", 0) != 0, p.Attrs.Int("transB", 0) != 0
	attrs := ir.Attrs{}
	for k, a := range p.Attrs {
		attrs[k] = a
	}
	delete(attrs, "transA")
	delete(attrs, "transB")
	if !tb {
		attrs["transA"] = ir.IntAttr(1)
	}
	if !ta {
		attrs["transB"] = ir.IntAttr(1)
	}
	p.Attrs = attrs
	p.Inputs = []*ir.Value{p.In(1), p.In(0)}
	out := t.Outputs[0]
	p.Outputs[0], out.Producer = out, p
	delete(readers, v)
	return true
}

// dropReader removes one occurrence of n from a reader list.
func dropReader(l []*ir.Node, n *ir.Node) []*ir.Node {
	for i, r := range l {
		if r == n {
			return append(l[:i:i], l[i+1:]...)
		}
	}
	return l
}
