package shapes

import "fmt"

// NumElements is the product of shape's dims (1 for a scalar).
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Broadcast applies ONNX multidirectional (numpy) broadcasting.
func Broadcast(shapes ...[]int) ([]int, error) {
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
				return nil, fmt.Errorf("shapes %v are not broadcast-compatible", shapes)
			}
		}
	}
	return out, nil
}

// Strides returns the row-major element strides of shape.
func Strides(shape []int) []int {
	st := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= shape[i]
	}
	return st
}

// AlignedStrides returns the strides of a contiguous tensor of shape s
// right-aligned to rank r, 0 along broadcast (size-1 or missing) dims.
func AlignedStrides(s []int, r int) []int {
	st := Strides(s)
	out := make([]int, r)
	off := r - len(s)
	for i, d := range s {
		if d != 1 {
			out[off+i] = st[i]
		}
	}
	return out
}

// Collapse drops the unit dims of out and merges adjacent dims that every
// input walks contiguously, so that a strided walk indexes as few dims as
// possible (a same-shape elementwise op becomes rank 1). strides[k] are
// input k's strides over out, one per dim; st[k] are its strides over
// dims. An output of unit dims only collapses to no dims at all.
func Collapse(out []int, strides ...[]int) (dims []int, st [][]int) {
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

// Axis maps a possibly negative axis into [0, rank).
func Axis(axis int64, rank int) (int, error) {
	if axis < -int64(rank) || axis >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	if axis < 0 {
		axis += int64(rank)
	}
	return int(axis), nil
}

// Axes normalizes a list of axes and rejects duplicates.
func Axes(axes []int64, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := make([]bool, rank)
	for i, a := range axes {
		ax, err := Axis(a, rank)
		if err != nil {
			return nil, err
		}
		if seen[ax] {
			return nil, fmt.Errorf("axis %d repeated", a)
		}
		seen[ax] = true
		out[i] = ax
	}
	return out, nil
}

// Dims converts int64 dims to ints, rejecting negatives and sizes of 2^31
// elements or more (refused before anything absurd is allocated).
func Dims(v []int64) ([]int, error) {
	out := make([]int, len(v))
	total := int64(1)
	for i, d := range v {
		if d < 0 {
			return nil, fmt.Errorf("negative dim %d in %v", d, v)
		}
		if d > 0 && total > (1<<31)/d {
			return nil, fmt.Errorf("shape %v is too large", v)
		}
		total *= d
		out[i] = int(d)
	}
	return out, nil
}

// Range returns the dims [start, end) of shape as the Shape op (opset 15)
// reads them: negative bounds count from the end, then both are clamped
// to [0, rank]. The result is never nil.
func Range(shape []int, start, end int64) []int64 {
	r := int64(len(shape))
	clamp := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	dims := []int64{}
	for i := clamp(start); i < clamp(end); i++ {
		dims = append(dims, int64(shape[i]))
	}
	return dims
}

// Reshape resolves a Reshape shape spec against an input of shape in: 0
// copies the input dim (unless allowZero, when it is a literal 0) and one
// -1 is inferred.
func Reshape(in []int, spec []int64, allowZero bool) ([]int, error) {
	shape := make([]int, len(spec))
	infer := -1
	known := 1
	for i, d := range spec {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("more than one -1 in shape %v", spec)
			}
			infer = i
			continue
		case d == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v copies dim %d of a rank-%d input", spec, i, len(in))
			}
			shape[i] = in[i]
		case d < 0:
			return nil, fmt.Errorf("invalid dim %d in shape %v", d, spec)
		default:
			shape[i] = int(d)
		}
		known *= shape[i]
	}
	total := NumElements(in)
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, fmt.Errorf("cannot infer -1 in shape %v for %d elements", spec, total)
		}
		shape[infer] = total / known
	} else if known != total {
		return nil, fmt.Errorf("shape %v does not hold %d elements of input %v", spec, total, in)
	}
	return shape, nil
}

