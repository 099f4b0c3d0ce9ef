package emu

import (
	"testing"

	"crsc/runtime/cuda"
)

// openToy opens the emulator with toySource compiled, or skips b.
func openToy(b *testing.B) (cuda.Device, cuda.Module) {
	b.Helper()
	d, err := Open()
	if err != nil {
		b.Skip(err)
	}
	m, err := d.Compile("toy", toySource)
	if err != nil {
		d.Close()
		b.Fatal(err)
	}
	return d, m
}

// BenchmarkBarrierLaunch measures a barrier-heavy launch: 1024 blocks of
// 256 fibers, 9 barriers each (about 2.4M fiber switches).
func BenchmarkBarrierLaunch(b *testing.B) {
	d, m := openToy(b)
	defer d.Close()
	const n, blocks = 1 << 20, 1024
	x, _ := d.Alloc(4 * n)
	p, _ := d.Alloc(4 * blocks)
	for i := 0; i < b.N; i++ {
		if err := d.Launch(m, "block_sum", cuda.Dim3{X: blocks, Y: 1, Z: 1}, cuda.Dim3{X: 256, Y: 1, Z: 1}, 1024, x, p, int32(n)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkElementwise measures a barrier-free launch over 1M elements in a
// module whose other kernels use barriers: it must not pay for fibers.
func BenchmarkElementwise(b *testing.B) {
	d, m := openToy(b)
	defer d.Close()
	const n = 1 << 20
	x, _ := d.Alloc(4 * n)
	g, blk := cuda.Grid1D(n, 256)
	for i := 0; i < b.N; i++ {
		if err := d.Launch(m, "add", g, blk, 0, x, x, x, int32(n)); err != nil {
			b.Fatal(err)
		}
	}
}
