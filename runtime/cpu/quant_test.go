package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"crsc/compiler/ir"
)

// TestQuantizeRowsRoundTrip checks the 8-bit stash ops against the scheme
// written out independently here: per row s = max|x|/127, code
// round-half-even(x·127/max|x|) in ±127, decoded c·s, so the error is at
// most s/2 (plus a float32 rounding); rows with a NaN decode to NaN, rows
// of zeros to zeros; the packing is ir.Int8RowsAt's, the unused bytes of
// the last word 0; large tensors take the parallel path. Both dispatch
// paths (Go, AVX-512) run it.
func TestQuantizeRowsRoundTrip(t *testing.T) { simdPaths(t, testQuantizeRowsRoundTrip) }

func testQuantizeRowsRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct {
		shape []int
		set   map[int]float32 // special elements
	}{
		{[]int{1}, nil},
		{[]int{3}, map[int]float32{0: 0, 1: 0, 2: 0}},
		{[]int{2, 5}, map[int]float32{7: nan}},
		{[]int{2, 3}, map[int]float32{1: inf}},
		{[]int{4, 7}, map[int]float32{0: 1e-30, 3: -1e30}},
		{[]int{2, 3, 17}, nil},
		{[]int{3, 15}, nil},
		{[]int{2, 16}, nil},
		{[]int{2, 33}, map[int]float32{40: -nan}},
		{[]int{1, 20}, map[int]float32{3: 1e-42, 5: -1e-43}}, // subnormal largest: inv overflows
		{[]int{64, 1000}, nil},                               // parallel
		{[]int{5, 0}, nil},
	} {
		t.Run(fmt.Sprint(c.shape), func(t *testing.T) {
			x := ir.NewTensor(ir.Float32, c.shape...)
			for i := range x.F32 {
				x.F32[i] = float32(rnd.NormFloat64() * math.Pow(10, float64(rnd.IntN(7)-3)))
				if v, ok := c.set[i]; ok {
					x.F32[i] = v
				}
			}
			ctx := &Ctx{Threads: 2}
			q, err := quantizeRowsKernel(ctx, &ir.Node{Op: "QuantizeRows", Name: "q"}, []*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			codes, scale := q[0], q[1]
			if codes.DType != ir.Int8Rows || codes.CheckData() != nil || scale.CheckData() != nil {
				t.Fatalf("outputs %v %v / %v", codes.DType, codes.CheckData(), scale.CheckData())
			}
			for i := x.Len(); i < 4*len(codes.I32); i++ {
				if ir.Int8RowsAt(codes.I32, i) != 0 {
					t.Fatalf("padding byte %d is not 0", i)
				}
			}
			back, err := dequantizeRowsKernel(ctx, &ir.Node{Op: "DequantizeRows", Name: "d"}, q)
			if err != nil {
				t.Fatal(err)
			}
			cols := c.shape[len(c.shape)-1]
			for r := 0; cols > 0 && r < x.Len()/cols; r++ {
				checkQuantizedRow(t, r, x.F32[r*cols:(r+1)*cols], codes.I32, back[0].F32[r*cols:(r+1)*cols], r*cols)
			}
		})
	}
}

// checkQuantizedRow checks row r of x (its first element at index base):
// a row with a NaN or an infinity decodes to NaN, a zero row to zeros, any
// other element's code is round-half-even(x·127/max|x|) within one and
// decodes to within max|x|/254.
func checkQuantizedRow(t *testing.T, r int, row []float32, codes []int32, decoded []float32, base int) {
	t.Helper()
	m, bad := 0.0, false
	for _, v := range row {
		m = math.Max(m, math.Abs(float64(v)))
		bad = bad || math.IsNaN(float64(v)) || math.IsInf(float64(v), 0)
	}
	for j, v := range row {
		i, got := base+j, float64(decoded[j])
		switch {
		case bad:
			if !math.IsNaN(got) {
				t.Fatalf("row %d holds a non-finite value, element %d decodes to %g", r, j, got)
			}
			continue
		case m == 0:
			if got != 0 {
				t.Fatalf("zero row %d decodes %g", r, got)
			}
			continue
		}
		want := math.RoundToEven(float64(v) * float64(float32(127/float32(m))))
		if c := ir.Int8RowsAt(codes, i); math.Abs(float64(c)-want) > 1 || math.Abs(float64(c)) > 127 {
			t.Fatalf("element %d (%g, row max %g): code %d, want about %g", i, v, m, c, want)
		}
		if err := math.Abs(got - float64(v)); err > m/254*(1+1e-5) {
			t.Fatalf("element %d: %g decodes to %g, error %g > max|x|/254 = %g", i, v, got, err, m/254)
		}
	}
}

