package cpu

import "crsc/compiler/ir"

// dataInput returns input 0, which the node requires, once its storage is
// checked against its shape: the start of most one-input kernels.
func dataInput(n *ir.Node, ins []*ir.Tensor) (*ir.Tensor, error) {
	if err := required(n, ins, 1); err != nil {
		return nil, err
	}
	if err := checkData(n, ins[0]); err != nil {
		return nil, err
	}
	return ins[0], nil
}
