package cpu

import (
	"math"

	"crsc/compiler/ir"
	"crsc/runtime/shapes"
)

func identityKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := required(n, ins, 1); err != nil {
		return nil, err
	}
	return []*ir.Tensor{ins[0]}, nil // tensors are never written after creation, so sharing is safe
}

// constantKernel reads whichever value attribute is set.
func constantKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	a := n.Attrs
	switch {
	case a.Tensor("value") != nil:
		return []*ir.Tensor{ctx.clone(a.Tensor("value"))}, nil
	case a.Has("value_float"):
		return []*ir.Tensor{ir.ScalarF32(a.Float("value_float", 0))}, nil
	case a.Has("value_floats"):
		f := append([]float32(nil), a["value_floats"].Floats...)
		return []*ir.Tensor{ir.FromFloat32([]int{len(f)}, f)}, nil
	case a.Has("value_int"):
		return []*ir.Tensor{ir.FromInt64(nil, []int64{a.Int("value_int", 0)})}, nil
	case a.Has("value_ints"):
		v := append([]int64(nil), a.Ints("value_ints")...)
		return []*ir.Tensor{ir.FromInt64([]int{len(v)}, v)}, nil
	}
	return nil, errf(n, "no supported value attribute")
}

// shapeOf reads a 1-D int64 shape input into ints, rejecting negatives
// unless allowNeg.
func shapeOf(n *ir.Node, t *ir.Tensor, what string) ([]int64, error) {
	if len(t.Shape) > 1 {
		return nil, errf(n, "%s must be 1-D, got shape %v", what, t.Shape)
	}
	return intsInput(n, t, what)
}

// dimsOf converts int64 dims to ints, rejecting negatives and absurd sizes.
func dimsOf(n *ir.Node, v []int64) ([]int, error) {
	out, err := shapes.Dims(v)
	return out, nodeErr(n, err)
}

// constantOfShapeKernel: value defaults to float32 0.
func constantOfShapeKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := required(n, ins, 1); err != nil {
		return nil, err
	}
	sv, err := shapeOf(n, ins[0], "shape")
	if err != nil {
		return nil, err
	}
	shape, err := dimsOf(n, sv)
	if err != nil {
		return nil, err
	}
	val := n.Attrs.Tensor("value")
	if val == nil {
		val = ir.ScalarF32(0)
	}
	if val.Len() != 1 {
		return nil, errf(n, "value must hold one element, got shape %v", val.Shape)
	}
	if err := checkData(n, val); err != nil {
		return nil, err
	}
	out := ctx.newTensor(val.DType, shape)
	fill(out, val)
	return []*ir.Tensor{out}, nil
}

// fill sets every element of t to the single element of v.
func fill(t, v *ir.Tensor) {
	switch storage(t.DType) {
	case ir.Float32:
		for i := range t.F32 {
			t.F32[i] = v.F32[0]
		}
	case ir.Float64:
		for i := range t.F64 {
			t.F64[i] = v.F64[0]
		}
	case ir.Int64:
		for i := range t.I64 {
			t.I64[i] = v.I64[0]
		}
	case ir.Int32:
		for i := range t.I32 {
			t.I32[i] = v.I32[0]
		}
	case ir.Bool:
		for i := range t.Bool {
			t.Bool[i] = v.Bool[0]
		}
	}
}

// shapeKernel honours the opset-15 start/end attributes, clamped like Slice.
func shapeKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := required(n, ins, 1); err != nil {
		return nil, err
	}
	r := int64(len(ins[0].Shape))
	dims := shapes.Range(ins[0].Shape, n.Attrs.Int("start", 0), n.Attrs.Int("end", r))
	return []*ir.Tensor{ir.FromInt64([]int{len(dims)}, dims)}, nil
}

func sizeKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := required(n, ins, 1); err != nil {
		return nil, err
	}
	return []*ir.Tensor{ir.FromInt64(nil, []int64{int64(ins[0].Len())})}, nil
}

// reshaped returns x's data under a new shape, without copying: a kernel
// never writes into a tensor after returning it, so views are safe, and
// shape-only ops then cost nothing.
func reshaped(x *ir.Tensor, shape []int) *ir.Tensor { return x.Reshaped(shape) }

