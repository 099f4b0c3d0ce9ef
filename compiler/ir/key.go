package ir

import "strings"

// Key is the node's op as kernels, gradient rules and reports name it:
// Op in the default ONNX domain ("" or "ai.onnx"), else domain.Op
// (ai.crsc.LayerNormalizationGrad).
func (n *Node) Key() string {
	if n.Domain == "" || n.Domain == "ai.onnx" {
		return n.Op
	}
	return n.Domain + "." + n.Op
}

// BackwardPrefix starts the name of every node a training graph's backward
// half holds (the autodiff pass and the passes after it name theirs so):
// the phase travels with the name through an ONNX file, so a
// training_model.onnx that compile wrote plans like the graph it came from.
const BackwardPrefix = "grad/"

// IsBackward reports whether n is in a training graph's backward half.
func (n *Node) IsBackward() bool { return strings.HasPrefix(n.Name, BackwardPrefix) }

// JoinNames lists values by name, comma-separated, for messages.
func JoinNames(vs []*Value) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
	}
	return strings.Join(names, ", ")
}
