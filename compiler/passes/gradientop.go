package passes

import (
	"fmt"

	"crsc/compiler/ir"
)

// trainingDomain holds ONNX's preview training ops (Gradient).
const trainingDomain = "ai.onnx.preview.training"

// LowerGradientOps replaces each ONNX Gradient node (ai.onnx.preview.training)
// by the backward graph it stands for: the gradients of its scalar y with
// respect to its xs, built by the same autodiff as training graphs.
func LowerGradientOps(g *ir.Graph, _ *Config) error {
	var gradNodes []*ir.Node
	var rest []*ir.Node
	for _, n := range g.Nodes {
		if n.Domain == trainingDomain && n.Op == "Gradient" {
			gradNodes = append(gradNodes, n)
		} else {
			rest = append(rest, n)
		}
	}
	if len(gradNodes) == 0 {
		return nil
	}
	g.Nodes = rest
	for _, n := range gradNodes {
		y := g.Value(n.Attrs.String("y", ""))
		if y == nil {
			return fmt.Errorf("Gradient node %q: y %q is not a value of the graph", n.Name, n.Attrs.String("y", ""))
		}
		names := n.Attrs["xs"]
		if names == nil || len(names.Strings) != len(n.Outputs) {
			return fmt.Errorf("Gradient node %q: xs must name one value per output", n.Name)
		}
		var xs []*ir.Value
		for _, name := range names.Strings {
			x := g.Value(name)
			if x == nil {
				return fmt.Errorf("Gradient node %q: xs names %q, which is not a value of the graph", n.Name, name)
			}
			xs = append(xs, x)
		}
		if err := g.InferShapes(); err != nil {
			return err
		}
		if e := y.Shape.NumElements(); y.HasShape && !(e.IsFixed() && e.Size == 1) {
			return fmt.Errorf("Gradient node %q: y %q is %s; crsc differentiates a scalar y (a loss), as ONNX's Gradient examples do", n.Name, y.Name, ir.TypeString(y))
		}
		b := &gradBuilder{g: g, prefix: n.Name}
		grads, err := gradientValues(g, xs, map[*ir.Value]*ir.Value{y: b.scalar(1, y)}, nil)
		if err != nil {
			return fmt.Errorf("Gradient node %q: %v", n.Name, err)
		}
		for i, x := range xs {
			d, ok := grads[x]
			if !ok {
				d = b.zerosLike(x) // y does not depend on x
			}
			// An Identity keeps the Gradient node's output value (its name
			// and its readers) and takes it over as producer.
			id := g.AddNode("Identity", n.Name+"/Identity", []*ir.Value{d}, 0, nil)
			id.Outputs = []*ir.Value{n.Outputs[i]}
			n.Outputs[i].Producer = id
		}
	}
	delete(g.Opsets, trainingDomain)
	return g.TopoSort()
}
