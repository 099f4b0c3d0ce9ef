package emu

import (
	"encoding/binary"
	"math"
	"os/exec"
	"testing"

	"crsc/runtime/cuda"
)

// open returns an emulated device closed at the end of the test, or skips
// the test when there is no g++ to compile kernels with.
func open(t *testing.T) cuda.Device {
	t.Helper()
	if _, err := exec.LookPath(cxxName()); err != nil {
		t.Skipf("%s not found: the CPU emulator needs it to compile kernels", cxxName())
	}
	d, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func compile(t *testing.T, d cuda.Device, name, src string) cuda.Module {
	t.Helper()
	m, err := d.Compile(name, src)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func launch(t *testing.T, d cuda.Device, m cuda.Module, kernel string, grid, block cuda.Dim3, shared uint32, args ...any) {
	t.Helper()
	if err := d.Launch(m, kernel, grid, block, shared, args...); err != nil {
		t.Fatal(err)
	}
}

// allocN returns n elements of 4 bytes of device memory, freed at the end.
func allocN(t *testing.T, d cuda.Device, n int) cuda.Ptr {
	t.Helper()
	p, err := d.Alloc(int64(4 * n))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Free(p) })
	return p
}

// upload copies xs to the device as their bits, as download reads them
// back through downloadU32.
func upload(t *testing.T, d cuda.Device, xs []float32) cuda.Ptr {
	t.Helper()
	u := make([]uint32, len(xs))
	for i, x := range xs {
		u[i] = math.Float32bits(x)
	}
	return uploadU32(t, d, u)
}

func uploadU32(t *testing.T, d cuda.Device, xs []uint32) cuda.Ptr {
	t.Helper()
	p := allocN(t, d, max(len(xs), 1))
	b := make([]byte, 4*len(xs))
	for i, x := range xs {
		binary.NativeEndian.PutUint32(b[4*i:], x)
	}
	if err := d.CopyToDevice(p, b); err != nil {
		t.Fatal(err)
	}
	return p
}

func downloadU32(t *testing.T, d cuda.Device, p cuda.Ptr, n int) []uint32 {
	t.Helper()
	b := make([]byte, 4*n)
	if err := d.CopyToHost(b, p); err != nil {
		t.Fatal(err)
	}
	xs := make([]uint32, n)
	for i := range xs {
		xs[i] = binary.NativeEndian.Uint32(b[4*i:])
	}
	return xs
}

func download(t *testing.T, d cuda.Device, p cuda.Ptr, n int) []float32 {
	t.Helper()
	u := downloadU32(t, d, p, n)
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = math.Float32frombits(u[i])
	}
	return xs
}

// ramp returns n deterministic values in [-1, 1).
func ramp(n int, seed uint32) []float32 {
	xs := make([]float32, n)
	s := seed*2654435761 + 1
	for i := range xs {
		s = s*1664525 + 1013904223
		xs[i] = float32(s>>8)/float32(1<<23) - 1
	}
	return xs
}
