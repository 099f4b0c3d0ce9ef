package passes

import (
	"crsc/compiler/ir"
)

// matcher answers the questions fusion patterns ask about a graph.
type matcher struct {
	readers map[*ir.Value][]*ir.Node
	outputs map[*ir.Value]bool
}

func newMatcher(g *ir.Graph) *matcher {
	m := &matcher{readers: g.Consumers(), outputs: map[*ir.Value]bool{}}
	for _, v := range g.Outputs {
		m.outputs[v] = true
	}
	return m
}

// only returns v's single reader when it has exactly one and is not a graph
// output, and it is a default-domain op named op.
func (m *matcher) only(v *ir.Value, op string) *ir.Node {
	if v == nil || m.outputs[v] || len(m.readers[v]) != 1 {
		return nil
	}
	if n := m.readers[v][0]; n.Op == op && n.Domain == "" {
		return n
	}
	return nil
}

// readBy returns the reader of v with op (v may have other readers), or nil.
func (m *matcher) readBy(v *ir.Value, op string) *ir.Node {
	for _, n := range m.readers[v] {
		if n.Op == op && n.Domain == "" {
			return n
		}
	}
	return nil
}

// lastAxisMean reports whether n is ReduceMean over the last axis only,
// keeping dims (what a norm's statistics look like).
func lastAxisMean(n *ir.Node) bool {
	if n == nil || n.Op != "ReduceMean" || n.Attrs.Int("keepdims", 1) != 1 {
		return false
	}
	axes := n.Attrs.Ints("axes")
	x := n.In(0)
	return len(axes) == 1 && (axes[0] == -1 || x.HasShape && int(axes[0]) == len(x.Shape)-1)
}

// scalarValue returns the value of a one-element float constant.
func scalarValue(v *ir.Value) (float64, bool) {
	if v == nil || !v.IsConst() || v.Init.Len() != 1 || !v.Init.DType.IsFloat() {
		return 0, false
	}
	return v.Init.Float64At(0), true
}

// replaceWith turns last into the fused node (keeping its outputs, so
// readers need no rewiring) and marks the other matched nodes for removal.
func replaceWith(last *ir.Node, fused *ir.Node, matched []*ir.Node, removed map[*ir.Node]bool) {
	for _, n := range matched {
		removed[n] = true
	}
	outs := last.Outputs
	*last = *fused
	last.Outputs = outs[:1]
	for len(last.Outputs) < len(fused.Outputs) {
		last.Outputs = append(last.Outputs, nil)
	}
	last.Outputs[0].Producer = last
	delete(removed, last)
}

// FuseNorms replaces decomposed normalization subgraphs by single ops:
//
//	LayerNorm (BERT, opsets < 17):  d = x − mean(x); d / √(mean(d²) + ε) · w + b
//	RMSNorm (T5's T5LayerNorm):     x · 1/√(mean(x²) + ε) · w
//
// by ai.crsc.LayerNormalization and ai.crsc.RMSNormalization. One op is one
// pass over the tensor instead of eight, and its backward can be rewritten to
// keep the norm's output instead of its input (the memory pass).
func FuseNorms(g *ir.Graph, _ *Config) error {
	m := newMatcher(g)
	removed := map[*ir.Node]bool{}
	for _, mean := range g.Nodes {
		if removed[mean] || !lastAxisMean(mean) {
			continue
		}
		if fuseLayerNorm(m, mean, removed) || fuseRMSNorm(m, mean, removed) {
			continue
		}
	}
	return finishFusion(g, removed, CrscDomain)
}

