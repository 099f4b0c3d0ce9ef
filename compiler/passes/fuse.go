package passes

import (
	"math"

	"crsc/compiler/ir"
)

// msDomain is where ONNX Runtime keeps its Gelu contrib op; fused nodes go
// there so that exported models still run in ONNX Runtime.
const msDomain = "com.microsoft"

// FuseGelu replaces the exact-GELU subgraph exporters write,
//
//	x · (erf(x / √2) + 1) · 0.5     (in any order of the products)
//
// by one Gelu node. A fused Gelu is one pass over the tensor forward and one
// (GeluGrad) backward, instead of five elementwise ops forward and a dozen
// backward, each reading and writing a [batch·seq, 4·hidden] tensor.
func FuseGelu(g *ir.Graph, _ *Config) error {
	only := soleReaders(g)
	removed := map[*ir.Node]bool{}
	for _, erf := range g.Nodes {
		if erf.Op != "Erf" || erf.Domain != "" {
			continue
		}
		scale := erf.In(0).Producer
		if scale == nil || len(scale.Inputs) != 2 {
			continue
		}
		x := scale.In(0)
		switch {
		case scale.Op == "Div" && isScalar(scale.In(1), math.Sqrt2):
		case scale.Op == "Mul" && isScalar(scale.In(1), 1/math.Sqrt2):
		default:
			continue
		}
		add := only(erf.Outputs[0])
		if only(scale.Outputs[0]) != erf || add == nil || add.Op != "Add" || !isScalar(other(add, erf.Outputs[0]), 1) {
			continue
		}
		// The two products: x·(1+erf) then ·0.5, or x·0.5 then ·(1+erf).
		m1 := only(add.Outputs[0])
		if m1 == nil || m1.Op != "Mul" {
			continue
		}
		var last *ir.Node
		switch o := other(m1, add.Outputs[0]); {
		case o == x:
			if m2 := only(m1.Outputs[0]); m2 != nil && m2.Op == "Mul" && isScalar(other(m2, m1.Outputs[0]), 0.5) {
				last = m2
			}
		case o != nil && o.Producer != nil && o.Producer.Op == "Mul" && only(o) == m1:
			if half := o.Producer; other(half, x) != nil && isScalar(other(half, x), 0.5) {
				last, removed[half] = m1, true
			}
		}
		if last == nil {
			continue
		}
		for _, n := range []*ir.Node{scale, erf, add, m1, last} {
			removed[n] = true
		}
		fused := &ir.Node{Name: last.Name + "/Gelu", Op: "Gelu", Domain: msDomain, Inputs: []*ir.Value{x}, Outputs: last.Outputs}
		last.Outputs[0].Producer = fused
		// Put the fused node where the last product was; the others go.
		*last = *fused
		last.Outputs[0].Producer = last
		delete(removed, last)
	}
	return finishFusion(g, removed, msDomain)
}

// other returns n's input that is not v (for a two-input node), or nil.
func other(n *ir.Node, v *ir.Value) *ir.Value {
	if len(n.Inputs) != 2 {
		return nil
	}
	switch v {
	case n.Inputs[0]:
		return n.Inputs[1]
	case n.Inputs[1]:
		return n.Inputs[0]
	}
	return nil
}

// isScalar reports whether v is a one-element float constant close to want.
func isScalar(v *ir.Value, want float64) bool {
	x, ok := scalarValue(v)
	return ok && math.Abs(x-want) <= 1e-6*math.Abs(want)
}

// finishFusion drops the nodes a fusion pass replaced, declares the fused
// ops' domain, and re-infers shapes.
func finishFusion(g *ir.Graph, removed map[*ir.Node]bool, domain string) error {
	if len(removed) == 0 {
		return nil
	}
	dropNodes(g, removed, domain)
	g.RemoveDeadNodes()
	return g.InferShapes()
}

// dropNodes removes the nodes in removed and declares domain, where the
// fused nodes live.
func dropNodes(g *ir.Graph, removed map[*ir.Node]bool, domain string) {
	var kept []*ir.Node
	for _, n := range g.Nodes {
		if !removed[n] {
			kept = append(kept, n)
		}
	}
	g.Nodes = kept
	declareDomain(g, domain)
}

// declareDomain adds domain to the graph's opset imports if it is missing,
// as a model with a node of that domain must declare it.
func declareDomain(g *ir.Graph, domain string) {
	if _, ok := g.Opsets[domain]; !ok {
		g.Opsets[domain] = 1
	}
}
