package gpu

import (
	"crsc/compiler/ir"
	"crsc/runtime/shapes"
)

// The view ops (Identity, Reshape, Flatten, Squeeze, Unsqueeze) cost no
// copy: the output shares the input's reference-counted block (memplan
// plans them as views too), and only the shape is computed here.

func identityKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 1) {
		return nil, errFallback
	}
	return c.viewOut(ins[0], ins[0].Shape)
}

func (c *ctx) viewOut(x *ir.Tensor, shape []int) ([]*ir.Tensor, error) {
	v, err := c.view(x, shape)
	if err != nil {
		return nil, err
	}
	return []*ir.Tensor{v}, nil
}

// viewKernel makes the kernel of a view op: the first inputs inputs must be
// present, and newShape works out the output shape (errFallback where the
// CPU kernel should take the node, or explain why it is wrong).
func viewKernel(inputs int, newShape func(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]int, error)) kernel {
	return func(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		if !present(ins, inputs) {
			return nil, errFallback
		}
		shape, err := newShape(c, n, ins)
		if err != nil {
			return nil, err
		}
		return c.viewOut(ins[0], shape)
	}
}

// shaped passes on a runtime/shapes result, its error as errFallback: the
// CPU kernel words it, naming the node.
func shaped(shape []int, err error) ([]int, error) {
	if err != nil {
		return nil, errFallback
	}
	return shape, nil
}

// reshapeKernel: 0 copies the input dim (unless allowzero=1), one -1 is
// inferred.
var reshapeKernel = viewKernel(2, func(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]int, error) {
	if len(ins[1].Shape) > 1 {
		return nil, errFallback
	}
	spec, ok, err := c.ints(ins[1])
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	return shaped(shapes.Reshape(ins[0].Shape, spec, n.Attrs.Int("allowzero", 0) == 1))
})

// orFallback turns "no error" into errFallback (a control input the GPU
// code cannot read: let the CPU kernel explain).
func orFallback(err error) error {
	if err != nil {
		return err
	}
	return errFallback
}

var flattenKernel = viewKernel(1, func(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]int, error) {
	return shaped(shapes.Flatten(ins[0].Shape, n.Attrs.Int("axis", 1)))
})

// squeezeKernel takes axes from input 1 or the attribute; none drops every
// unit dim.
var squeezeKernel = viewKernel(1, func(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]int, error) {
	axes, given, ok, err := c.axesOf(n, ins, 1)
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	return shaped(shapes.Squeeze(ins[0].Shape, axes, given))
})

// unsqueezeKernel: axes refer to the output rank.
var unsqueezeKernel = viewKernel(1, func(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]int, error) {
	axes, given, ok, err := c.axesOf(n, ins, 1)
	if err != nil || !ok || !given {
		return nil, orFallback(err)
	}
	return shaped(shapes.Unsqueeze(ins[0].Shape, axes))
})
