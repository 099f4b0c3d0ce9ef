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

// reshapeKernel: 0 copies the input dim (unless allowzero=1), one -1 is
// inferred.
func reshapeKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 2) || len(ins[1].Shape) > 1 {
		return nil, errFallback
	}
	x := ins[0]
	spec, ok, err := c.ints(ins[1])
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	shape, err := shapes.Reshape(x.Shape, spec, n.Attrs.Int("allowzero", 0) == 1)
	if err != nil {
		return nil, errFallback
	}
	return c.viewOut(x, shape)
}

// orFallback turns "no error" into errFallback (a control input the GPU
// code cannot read: let the CPU kernel explain).
func orFallback(err error) error {
	if err != nil {
		return err
	}
	return errFallback
}

func flattenKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 1) {
		return nil, errFallback
	}
	x := ins[0]
	shape, err := shapes.Flatten(x.Shape, n.Attrs.Int("axis", 1))
	if err != nil {
		return nil, errFallback
	}
	return c.viewOut(x, shape)
}

// squeezeKernel takes axes from input 1 or the attribute; none drops every
// unit dim.
func squeezeKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 1) {
		return nil, errFallback
	}
	x := ins[0]
	axes, given, ok, err := c.axesOf(n, ins, 1)
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	shape, err := shapes.Squeeze(x.Shape, axes, given)
	if err != nil {
		return nil, errFallback
	}
	return c.viewOut(x, shape)
}

// unsqueezeKernel: axes refer to the output rank.
func unsqueezeKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 1) {
		return nil, errFallback
	}
	x := ins[0]
	axes, given, ok, err := c.axesOf(n, ins, 1)
	if err != nil || !ok || !given {
		return nil, orFallback(err)
	}
	shape, err := shapes.Unsqueeze(x.Shape, axes)
	if err != nil {
		return nil, errFallback
	}
	return c.viewOut(x, shape)
}
