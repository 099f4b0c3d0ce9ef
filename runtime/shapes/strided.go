package shapes

import (
	"fmt"
	"slices"
)

// StridedMatMul is the layout of an ai.crsc.MatMul whose operands are
// read, and whose output is written, through permutations of their dims
// (its permA, permB and permY attributes): attention's batched products
// then read the heads straight out of [batch, seq, heads, dim] and write
// them back there, without Transpose copies. Each batch element is one
// GEMM of strided matrices.
type StridedMatMul struct {
	M, K, N        int
	TransA, TransB bool // whether the GEMM reads each stored matrix transposed
	LDA, LDB, LDC  int
	// AOff, BOff, COff: per batch element, in row-major order of the
	// broadcast batch dims, where its matrices start.
	AOff, BOff, COff []int
	Shape            []int // the output's shape, permY applied
}

// view is an operand as the product reads it: its dims and their strides
// in the stored tensor.
type view struct{ dims, strides []int }

func permutedView(shape []int, perm []int64, trans bool) (view, error) {
	if len(shape) < 2 {
		return view{}, fmt.Errorf("a permuted operand must have rank >= 2, got %v", shape)
	}
	p, err := Perm(identityIfNil(perm, len(shape)), len(shape))
	if err != nil {
		return view{}, err
	}
	d, s := Transpose(shape, p)
	if trans {
		r := len(d)
		d[r-1], d[r-2] = d[r-2], d[r-1]
		s[r-1], s[r-2] = s[r-2], s[r-1]
	}
	return view{d, s}, nil
}

func identityIfNil(perm []int64, r int) []int64 {
	if perm != nil {
		return perm
	}
	id := make([]int64, r)
	for i := range id {
		id[i] = int64(i)
	}
	return id
}

// matrix reads the last two dims of v as a GEMM operand: not transposed
// when its rows are contiguous, transposed when its columns are.
func (v view) matrix(what string) (trans bool, ld int, err error) {
	r := len(v.dims)
	rows, cols, rs, cs := v.dims[r-2], v.dims[r-1], v.strides[r-2], v.strides[r-1]
	switch {
	case cs == 1 || cols == 1:
		return false, max(rs, cols, 1), nil
	case rs == 1 || rows == 1:
		return true, max(cs, rows, 1), nil
	}
	return false, 0, fmt.Errorf("%s's matrices have strides %d and %d: neither dim is contiguous", what, rs, cs)
}

// StridedMatMulLayout lays out the product of a (shape a, permuted by pa,
// then its last two dims swapped when ta) and b likewise, its result
// permuted by py; a nil perm is the identity. Batch dims broadcast.
func StridedMatMulLayout(a, b []int, pa, pb, py []int64, ta, tb bool) (*StridedMatMul, error) {
	va, err := permutedView(a, pa, ta)
	if err != nil {
		return nil, err
	}
	vb, err := permutedView(b, pb, tb)
	if err != nil {
		return nil, err
	}
	ra, rb := len(va.dims), len(vb.dims)
	mm := &StridedMatMul{M: va.dims[ra-2], K: va.dims[ra-1], N: vb.dims[rb-1]}
	if vb.dims[rb-2] != mm.K {
		return nil, fmt.Errorf("inner dims differ: %v × %v", va.dims, vb.dims)
	}
	if mm.TransA, mm.LDA, err = va.matrix("A"); err != nil {
		return nil, err
	}
	if mm.TransB, mm.LDB, err = vb.matrix("B"); err != nil {
		return nil, err
	}
	batch, err := Broadcast(va.dims[:ra-2], vb.dims[:rb-2])
	if err != nil {
		return nil, err
	}
	result := append(slices.Clone(batch), mm.M, mm.N)
	r := len(result)
	p, err := Perm(identityIfNil(py, r), r)
	if err != nil {
		return nil, fmt.Errorf("permY: %v", err)
	}
	if p[r-1] != r-1 {
		return nil, fmt.Errorf("permY %v moves the output's last dim: its rows would not be contiguous", py)
	}
	// Where each dim of the result lands in the stored output.
	mm.Shape = make([]int, r)
	cStrides := make([]int, r)
	stored := Strides(permute(result, p))
	for j, i := range p {
		mm.Shape[j], cStrides[i] = result[i], stored[j]
	}
	mm.LDC = max(cStrides[r-2], mm.N, 1)
	mm.AOff, mm.BOff, mm.COff = batchOffsets(batch, va, vb, cStrides[:r-2])
	return mm, nil
}

func permute(s, p []int) []int {
	out := make([]int, len(p))
	for j, i := range p {
		out[j] = s[i]
	}
	return out
}

// batchOffsets walks the broadcast batch dims in row-major order and
// returns where each element's A, B and C matrices start; an operand's
// batch dims align to the right, a missing or size-1 dim broadcasting.
func batchOffsets(batch []int, va, vb view, cStrides []int) (aOff, bOff, cOff []int) {
	stride := func(v view, d int) int { // v's stride of batch dim d
		i := d - (len(batch) - (len(v.dims) - 2))
		if i < 0 || v.dims[i] == 1 {
			return 0
		}
		return v.strides[i]
	}
	nb := NumElements(batch)
	aOff, bOff, cOff = make([]int, nb), make([]int, nb), make([]int, nb)
	idx := make([]int, len(batch))
	for e := range nb {
		for d, x := range idx {
			aOff[e] += x * stride(va, d)
			bOff[e] += x * stride(vb, d)
			cOff[e] += x * cStrides[d]
		}
		for d := len(idx) - 1; d >= 0; d-- { // odometer
			if idx[d]++; idx[d] < batch[d] {
				break
			}
			idx[d] = 0
		}
	}
	return aOff, bOff, cOff
}
