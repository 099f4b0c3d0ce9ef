package shapes

import (
	"fmt"
	"sort"
)

// MatMul is the shape arithmetic of numpy matmul, as MatMul and
// ai.crsc.MatMul (whose TransA/TransB transpose the last two dims of an
// operand) compute it: 1-D operands are promoted (a to [1, K], b to
// [K, 1]) and the added dim dropped from Shape again; batch dims
// broadcast.
type MatMul struct {
	M, K, N  int
	LDA, LDB int   // leading dims of the row-major A and B matrices
	ABatch   []int // a's batch dims (after promotion)
	BBatch   []int
	Batch    []int // ABatch and BBatch broadcast
	Shape    []int // the output shape
}

// Gemm computes the [m, n] output and depth k of a Gemm of the 2-D
// operands of shapes a and b, transposed as ta and tb say.
func Gemm(a, b []int, ta, tb bool) (m, k, n int, err error) {
	if len(a) != 2 || len(b) != 2 {
		return 0, 0, 0, fmt.Errorf("A and B must be 2-D, got %v and %v", a, b)
	}
	m, k = a[0], a[1]
	if ta {
		m, k = k, m
	}
	k2, n := b[0], b[1]
	if tb {
		k2, n = n, k2
	}
	if k != k2 {
		return 0, 0, 0, fmt.Errorf("inner dims differ: A %v (transA=%v), B %v (transB=%v)", a, ta, b, tb)
	}
	return m, k, n, nil
}

// MatMulShape computes the MatMul of operands of shapes a and b.
func MatMulShape(a, b []int, ta, tb bool) (*MatMul, error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, fmt.Errorf("operands must have rank >= 1, got %v and %v", a, b)
	}
	as, bs := a, b
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	if (ta && len(a) < 2) || (tb && len(b) < 2) {
		return nil, fmt.Errorf("a transposed operand must have rank >= 2")
	}
	mm := &MatMul{}
	mm.M, mm.K = as[len(as)-2], as[len(as)-1]
	if ta {
		mm.M, mm.K = mm.K, mm.M
	}
	k2, n := bs[len(bs)-2], bs[len(bs)-1]
	if tb {
		k2, n = n, k2
	}
	mm.N = n
	mm.LDA, mm.LDB = mm.K, mm.N
	if ta {
		mm.LDA = mm.M
	}
	if tb {
		mm.LDB = mm.K
	}
	if mm.K != k2 {
		return nil, fmt.Errorf("inner dims differ: %v × %v", a, b)
	}
	mm.ABatch, mm.BBatch = as[:len(as)-2], bs[:len(bs)-2]
	batch, err := Broadcast(mm.ABatch, mm.BBatch)
	if err != nil {
		return nil, err
	}
	mm.Batch = batch
	mm.Shape = append([]int{}, batch...)
	if len(a) > 1 {
		mm.Shape = append(mm.Shape, mm.M)
	}
	if len(b) > 1 {
		mm.Shape = append(mm.Shape, mm.N)
	}
	return mm, nil
}

// Offsets returns, for each batch of the broadcast batch shape in
// row-major order, the element offsets of its A and B matrices.
func (mm *MatMul) Offsets() (aOff, bOff []int) {
	batch := mm.Batch
	nb := NumElements(batch)
	sa, sb := AlignedStrides(mm.ABatch, len(batch)), AlignedStrides(mm.BBatch, len(batch))
	aSize, bSize := mm.M*mm.K, mm.K*mm.N
	aOff, bOff = make([]int, nb), make([]int, nb)
	idx := make([]int, len(batch))
	for i := 0; i < nb; i++ {
		oa, ob := 0, 0
		for d, v := range idx {
			oa += v * sa[d]
			ob += v * sb[d]
		}
		aOff[i], bOff[i] = oa*aSize, ob*bSize
		for d := len(idx) - 1; d >= 0; d-- { // odometer
			if idx[d]++; idx[d] < batch[d] {
				break
			}
			idx[d] = 0
		}
	}
	return aOff, bOff
}

// BatchStrides reports whether the batch offsets advance by constant
// non-negative strides (so one batched GEMM covers them).
func BatchStrides(aOff, bOff []int) (sa, sb int, ok bool) {
	if len(aOff) > 1 {
		sa, sb = aOff[1]-aOff[0], bOff[1]-bOff[0]
	}
	for i := range aOff {
		if aOff[i] != aOff[0]+i*sa || bOff[i] != bOff[0]+i*sb {
			return 0, 0, false
		}
	}
	return sa, sb, sa >= 0 && sb >= 0
}

// ReduceAxes normalizes the axes of a reduction over a rank-r input;
// none means every axis. (noop_with_empty_axes is the caller's to test
// first.)
func ReduceAxes(axes []int64, r int) ([]int, error) {
	if len(axes) == 0 {
		for i := 0; i < r; i++ {
			axes = append(axes, int64(i))
		}
	}
	return Axes(axes, r)
}

