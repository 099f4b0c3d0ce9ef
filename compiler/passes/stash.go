package passes

import (
	"fmt"
	"slices"
	"strings"

	"crsc/compiler/ir"
	"crsc/compiler/memplan"
)

// StashSpec says which activations that backward reads are kept in 16 or
// 8 bits between the forward and the backward pass (a "stash").
type StashSpec struct {
	// DType is "bf16", "int8" (8-bit rows, ir.Int8Rows) or "" / "none"
	// (every stash float32).
	DType string `json:"dtype,omitempty"`
	// Kinds narrows the stashes by what produced them (StashKinds); empty
	// means all of them.
	Kinds []string `json:"kinds,omitempty"`
	// Int8Kinds, with DType bf16, are the kinds kept in 8-bit rows
	// instead (the rest in bf16): a mixed stash.
	Int8Kinds []string `json:"int8_kinds,omitempty"`
}

// The stash types: bfloat16 (Cast), 8-bit rows (QuantizeRows).
const (
	StashBF16 = "bf16"
	StashInt8 = "int8"
)

// int8MinRow is the shortest row (last axis) an 8-bit stash is used for:
// each row carries a float32 scale, so short rows save little; they are
// kept in bfloat16 instead.
const int8MinRow = 8

// StashKinds are the activations a stash can narrow, by what backward
// reads them for: softmax outputs (softmax's gradient), norm outputs (the
// norm's gradient from its output, and the next linear layer's weight
// gradient), GELU inputs (GELU's gradient), WTA-CRS's sampled rows (the
// sampled weight gradient) and the operands of the attention products QKᵀ
// and P·V (each other's gradient; in exact attention the per-head Q, Kᵀ
// and V are each as large as a hidden state).
var StashKinds = []string{"softmax", "norm", "gelu", "sampled", "attention"}

// Enabled reports whether the spec narrows anything.
func (s StashSpec) Enabled() bool { return s.DType != "" && s.DType != "none" }

// Check names the first thing wrong with the spec.
func (s StashSpec) Check() error {
	if s.DType != "" && s.DType != "none" && s.DType != StashBF16 && s.DType != StashInt8 {
		return fmt.Errorf("stash dtype %q: want bf16, int8 or none", s.DType)
	}
	if !s.Enabled() && len(s.Kinds)+len(s.Int8Kinds) > 0 {
		return fmt.Errorf("stash kinds %s without a stash type: give --stash bf16 with them", strings.Join(append(slices.Clone(s.Kinds), s.Int8Kinds...), ","))
	}
	if s.DType == StashInt8 && len(s.Int8Kinds) > 0 {
		return fmt.Errorf("8-bit stash kinds %s with --stash int8, which keeps every kind in 8 bits: give them with --stash bf16", strings.Join(s.Int8Kinds, ","))
	}
	for _, k := range append(slices.Clone(s.Kinds), s.Int8Kinds...) {
		if !slices.Contains(StashKinds, k) {
			return fmt.Errorf("stash kind %q: want one of %s", k, strings.Join(StashKinds, ", "))
		}
	}
	for _, k := range s.Int8Kinds {
		if len(s.Kinds) > 0 && !slices.Contains(s.Kinds, k) {
			return fmt.Errorf("8-bit stash kind %q is not among the stash kinds %s", k, strings.Join(s.Kinds, ","))
		}
	}
	return nil
}

// dtypeOf is the stash type of an activation of the given kind whose last
// axis is cols long (-1 when unknown; 1 for a scalar).
func (s StashSpec) dtypeOf(kind string, cols int) string {
	if (s.DType == StashInt8 || slices.Contains(s.Int8Kinds, kind)) && (cols < 0 || cols >= int8MinRow) {
		return StashInt8
	}
	return StashBF16
}

// StashDecision is one activation the stash pass narrowed.
type StashDecision struct {
	Value string `json:"value"`
	Kind  string `json:"kind"`
	DType string `json:"dtype"` // StashBF16 or StashInt8
	Elems int    `json:"elems"` // elements (0 when the shape is not static)
	// Bytes is what the stash keeps (codes and scales; 0 when the shape
	// is not static), against 4·Elems in float32.
	Bytes int64 `json:"bytes"`
}

