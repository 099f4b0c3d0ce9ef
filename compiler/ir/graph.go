package ir

import (
	"fmt"
	"sort"
)

// Value is an edge of the graph: a graph input, an initializer (Init != nil),
// or the output of exactly one node (Producer != nil).
type Value struct {
	Name     string
	DType    DType
	Shape    Shape // meaningful only when HasShape
	HasShape bool
	Producer *Node   // nil for graph inputs and initializers
	Init     *Tensor // weights and constants; nil otherwise
	// Sym, for a small integer tensor computed from shapes (the
	// Shape → Gather → Concat chains of exports), holds its elements as
	// dims, so a Reshape fed by it gets a symbolic shape without --shape.
	Sym []Dim
	// Folded marks an initializer that crsc computed at compile time
	// (constant folding): a constant of the graph, never a parameter.
	Folded bool
}

// IsConst reports whether the value is an initializer.
func (v *Value) IsConst() bool { return v != nil && v.Init != nil }

// SetType records dtype and shape (used by importers and shape inference).
func (v *Value) SetType(dt DType, s Shape) {
	v.DType, v.Shape, v.HasShape = dt, s, true
}

// Node is one operator application. A nil entry in Inputs is an omitted
// optional input (ONNX writes it as an empty name).
type Node struct {
	Name    string
	Op      string
	Domain  string // "" is the default ONNX domain (ai.onnx)
	Inputs  []*Value
	Outputs []*Value
	Attrs   Attrs
}

// In returns input i, or nil when it is absent or omitted.
func (n *Node) In(i int) *Value {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return nil
}

// Graph is a whole model: inputs, outputs, initializers and nodes kept in a
// topological order (Verify checks it).
type Graph struct {
	Name    string
	Inputs  []*Value
	Outputs []*Value
	Inits   []*Value
	Nodes   []*Node
	// Opsets maps an operator domain to its version; "" is ai.onnx.
	Opsets map[string]int64
	// Meta carries model metadata (producer name, doc string) through to export.
	Meta map[string]string

	names map[string]bool // every value and node name in use
}

// NewGraph returns an empty graph at the given default-domain opset.
func NewGraph(name string, opset int64) *Graph {
	return &Graph{Name: name, Opsets: map[string]int64{"": opset}, Meta: map[string]string{}}
}

func (g *Graph) used(name string) bool {
	if g.names == nil {
		g.names = map[string]bool{}
		for _, v := range g.Values() {
			g.names[v.Name] = true
		}
		for _, n := range g.Nodes {
			g.names[n.Name] = true
		}
	}
	return g.names[name]
}

// UniqueName returns base, or base with a numeric suffix, so that it names
// nothing else in the graph, and reserves it.
func (g *Graph) UniqueName(base string) string {
	name := base
	for i := 1; g.used(name); i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	g.names[name] = true
	return name
}

// NewValue creates a fresh value (not yet an input, output or initializer)
// with a unique name derived from base.
func (g *Graph) NewValue(base string) *Value { return &Value{Name: g.UniqueName(base)} }

// AddInput appends a graph input.
func (g *Graph) AddInput(name string, dt DType, s Shape) *Value {
	v := &Value{Name: g.UniqueName(name)}
	v.SetType(dt, s)
	g.Inputs = append(g.Inputs, v)
	return v
}

// AddInit appends an initializer holding t.
func (g *Graph) AddInit(name string, t *Tensor) *Value {
	v := &Value{Name: g.UniqueName(name), Init: t}
	v.SetType(t.DType, StaticShape(t.Shape...))
	g.Inits = append(g.Inits, v)
	return v
}

// AddNode appends a node computing op over inputs with nOut fresh outputs.
// Output names derive from the node name.
func (g *Graph) AddNode(op string, name string, inputs []*Value, nOut int, attrs Attrs) *Node {
	if name == "" {
		name = op
	}
	n := &Node{Name: g.UniqueName(name), Op: op, Inputs: inputs, Attrs: attrs}
	for i := 0; i < nOut; i++ {
		out := g.NewValue(fmt.Sprintf("%s_out%d", n.Name, i))
		out.Producer = n
		n.Outputs = append(n.Outputs, out)
	}
	g.Nodes = append(g.Nodes, n)
	return n
}

