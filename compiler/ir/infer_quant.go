package ir

import "fmt"

// quantInferRules are the shape rules of the 8-bit stash ops (domain
// ai.crsc; runtime/cpu's quantKernels has their contract).
func quantInferRules() map[string]InferFunc {
	return map[string]InferFunc{
		"ai.crsc.QuantizeRows":   inferQuantizeRows,
		"ai.crsc.DequantizeRows": inferDequantizeRows,
	}
}

// inferQuantizeRows: QuantizeRows(X float32 [..., C]) → (codes Int8Rows
// [..., C], scale float32 [..., 1]), one scale per row of the last axis.
func inferQuantizeRows(n *Node) error {
	x := n.In(0)
	if x == nil {
		return fmt.Errorf("QuantizeRows needs input X")
	}
	if x.DType != Float32 {
		return fmt.Errorf("QuantizeRows of %v: want f32", x.DType)
	}
	if err := setFromInput(n, 0, Int8Rows); err != nil {
		return err
	}
	if len(n.Outputs) < 2 || n.Outputs[1] == nil {
		return fmt.Errorf("QuantizeRows needs its scale output")
	}
	n.Outputs[1].DType = Float32
	if x.HasShape {
		if len(x.Shape) == 0 {
			return fmt.Errorf("QuantizeRows of a scalar: want at least one axis")
		}
		scale := x.Shape.Clone()
		scale[len(scale)-1] = Fixed(1)
		n.Outputs[1].SetType(Float32, scale)
	}
	return nil
}

// inferDequantizeRows: DequantizeRows(codes Int8Rows [..., C], scale
// float32 [..., 1]) → float32 [..., C].
func inferDequantizeRows(n *Node) error {
	codes, scale := n.In(0), n.In(1)
	if codes == nil || scale == nil {
		return fmt.Errorf("DequantizeRows needs codes and scale")
	}
	if codes.DType != Int8Rows || scale.DType != Float32 {
		return fmt.Errorf("DequantizeRows of %v and %v: want i8rows and f32", codes.DType, scale.DType)
	}
	return setFromInput(n, 0, Float32)
}