// viewKernel makes the kernel of a shape-only op: its output is input 0's
// data under the shape newShape works out, as a view (see reshaped). The
// first inputs inputs are required; newShape's errors already name the node.
func viewKernel(inputs int, newShape func(n *ir.Node, ins []*ir.Tensor) ([]int, error)) Kernel {
	return func(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		if err := required(n, ins, inputs); err != nil {
			return nil, err
		}
		shape, err := newShape(n, ins)
		if err != nil {
			return nil, err
		}
		return []*ir.Tensor{reshaped(ins[0], shape)}, nil
	}
}

// reshapeKernel: 0 copies the input dim (unless allowzero=1, when it is a
// literal 0) and one -1 is inferred.
var reshapeKernel = viewKernel(2, func(n *ir.Node, ins []*ir.Tensor) ([]int, error) {
	x := ins[0]
	if err := checkData(n, x); err != nil {
		return nil, err
	}
	spec, err := shapeOf(n, ins[1], "shape")
	if err != nil {
		return nil, err
	}
	shape, err := shapes.Reshape(x.Shape, spec, n.Attrs.Int("allowzero", 0) == 1)
	return shape, nodeErr(n, err)
})

var flattenKernel = viewKernel(1, func(n *ir.Node, ins []*ir.Tensor) ([]int, error) {
	shape, err := shapes.Flatten(ins[0].Shape, n.Attrs.Int("axis", 1))
	return shape, nodeErr(n, err)
})

// squeezeKernel takes axes from input 1 (opset 13) or the attribute; with
// none it drops every unit dim.
var squeezeKernel = viewKernel(1, func(n *ir.Node, ins []*ir.Tensor) ([]int, error) {
	axes, ok, err := axesFrom(n, ins, 1)
	if err != nil {
		return nil, err
	}
	shape, err := shapes.Squeeze(ins[0].Shape, axes, ok)
	return shape, nodeErr(n, err)
})

// unsqueezeKernel: axes refer to the output rank.
var unsqueezeKernel = viewKernel(1, func(n *ir.Node, ins []*ir.Tensor) ([]int, error) {
	axes, ok, err := axesFrom(n, ins, 1)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errf(n, "missing axes")
	}
	shape, err := shapes.Unsqueeze(ins[0].Shape, axes)
	return shape, nodeErr(n, err)
})

// transposeKernel: perm defaults to reversing the dims.
func transposeKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	x, err := dataInput(n, ins)
	if err != nil {
		return nil, err
	}
	p, err := shapes.Perm(n.Attrs.Ints("perm"), len(x.Shape))
	if err != nil {
		return nil, nodeErr(n, err)
	}
	return []*ir.Tensor{transpose(ctx, x, p)}, nil
}

// transpose returns x with its dims permuted (out dim i is x dim perm[i])
// as a kernel output.
func transpose(ctx *Ctx, x *ir.Tensor, perm []int) *ir.Tensor {
	return transposeTo(ctx, x, perm, ctx.newUninitTensor) // stridedCopy writes every element
}

// transposeTo is transpose into a tensor from alloc.
func transposeTo(ctx *Ctx, x *ir.Tensor, perm []int, alloc allocFunc) *ir.Tensor {
	dims, strides := shapes.Transpose(x.Shape, perm)
	out := alloc(x.DType, dims)
	stridedCopy(ctx, out, x, 0, dims, strides)
	return out
}

func concatKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := allInputs(n, ins); err != nil {
		return nil, err
	}
	first := ins[0]
	axis, err := normAxis(n, n.Attrs.Int("axis", 0), len(first.Shape))
	if err != nil {
		return nil, err
	}
	shape, bad := shapes.Concat(shapesOf(ins), axis)
	for i, t := range ins { // the first input that does not fit names the error
		if t.DType != first.DType || len(t.Shape) != len(first.Shape) {
			return nil, errf(n, "inputs %v %v and %v %v cannot be concatenated", first.DType, first.Shape, t.DType, t.Shape)
		}
		if i == bad {
			return nil, errf(n, "input shapes %v and %v differ off axis %d", first.Shape, t.Shape, axis)
		}
	}
	out := ctx.newTensor(first.DType, shape)
	outer := ir.NumElements(shape[:axis])
	inner := ir.NumElements(shape[axis+1:])
	rowOut := shape[axis] * inner
	off := 0
	for _, t := range ins {
		blk := t.Shape[axis] * inner
		cp := rowCopier(out, t)
		for o := 0; o < outer && blk > 0; o++ {
			cp(o*rowOut+off, o*blk, blk, 1)
		}
		off += blk
	}
	return []*ir.Tensor{out}, nil
}

