package ir

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Print writes a stable, line-oriented text form of g: the same graph always
// prints the same text, so golden files can hold it. Weights print as their
// type only.
func Print(w io.Writer, g *Graph) {
	var domains []string
	for d := range g.Opsets {
		domains = append(domains, d)
	}
	sort.Strings(domains)
	var ops []string
	for _, d := range domains {
		name := d
		if name == "" {
			name = "ai.onnx"
		}
		ops = append(ops, fmt.Sprintf("%s=%d", name, g.Opsets[d]))
	}
	fmt.Fprintf(w, "graph %q opsets %s\n", g.Name, strings.Join(ops, " "))
	for _, v := range g.Inputs {
		fmt.Fprintf(w, "input  %s %s\n", v.Name, TypeString(v))
	}
	for _, v := range g.Inits {
		fmt.Fprintf(w, "init   %s %s\n", v.Name, TypeString(v))
	}
	for _, n := range g.Nodes {
		fmt.Fprintln(w, NodeString(n))
	}
	for _, v := range g.Outputs {
		fmt.Fprintf(w, "output %s %s\n", v.Name, TypeString(v))
	}
}

// String returns the printed form.
func (g *Graph) String() string {
	var b strings.Builder
	Print(&b, g)
	return b.String()
}

// TypeString is "f32[batch,seq,768]", or "f32[?]" style when the rank is unknown.
func TypeString(v *Value) string {
	if !v.HasShape {
		return v.DType.String() + "[…]"
	}
	return v.DType.String() + v.Shape.String()
}

// NodeString prints one node: outputs with types, op, inputs and attributes.
func NodeString(n *Node) string {
	var outs, ins []string
	for _, o := range n.Outputs {
		if o == nil {
			outs = append(outs, "_")
			continue
		}
		outs = append(outs, o.Name+":"+TypeString(o))
	}
	for _, in := range n.Inputs {
		if in == nil {
			ins = append(ins, "_")
			continue
		}
		ins = append(ins, in.Name)
	}
	op := n.Key()
	var attrs []string
	for _, k := range n.Attrs.Names() {
		attrs = append(attrs, k+"="+n.Attrs[k].String())
	}
	s := fmt.Sprintf("node   %s: %s = %s(%s)", n.Name, strings.Join(outs, ", "), op, strings.Join(ins, ", "))
	if len(attrs) > 0 {
		s += " {" + strings.Join(attrs, ", ") + "}"
	}
	return s
}