// Values lists every value of the graph once: inputs, initializers, then
// node outputs in node order.
func (g *Graph) Values() []*Value {
	var vs []*Value
	vs = append(vs, g.Inputs...)
	vs = append(vs, g.Inits...)
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != nil {
				vs = append(vs, o)
			}
		}
	}
	return vs
}

// Value finds a value by name (nil if absent).
func (g *Graph) Value(name string) *Value {
	for _, v := range g.Values() {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Consumers maps each value to the nodes that read it, in node order.
func (g *Graph) Consumers() map[*Value][]*Node {
	m := map[*Value][]*Node{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != nil {
				m[in] = append(m[in], n)
			}
		}
	}
	return m
}

// TopoSort reorders Nodes so that every node comes after the producers of its
// inputs, keeping the original order where it is already valid. Imported
// models need not be sorted. It fails on a cycle or on an input that nothing
// produces, naming the node.
func (g *Graph) TopoSort() error {
	defined := map[*Value]bool{}
	for _, v := range g.Inputs {
		defined[v] = true
	}
	for _, v := range g.Inits {
		defined[v] = true
	}
	producers := map[*Value]*Node{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != nil {
				producers[o] = n
			}
		}
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != nil && !defined[in] && producers[in] == nil {
				return fmt.Errorf("node %q (%s) reads %q, which no node, input or initializer produces", n.Name, n.Op, in.Name)
			}
		}
	}
	// Kahn's algorithm, always taking the earliest ready node so that an
	// already sorted graph keeps its order.
	indeg := map[*Node]int{}
	readers := map[*Node][]*Node{}
	for _, n := range g.Nodes {
		seen := map[*Node]bool{}
		for _, in := range n.Inputs {
			if p := producers[in]; in != nil && p != nil && !seen[p] {
				seen[p] = true
				indeg[n]++
				readers[p] = append(readers[p], n)
			}
		}
	}
	pos := map[*Node]int{}
	for i, n := range g.Nodes {
		pos[n] = i
	}
	var ready []*Node
	for _, n := range g.Nodes {
		if indeg[n] == 0 {
			ready = append(ready, n)
		}
	}
	sorted := make([]*Node, 0, len(g.Nodes))
	for len(ready) > 0 {
		sort.Slice(ready, func(i, j int) bool { return pos[ready[i]] < pos[ready[j]] })
		n := ready[0]
		ready = ready[1:]
		sorted = append(sorted, n)
		for _, r := range readers[n] {
			if indeg[r]--; indeg[r] == 0 {
				ready = append(ready, r)
			}
		}
	}
	if len(sorted) != len(g.Nodes) {
		for _, n := range g.Nodes {
			if indeg[n] > 0 {
				return fmt.Errorf("graph has a cycle through node %q (%s)", n.Name, n.Op)
			}
		}
	}
	g.Nodes = sorted
	return nil
}

// RemoveDeadNodes drops nodes whose outputs reach no graph output, and
// initializers nobody reads. It returns how many nodes it removed.
func (g *Graph) RemoveDeadNodes() int {
	live := map[*Value]bool{}
	for _, o := range g.Outputs {
		live[o] = true
	}
	keep := make([]bool, len(g.Nodes))
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		for _, o := range n.Outputs {
			if live[o] {
				keep[i] = true
			}
		}
		if keep[i] {
			for _, in := range n.Inputs {
				if in != nil {
					live[in] = true
				}
			}
		}
	}
	var nodes []*Node
	for i, n := range g.Nodes {
		if keep[i] {
			nodes = append(nodes, n)
		}
	}
	removed := len(g.Nodes) - len(nodes)
	g.Nodes = nodes
	var inits []*Value
	for _, v := range g.Inits {
		if live[v] {
			inits = append(inits, v)
		}
	}
	g.Inits = inits
	g.names = nil
	return removed
}
