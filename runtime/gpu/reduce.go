package gpu

import (
	"crsc/compiler/ir"
	"crsc/runtime/cuda"
	"crsc/runtime/shapes"
)

var reduceSrc = newSource("reduce.cu")

// Op codes of kernels/reduce.cu.
const (
	rSum int32 = iota
	rMean
	rMax
	rMin
)

// rowsThreshold is the reduced length from which a row reduction (inner
// == 1) gets a block per row instead of a thread per row.
const rowsThreshold = 64

// reduceKernel: ReduceSum/Mean/Max/Min on float32. Axes come from input 1
// or the attribute; absent or empty axes reduce everything unless
// noop_with_empty_axes=1 (then a copy). Non-adjacent axes are transposed
// together into scratch first, as the CPU does.
func reduceKernel(op int32) kernel {
	return func(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
		if !present(ins, 1) || ins[0].DType.Storage() != ir.Float32 {
			return nil, errFallback
		}
		x := ins[0]
		axes, _, ok, err := c.axesOf(n, ins, 1)
		if err != nil || !ok {
			return nil, orFallback(err)
		}
		if len(axes) == 0 && n.Attrs.Int("noop_with_empty_axes", 0) == 1 {
			y, err := c.copyOf(x)
			if err != nil {
				return nil, err
			}
			return []*ir.Tensor{y}, nil
		}
		ax, err := shapes.ReduceAxes(axes, len(x.Shape))
		if err != nil {
			return nil, errFallback
		}
		lay := shapes.Reduce(x.Shape, ax, n.Attrs.Int("keepdims", 1) == 1, false)
		outShape, outer, red, inner := lay.Shape, lay.Outer, lay.Red, lay.Inner
		src, err := c.device(x)
		if err != nil {
			return nil, err
		}
		if lay.Perm != nil {
			ds, st := shapes.Transpose(x.Shape, lay.Perm)
			t, free, err := c.scratch(x.DType, ds)
			if err != nil {
				return nil, err
			}
			defer free()
			if err := c.stridedCopy(t, src, 0, ds, st); err != nil {
				return nil, err
			}
			src = t
		}
		y, err := c.out(x.DType, outShape)
		if err != nil {
			return nil, err
		}
		if y.Len() > 0 {
			if inner == 1 && red >= rowsThreshold {
				err = c.launchGrid(reduceSrc, "reduce_rows_f32", cuda.Dim3{X: uint32(outer), Y: 1, Z: 1},
					cuda.Dim3{X: blockSize, Y: 1, Z: 1}, blockSize*8, c.ptr(y), c.ptr(src), int64(outer), int64(red), op)
			} else {
				err = c.launch(reduceSrc, "reduce_cols_f32", outer*inner,
					c.ptr(y), c.ptr(src), int64(outer), int64(red), int64(inner), op)
			}
		}
		if err != nil {
			c.b.mem.release(y)
			return nil, err
		}
		return []*ir.Tensor{y}, nil
	}
}
