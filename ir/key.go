package ir

// Key is the node's op as kernels, gradient rules and reports name it:
// Op in the default ONNX domain ("" or "ai.onnx"), else domain.Op
// (ai.crsc.LayerNormalizationGrad).
func (n *Node) Key() string {
	if n.Domain == "" || n.Domain == "ai.onnx" {
		return n.Op
	}
	return n.Domain + "." + n.Op
}
