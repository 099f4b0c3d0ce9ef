package passes

import (
	"fmt"
	"slices"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
)

// RematSpec asks for exact rematerialization: cheap forward values that
// backward reads are recomputed in backward from inputs backward keeps
// anyway, instead of being kept themselves.
type RematSpec struct {
	Enabled bool `json:"enabled,omitempty"`
	// MinBytesPerFLOP: recompute a value only when it saves at least this
	// many bytes of kept memory per floating-point operation it adds (0:
	// DefaultRematBytesPerFLOP).
	MinBytesPerFLOP float64 `json:"min_bytes_per_flop,omitempty"`
}

// DefaultRematBytesPerFLOP takes every op of rematOps (a float32 GELU
// saves 4 bytes for about 20 operations: 0.2) and would leave out anything
// costing more than 40 operations per element kept.
const DefaultRematBytesPerFLOP = 0.1

// RematDecision is one value Remat recomputes in backward.
type RematDecision struct {
	Value string  `json:"value"`
	Op    string  `json:"op"`
	From  string  `json:"from"`  // the kept input it is recomputed from
	Bytes int64   `json:"bytes"` // kept memory saved (float32 bytes of the value)
	FLOPs float64 `json:"flops"` // operations added per step
}

// rematOps are the forward ops Remat may replay, with their cost in
// floating-point operations per output element (the polynomial and
// division of GELU's erf; Philox's rounds of Dropout's mask counted as
// about a dozen) and how the replay is built. Each replay is exact: the
// same kernel on the same input, or Dropout's regenerated mask.
var rematOps = map[string]struct {
	flops  float64
	replay func(b *gradBuilder, n *ir.Node, ins []*ir.Value) *ir.Node
}{
	"com.microsoft.Gelu": {20, replayClone},
	"Gelu":               {20, replayClone},
	"Tanh":               {10, replayClone},
	"Sigmoid":            {10, replayClone},
	"Dropout":            {12, replayDropout},
}

func replayClone(b *gradBuilder, n *ir.Node, ins []*ir.Value) *ir.Node {
	return b.node(n.Op, n.Domain, n.Attrs, 1, ins...)
}

// replayDropout applies the forward's mask, redrawn from the seed by
// DropoutMaskGrad (keyed by the forward node's name), to its input: the
// forward output, bit for bit.
func replayDropout(b *gradBuilder, n *ir.Node, ins []*ir.Value) *ir.Node {
	for len(ins) > 1 && ins[len(ins)-1] == nil {
		ins = ins[:len(ins)-1]
	}
	return b.node("DropoutMaskGrad", CrscDomain, ir.Attrs{"forward_node": ir.StringAttr(n.Name)}, 1, ins...)
}

// Remat recomputes in backward the forward values of rematOps whose float
// input backward keeps anyway (read by some other backward node: GELU's
// input for GELU's gradient, a softmax output for softmax's), when that
// saves at least spec.MinBytesPerFLOP bytes per added operation. The
// replay goes right before the value's first backward reader and every
// backward reader reads it instead, so the forward value dies at its last
// forward use. Results are unchanged bit for bit.
func Remat(g *ir.Graph, spec RematSpec) ([]RematDecision, error) {
	fe := memplan.ForwardEnd(g)
	if !spec.Enabled || fe < 0 {
		return nil, nil
	}
	minRatio := spec.MinBytesPerFLOP
	if minRatio <= 0 {
		minRatio = DefaultRematBytesPerFLOP
	}
	pos, outputs := nodePositions(g), outputSet(g)
	readers := g.Consumers()
	backReaders := func(v *ir.Value) []*ir.Node {
		var out []*ir.Node
		for _, r := range viewReaders(v, readers) {
			if pos[r] >= fe {
				out = append(out, r)
			}
		}
		return out
	}
	before := map[*ir.Node][]*ir.Node{}
	var out []RematDecision
	added := 0
	for _, n := range g.Nodes[:fe] {
		op, ok := rematOps[n.Key()]
		v := n.Outputs[0]
		if !ok || v == nil || v.DType != ir.Float32 || outputs[v] || !v.HasShape {
			continue
		}
		dims, static := v.Shape.Ints()
		x := n.In(0)
		back := readers[v]
		back = slices.DeleteFunc(slices.Clone(back), func(r *ir.Node) bool { return pos[r] < fe })
		if !static || x == nil || x.IsConst() || len(back) == 0 || len(backReaders(x)) == 0 {
			continue
		}
		// The other outputs (Dropout's mask) must not be what backward reads.
		if slices.ContainsFunc(n.Outputs[1:], func(o *ir.Value) bool { return o != nil && len(backReaders(o)) > 0 }) {
			continue
		}
		elems := ir.NumElements(dims)
		bytes, flops := 4*int64(elems), op.flops*float64(elems)
		if float64(bytes) < minRatio*flops {
			continue
		}
		b := &gradBuilder{g: g, prefix: memplan.RematPrefix + n.Name}
		re := op.replay(b, n, slices.Clone(n.Inputs))
		if b.err != nil {
			return nil, fmt.Errorf("recomputing %q: %v", v.Name, b.err)
		}
		added++
		slices.SortFunc(back, func(a, b *ir.Node) int { return pos[a] - pos[b] })
		for _, r := range back {
			for k, in := range r.Inputs {
				if in == v {
					r.Inputs[k] = re.Outputs[0]
				}
			}
		}
		before[back[0]] = append(before[back[0]], re)
		out = append(out, RematDecision{Value: v.Name, Op: n.Key(), From: x.Name, Bytes: bytes, FLOPs: flops})
	}
	nodes := make([]*ir.Node, 0, len(g.Nodes))
	for _, n := range g.Nodes[:len(g.Nodes)-added] {
		nodes = append(nodes, before[n]...)
		nodes = append(nodes, n)
	}
	g.Nodes = nodes
	return out, g.Verify()
}
