package gpu

import (
	"crsc/compiler/ir"
	"crsc/runtime/shapes"
)

var movementSrc = newSource("movement.cu", "offset.cuh")

// stridedCopy fills the contiguous device tensor y from x read at base
// plus the given per-dim element strides over dims (Transpose, Slice,
// Expand, Tile).
func (c *ctx) stridedCopy(y, x *ir.Tensor, base int, dims, strides []int) error {
	total := ir.NumElements(dims)
	if total == 0 {
		return nil
	}
	x, err := c.device(x)
	if err != nil {
		return err
	}
	cd, cs := shapes.Collapse(dims, strides)
	m, err := c.meta(layoutMeta(cd, cs)...)
	if err != nil {
		return err
	}
	return c.launch(movementSrc, "strided_"+sizeSuffix(y.DType), total,
		c.ptr(y), c.ptr(x), m, int64(base), int64(total))
}

// stridedOut is stridedCopy into a new output of shape dims.
func (c *ctx) stridedOut(x *ir.Tensor, base int, dims, strides []int) ([]*ir.Tensor, error) {
	if sizeSuffix(x.DType) == "" {
		return nil, errFallback
	}
	y, err := c.out(x.DType, dims)
	if err != nil {
		return nil, err
	}
	if err := c.stridedCopy(y, x, base, dims, strides); err != nil {
		c.b.mem.release(y)
		return nil, err
	}
	return []*ir.Tensor{y}, nil
}

// blockCopy copies rows×blk elements: y[o·ys + yo + j] = x[o·xs + xo + j].
func (c *ctx) blockCopy(y, x *ir.Tensor, rows, blk, ys, yo, xs, xo int) error {
	return c.launch(movementSrc, "block_"+sizeSuffix(y.DType), rows*blk,
		c.ptr(y), c.ptr(x), int64(rows), int64(blk), int64(ys), int64(yo), int64(xs), int64(xo))
}

// ---- copies

// transposeKernel: perm defaults to reversing the dims.
func transposeKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 1) {
		return nil, errFallback
	}
	x := ins[0]
	p, err := shapes.Perm(n.Attrs.Ints("perm"), len(x.Shape))
	if err != nil {
		return nil, errFallback
	}
	dims, strides := shapes.Transpose(x.Shape, p)
	return c.stridedOut(x, 0, dims, strides)
}

// expandKernel broadcasts input and shape bidirectionally.
func expandKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 2) || len(ins[1].Shape) > 1 {
		return nil, errFallback
	}
	x := ins[0]
	target, err := c.dims(ins[1])
	if err != nil {
		return nil, err
	}
	shape, err := shapes.Broadcast(x.Shape, target)
	if err != nil {
		return nil, errFallback
	}
	return c.stridedOut(x, 0, shape, shapes.AlignedStrides(x.Shape, len(shape)))
}

// tileKernel views the output as [r0, d0, r1, d1, …] reading x with stride
// 0 along each repeat dim.
func tileKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 2) || len(ins[1].Shape) > 1 {
		return nil, errFallback
	}
	x := ins[0]
	rv, err := c.dims(ins[1])
	if err != nil {
		return nil, err
	}
	if len(rv) != len(x.Shape) || sizeSuffix(x.DType) == "" {
		return nil, errFallback
	}
	shape, ds, strides := shapes.Tile(x.Shape, rv)
	y, err := c.out(x.DType, shape)
	if err != nil {
		return nil, err
	}
	if err := c.stridedCopy(y, x, 0, ds, strides); err != nil {
		c.b.mem.release(y)
		return nil, err
	}
	return []*ir.Tensor{y}, nil
}

// sliceKernel: opset-10 inputs (starts, ends, axes, steps) or opset-1
// attributes; bounds clamped as ONNX specifies, negative steps included.
func sliceKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 1) {
		return nil, errFallback
	}
	x := ins[0]
	lists, ok, err := sliceLists(n, ins, 1, c.ints)
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	ds, strides, base, err := shapes.Slice(x.Shape, lists[0], lists[1], lists[2], lists[3])
	if err != nil {
		return nil, errFallback
	}
	return c.stridedOut(x, base, ds, strides)
}

// sliceLists reads Slice's starts, ends, axes and steps from inputs
// first.. first+3 (opset 10) with read, or the attributes of those names
// (opset 1); ok is false when read refuses an input.
func sliceLists(n *ir.Node, ins []*ir.Tensor, first int, read func(*ir.Tensor) ([]int64, bool, error)) (lists [4][]int64, ok bool, err error) {
	for i, attr := range []string{"starts", "ends", "axes", "steps"} {
		if t := input(ins, first+i); t != nil {
			if lists[i], ok, err = read(t); err != nil || !ok {
				return lists, ok, err
			}
		} else {
			lists[i] = n.Attrs.Ints(attr)
		}
	}
	return lists, true, nil
}