// splitKernel takes sizes from input 1 (opset 13), the split attribute, or
// splits evenly into num_outputs (or as many outputs as the node has); an
// uneven even-split makes the last chunk smaller, as opset 18 specifies.
func splitKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	x, err := dataInput(n, ins)
	if err != nil {
		return nil, err
	}
	axis, err := normAxis(n, n.Attrs.Int("axis", 0), len(x.Shape))
	if err != nil {
		return nil, err
	}
	dim := x.Shape[axis]
	var sizes []int64
	switch {
	case in(ins, 1) != nil:
		if sizes, err = intsInput(n, ins[1], "split"); err != nil {
			return nil, err
		}
	case n.Attrs.Has("split"):
		sizes = n.Attrs.Ints("split")
	default:
		if sizes, err = shapes.EvenSplit(dim, int(n.Attrs.Int("num_outputs", int64(len(n.Outputs))))); err != nil {
			return nil, nodeErr(n, err)
		}
	}
	if err := shapes.CheckSplit(sizes, dim); err != nil {
		return nil, nodeErr(n, err)
	}
	outer := ir.NumElements(x.Shape[:axis])
	inner := ir.NumElements(x.Shape[axis+1:])
	outs := make([]*ir.Tensor, len(sizes))
	off := 0
	for i, s := range sizes {
		shape := append([]int{}, x.Shape...)
		shape[axis] = int(s)
		out := ctx.newTensor(x.DType, shape)
		blk := int(s) * inner
		cp := rowCopier(out, x)
		for o := 0; o < outer && blk > 0; o++ {
			cp(o*blk, o*dim*inner+off, blk, 1)
		}
		off += blk
		outs[i] = out
	}
	return outs, nil
}

// sliceKernel implements opset-10+ Slice (starts, ends, axes, steps as
// inputs), also accepting the opset-1 attributes. Bounds are clamped as
// ONNX specifies, separately for positive and negative steps.
func sliceKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	x, err := dataInput(n, ins)
	if err != nil {
		return nil, err
	}
	starts, err := intsOrAttr(n, ins, 1, "starts")
	if err != nil {
		return nil, err
	}
	ends, err := intsOrAttr(n, ins, 2, "ends")
	if err != nil {
		return nil, err
	}
	axes, err := intsOrAttr(n, ins, 3, "axes")
	if err != nil {
		return nil, err
	}
	steps, err := intsOrAttr(n, ins, 4, "steps")
	if err != nil {
		return nil, err
	}
	dims, strides, base, err := shapes.Slice(x.Shape, starts, ends, axes, steps)
	if err != nil {
		return nil, nodeErr(n, err)
	}
	out := ctx.newTensor(x.DType, dims)
	stridedCopy(ctx, out, x, base, dims, strides)
	return []*ir.Tensor{out}, nil
}

// gatherKernel: output is data.shape[:axis] + indices.shape +
// data.shape[axis+1:]; negative indices count from the end.
func gatherKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 2); err != nil {
		return nil, err
	}
	x, idxT := ins[0], ins[1]
	if len(x.Shape) == 0 {
		return nil, errf(n, "data must have rank >= 1")
	}
	axis, err := normAxis(n, n.Attrs.Int("axis", 0), len(x.Shape))
	if err != nil {
		return nil, err
	}
	idx, err := intsInput(n, idxT, "indices")
	if err != nil {
		return nil, err
	}
	dim := x.Shape[axis]
	norm, err := shapes.Indices(idx, axis, dim)
	if err != nil {
		return nil, nodeErr(n, err)
	}
	out := ctx.newTensor(x.DType, shapes.Gather(x.Shape, idxT.Shape, axis))
	outer := ir.NumElements(x.Shape[:axis])
	inner := ir.NumElements(x.Shape[axis+1:])
	cp := rowCopier(out, x)
	if inner == 0 {
		return []*ir.Tensor{out}, nil
	}
	k := len(norm)
	parallelFor(ctx, outer*k, outer*k*inner, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			o, j := u/k, u%k
			cp(u*inner, (o*dim+norm[j])*inner, inner, 1)
		}
	})
	return []*ir.Tensor{out}, nil
}