// TestInt8RowsCodeRounding holds the add-and-subtract rounding of
// ir.Int8RowsCode to math.RoundToEven on ties, near-ties and the clamp.
func TestInt8RowsCodeRounding(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	check := func(q float32) {
		want := math.Max(-127, math.Min(127, math.RoundToEven(float64(q))))
		if got := ir.Int8RowsCode(q, 1); float64(got) != want {
			t.Fatalf("code of %v = %d, want %v", q, got, want)
		}
	}
	for k := -130; k <= 130; k++ {
		for _, d := range []float32{0, 0.5, -0.5, 0.49999997, 0.50000006} {
			check(float32(k) + d)
		}
	}
	for range 100000 {
		check(float32(rnd.Float64()*300 - 150))
	}
	if got := ir.Int8RowsCode(float32(math.NaN()), 1); got != 0 {
		t.Fatalf("NaN codes to %d, want 0", got)
	}
}

func TestQuantizeRowsRefusesBadInput(t *testing.T) {
	node := &ir.Node{Op: "QuantizeRows", Name: "q"}
	for _, in := range []*ir.Tensor{ir.FromInt64([]int{2}, []int64{1, 2}), ir.NewTensor(ir.Float32)} {
		if _, err := quantizeRowsKernel(nil, node, []*ir.Tensor{in}); err == nil {
			t.Errorf("QuantizeRows of %v%v: no error", in.DType, in.Shape)
		}
	}
	codes := &ir.Tensor{DType: ir.Int8Rows, Shape: []int{2, 4}, I32: make([]int32, 2)}
	if _, err := dequantizeRowsKernel(nil, &ir.Node{Op: "DequantizeRows", Name: "d"}, []*ir.Tensor{codes, ir.NewTensor(ir.Float32, 3, 1)}); err == nil {
		t.Error("DequantizeRows with 3 scales for 2 rows: no error")
	}
}

// TestQuantizeRowsPathsAgree: the AVX-512 and Go paths give the same codes,
// scales and decoded bits on every row, the rows that hold NaN, Inf, zeros
// or only subnormals included.
func TestQuantizeRowsPathsAgree(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512 on this machine: the Go path is the only one")
	}
	saved := useAVX512
	defer func() { useAVX512 = saved }()
	rnd := rand.New(rand.NewPCG(7, 8))
	specials := []float32{0, float32(math.NaN()), float32(math.Inf(-1)), 1e-42, 3e38, -0.5, 0.5}
	for _, cols := range []int{1, 7, 16, 31, 100, 769} {
		x := ir.NewTensor(ir.Float32, 9, cols)
		for i := range x.F32 {
			x.F32[i] = float32(rnd.NormFloat64() * 3)
			if r := i / cols; r < len(specials) && i%cols == r%cols {
				x.F32[i] = specials[r]
			}
		}
		var res [2][]*ir.Tensor
		for k, simd := range []bool{false, true} {
			useAVX512 = simd
			q, err := quantizeRowsKernel(nil, &ir.Node{Op: "QuantizeRows", Name: "q"}, []*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			d, err := dequantizeRowsKernel(nil, &ir.Node{Op: "DequantizeRows", Name: "d"}, q)
			if err != nil {
				t.Fatal(err)
			}
			res[k] = append(q, d[0])
		}
		for k, name := range []string{"codes", "scales", "decoded"} {
			a, b := res[0][k], res[1][k]
			for i := range max(len(a.I32), len(a.F32)) {
				var u, v uint32
				if a.I32 != nil {
					u, v = uint32(a.I32[i]), uint32(b.I32[i])
				} else {
					u, v = math.Float32bits(a.F32[i]), math.Float32bits(b.F32[i])
				}
				if u != v {
					t.Fatalf("cols %d: %s word %d: go %#08x, avx512 %#08x", cols, name, i, u, v)
				}
			}
		}
	}
}

// BenchmarkQuantizeRows: a BERT-base hidden state (8 × 128 × 768) to 8-bit
// rows and back, on the machine's dispatch path (CRSC_SIMD=off: the Go
// loops).
func BenchmarkQuantizeRows(b *testing.B) {
	x := ir.NewTensor(ir.Float32, 8*128, 768)
	rnd := rand.New(rand.NewPCG(1, 1))
	for i := range x.F32 {
		x.F32[i] = float32(rnd.NormFloat64())
	}
	b.SetBytes(int64(4 * x.Len()))
	ctx := &Ctx{Threads: 1}
	for b.Loop() {
		q, _ := quantizeRowsKernel(ctx, &ir.Node{Op: "QuantizeRows"}, []*ir.Tensor{x})
		_, _ = dequantizeRowsKernel(ctx, &ir.Node{Op: "DequantizeRows"}, q)
	}
}
