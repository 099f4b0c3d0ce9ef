package ir

// Clone returns a copy of g that can be rewritten independently: new
// Values, Nodes and attribute maps, but the same initializer Tensors, so an
// eval graph and a training graph built from one model share its weights.
func (g *Graph) Clone() *Graph {
	c := &Graph{Name: g.Name, Opsets: map[string]int64{}, Meta: map[string]string{}}
	for k, v := range g.Opsets {
		c.Opsets[k] = v
	}
	for k, v := range g.Meta {
		c.Meta[k] = v
	}
	values := map[*Value]*Value{}
	copyValue := func(v *Value) *Value {
		if v == nil {
			return nil
		}
		if nv, ok := values[v]; ok {
			return nv
		}
		nv := *v
		nv.Shape = v.Shape.Clone()
		nv.Producer = nil
		values[v] = &nv
		return &nv
	}
	for _, v := range g.Inputs {
		c.Inputs = append(c.Inputs, copyValue(v))
	}
	for _, v := range g.Inits {
		c.Inits = append(c.Inits, copyValue(v))
	}
	for _, n := range g.Nodes {
		nn := &Node{Name: n.Name, Op: n.Op, Domain: n.Domain}
		if n.Attrs != nil {
			nn.Attrs = Attrs{}
			for k, a := range n.Attrs {
				ac := *a
				nn.Attrs[k] = &ac
			}
		}
		for _, in := range n.Inputs {
			nn.Inputs = append(nn.Inputs, copyValue(in))
		}
		for _, o := range n.Outputs {
			no := copyValue(o)
			if no != nil {
				no.Producer = nn
			}
			nn.Outputs = append(nn.Outputs, no)
		}
		c.Nodes = append(c.Nodes, nn)
	}
	for _, v := range g.Outputs {
		c.Outputs = append(c.Outputs, copyValue(v))
	}
	return c
}
