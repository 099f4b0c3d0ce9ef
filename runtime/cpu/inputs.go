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

// allInputs requires at least one input and every input, and checks them:
// the start of the variadic kernels (Sum/Max/Min, Concat).
func allInputs(n *ir.Node, ins []*ir.Tensor) error {
	if len(ins) == 0 {
		return errf(n, "needs at least one input")
	}
	return checkedInputs(n, ins, len(ins))
}

// intsOrAttr returns int64 input i when present, else the ints attribute
// attr (opset-1 forms of Slice-like ops).
func intsOrAttr(n *ir.Node, ins []*ir.Tensor, i int, attr string) ([]int64, error) {
	if t := in(ins, i); t != nil {
		return intsInput(n, t, attr)
	}
	return n.Attrs.Ints(attr), nil
}
