package gpu

import (
	"crsc/compiler/ir"
	"crsc/runtime/shapes"
)

// Helpers shared by the generic kernels. The shape arithmetic itself is
// runtime/shapes, shared with the CPU backend. Errors in attributes or
// shapes are not diagnosed here: a kernel that finds its inputs invalid
// returns errFallback, so the CPU kernel runs and reports the error in
// exactly the words of the CPU backend.

// layoutMeta is the array bcast_off and strided_off read:
// [rank, dims[rank], strides of input 0[rank], strides of input 1, …].
func layoutMeta(dims []int, st [][]int) []int64 {
	m := make([]int64, 0, 1+len(dims)*(1+len(st)))
	m = append(m, int64(len(dims)))
	for _, d := range dims {
		m = append(m, int64(d))
	}
	for _, s := range st {
		for _, v := range s {
			m = append(m, int64(v))
		}
	}
	return m
}

// broadcastMeta is the collapsed layout of inputs of the given shapes
// broadcast to out.
func broadcastMeta(out []int, ins ...[]int) []int64 {
	full := make([][]int, len(ins))
	for k, s := range ins {
		full[k] = shapes.AlignedStrides(s, len(out))
	}
	return layoutMeta(shapes.Collapse(out, full...))
}

// shapesOf lists the shapes of ts.
func shapesOf(ts []*ir.Tensor) [][]int {
	ss := make([][]int, len(ts))
	for i, t := range ts {
		ss[i] = t.Shape
	}
	return ss
}

// input returns ins[i], or nil when it is absent.
func input(ins []*ir.Tensor, i int) *ir.Tensor {
	if i < len(ins) {
		return ins[i]
	}
	return nil
}

// present reports whether the first k inputs are all given.
func present(ins []*ir.Tensor, k int) bool {
	for i := 0; i < k; i++ {
		if input(ins, i) == nil {
			return false
		}
	}
	return true
}

// ints reads a small integer control tensor (shape, axes, repeats) on the
// host; ok is false when it is not an integer tensor.
func (c *ctx) ints(t *ir.Tensor) ([]int64, bool, error) {
	switch t.DType {
	case ir.Int64, ir.Int32, ir.Int8, ir.Uint8:
	default:
		return nil, false, nil
	}
	h, err := c.host(t)
	if err != nil {
		return nil, false, err
	}
	v := h.Int64s()
	return v, len(v) == h.Len(), nil
}

// dims reads a shape-like control tensor (Expand's shape, Tile's repeats,
// ConstantOfShape's input) on the host as dims; errFallback when it is not
// an integer tensor or holds a negative dim, so that the CPU reports it.
func (c *ctx) dims(t *ir.Tensor) ([]int, error) {
	v, ok, err := c.ints(t)
	if err != nil || !ok {
		return nil, orFallback(err)
	}
	d, err := shapes.Dims(v)
	if err != nil {
		return nil, errFallback
	}
	return d, nil
}

// axesOf reads axes from input idx when given, else from the attribute
// "axes"; given is false when neither is present.
func (c *ctx) axesOf(n *ir.Node, ins []*ir.Tensor, idx int) (axes []int64, given, ok bool, err error) {
	if t := input(ins, idx); t != nil {
		axes, ok, err = c.ints(t)
		return axes, true, ok, err
	}
	if n.Attrs.Has("axes") {
		return n.Attrs.Ints("axes"), true, true, nil
	}
	return nil, false, true, nil
}

// sizeSuffix is the suffix of the data-movement kernel for dt's element
// size ("1", "4", "8"), or "" when there is none.
func sizeSuffix(dt ir.DType) string {
	switch elemSize(dt) {
	case 1:
		return "1"
	case 4:
		return "4"
	case 8:
		return "8"
	}
	return ""
}
