package gpu

import "crsc/ir"

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
	allowZero := n.Attrs.Int("allowzero", 0) == 1
	shape := make([]int, len(spec))
	infer, known := -1, 1
	for i, d := range spec {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, errFallback
			}
			infer = i
			continue
		case d == 0 && !allowZero:
			if i >= len(x.Shape) {
				return nil, errFallback
			}
			shape[i] = x.Shape[i]
		case d < 0:
			return nil, errFallback
		default:
			shape[i] = int(d)
		}
		known *= shape[i]
	}
	total := x.Len()
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, errFallback
		}
		shape[infer] = total / known
	} else if known != total {
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
	r := int64(len(x.Shape))
	axis := n.Attrs.Int("axis", 1)
	if axis < -r || axis > r {
		return nil, errFallback
	}
	if axis < 0 {
		axis += r
	}
	return c.viewOut(x, []int{ir.NumElements(x.Shape[:axis]), ir.NumElements(x.Shape[axis:])})
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
	drop := make([]bool, len(x.Shape))
	if given {
		ax, ok := normAxes(axes, len(x.Shape))
		if !ok {
			return nil, errFallback
		}
		for _, a := range ax {
			if x.Shape[a] != 1 {
				return nil, errFallback
			}
			drop[a] = true
		}
	} else {
		for i, d := range x.Shape {
			drop[i] = d == 1
		}
	}
	shape := []int{}
	for i, d := range x.Shape {
		if !drop[i] {
			shape = append(shape, d)
		}
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
	r := len(x.Shape) + len(axes)
	ax, ok := normAxes(axes, r)
	if !ok {
		return nil, errFallback
	}
	insert := make([]bool, r)
	for _, a := range ax {
		insert[a] = true
	}
	shape := make([]int, r)
	j := 0
	for i := range shape {
		if insert[i] {
			shape[i] = 1
		} else {
			shape[i] = x.Shape[j]
			j++
		}
	}
	return c.viewOut(x, shape)
}