// Reduction is the layout of a reduction of a tensor over some axes: the
// output shape, and the input viewed as [Outer, Red, Inner] — directly
// when the reduced axes are adjacent (Perm nil), else after transposing
// it by Perm (kept dims first, reduced ones last, Inner 1).
type Reduction struct {
	Shape             []int
	Outer, Red, Inner int
	Perm              []int
}

// Reduce lays out the reduction of shape over axes (normalized, distinct;
// sorted in place). keep keeps reduced dims as 1s; innerOne asks for
// Inner == 1 (a transpose unless the axes are adjacent and last).
func Reduce(shape []int, axes []int, keep, innerOne bool) Reduction {
	r := len(shape)
	sort.Ints(axes)
	isRed := make([]bool, r)
	for _, a := range axes {
		isRed[a] = true
	}
	red := Reduction{Shape: []int{}, Outer: 1, Red: 1, Inner: 1}
	for i, d := range shape {
		switch {
		case !isRed[i]:
			red.Shape = append(red.Shape, d)
		case keep:
			red.Shape = append(red.Shape, 1)
		}
	}
	n := len(axes)
	contiguous := n > 0 && axes[n-1]-axes[0] == n-1
	if contiguous && !(innerOne && axes[n-1] != r-1) {
		red.Outer = NumElements(shape[:axes[0]])
		red.Red = NumElements(shape[axes[0] : axes[n-1]+1])
		red.Inner = NumElements(shape[axes[n-1]+1:])
		return red
	}
	red.Perm = []int{}
	for i := 0; i < r; i++ {
		if !isRed[i] {
			red.Perm = append(red.Perm, i)
			red.Outer *= shape[i]
		}
	}
	for _, a := range axes {
		red.Perm = append(red.Perm, a)
		red.Red *= shape[a]
	}
	return red
}

// SumToAxes returns the axes of from that must be summed (keeping dims)
// so that the result reshapes to to: the leading axes to lacks, and those
// where to has 1 and from does not. It fails unless to broadcasts to from.
func SumToAxes(from, to []int) ([]int, error) {
	if len(to) > len(from) {
		return nil, fmt.Errorf("cannot sum shape %v to the larger rank shape %v", from, to)
	}
	off := len(from) - len(to)
	var axes []int
	for i := 0; i < off; i++ {
		axes = append(axes, i)
	}
	for i, d := range to {
		switch f := from[off+i]; {
		case f == d:
		case d == 1:
			axes = append(axes, off+i)
		default:
			return nil, fmt.Errorf("shape %v does not broadcast to %v, so %v cannot be summed to it", to, from, from)
		}
	}
	return axes, nil
}

// Softmax lays out Softmax/LogSoftmax over shape as vectors of Dim
// elements with stride Inner, Outer·Inner of them. From opset 13 on
// (coerce2D false) axis is the one normalized axis (a scalar is one
// vector of one element); before, the input is coerced to 2-D at axis (in
// [-rank, rank]) and each row is normalized.
func Softmax(shape []int, axis int64, coerce2D bool) (outer, dim, inner int, err error) {
	r := len(shape)
	if !coerce2D {
		ax, err := Axis(axis, max(r, 1))
		if err != nil {
			return 0, 0, 0, err
		}
		if r == 0 {
			return 1, 1, 1, nil
		}
		return NumElements(shape[:ax]), shape[ax], NumElements(shape[ax+1:]), nil
	}
	rows, err := Flatten(shape, axis)
	if err != nil {
		return 0, 0, 0, err
	}
	return rows[0], rows[1], 1, nil
}

// Norm lays out a normalization (LayerNormalization, RMSNormalization and
// their gradients) over the dims [axis, rank) of shape: Outer rows of D
// elements, the normalized dims Norm = shape[Axis:].
type Norm struct {
	Axis, Outer, D int
	Norm           []int
}

// NormLayout normalizes axis against shape's rank (>= 1).
func NormLayout(shape []int, axis int64) (Norm, error) {
	if len(shape) == 0 {
		return Norm{}, fmt.Errorf("input must have rank >= 1")
	}
	ax, err := Axis(axis, len(shape))
	if err != nil {
		return Norm{}, err
	}
	norm := shape[ax:]
	return Norm{Axis: ax, Outer: NumElements(shape[:ax]), D: NumElements(norm), Norm: norm}, nil
}

// StatShape is shape with ones from axis on: the shape of a norm's per-row
// statistics (Mean, InvStdDev, inv_rms).
func StatShape(shape []int, axis int) []int {
	s := append([]int{}, shape...)
	for i := axis; i < len(s); i++ {
		s[i] = 1
	}
	return s
}
