package passes

import (
	"math"

	"crsc/compiler/ir"
)

// FuseEpilogues moves the elementwise work after a linear layer's GEMM into
// the GEMM's write-back, where each tile of the product is still in cache:
//
//	Gelu(ai.crsc.MatMul(x, w, b))     → ai.crsc.MatMul(x, w, b, activation=gelu)
//	Relu(MatMul(x, w))                → ai.crsc.MatMul(x, w, activation=relu)
//	Add(ai.crsc.MatMul(x, w, b), r)   → ai.crsc.MatMul(x, w, b, r)     (r: the product's shape)
//	Div(MatMul(q, kᵀ), 8)             → ai.crsc.MatMul(q, kᵀ, alpha=0.125)
//
// (BERT-base at 8×128: 12 Gelu passes over [1024, 3072] and 24 residual
// Adds over [1024, 768] a forward pass.) The activation comes before the
// residual, as the graph applies them; the result is bit for bit the
// unfused ops' (the kernel rounds each step as they do). A product is
// fused only where its own output has no other reader, so nothing needs
// the value before the epilogue: in training, where backward reads a GELU's
// input, that GELU stays a node of its own. A scale joins only a product
// of nothing else yet (attention's scores: any product, batched too) and
// only by a power of two, where alpha·(a·b) is (a·b)/c to the bit. Run it
// after fuse-bias-add, on a finished graph for the CPU backend (see
// LoweringFor).
func FuseEpilogues(g *ir.Graph, _ *Config) error {
	only := soleReaders(g)
	removed := map[*ir.Node]bool{}
	for _, n := range g.Nodes {
		alpha, v, ok := powerOfTwoScale(n)
		if !ok || v.Producer == nil || only(v) != n {
			continue
		}
		mm := v.Producer
		if !isMatMul(mm) || mm.Attrs.Has("activation") || mm.Attrs.Has("alpha") || v.DType != ir.Float32 {
			continue
		}
		setAttr(mm, "alpha", ir.FloatAttr(alpha))
		absorb(mm, n, mm.Inputs)
		removed[n] = true
	}
	// Activations first: a product that already adds a residual cannot
	// take one (it would apply after the residual).
	for _, n := range g.Nodes {
		act, ok := epilogueActivation(n)
		if !ok {
			continue
		}
		mm := fusableProduct(n.In(0), only, n)
		if mm == nil || len(mm.Inputs) > 3 || mm.Attrs.String("activation", "") != "" {
			continue
		}
		setAttr(mm, "activation", ir.StringAttr(act))
		absorb(mm, n, mm.Inputs)
		removed[n] = true
	}
	for _, add := range g.Nodes {
		if add.Op != "Add" || add.Domain != "" || len(add.Inputs) != 2 || len(add.Outputs) != 1 {
			continue
		}
		for i, v := range add.Inputs {
			r := add.Inputs[1-i]
			mm := fusableProduct(v, only, add)
			if mm == nil || len(mm.Inputs) > 3 || r == nil || r == v || r.DType != ir.Float32 ||
				!r.HasShape || !sameDims(r.Shape, v.Shape) || !sameDims(v.Shape, add.Outputs[0].Shape) {
				continue
			}
			absorb(mm, add, []*ir.Value{mm.In(0), mm.In(1), mm.In(2), r})
			removed[add] = true
			break
		}
	}
	if len(removed) == 0 {
		return nil
	}
	dropNodes(g, removed, CrscDomain)
	// A residual may be computed after the product that now reads it:
	// such a product moves down to where its input is ready.
	return g.TopoSort()
}

// powerOfTwoScale matches Div(v, c) and Mul(v, c) (either order) by a
// float32 scalar constant c that is a power of two, and returns the factor
// (1/c or c) the product's alpha becomes.
func powerOfTwoScale(n *ir.Node) (alpha float32, v *ir.Value, ok bool) {
	if n.Domain != "" || len(n.Inputs) != 2 || len(n.Outputs) != 1 || (n.Op != "Div" && n.Op != "Mul") {
		return 0, nil, false
	}
	for i := range 2 {
		if n.Op == "Div" && i == 0 {
			continue // the divisor must be the constant
		}
		c := n.Inputs[i]
		x, isConst := scalarValue(c)
		if !isConst || c.Init.DType != ir.Float32 {
			continue
		}
		if frac, exp := math.Frexp(x); frac != 0.5 || exp < -120 || exp > 120 {
			continue // not a power of two, or its reciprocal would not be exact
		}
		if n.Op == "Div" {
			x = 1 / x
		}
		return float32(x), n.Inputs[1-i], true
	}
	return 0, nil, false
}

// epilogueActivation: the activation attribute n becomes when its work
// moves into a GEMM, if the CPU kernel has it.
func epilogueActivation(n *ir.Node) (string, bool) {
	if len(n.Inputs) != 1 || len(n.Outputs) != 1 {
		return "", false
	}
	switch {
	case n.Op == "Gelu" && n.Domain == msDomain:
		return "gelu", true // com.microsoft's Gelu is the exact form
	case n.Op == "Gelu" && n.Domain == "":
		switch n.Attrs.String("approximate", "none") {
		case "none":
			return "gelu", true
		case "tanh":
			return "gelu_tanh", true
		}
	case n.Op == "Relu" && n.Domain == "":
		return "relu", true
	}
	return "", false
}

// fusableProduct is the tall GEMM that produces v, when reader is v's one
// reader (so the product's value before the epilogue is needed nowhere
// else); nil otherwise.
func fusableProduct(v *ir.Value, only func(*ir.Value) *ir.Node, reader *ir.Node) *ir.Node {
	if v == nil || v.Producer == nil || only(v) != reader {
		return nil
	}
	mm := v.Producer
	if !(isMatMul(mm) || (mm.Op == "MatMul" && mm.Domain == CrscDomain && len(mm.Outputs) == 1)) || !isTallGEMM(mm) {
		return nil
	}
	return mm
}

// absorb makes product mm, now reading inputs, compute what node n did:
// it takes over n's output, and n goes.
func absorb(mm, n *ir.Node, inputs []*ir.Value) {
	out := n.Outputs[0]
	mm.Domain, mm.Inputs = CrscDomain, inputs
	mm.Outputs[0], out.Producer = out, mm
}

// soleReaders returns a function giving v's single reader, when v has
// exactly one and is no graph output (so a fusion may consume v
// entirely); nil otherwise.
func soleReaders(g *ir.Graph) func(v *ir.Value) *ir.Node {
	readers := g.Consumers()
	outputs := map[*ir.Value]bool{}
	for _, v := range g.Outputs {
		outputs[v] = true
	}
	return func(v *ir.Value) *ir.Node {
		if outputs[v] || len(readers[v]) != 1 {
			return nil
		}
		return readers[v][0]
	}
}