// gatherElementsKernel: out[i...] = data[i... with axis replaced by
// indices[i...]]; indices has data's rank.
func gatherElementsKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 2); err != nil {
		return nil, err
	}
	x, idxT := ins[0], ins[1]
	r := len(x.Shape)
	if len(idxT.Shape) != r || r == 0 {
		return nil, errf(n, "indices rank %d must equal data rank %d (>= 1)", len(idxT.Shape), r)
	}
	axis, err := normAxis(n, n.Attrs.Int("axis", 0), r)
	if err != nil {
		return nil, err
	}
	for i, d := range idxT.Shape {
		if i != axis && d > x.Shape[i] {
			return nil, errf(n, "indices shape %v exceeds data shape %v", idxT.Shape, x.Shape)
		}
	}
	idx, err := intsInput(n, idxT, "indices")
	if err != nil {
		return nil, err
	}
	out := ctx.newTensor(x.DType, idxT.Shape)
	st := shapes.Strides(x.Shape)
	cp := rowCopier(out, x)
	pos := make([]int, r)
	for i, v := range idx {
		j, err := shapes.Index(v, axis, x.Shape[axis])
		if err != nil {
			return nil, nodeErr(n, err)
		}
		off := 0
		for d := range pos {
			if d == axis {
				off += j * st[d]
			} else {
				off += pos[d] * st[d]
			}
		}
		cp(i, off, 1, 1)
		for d := r - 1; d >= 0; d-- { // advance the odometer over indices' shape
			if pos[d]++; pos[d] < idxT.Shape[d] {
				break
			}
			pos[d] = 0
		}
	}
	return []*ir.Tensor{out}, nil
}

// expandKernel broadcasts input and shape bidirectionally, so shape may
// also be smaller than the input's.
func expandKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := required(n, ins, 2); err != nil {
		return nil, err
	}
	x := ins[0]
	if err := checkData(n, x); err != nil {
		return nil, err
	}
	sv, err := shapeOf(n, ins[1], "shape")
	if err != nil {
		return nil, err
	}
	target, err := dimsOf(n, sv)
	if err != nil {
		return nil, err
	}
	shape, err := broadcastShape(n, x.Shape, target)
	if err != nil {
		return nil, err
	}
	out := ctx.newTensor(x.DType, shape)
	if out.Len() == 0 {
		return []*ir.Tensor{out}, nil
	}
	// Strides of x aligned to the output, 0 where x broadcasts.
	stridedCopy(ctx, out, x, 0, shape, shapes.AlignedStrides(x.Shape, len(shape)))
	return []*ir.Tensor{out}, nil
}

// tileKernel views the output as [r0, d0, r1, d1, ...] and reads x with
// stride 0 along each repeat dim.
func tileKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := required(n, ins, 2); err != nil {
		return nil, err
	}
	x := ins[0]
	if err := checkData(n, x); err != nil {
		return nil, err
	}
	reps, err := shapeOf(n, ins[1], "repeats")
	if err != nil {
		return nil, err
	}
	if len(reps) != len(x.Shape) {
		return nil, errf(n, "repeats %v do not match rank %d", reps, len(x.Shape))
	}
	rv, err := dimsOf(n, reps)
	if err != nil {
		return nil, err
	}
	shape, dims, strides := shapes.Tile(x.Shape, rv)
	out := ctx.newTensor(x.DType, shape)
	stridedCopy(ctx, out, x, 0, dims, strides)
	return []*ir.Tensor{out}, nil
}

// rangeKernel: n = max(ceil((limit-start)/delta), 0) elements.
func rangeKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := checkedInputs(n, ins, 3); err != nil {
		return nil, err
	}
	for _, t := range ins[:3] {
		if t.Len() != 1 || t.DType != ins[0].DType {
			return nil, errf(n, "start, limit and delta must be scalars of one dtype")
		}
	}
	dt := ins[0].DType
	switch storage(dt) {
	case ir.Int64, ir.Int32:
		start, limit, delta := ins[0].Int64s()[0], ins[1].Int64s()[0], ins[2].Int64s()[0]
		if delta == 0 {
			return nil, errf(n, "delta is 0")
		}
		cnt := int64(0)
		if d := limit - start; (d > 0) == (delta > 0) && d != 0 {
			cnt = (d + delta - sign64(delta)) / delta
		}
		if cnt > math.MaxInt32 {
			return nil, errf(n, "range of %d elements is too large", cnt)
		}
		out := ctx.newTensor(dt, []int{int(cnt)})
		for i := int64(0); i < cnt; i++ {
			v := start + i*delta
			if out.I64 != nil {
				out.I64[i] = v
			} else {
				out.I32[i] = int32(v)
			}
		}
		return []*ir.Tensor{out}, nil
	case ir.Float32, ir.Float64:
		start, limit, delta := ins[0].Float64At(0), ins[1].Float64At(0), ins[2].Float64At(0)
		if delta == 0 {
			return nil, errf(n, "delta is 0")
		}
		if dt == ir.Float32 {
			// Compute the count in float32, as the reference does.
			start, limit, delta = float64(float32(start)), float64(float32(limit)), float64(float32(delta))
		}
		c := math.Ceil((limit - start) / delta)
		if c != c || c > math.MaxInt32 {
			return nil, errf(n, "invalid range %v..%v step %v", start, limit, delta)
		}
		cnt := int(max(c, 0))
		out := ctx.newTensor(dt, []int{cnt})
		for i := 0; i < cnt; i++ {
			if dt == ir.Float64 {
				out.F64[i] = start + float64(i)*delta
			} else {
				out.F32[i] = float32(start) + float32(i)*float32(delta)
			}
		}
		return []*ir.Tensor{out}, nil
	}
	return nil, errf(n, "unsupported dtype %v", dt)
}

