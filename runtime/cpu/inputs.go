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

// checkedInputs requires the first k inputs and checks every present
// input's storage against its shape.
func checkedInputs(n *ir.Node, ins []*ir.Tensor, k int) error {
	if err := required(n, ins, k); err != nil {
		return err
	}
	return checkInputs(n, ins)
}