// invSqrt matches √(v + ε) followed by a division, returning ε, the Sqrt
// and Add nodes, and the node that divides by the root (Div(num, sqrt) or
// Div(1, sqrt) / Reciprocal(sqrt)).
func invSqrt(m *matcher, v *ir.Value) (eps float64, add, sqrt, div *ir.Node, ok bool) {
	if add = m.only(v, "Add"); add == nil {
		return
	}
	if eps, ok = scalarValue(other(add, v)); !ok {
		return
	}
	if sqrt = m.only(add.Outputs[0], "Sqrt"); sqrt == nil {
		return 0, nil, nil, nil, false
	}
	if div = m.only(sqrt.Outputs[0], "Div"); div == nil {
		div = m.only(sqrt.Outputs[0], "Reciprocal")
	}
	return eps, add, sqrt, div, div != nil
}

func fuseLayerNorm(m *matcher, mean *ir.Node, removed map[*ir.Node]bool) bool {
	x := mean.In(0)
	sub := m.only(mean.Outputs[0], "Sub")
	if sub == nil || sub.In(0) != x || sub.In(1) != mean.Outputs[0] {
		return false
	}
	d := sub.Outputs[0]
	pow := m.readBy(d, "Pow")
	if pow == nil || len(m.readers[d]) != 2 {
		return false
	}
	if e, ok := scalarValue(pow.In(1)); !ok || e != 2 {
		return false
	}
	varMean := m.only(pow.Outputs[0], "ReduceMean")
	if !lastAxisMean(varMean) {
		return false
	}
	eps, add, sqrt, div, ok := invSqrt(m, varMean.Outputs[0])
	if !ok || div.Op != "Div" || div.In(0) != d {
		return false
	}
	scale := m.only(div.Outputs[0], "Mul")
	if scale == nil {
		return false
	}
	w := other(scale, div.Outputs[0])
	shift := m.only(scale.Outputs[0], "Add")
	if w == nil || !w.IsConst() || shift == nil {
		return false
	}
	b := other(shift, scale.Outputs[0])
	if b == nil || !b.IsConst() {
		return false
	}
	fused := &ir.Node{Name: shift.Name + "/LayerNormalization", Op: "LayerNormalization", Domain: CrscDomain,
		Inputs: []*ir.Value{x, w, b}, Outputs: []*ir.Value{nil},
		Attrs: ir.Attrs{"axis": ir.IntAttr(-1), "epsilon": ir.FloatAttr(float32(eps))}}
	replaceWith(shift, fused, []*ir.Node{mean, sub, pow, varMean, add, sqrt, div, scale, shift}, removed)
	return true
}

func fuseRMSNorm(m *matcher, mean *ir.Node, removed map[*ir.Node]bool) bool {
	pow := mean.In(0).Producer
	if pow == nil || pow.Op != "Pow" || m.only(pow.Outputs[0], "ReduceMean") != mean {
		return false
	}
	if e, ok := scalarValue(pow.In(1)); !ok || e != 2 {
		return false
	}
	x := pow.In(0)
	eps, add, sqrt, div, ok := invSqrt(m, mean.Outputs[0])
	if !ok {
		return false
	}
	if div.Op == "Div" {
		if one, ok := scalarValue(div.In(0)); !ok || one != 1 || div.In(1) != sqrt.Outputs[0] {
			return false
		}
	}
	norm := m.only(div.Outputs[0], "Mul")
	if norm == nil || other(norm, div.Outputs[0]) != x {
		return false
	}
	scale := m.only(norm.Outputs[0], "Mul")
	if scale == nil {
		return false
	}
	w := other(scale, norm.Outputs[0])
	if w == nil || !w.IsConst() {
		return false
	}
	fused := &ir.Node{Name: scale.Name + "/RMSNormalization", Op: "RMSNormalization", Domain: CrscDomain,
		Inputs: []*ir.Value{x, w}, Outputs: []*ir.Value{nil},
		Attrs: ir.Attrs{"axis": ir.IntAttr(-1), "epsilon": ir.FloatAttr(float32(eps))}}
	replaceWith(scale, fused, []*ir.Node{pow, mean, add, sqrt, div, norm, scale}, removed)
	return true
}
