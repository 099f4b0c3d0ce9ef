package emu

import (
	"fmt"
	"math"
	"runtime"

	"crsc/runtime/cuda"
)

// Gemm computes C = Alpha·op(A)·op(B) + Beta·C (see cuda.GemmArgs) on the
// CPU, after checking that every matrix lies inside a live allocation.
// Batch 0 is taken as 1. With Beta 0, C's old contents are ignored.
func (d *Device) Gemm(g cuda.GemmArgs) error {
	if g.Batch == 0 {
		g.Batch = 1
	}
	if g.M < 0 || g.N < 0 || g.K < 0 || g.Batch < 0 {
		return fmt.Errorf("emu: Gemm: negative size M=%d N=%d K=%d Batch=%d", g.M, g.N, g.K, g.Batch)
	}
	if g.M == 0 || g.N == 0 {
		return nil
	}
	ar, ac, br, bc := g.Stored()
	if g.LDA < max(1, ac) || g.LDB < max(1, bc) || g.LDC < max(1, g.N) {
		return fmt.Errorf("emu: Gemm: leading dimensions LDA=%d LDB=%d LDC=%d are less than the row lengths %d, %d, %d",
			g.LDA, g.LDB, g.LDC, ac, bc, g.N)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	useAB := g.K > 0 && g.Alpha != 0
	mats := []struct {
		name       string
		p          cuda.Ptr
		rows, cols int
		ld         int
		stride     int64
		needed     bool
	}{
		{name: "A", p: g.A, rows: ar, cols: ac, ld: g.LDA, stride: g.StrideA, needed: useAB},
		{name: "B", p: g.B, rows: br, cols: bc, ld: g.LDB, stride: g.StrideB, needed: useAB},
		{name: "C", p: g.C, rows: g.M, cols: g.N, ld: g.LDC, stride: g.StrideC, needed: true},
	}
	for _, m := range mats {
		if !m.needed {
			continue
		}
		if m.stride < 0 {
			return fmt.Errorf("emu: Gemm: negative Stride%s %d", m.name, m.stride)
		}
		// Elements from the first matrix's start to the last one's end.
		span := int64(g.Batch-1)*m.stride + int64(m.rows-1)*int64(m.ld) + int64(m.cols)
		if err := d.check("Gemm "+m.name, m.p, 4*span); err != nil {
			return err
		}
	}
	p := [17]int64{b2i(g.TransA), b2i(g.TransB), int64(g.M), int64(g.N), int64(g.K),
		int64(g.A), int64(g.B), int64(g.C), int64(g.LDA), int64(g.LDB), int64(g.LDC),
		int64(g.Batch), g.StrideA, g.StrideB, g.StrideC,
		int64(math.Float32bits(g.Alpha)), int64(math.Float32bits(g.Beta))}
	d.rt.gemm(&p[0])
	runtime.KeepAlive(&p)
	return nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