// Flatten is the 2-D shape Flatten gives shape at axis (in [-rank, rank]).
func Flatten(shape []int, axis int64) ([]int, error) {
	r := len(shape)
	if axis < -int64(r) || axis > int64(r) {
		return nil, fmt.Errorf("axis %d out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += int64(r)
	}
	return []int{NumElements(shape[:axis]), NumElements(shape[axis:])}, nil
}

// Squeeze drops the given axes of shape, which must be unit dims, or every
// unit dim when axes are not given.
func Squeeze(shape []int, axes []int64, given bool) ([]int, error) {
	drop := make([]bool, len(shape))
	if given {
		ax, err := Axes(axes, len(shape))
		if err != nil {
			return nil, err
		}
		for _, a := range ax {
			if shape[a] != 1 {
				return nil, fmt.Errorf("cannot squeeze axis %d of size %d", a, shape[a])
			}
			drop[a] = true
		}
	} else {
		for i, d := range shape {
			drop[i] = d == 1
		}
	}
	out := []int{}
	for i, d := range shape {
		if !drop[i] {
			out = append(out, d)
		}
	}
	return out, nil
}

// Unsqueeze inserts unit dims at axes, which refer to the output rank.
func Unsqueeze(shape []int, axes []int64) ([]int, error) {
	r := len(shape) + len(axes)
	ax, err := Axes(axes, r)
	if err != nil {
		return nil, err
	}
	insert := make([]bool, r)
	for _, a := range ax {
		insert[a] = true
	}
	out := make([]int, r)
	j := 0
	for i := range out {
		if insert[i] {
			out[i] = 1
		} else {
			out[i] = shape[j]
			j++
		}
	}
	return out, nil
}

// Perm normalizes Transpose's perm attribute for a rank-r input; a nil
// perm reverses the dims.
func Perm(perm []int64, r int) ([]int, error) {
	if perm == nil {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	if len(perm) != r {
		return nil, fmt.Errorf("perm %v does not match rank %d", perm, r)
	}
	return Axes(perm, r)
}

// Transpose returns shape permuted by perm (out dim i is dim perm[i]) and
// the strides that read a contiguous tensor of shape in that order.
func Transpose(shape, perm []int) (dims, strides []int) {
	st := Strides(shape)
	dims, strides = make([]int, len(perm)), make([]int, len(perm))
	for i, p := range perm {
		dims[i], strides[i] = shape[p], st[p]
	}
	return dims, strides
}

// ClampSlice applies ONNX Slice's rules to one axis of length d: negative
// start/end count from the end, then both are clamped (to [0, d] going
// forward, [-1, d-1] going backward). It returns the first index and how
// many elements the slice has.
func ClampSlice(d, start, end, step int64) (first, count int64) {
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

// Slice computes where ONNX Slice (starts, ends and the optional axes and
// steps, nil when absent) reads a row-major tensor of the given shape:
// the result dims, and the base offset and per-dim strides of the read.
// Bounds are clamped by ClampSlice, separately for positive and negative
// steps.
func Slice(shape []int, starts, ends, axes, steps []int64) (dims, strides []int, base int, err error) {
	if len(starts) != len(ends) {
		return nil, nil, 0, fmt.Errorf("starts %v and ends %v differ in length", starts, ends)
	}
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if steps == nil {
		steps = make([]int64, len(starts))
		for i := range steps {
			steps[i] = 1
		}
	}
	if len(axes) != len(starts) || len(steps) != len(starts) {
		return nil, nil, 0, fmt.Errorf("starts, ends, axes and steps differ in length")
	}
	ax, err := Axes(axes, len(shape))
	if err != nil {
		return nil, nil, 0, err
	}
	st := Strides(shape)
	dims = append([]int{}, shape...)
	strides = append([]int{}, st...)
	for i, a := range ax {
		step := steps[i]
		if step == 0 {
			return nil, nil, 0, fmt.Errorf("step 0 on axis %d", a)
		}
		first, cnt := ClampSlice(int64(shape[a]), starts[i], ends[i], step)
		dims[a] = int(cnt)
		strides[a] = st[a] * int(step)
		if cnt > 0 {
			base += int(first) * st[a]
		}
	}
	return dims, strides, base, nil
}

// Concat returns the shape of the concatenation along axis (normalized)
// of tensors of the given shapes, or bad >= 0: the index of the first
// shape whose rank or dims off axis differ from the first shape's.
func Concat(shapes [][]int, axis int) (shape []int, bad int) {
	first := shapes[0]
	shape = append([]int{}, first...)
	shape[axis] = 0
	for k, s := range shapes {
		if len(s) != len(first) {
			return nil, k
		}
		for i, d := range s {
			if i != axis && d != first[i] {
				return nil, k
			}
		}
		shape[axis] += s[axis]
	}
	return shape, -1
}

// EvenSplit splits a dim into k chunks as Split without sizes does: all
// of ceil(dim/k) elements but the last, which is smaller (opset 18).
func EvenSplit(dim, k int) ([]int64, error) {
	if k <= 0 {
		return nil, fmt.Errorf("no split sizes and no outputs to split into")
	}
	var sizes []int64
	chunk := (dim + k - 1) / k
	for left := dim; len(sizes) < k; left -= chunk {
		sizes = append(sizes, int64(max(min(chunk, left), 0)))
	}
	return sizes, nil
}

// CheckSplit verifies that split sizes are non-negative and sum to dim.
func CheckSplit(sizes []int64, dim int) error {
	total := int64(0)
	for _, s := range sizes {
		if s < 0 {
			return fmt.Errorf("negative split size in %v", sizes)
		}
		total += s
	}
	if total != int64(dim) {
		return fmt.Errorf("split sizes %v do not sum to dim %d", sizes, dim)
	}
	return nil
}

// Tile returns the output shape of Tile(shape, reps) and the walk that
// fills it: the output viewed as dims [r0, d0, r1, d1, …] reads the input
// with strides [0, s0, 0, s1, …].
func Tile(shape, reps []int) (out, dims, strides []int) {
	st := Strides(shape)
	out = make([]int, len(shape))
	for i, d := range shape {
		out[i] = d * reps[i]
		dims = append(dims, reps[i], d)
		strides = append(strides, 0, st[i])
	}
	return out, dims, strides
}

// Gather is the output shape of Gather along axis:
// data[:axis] + indices + data[axis+1:].
func Gather(data, indices []int, axis int) []int {
	return append(append(append([]int{}, data[:axis]...), indices...), data[axis+1:]...)
}

// Index maps a possibly negative index into [0, dim) of the given axis.
func Index(v int64, axis, dim int) (int, error) {
	if v < -int64(dim) || v >= int64(dim) {
		return 0, fmt.Errorf("index %d out of range for axis %d of size %d", v, axis, dim)
	}
	if v < 0 {
		v += int64(dim)
	}
	return int(v), nil
}

// Indices normalizes Gather indices into [0, dim) of the given axis.
func Indices(idx []int64, axis, dim int) ([]int, error) {
	out := make([]int, len(idx))
	for i, v := range idx {
		j, err := Index(v, axis, dim)
		if err != nil {
			return nil, err
		}
		out[i] = j
	}
	return out, nil
}

// InvertIndex inverts a map from positions j to rows rows[j] in [0, dim)
// (a counting sort): the positions that read row r are
// order[start[r]:start[r+1]], ascending. GatherGrad sums them in that
// order, which makes its scatter-add deterministic.
func InvertIndex(rows []int, dim int) (start, order []int) {
	start = make([]int, dim+1)
	for _, r := range rows {
		start[r+1]++
	}
	for r := 0; r < dim; r++ {
		start[r+1] += start[r]
	}
	order = make([]int, len(rows))
	fill := append([]int(nil), start[:dim]...)
	for j, r := range rows {
		order[fill[r]] = j
		fill[r]++
	}
	return start, order
}

// Rows views a shape of rank ≥ 1 as rows of its last dim: the layout of the
// per-row ops (RowNorms, QuantizeRows). A last dim of 0 gives rows of
// nothing, still counted.
func Rows(shape []int) (rows, cols int) {
	r := len(shape)
	return NumElements(shape[:r-1]), shape[r-1]
}
