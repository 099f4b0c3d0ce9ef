package shapes

import (
	"slices"
	"testing"
)

// TestStridedMatMulLayout: attention's layouts (heads read out of and
// written back into [batch, seq, heads, dim]) and the permutations that
// cannot be read as a GEMM operand.
func TestStridedMatMulLayout(t *testing.T) {
	const b, s, h, d = 2, 3, 4, 5 // [b, s, h, d] stored: strides 60, 20, 5, 1
	q := []int{b, s, h, d}
	heads := []int64{0, 2, 1, 3}
	// scores = q·kᵀ per head: A rows s (stride h·d), B = k read transposed.
	l, err := StridedMatMulLayout(q, q, heads, []int64{0, 2, 3, 1}, nil, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if l.M != s || l.K != d || l.N != s || l.TransA || !l.TransB || l.LDA != h*d || l.LDB != h*d || l.LDC != s {
		t.Errorf("scores layout %+v", l)
	}
	if !slices.Equal(l.Shape, []int{b, h, s, s}) || !slices.Equal(l.AOff[:h+1], []int{0, 5, 10, 15, 60}) || !slices.Equal(l.COff[:2], []int{0, 9}) {
		t.Errorf("scores offsets/shape: shape %v, A %v, C %v", l.Shape, l.AOff, l.COff)
	}
	// context = p·v, written back as [b, s, h, d].
	l, err = StridedMatMulLayout([]int{b, h, s, s}, q, nil, heads, heads, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.Shape, q) || l.LDC != h*d || l.TransB || l.LDB != h*d || !slices.Equal(l.COff[:h+1], []int{0, 5, 10, 15, 60}) {
		t.Errorf("context layout %+v", l)
	}
	// Broadcast: one B for every batch element.
	l, err = StridedMatMulLayout([]int{2, 3, 4}, []int{1, 4, 5}, []int64{0, 1, 2}, nil, nil, false, false)
	if err != nil || !slices.Equal(l.BOff, []int{0, 0}) || !slices.Equal(l.AOff, []int{0, 12}) {
		t.Errorf("broadcast B: %+v, %v", l, err)
	}
	for _, bad := range []struct {
		name       string
		a, b       []int
		pa, pb, py []int64
	}{
		{"operand with neither dim contiguous", q, []int{1, 1, h, 7}, []int64{1, 3, 0, 2}, nil, nil},
		{"result's last dim moved", []int{2, 3, 4}, []int{2, 4, 5}, nil, nil, []int64{2, 1, 0}},
		{"inner dims differ", q, q, heads, heads, nil},
		{"perm of the wrong rank", q, q, []int64{0, 1, 2}, nil, nil},
		{"rank-1 operand", []int{4}, []int{4, 5}, []int64{0}, nil, nil},
	} {
		if _, err := StridedMatMulLayout(bad.a, bad.b, bad.pa, bad.pb, bad.py, false, false); err == nil {
			t.Errorf("%s: no error", bad.name)
		} else {
			t.Logf("%s: %v", bad.name, err)
		}
	}
}
