package gpu

import (
	"math"

	"crsc/compiler/ir"
	"crsc/runtime/shapes"
)

// constantOfShapeKernel fills the output with the value attribute
// (float32 0 by default).
func constantOfShapeKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 1) || len(ins[0].Shape) > 1 {
		return nil, errFallback
	}
	shape, err := c.dims(ins[0])
	if err != nil {
		return nil, err
	}
	val := n.Attrs.Tensor("value")
	if val == nil {
		val = ir.ScalarF32(0)
	}
	if val.Len() != 1 || val.CheckData() != nil {
		return nil, errFallback
	}
	bits, ok := valueBits(val)
	if !ok {
		return nil, errFallback
	}
	y, err := c.out(val.DType, shape)
	if err != nil {
		return nil, err
	}
	if err := c.launch(movementSrc, "fill_"+sizeSuffix(val.DType), y.Len(), c.ptr(y), bits, int64(y.Len())); err != nil {
		c.b.mem.release(y)
		return nil, err
	}
	return []*ir.Tensor{y}, nil
}

// valueBits is the device bit pattern of a one-element host tensor.
func valueBits(t *ir.Tensor) (uint64, bool) {
	switch t.DType.Storage() {
	case ir.Float32:
		return uint64(math.Float32bits(t.F32[0])), true
	case ir.Float64:
		return math.Float64bits(t.F64[0]), true
	case ir.Int64:
		return uint64(t.I64[0]), true
	case ir.Int32:
		return uint64(uint32(t.I32[0])), true
	case ir.Bool:
		if t.Bool[0] {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// shapeKernel computes the shape on the host (no data moves) and uploads
// it; opset-15 start/end are clamped like Slice.
func shapeKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 1) {
		return nil, errFallback
	}
	r := int64(len(ins[0].Shape))
	dimsOut := shapes.Range(ins[0].Shape, n.Attrs.Int("start", 0), n.Attrs.Int("end", r))
	return c.fromHost(ir.FromInt64([]int{len(dimsOut)}, dimsOut))
}

func sizeKernel(c *ctx, n *ir.Node, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	if !present(ins, 1) {
		return nil, errFallback
	}
	return c.fromHost(ir.FromInt64(nil, []int64{int64(ins[0].Len())}))
}

// fromHost makes host tensors the node's outputs (uploaded, in order).
func (c *ctx) fromHost(hs ...*ir.Tensor) ([]*ir.Tensor, error) {
	outs := make([]*ir.Tensor, len(hs))
	for j, h := range hs {
		if h == nil {
			continue
		}
		y, err := c.outFrom(h)
		if err != nil {
			c.b.releaseAll(outs)
			return nil, err
		}
		outs[j] = y
	}
	return outs, nil
}

// outFrom allocates an output (c.out) and fills it from host tensor h.
func (c *ctx) outFrom(h *ir.Tensor) (*ir.Tensor, error) {
	y, err := c.out(h.DType, h.Shape)
	if err != nil {
		return nil, err
	}
	if err := c.b.mem.copyIn(y, h); err != nil {
		c.b.mem.release(y)
		return nil, err
	}
	return y, nil
}
