package gpu

import (
	"slices"

	"crsc/compiler/ir"
	"crsc/runtime/cuda"
	"crsc/runtime/shapes"
)

// The gradient helpers of runtime/cpu/grad.go that run on the GPU: SumTo
// and GatherGrad (SoftmaxCrossEntropyLossGrad, LayerNormalizationGrad,
// DropoutGrad and GeluGrad live with their forwards). Both sum in float64
// in the CPU's order, one thread per output element, so they match the
// CPU bit for bit.

var gradSrc = newSource("grad.cu")

// nnHostInts reads an integer control tensor (a shape, indices) on the host
// as int64s; ok is false for other dtypes or a tensor with rank > maxRank
// (maxRank < 0: any), where the CPU fails.
func nnHostInts(c *ctx, t *ir.Tensor, maxRank int) ([]int64, bool, error) {
	if t == nil || t.Abstract || (maxRank >= 0 && len(t.Shape) > maxRank) {
		return nil, false, nil
	}
	return c.ints(t)
}

// nnTargetShape is runtime/cpu gradTargetShape: a 1-D shape input of
// non-negative dims.
func nnTargetShape(c *ctx, t *ir.Tensor) ([]int, bool, error) {
	v, ok, err := nnHostInts(c, t, 1)
	if err != nil || !ok {
		return nil, false, err
	}
	out, err := shapes.Dims(v)
	return out, err == nil, nil
}

// nnSumToMaxRank is the most dims sum_to_f32 takes after merging.
const nnSumToMaxRank = 6

// SumTo splits the reduction into chunks of at least nnSumToChunkLen
// elements, at most nnSumToMaxChunks of them, when it has fewer than
// nnSumToWideOut outputs (below that, one thread per output leaves most
// of a GPU idle).
const (
	nnSumToWideOut   = 16384
	nnSumToChunkLen  = 64
	nnSumToMaxChunks = 64
)

// nnSumTo is runtime/cpu sumToKernel for float32: SumTo(dY, shape) sums dY
// over the axes that broadcasting to its shape expanded.
func nnSumTo(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	x := input(ins, 0)
	if x == nil || !nnAllF32(x) {
		return nil, errFallback
	}
	to, ok, err := nnTargetShape(c, input(ins, 1))
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	// The reduced axes, as runtime/cpu finds them.
	axes, err := shapes.SumToAxes(x.Shape, to)
	if err != nil {
		return nil, errFallback
	}
	dims, red, nout, nred := sumToView(x.Shape, axes)
	if len(dims) > nnSumToMaxRank {
		return nil, errFallback
	}
	if err := nnOnDevice(c, &x); err != nil {
		return nil, err
	}
	out, err := c.out(ir.Float32, to)
	if err != nil {
		return nil, err
	}
	if nout == 0 {
		return []*ir.Tensor{out}, nil
	}
	// Few outputs over a long reduction: split it into chunks (see
	// sum_to_f32) so that enough threads run.
	chunks := 1
	if nout < nnSumToWideOut {
		chunks = min(max(nred/nnSumToChunkLen, 1), nnSumToMaxChunks)
	}
	var part *ir.Tensor
	if chunks > 1 {
		var free func()
		if part, free, err = c.scratch(ir.Float64, []int{chunks, nout}); err != nil {
			nnRelease(c, out)
			return nil, err
		}
		defer free()
	}
	args := []any{c.ptr(x), c.ptr(out), nnPtr(c, part), int64(nout), int64(nred), int64(chunks)}
	mask := int32(0)
	for a := 0; a < nnSumToMaxRank; a++ {
		d := int64(1)
		if a < len(dims) {
			d = dims[a]
			if red[a] {
				mask |= 1 << a
			}
		}
		args = append(args, d)
	}
	args = append(args, int32(len(dims)), mask)
	grid, block := cuda.Grid1D(nout, blockSize)
	grid.Y = uint32(chunks)
	err = c.launchGrid(gradSrc, "sum_to_f32", grid, block, 0, args...)
	if err == nil && chunks > 1 {
		err = c.launch(gradSrc, "sum_parts", nout, c.ptr(part), c.ptr(out), int64(nout), int64(chunks))
	}
	if err != nil {
		nnRelease(c, out)
		return nil, err
	}
	return []*ir.Tensor{out}, nil
}