func sign64(v int64) int64 {
	if v < 0 {
		return -1
	}
	return 1
}

// triluKernel keeps the upper (upper=1, default) or lower triangle of the
// last two dims, shifted by the optional k input.
func triluKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	x, err := dataInput(n, ins)
	if err != nil {
		return nil, err
	}
	r := len(x.Shape)
	if r < 2 {
		return nil, errf(n, "input rank %d < 2", r)
	}
	k := int64(0)
	if t := in(ins, 1); t != nil {
		v, err := intsInput(n, t, "k")
		if err != nil {
			return nil, err
		}
		if len(v) != 1 {
			return nil, errf(n, "k must be a scalar")
		}
		k = v[0]
	}
	upper := n.Attrs.Int("upper", 1) == 1
	rows, cols := x.Shape[r-2], x.Shape[r-1]
	out := ctx.clone(x)
	zero := ctx.scratch(x.DType, []int{1})
	cp := rowCopier(out, zero)
	for m := 0; m < ir.NumElements(x.Shape[:r-2]); m++ {
		for i := 0; i < rows; i++ {
			base := (m*rows + i) * cols
			// Keep j - i >= k (upper) or j - i <= k (lower).
			if upper {
				end := int(min(max(int64(i)+k, 0), int64(cols)))
				if end > 0 {
					cp(base, 0, end, 0)
				}
			} else {
				start := int(min(max(int64(i)+k+1, 0), int64(cols)))
				if start < cols {
					cp(base+start, 0, cols-start, 0)
				}
			}
		}
	}
	return []*ir.Tensor{out}, nil
}

// cumSumKernel: axis is input 1; exclusive and reverse attributes.
func cumSumKernel(ctx *Ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if err := required(n, ins, 2); err != nil {
		return nil, err
	}
	x := ins[0]
	if err := checkData(n, x); err != nil {
		return nil, err
	}
	av, err := intsInput(n, ins[1], "axis")
	if err != nil {
		return nil, err
	}
	if len(av) != 1 {
		return nil, errf(n, "axis must be a scalar")
	}
	axis, err := normAxis(n, av[0], len(x.Shape))
	if err != nil {
		return nil, err
	}
	excl := n.Attrs.Int("exclusive", 0) == 1
	rev := n.Attrs.Int("reverse", 0) == 1
	out := ctx.newTensor(x.DType, x.Shape)
	outer, dim, inner := ir.NumElements(x.Shape[:axis]), x.Shape[axis], ir.NumElements(x.Shape[axis+1:])
	switch storage(x.DType) {
	case ir.Float32:
		cumsum(x.F32, out.F32, outer, dim, inner, excl, rev)
	case ir.Float64:
		cumsum(x.F64, out.F64, outer, dim, inner, excl, rev)
	case ir.Int64:
		cumsum(x.I64, out.I64, outer, dim, inner, excl, rev)
	case ir.Int32:
		cumsum(x.I32, out.I32, outer, dim, inner, excl, rev)
	default:
		return nil, errf(n, "unsupported dtype %v", x.DType)
	}
	return []*ir.Tensor{out}, nil
}

func cumsum[T num](x, out []T, outer, dim, inner int, excl, rev bool) {
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			var acc T
			for s := 0; s < dim; s++ {
				j := s
				if rev {
					j = dim - 1 - s
				}
				p := (o*dim+j)*inner + i
				if excl {
					out[p] = acc
					acc += x[p]
				} else {
					acc += x[p]
					out[p] = acc
				}
			}
		}
	}
}

// shapesOf lists the shapes of ts.
func shapesOf(ts []*ir.Tensor) [][]int {
	ss := make([][]int, len(ts))
	for i, t := range ts {
		ss[i] = t.Shape
	}
	return ss
}