// concatKernel copies each input's rows into its column range of the
// output viewed as [outer, shape[axis]·inner].
func concatKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if len(ins) == 0 || !present(ins, len(ins)) || sizeSuffix(ins[0].DType) == "" {
		return nil, errFallback
	}
	first := ins[0]
	axis, err := shapes.Axis(n.Attrs.Int("axis", 0), len(first.Shape))
	if err != nil {
		return nil, errFallback
	}
	shape, bad := shapes.Concat(shapesOf(ins), axis)
	if bad >= 0 {
		return nil, errFallback
	}
	for _, t := range ins {
		if t.DType != first.DType {
			return nil, errFallback
		}
	}
	y, err := c.out(first.DType, shape)
	if err != nil {
		return nil, err
	}
	outer := ir.NumElements(shape[:axis])
	inner := ir.NumElements(shape[axis+1:])
	rowOut := shape[axis] * inner
	off := 0
	for _, t := range ins {
		blk := t.Shape[axis] * inner
		if blk > 0 && outer > 0 {
			d, err := c.device(t)
			if err == nil {
				err = c.blockCopy(y, d, outer, blk, rowOut, off, blk, 0)
			}
			if err != nil {
				c.b.mem.release(y)
				return nil, err
			}
		}
		off += blk
	}
	return []*ir.Tensor{y}, nil
}

// splitKernel: sizes from input 1, the split attribute, or an even split
// into num_outputs (or the node's output count), the last chunk smaller.
func splitKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 1) || sizeSuffix(ins[0].DType) == "" {
		return nil, errFallback
	}
	x := ins[0]
	axis, err := shapes.Axis(n.Attrs.Int("axis", 0), len(x.Shape))
	if err != nil {
		return nil, errFallback
	}
	dim := x.Shape[axis]
	var sizes []int64
	switch {
	case input(ins, 1) != nil:
		v, ok, err := c.ints(ins[1])
		if err != nil || !ok {
			return nil, orFallback(err)
		}
		sizes = v
	case n.Attrs.Has("split"):
		sizes = n.Attrs.Ints("split")
	default:
		if sizes, err = shapes.EvenSplit(dim, int(n.Attrs.Int("num_outputs", int64(len(n.Outputs))))); err != nil {
			return nil, errFallback
		}
	}
	if shapes.CheckSplit(sizes, dim) != nil {
		return nil, errFallback
	}
	xd, err := c.device(x)
	if err != nil {
		return nil, err
	}
	outer := ir.NumElements(x.Shape[:axis])
	inner := ir.NumElements(x.Shape[axis+1:])
	outs := make([]*ir.Tensor, len(sizes))
	fail := func(err error) ([]*ir.Tensor, error) {
		c.b.releaseAll(outs)
		return nil, err
	}
	off := 0
	for i, s := range sizes {
		shape := append([]int{}, x.Shape...)
		shape[axis] = int(s)
		y, err := c.out(x.DType, shape)
		if err != nil {
			return fail(err)
		}
		outs[i] = y
		blk := int(s) * inner
		if blk > 0 && outer > 0 {
			if err := c.blockCopy(y, xd, outer, blk, blk, 0, dim*inner, off); err != nil {
				return fail(err)
			}
		}
		off += blk
	}
	return outs, nil
}

// gatherKernel: output data.shape[:axis] + indices.shape +
// data.shape[axis+1:]; negative indices count from the end. Host indices
// are range-checked here (out of range falls back, so the CPU reports it);
// device indices are not, and an out-of-range one yields zeros.
func gatherKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 2) || len(ins[0].Shape) == 0 || sizeSuffix(ins[0].DType) == "" {
		return nil, errFallback
	}
	x, idx := ins[0], ins[1]
	axis, err := shapes.Axis(n.Attrs.Int("axis", 0), len(x.Shape))
	if err != nil {
		return nil, errFallback
	}
	var name string
	switch idx.DType.Storage() {
	case ir.Int64:
		name = "gather_" + sizeSuffix(x.DType) + "_i64"
	case ir.Int32:
		name = "gather_" + sizeSuffix(x.DType) + "_i32"
	default:
		return nil, errFallback
	}
	dim := x.Shape[axis]
	if idx.Device == nil {
		if idx.CheckData() != nil {
			return nil, errFallback
		}
		if _, err := shapes.Indices(idx.Int64s(), axis, dim); err != nil {
			return nil, errFallback
		}
	}
	y, err := c.out(x.DType, shapes.Gather(x.Shape, idx.Shape, axis))
	if err != nil {
		return nil, err
	}
	inner := ir.NumElements(x.Shape[axis+1:])
	if y.Len() == 0 {
		return []*ir.Tensor{y}, nil
	}
	if err := nnOnDevice(c, &x, &idx); err != nil {
		return nil, err
	}
	if err := c.launch(movementSrc, name, y.Len(), c.ptr(y), c.ptr(x), c.ptr(idx),
		int64(idx.Len()), int64(inner), int64(dim), int64(y.Len())); err != nil {
		c.b.mem.release(y)
		return nil, err
	}
	return []*ir.Tensor{y}, nil
}