// sumToView is the view of a tensor of shape from, summed over axes, as few
// dims as possible: size-1 dims dropped, neighbours of the same kind merged
// (row-major order, and so the order of the summands, is unchanged). red
// marks the summed dims; nout and nred count the outputs and the summands
// of each.
func sumToView(from, axes []int) (dims []int64, red []bool, nout, nred int) {
	isRed := make([]bool, len(from))
	for _, a := range axes {
		isRed[a] = true
	}
	nout, nred = 1, 1
	for i, f := range from {
		r := isRed[i]
		if r {
			nred *= f
		} else {
			nout *= f
		}
		if f == 1 {
			continue
		}
		if k := len(dims); k > 0 && red[k-1] == r {
			dims[k-1] *= int64(f)
			continue
		}
		dims = append(dims, int64(f))
		red = append(red, r)
	}
	return dims, red, nout, nred
}

// nnGatherGrad is runtime/cpu gatherGradKernel for float32:
// GatherGrad(dY, indices, shape; axis), the adjoint of Gather. The host
// inverts the index map (for each data row, the positions j that read it,
// ascending: the CPU's counting sort) and the device sums each output
// element's contributions in that order, in float64. This is a
// deterministic scatter-add without atomics whose sums equal the CPU's.
func nnGatherGrad(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	dy, idxT := input(ins, 0), input(ins, 1)
	if dy == nil || !nnAllF32(dy) {
		return nil, errFallback
	}
	shape, ok, err := nnTargetShape(c, input(ins, 2))
	if err != nil || !ok || len(shape) == 0 {
		return nil, orFallback(err)
	}
	axis, err := shapes.Axis(n.Attrs.Int("axis", 0), len(shape))
	if err != nil || idxT == nil || !slices.Equal(dy.Shape, shapes.Gather(shape, idxT.Shape, axis)) {
		return nil, errFallback
	}
	idx, ok, err := nnHostInts(c, idxT, -1)
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	dim := shape[axis]
	rows, err := shapes.Indices(idx, axis, dim)
	if err != nil {
		return nil, errFallback
	}
	start, order := shapes.InvertIndex(rows, dim)
	out, err := c.out(ir.Float32, shape)
	if err != nil {
		return nil, err
	}
	if out.Len() == 0 {
		return []*ir.Tensor{out}, nil
	}
	if err := nnOnDevice(c, &dy); err != nil {
		nnRelease(c, out)
		return nil, err
	}
	var frees nnFreeAll
	defer frees.run()
	startD, free, err := nnUpload(c, ir.FromInt64([]int{len(start)}, int64s(start)))
	if err == nil {
		frees.add(free)
		var orderD *ir.Tensor
		orderD, free, err = nnUpload(c, ir.FromInt64([]int{len(order)}, int64s(order)))
		if err == nil {
			frees.add(free)
			outer, inner := ir.NumElements(shape[:axis]), ir.NumElements(shape[axis+1:])
			err = c.launch(gradSrc, "gather_grad_f32", out.Len(), c.ptr(dy), c.ptr(startD), nnPtr(c, orderD),
				c.ptr(out), int64(outer), int64(dim), int64(len(idx)), int64(inner))
		}
	}
	if err != nil {
		nnRelease(c, out)
		return nil, err
	}
	return []*ir.Tensor{out}, nil
}

// nnSliceGrad is runtime/cpu sliceGradKernel: SliceGrad(dY, shape, starts,
// ends, axes?, steps?) (or those as attributes) writes dY into zeros of
// the given shape where Slice read it, with Slice's clamping (runtime/shapes
// Slice, shared with the GPU and CPU Slice). Any dtype: values are only moved.
func nnSliceGrad(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	dy := input(ins, 0)
	if dy == nil || dy.Abstract || sizeSuffix(dy.DType) == "" {
		return nil, errFallback
	}
	shape, ok, err := nnTargetShape(c, input(ins, 1))
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	lists, ok, err := sliceLists(n, ins, 2, func(t *ir.Tensor) ([]int64, bool, error) { return nnHostInts(c, t, -1) })
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	// The region Slice reads: its dims, strides and base.
	dims, strides, base, err := shapes.Slice(shape, lists[0], lists[1], lists[2], lists[3])
	if err != nil || !slices.Equal(dy.Shape, dims) {
		return nil, errFallback
	}
	if err := nnOnDevice(c, &dy); err != nil {
		return nil, err
	}
	out, err := c.zeros(dy.DType, shape)
	if err != nil || dy.Len() == 0 {
		if err != nil {
			return nil, err
		}
		return []*ir.Tensor{out}, nil
	}
	cd, cs := shapes.Collapse(dims, strides)
	m, err := c.meta(layoutMeta(cd, cs)...)
	if err == nil {
		err = c.launch(gradSrc, "slice_grad_"+sizeSuffix(dy.DType), dy.Len(), c.ptr(out), c.ptr(dy), m,
			int64(base), int64(dy.Len()))
	}
	if err != nil {
		nnRelease(c, out)
		return nil, err
	}
	return []*ir.Tensor{out}, nil
}

// int64s converts ints to int64s (an index table to upload).
func int64s(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}
