package passes

import (
	"fmt"

	"crsc/compiler/ir"
	"crsc/runtime/cpu"
)

// Results larger than maxFoldElements stay computed at run time: folding
// them would bloat the model.
const maxFoldElements = 1 << 20

// unfoldable ops are never folded: their results depend on more than their
// inputs.
var unfoldable = map[string]bool{
	"Dropout": true, "RandomNormal": true, "RandomUniform": true,
	"RandomNormalLike": true, "RandomUniformLike": true, "Multinomial": true, "Bernoulli": true,
}

// FoldConstants evaluates, at compile time, every node whose inputs are all
// constants, and Shape/Size nodes whose input shape is static. This is what
// turns the Shape → Gather → Unsqueeze → Concat → Reshape chains of BERT
// exports into plain constants once --shape fixes the input sizes; without
// --shape those chains stay in the graph and run at run time.
func FoldConstants(g *ir.Graph, _ *Config) error {
	ctx := &cpu.Ctx{Threads: 1}
	outputs := map[*ir.Value]bool{}
	for _, v := range g.Outputs {
		outputs[v] = true
	}
	var kept []*ir.Node
	for _, n := range g.Nodes {
		if err := ir.InferNode(n); err != nil {
			return err
		}
		results, err := tryFold(ctx, n, outputs)
		if err != nil {
			return err
		}
		if results == nil {
			kept = append(kept, n)
			continue
		}
		for i, o := range n.Outputs {
			if o == nil {
				continue
			}
			o.Producer, o.Init, o.Folded = nil, results[i], true
			o.SetType(results[i].DType, ir.StaticShape(results[i].Shape...))
			g.Inits = append(g.Inits, o)
		}
	}
	g.Nodes = kept
	g.RemoveDeadNodes()
	return nil
}

// tryFold returns the node's outputs when it can and should be folded.
func tryFold(ctx *cpu.Ctx, n *ir.Node, graphOutputs map[*ir.Value]bool) ([]*ir.Tensor, error) {
	if n.Domain != "" || unfoldable[n.Op] {
		return nil, nil
	}
	for _, o := range n.Outputs {
		if o != nil && graphOutputs[o] {
			return nil, nil
		}
	}
	if n.Op == "Shape" || n.Op == "Size" {
		in := n.In(0)
		dims, ok := in.Shape.Ints()
		if !in.HasShape || !ok {
			return nil, nil
		}
		if n.Op == "Size" {
			return []*ir.Tensor{ir.FromInt64(nil, []int64{int64(ir.NumElements(dims))})}, nil
		}
		// The output shape rule already clamped start/end; take that slice.
		r := int64(len(dims))
		start, end := n.Attrs.Int("start", 0), n.Attrs.Int("end", r)
		if start < 0 {
			start += r
		}
		if end < 0 {
			end += r
		}
		start, end = min(max(start, 0), r), min(max(end, start), r)
		vals := make([]int64, 0, end-start)
		for _, d := range dims[start:end] {
			vals = append(vals, int64(d))
		}
		return []*ir.Tensor{ir.FromInt64([]int{len(vals)}, vals)}, nil
	}
	ins := make([]*ir.Tensor, len(n.Inputs))
	for i, in := range n.Inputs {
		if in == nil {
			continue
		}
		if !in.IsConst() {
			return nil, nil
		}
		if isWeight(in) {
			return nil, nil // never bake a trainable weight into a constant
		}
		ins[i] = in.Init
	}
	for _, o := range n.Outputs {
		if o != nil && o.HasShape {
			if size := o.Shape.NumElements(); !size.IsFixed() || size.Size > maxFoldElements {
				return nil, nil
			}
		}
	}
	return runKernel(ctx, n, ins)
}

func runKernel(ctx *cpu.Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	k, ok := cpu.Lookup(n.Domain, n.Op)
	if !ok {
		return nil, nil
	}
	outs, err := k(ctx, n, ins)
	if err != nil {
		return nil, fmt.Errorf("folding constants: %v", err)
	}
	for i, o := range n.Outputs {
		if o != nil && (i >= len(outs) || outs[i] == nil) {
			return nil, nil
		}
	}
	return outs, nil
}

// isWeight reports whether an initializer may be a parameter: a float
// tensor of more than one element that the model itself brought (scalars
// are scales and epsilons; folded values are ours).
func isWeight(v *ir.Value) bool {
	return v.Init != nil && !v.Folded && v.Init.DType.IsFloat() && v.Init.Len() > 1
}
