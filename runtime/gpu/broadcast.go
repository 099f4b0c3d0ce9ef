package gpu

import "crsc/ir"

// Shape arithmetic shared by the generic kernels. Errors in attributes or
// shapes are not diagnosed here: a kernel that finds its inputs invalid
// returns errFallback, so the CPU kernel runs and reports the error in
// exactly the words of the CPU backend.

// broadcastShape applies ONNX multidirectional (numpy) broadcasting.
func broadcastShape(shapes ...[]int) ([]int, bool) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			switch o := out[off+i]; {
			case d == o || d == 1:
			case o == 1:
				out[off+i] = d
			default:
				return nil, false
			}
		}
	}
	return out, true
}

// contiguousStrides returns the row-major element strides of shape.
func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= shape[i]
	}
	return st
}

// alignedStrides returns the strides of a contiguous tensor of shape s
// right-aligned to rank r, 0 along broadcast (size-1 or missing) dims.
func alignedStrides(s []int, r int) []int {
	st := contiguousStrides(s)
	out := make([]int, r)
	off := r - len(s)
	for i, d := range s {
		if d != 1 {
			out[off+i] = st[i]
		}
	}
	return out
}

// collapse drops unit dims of out and merges adjacent dims that every
// input walks contiguously, so kernels index few dims (a same-shape
// elementwise op becomes rank 1). strides[k] are input k's strides over out.
func collapse(out []int, strides ...[]int) (dims []int, st [][]int) {
	st = make([][]int, len(strides))
	for d, size := range out {
		if size == 1 {
			continue
		}
		last := len(dims) - 1
		merge := last >= 0
		for k := range strides {
			if merge && st[k][last] != strides[k][d]*size {
				merge = false
			}
		}
		if merge {
			dims[last] *= size
			for k := range strides {
				st[k][last] = strides[k][d]
			}
			continue
		}
		dims = append(dims, size)
		for k := range strides {
			st[k] = append(st[k], strides[k][d])
		}
	}
	return dims, st
}

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
		full[k] = alignedStrides(s, len(out))
	}
	return layoutMeta(collapse(out, full...))
}

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(axis int64, rank int) (int, bool) {
	if axis < -int64(rank) || axis >= int64(rank) {
		return 0, false
	}
	if axis < 0 {
		axis += int64(rank)
	}
	return int(axis), true
}

// normAxes normalizes axes, rejecting duplicates.
func normAxes(axes []int64, rank int) ([]int, bool) {
	out := make([]int, len(axes))
	seen := make([]bool, rank)
	for i, a := range axes {
		ax, ok := normAxis(a, rank)
		if !ok || seen[ax] {
			return nil, false
		}
		seen[ax] = true
		out[i] = ax
	}
	return out, true
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
