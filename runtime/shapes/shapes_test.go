package shapes

import (
	"slices"
	"testing"
)

func TestBroadcast(t *testing.T) {
	got, err := Broadcast([]int{2, 1, 3}, []int{4, 1}, nil)
	if err != nil || !slices.Equal(got, []int{2, 4, 3}) {
		t.Fatalf("Broadcast = %v, %v", got, err)
	}
	if _, err := Broadcast([]int{2}, []int{3}); err == nil || err.Error() != "shapes [[2] [3]] are not broadcast-compatible" {
		t.Fatalf("Broadcast([2], [3]) error %v", err)
	}
}

func TestCollapse(t *testing.T) {
	// A same-shape walk becomes one dim; a broadcast dim stays apart.
	dims, st := Collapse([]int{2, 3, 4}, Strides([]int{2, 3, 4}))
	if !slices.Equal(dims, []int{24}) || !slices.Equal(st[0], []int{1}) {
		t.Fatalf("Collapse contiguous = %v %v", dims, st)
	}
	dims, st = Collapse([]int{2, 1, 4}, AlignedStrides([]int{4}, 3), Strides([]int{2, 1, 4}))
	if !slices.Equal(dims, []int{2, 4}) || !slices.Equal(st[0], []int{0, 1}) || !slices.Equal(st[1], []int{4, 1}) {
		t.Fatalf("Collapse broadcast = %v %v", dims, st)
	}
}

func TestSlice(t *testing.T) {
	// x[1:, ::-2] of a [3, 5] tensor.
	dims, strides, base, err := Slice([]int{3, 5}, []int64{1, -1}, []int64{100, -100}, nil, []int64{1, -2})
	if err != nil || !slices.Equal(dims, []int{2, 3}) || !slices.Equal(strides, []int{5, -2}) || base != 9 {
		t.Fatalf("Slice = %v %v %d %v", dims, strides, base, err)
	}
	if _, _, _, err := Slice([]int{3}, []int64{0}, []int64{1}, nil, []int64{0}); err == nil || err.Error() != "step 0 on axis 0" {
		t.Fatalf("step 0: %v", err)
	}
}

func TestMatMulOffsets(t *testing.T) {
	mm, err := MatMulShape([]int{2, 1, 3, 4}, []int{3, 4, 5}, false, false)
	if err != nil || !slices.Equal(mm.Shape, []int{2, 3, 3, 5}) {
		t.Fatalf("MatMulShape = %+v, %v", mm, err)
	}
	a, b := mm.Offsets()
	if !slices.Equal(a, []int{0, 0, 0, 12, 12, 12}) || !slices.Equal(b, []int{0, 20, 40, 0, 20, 40}) {
		t.Fatalf("Offsets = %v %v", a, b)
	}
	mm, err = MatMulShape([]int{4}, []int{4}, false, false)
	if err != nil || len(mm.Shape) != 0 || mm.M != 1 || mm.N != 1 {
		t.Fatalf("vector·vector = %+v, %v", mm, err)
	}
}

func TestGemm(t *testing.T) {
	// A' = [2, 3] (A transposed), B = [3, 5].
	if m, k, n, err := Gemm([]int{3, 2}, []int{3, 5}, true, false); err != nil || m != 2 || k != 3 || n != 5 {
		t.Fatalf("Gemm = %d %d %d, %v", m, k, n, err)
	}
	if _, _, _, err := Gemm([]int{2, 3}, []int{2, 5}, false, false); err == nil || err.Error() != "inner dims differ: A [2 3] (transA=false), B [2 5] (transB=false)" {
		t.Fatalf("mismatch: %v", err)
	}
	if _, _, _, err := Gemm([]int{2, 3, 1}, []int{3, 5}, false, false); err == nil {
		t.Fatal("3-D A: no error")
	}
}

func TestReduce(t *testing.T) {
	r := Reduce([]int{2, 3, 4}, []int{2, 1}, false, false)
	if !slices.Equal(r.Shape, []int{2}) || r.Perm != nil || r.Outer != 2 || r.Red != 12 || r.Inner != 1 {
		t.Fatalf("adjacent = %+v", r)
	}
	r = Reduce([]int{2, 3, 4}, []int{0, 2}, true, false)
	if !slices.Equal(r.Shape, []int{1, 3, 1}) || !slices.Equal(r.Perm, []int{1, 0, 2}) || r.Outer != 3 || r.Red != 8 {
		t.Fatalf("split axes = %+v", r)
	}
	r = Reduce([]int{2, 3, 4}, []int{1}, false, true)
	if !slices.Equal(r.Perm, []int{0, 2, 1}) || r.Inner != 1 {
		t.Fatalf("inner one = %+v", r)
	}
	r = Reduce(nil, nil, false, false)
	if len(r.Shape) != 0 || r.Outer*r.Red*r.Inner != 1 {
		t.Fatalf("scalar = %+v", r)
	}
}

func TestInvertIndex(t *testing.T) {
	start, order := InvertIndex([]int{2, 0, 2, 1}, 3)
	if !slices.Equal(start, []int{0, 1, 2, 4}) || !slices.Equal(order, []int{1, 3, 0, 2}) {
		t.Fatalf("InvertIndex = %v %v", start, order)
	}
}

func TestRows(t *testing.T) {
	for _, c := range []struct {
		shape      []int
		rows, cols int
	}{{[]int{5}, 1, 5}, {[]int{2, 3, 4}, 6, 4}, {[]int{5, 0}, 5, 0}, {[]int{0, 7}, 0, 7}} {
		if r, k := Rows(c.shape); r != c.rows || k != c.cols {
			t.Errorf("Rows(%v) = %d, %d; want %d, %d", c.shape, r, k, c.rows, c.cols)
		}
	}
}