// Stash keeps the chosen forward activations that backward reads in
// bfloat16 or 8-bit rows: for each one it adds a narrowing node right after
// the producer (Cast to bf16, or QuantizeRows) and a widening one right
// before the first backward reader (Cast to f32, or DequantizeRows), and
// points every backward reader at the widened copy. Forward readers still
// get the float32 tensor, which therefore dies at its last forward use;
// only the narrow copy lives across the step. The forward results are
// unchanged. Backward reads each bf16 value rounded to 8 significant bits
// (relative error at most 2^-9), and each 8-bit one to within max|row|/254
// of its row's largest magnitude; the weight gradients, sums over many
// such products, carry that on as a relative error of the same order or
// below (passes/stash_test.go bounds both).
func Stash(g *ir.Graph, spec StashSpec) ([]StashDecision, error) {
	if err := spec.Check(); err != nil {
		return nil, err
	}
	fe := memplan.ForwardEnd(g)
	if !spec.Enabled() || fe < 0 {
		return nil, nil
	}
	want := map[string]bool{}
	for _, k := range spec.Kinds {
		want[k] = true
	}
	pos, outputs := nodePositions(g), outputSet(g)
	readers := g.Consumers()
	after := map[*ir.Node][]*ir.Node{}  // producer → its narrowing casts
	before := map[*ir.Node][]*ir.Node{} // first backward reader → widening casts
	var out []StashDecision
	for _, n := range g.Nodes[:fe] {
		for j, v := range n.Outputs {
			if v == nil || v.DType != ir.Float32 || outputs[v] {
				continue
			}
			var back []*ir.Node
			for _, r := range readers[v] {
				if pos[r] >= fe {
					back = append(back, r)
				}
			}
			kind := stashKind(n, j, readers[v])
			if len(back) == 0 || kind == "" || len(want) > 0 && !want[kind] {
				continue
			}
			dims, static := v.Shape.Ints()
			static = static && v.HasShape
			cols := -1
			switch {
			case static && len(dims) == 0:
				cols = 1
			case static:
				cols = dims[len(dims)-1]
			}
			dt := spec.dtypeOf(kind, cols)
			narrow, widen, err := stashPair(g, v, dt)
			if err != nil {
				return nil, err
			}
			slices.SortFunc(back, func(a, b *ir.Node) int { return pos[a] - pos[b] })
			for _, r := range back {
				for k, in := range r.Inputs {
					if in == v {
						r.Inputs[k] = widen.Outputs[0]
					}
				}
			}
			after[n] = append(after[n], narrow)
			before[back[0]] = append(before[back[0]], widen)
			d := StashDecision{Value: v.Name, Kind: kind, DType: dt}
			if static {
				d.Elems = ir.NumElements(dims)
				for _, o := range narrow.Outputs {
					d.Bytes += o.DType.StorageBytes(ir.NumElements(mustInts(o.Shape)))
				}
			}
			out = append(out, d)
		}
	}
	// Place the casts: AddNode appended them; rebuild the order once.
	nodes := make([]*ir.Node, 0, len(g.Nodes))
	for _, n := range g.Nodes[:len(g.Nodes)-2*len(out)] {
		nodes = append(nodes, before[n]...)
		nodes = append(nodes, n)
		nodes = append(nodes, after[n]...)
	}
	g.Nodes = nodes
	return out, g.Verify()
}

// stashPair makes the nodes that narrow v to the stash type dt and widen
// it back to float32 for backward.
func stashPair(g *ir.Graph, v *ir.Value, dt string) (narrow, widen *ir.Node, err error) {
	switch dt {
	case StashInt8:
		narrow = g.AddNode("QuantizeRows", "stash/"+v.Name+"/to_i8", []*ir.Value{v}, 2, nil)
		narrow.Domain = CrscDomain
		widen = g.AddNode("DequantizeRows", ir.BackwardPrefix+"stash/"+v.Name+"/from_i8", narrow.Outputs, 1, nil)
		widen.Domain = CrscDomain
	default:
		narrow = g.AddNode("Cast", "stash/"+v.Name+"/to_bf16", []*ir.Value{v}, 1, ir.Attrs{"to": ir.IntAttr(ir.DTypeToONNX(ir.BFloat16))})
		widen = g.AddNode("Cast", ir.BackwardPrefix+"stash/"+v.Name+"/to_f32", []*ir.Value{narrow.Outputs[0]}, 1, ir.Attrs{"to": ir.IntAttr(ir.DTypeToONNX(ir.Float32))})
	}
	for _, c := range []*ir.Node{narrow, widen} {
		if err := ir.InferNode(c); err != nil {
			return nil, nil, fmt.Errorf("stash of %q: %v", v.Name, err)
		}
	}
	return narrow, widen, nil
}

// mustInts is the dims of a shape inference made static from a static
// input.
func mustInts(s ir.Shape) []int {
	dims, _ := s.Ints()
	return dims
}

// stashKind classifies output j of forward node n (read by readers) as one
// of StashKinds, or "" when it is none of them.
func stashKind(n *ir.Node, j int, readers []*ir.Node) string {
	switch {
	case n.Op == "Softmax" && (n.Domain == "" || n.Domain == "ai.onnx"):
		return "softmax"
	case j == 0 && (n.Op == "LayerNormalization" || n.Op == "RMSNormalization"):
		return "norm"
	case j == 0 && n.Op == "SampleRows" && n.Domain == CrscDomain:
		return "sampled"
	}
	for _, r := range readers {
		switch {
		case r.Op == "Gelu":
			return "gelu"
		case isActivationProduct(r):
			return "attention"
		}
	}
	return ""
}

// isActivationProduct reports whether n is a MatMul of two activations
// (attention's QKᵀ and P·V), not a linear layer (one side a weight,
// perhaps transposed or reshaped).
func isActivationProduct(n *ir.Node) bool {
	if n.Op != "MatMul" || n.Domain != "" || len(n.Inputs) != 2 {
		return false
	}
	for _, in := range n.Inputs {
		if in == nil || fromConstant(in) {
			return false
		}
	}
	return true
}

// fromConstant reports whether v is an initializer or a view or
// transpose of one.
func fromConstant(v *ir.Value) bool {
	for v != nil {
		if v.IsConst() {
			return true
		}
		p := v.Producer
		if p == nil || !(isView(p) || p.Op == "Transpose" && p.Domain == "") {
			return false
		}
		v = p.In(0)
	}
	return false
}

// nodePositions maps each node to its index in g.Nodes.
func nodePositions(g *ir.Graph) map[*ir.Node]int {
	pos := make(map[*ir.Node]int, len(g.Nodes))
	for i, n := range g.Nodes {
		pos[n] = i
	}
	return pos
}

// outputSet is g's outputs as a set: values that live to the end of the
// step whatever a pass does, so narrowing or recomputing them saves nothing.
func outputSet(g *ir.Graph) map[*ir.Value]bool {
	outputs := map[*ir.Value]bool{}
	for _, v := range g.Outputs {
		outputs[v] = true
	}
	return outputs
}
