package passes

import (
	"crsc/compiler/ir"
)

// MemoryRewrites changes what the backward pass keeps from the forward pass,
// without changing any result:
//   - Dropout's mask is regenerated from the seed in backward instead of
//     being stored (DropoutMaskGrad);
//   - ReLU keeps a 1-bit mask of its output's sign instead of the output
//     (BitMask + ReluGrad);
//   - LayerNormalization differentiates from its output and inverse std
//     (which the next layer keeps anyway) instead of its input.
//
// It returns how many sites it rewrote.
func MemoryRewrites(g *ir.Graph, _ *Config) (int, error) {
	readers := g.Consumers()
	rewrites := 0
	for _, n := range append([]*ir.Node{}, g.Nodes...) {
		switch {
		case n.Domain == CrscDomain && n.Op == "DropoutGrad":
			if rewriteDropoutGrad(g, n) {
				rewrites++
			}
		case n.Domain == "" && n.Op == "Where":
			if rewriteReluGrad(g, n, readers) {
				rewrites++
			}
		case n.Domain == CrscDomain && n.Op == "LayerNormalizationGrad":
			if rewriteLayerNormGrad(g, n) {
				rewrites++
			}
		}
	}
	dropUnreadOptionalOutputs(g)
	g.RemoveDeadNodes()
	if err := g.InferShapes(); err != nil {
		return 0, err
	}
	return rewrites, g.Verify()
}

func rewriteDropoutGrad(g *ir.Graph, n *ir.Node) bool {
	mask := n.In(1)
	if mask == nil || mask.Producer == nil || mask.Producer.Op != "Dropout" {
		return false
	}
	fwd := mask.Producer
	n.Op = "DropoutMaskGrad"
	n.Inputs = []*ir.Value{n.In(0), fwd.In(1), fwd.In(2)}
	for len(n.Inputs) > 1 && n.Inputs[len(n.Inputs)-1] == nil {
		n.Inputs = n.Inputs[:len(n.Inputs)-1]
	}
	n.Attrs = ir.Attrs{"forward_node": ir.StringAttr(fwd.Name)}
	return true
}

// rewriteReluGrad turns Where(Greater(relu_out, 0), dY, 0), the Relu rule's
// output, into ReluGrad(dY, BitMask(relu_out)) with the mask made in forward.
func rewriteReluGrad(g *ir.Graph, where *ir.Node, readers map[*ir.Value][]*ir.Node) bool {
	cmp := where.In(0).Producer
	if cmp == nil || cmp.Op != "Greater" || !isScalar(cmp.In(1), 0) && !isZero(cmp.In(1)) {
		return false
	}
	y := cmp.In(0)
	relu := y.Producer
	if relu == nil || relu.Op != "Relu" || relu.Domain != "" || !isZero(where.In(2)) {
		return false
	}
	b := &gradBuilder{g: g, prefix: "mem/" + relu.Name}
	bits := insertAfter(g, relu, b.node("BitMask", CrscDomain, nil, 1, y))
	where.Op, where.Domain = "ReluGrad", CrscDomain
	where.Inputs = []*ir.Value{where.In(1), bits.Outputs[0]}
	return b.err == nil
}

func isZero(v *ir.Value) bool {
	x, ok := scalarValue(v)
	return ok && x == 0
}

// rewriteLayerNormGrad swaps the input-based LayerNorm backward for the
// output-based one.
func rewriteLayerNormGrad(g *ir.Graph, n *ir.Node) bool {
	mean := n.In(3)
	if mean == nil || mean.Producer == nil {
		return false
	}
	fwd := mean.Producer
	if fwd.Op != "LayerNormalization" || len(fwd.Outputs) < 3 {
		return false
	}
	n.Op = "LayerNormalizationGradFromOutput"
	n.Inputs = []*ir.Value{n.In(0), fwd.Outputs[0], fwd.In(1), fwd.In(2), fwd.Outputs[2]}
	return true
}

// dropUnreadOptionalOutputs detaches the optional outputs that no node reads
// any more (a Dropout mask, a LayerNorm mean), so kernels skip them.
func dropUnreadOptionalOutputs(g *ir.Graph) {
	readers := g.Consumers()
	outputs := map[*ir.Value]bool{}
	for _, v := range g.Outputs {
		outputs[v] = true
	}
	for _, n := range g.Nodes {
		if n.Op != "Dropout" && n.Op != "LayerNormalization" {
			continue
		}
		for i := 1; i < len(n.Outputs); i++ {
			if o := n.Outputs[i]; o != nil && len(readers[o]) == 0 && !outputs[o] {
				n.Outputs[i] = nil
			}
		}
		for len(n.Outputs) > 1 && n.Outputs[len(n.Outputs)-1] == nil {
			n.Outputs = n.Outputs[:len(n.Outputs)-1]
		}
	}
}
