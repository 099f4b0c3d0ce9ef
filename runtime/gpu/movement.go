package gpu

import (
	_ "embed"

	"crsc/ir"
)

//go:embed kernels/movement.cu
var movementCU string

var movementSrc = newSource("movement", movementCU)

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
	cd, cs := collapse(dims, strides)
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
	r := len(x.Shape)
	perm := n.Attrs.Ints("perm")
	if perm == nil {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	if len(perm) != r {
		return nil, errFallback
	}
	p, ok := normAxes(perm, r)
	if !ok {
		return nil, errFallback
	}
	dims, strides := transposed(x.Shape, p)
	return c.stridedOut(x, 0, dims, strides)
}

// transposed returns the dims of x's shape permuted by perm and the
// strides that read x in that order.
func transposed(shape []int, perm []int) (dims, strides []int) {
	st := contiguousStrides(shape)
	dims, strides = make([]int, len(perm)), make([]int, len(perm))
	for i, p := range perm {
		dims[i], strides[i] = shape[p], st[p]
	}
	return dims, strides
}

// expandKernel broadcasts input and shape bidirectionally.
func expandKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 2) || len(ins[1].Shape) > 1 {
		return nil, errFallback
	}
	x := ins[0]
	sv, ok, err := c.ints(ins[1])
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	target, ok := dims(sv)
	if !ok {
		return nil, errFallback
	}
	shape, ok := broadcastShape(x.Shape, target)
	if !ok {
		return nil, errFallback
	}
	return c.stridedOut(x, 0, shape, alignedStrides(x.Shape, len(shape)))
}

// dims converts int64 dims to ints, refusing negative and absurd ones as
// the CPU does.
func dims(v []int64) ([]int, bool) {
	out := make([]int, len(v))
	total := int64(1)
	for i, d := range v {
		if d < 0 || (d > 0 && total > (1<<31)/d) {
			return nil, false
		}
		total *= d
		out[i] = int(d)
	}
	return out, true
}

// tileKernel views the output as [r0, d0, r1, d1, …] reading x with stride
// 0 along each repeat dim.
func tileKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 2) || len(ins[1].Shape) > 1 {
		return nil, errFallback
	}
	x := ins[0]
	reps, ok, err := c.ints(ins[1])
	if err != nil || !ok || len(reps) != len(x.Shape) {
		return nil, orFallback(err)
	}
	rv, ok := dims(reps)
	if !ok {
		return nil, errFallback
	}
	st := contiguousStrides(x.Shape)
	shape := make([]int, len(x.Shape))
	var ds, strides []int
	for i, d := range x.Shape {
		shape[i] = d * rv[i]
		ds = append(ds, rv[i], d)
		strides = append(strides, 0, st[i])
	}
	if sizeSuffix(x.DType) == "" {
		return nil, errFallback
	}
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
	r := len(x.Shape)
	get := func(i int, attr string) ([]int64, bool, error) {
		if t := input(ins, i); t != nil {
			return c.ints(t)
		}
		return n.Attrs.Ints(attr), true, nil
	}
	var lists [4][]int64
	for i, attr := range []string{"starts", "ends", "axes", "steps"} {
		v, ok, err := get(i+1, attr)
		if err != nil || !ok {
			return nil, orFallback(err)
		}
		lists[i] = v
	}
	starts, ends, axes, steps := lists[0], lists[1], lists[2], lists[3]
	if len(starts) != len(ends) {
		return nil, errFallback
	}
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if steps == nil {
		for range starts {
			steps = append(steps, 1)
		}
	}
	if len(axes) != len(starts) || len(steps) != len(starts) {
		return nil, errFallback
	}
	ax, ok := normAxes(axes, r)
	if !ok {
		return nil, errFallback
	}
	st := contiguousStrides(x.Shape)
	ds := append([]int{}, x.Shape...)
	strides := append([]int{}, st...)
	base := 0
	for i, a := range ax {
		if steps[i] == 0 {
			return nil, errFallback
		}
		first, cnt := clampSlice(int64(x.Shape[a]), starts[i], ends[i], steps[i])
		ds[a] = int(cnt)
		strides[a] = st[a] * int(steps[i])
		if cnt > 0 {
			base += int(first) * st[a]
		}
	}
	return c.stridedOut(x, base, ds, strides)
}

// clampSlice applies ONNX Slice's rules to one axis of length d (see
// runtime/cpu): it returns the first index and the element count.
func clampSlice(d, start, end, step int64) (first, count int64) {
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	if step > 0 {
		start, end = min(max(start, 0), d), min(max(end, 0), d)
		if end > start {
			count = (end - start + step - 1) / step
		}
		return start, count
	}
	start, end = min(max(start, -1), d-1), min(max(end, -1), d-1)
	if start > end {
		count = (start - end - step - 1) / -step
	}
	return start, count
}

// concatKernel copies each input's rows into its column range of the
// output viewed as [outer, shape[axis]·inner].
func concatKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if len(ins) == 0 || !present(ins, len(ins)) || sizeSuffix(ins[0].DType) == "" {
		return nil, errFallback
	}
	first := ins[0]
	axis, ok := normAxis(n.Attrs.Int("axis", 0), len(first.Shape))
	if !ok {
		return nil, errFallback
	}
	shape := append([]int{}, first.Shape...)
	shape[axis] = 0
	for _, t := range ins {
		if t.DType != first.DType || len(t.Shape) != len(first.Shape) {
			return nil, errFallback
		}
		for i, d := range t.Shape {
			if i != axis && d != first.Shape[i] {
				return nil, errFallback
			}
		}
		shape[axis] += t.Shape[axis]
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
	axis, ok := normAxis(n.Attrs.Int("axis", 0), len(x.Shape))
	if !ok {
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
		k := int(n.Attrs.Int("num_outputs", int64(len(n.Outputs))))
		if k <= 0 {
			return nil, errFallback
		}
		chunk := (dim + k - 1) / k
		for left := dim; len(sizes) < k; left -= chunk {
			sizes = append(sizes, int64(max(min(chunk, left), 0)))
		}
	}
	total := int64(0)
	for _, s := range sizes {
		if s < 0 {
			return nil, errFallback
		}
		total += s
	}
	if total != int64(dim) {
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
	axis, ok := normAxis(n.Attrs.Int("axis", 0), len(x.Shape))
	if !ok {
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
		for _, v := range idx.Int64s() {
			if v < -int64(dim) || v >= int64(dim) {
				return nil, errFallback
			}
		}
	}
	shape := append(append(append([]int{}, x.Shape[:axis]...), idx.Shape...), x.Shape[axis+1:]...)
	y, err := c.out(x.DType, shape)
	if err != nil {
		return nil, err
	}
	inner := ir.NumElements(x.Shape[axis+1:])
	if y.Len() == 0 {
		return []*ir.Tensor{y}, nil
	}
	xd, err := c.device(x)
	if err != nil {
		return nil, err
	}
	id, err := c.device(idx)
	if err != nil {
		return nil, err
	}
	if err := c.launch(movementSrc, name, y.Len(), c.ptr(y), c.ptr(xd), c.ptr(id),
		int64(idx.Len()), int64(inner), int64(dim), int64(y.Len())); err != nil {
		c.b.mem.release(y)
		return nil, err
	}
	return []*ir.Tensor{y}, nil
}
