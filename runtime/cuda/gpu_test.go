//go:build linux && (amd64 || arm64)

package cuda

import (
	"strings"
	"testing"
	"unsafe"
)

// TestOpenWithoutGPU: on a machine without a driver or GPU, Open fails with
// a message saying what is missing, and does not panic.
func TestOpenWithoutGPU(t *testing.T) {
	d, err := Open(0)
	if err == nil {
		d.Close()
		t.Skip("skipping: a GPU is present (see TestGPU)")
	}
	msg := err.Error()
	t.Logf("Open(0): %s", msg)
	if !strings.HasPrefix(msg, "cuda: ") || strings.Contains(msg, "\n") {
		t.Errorf("error is not one cuda: line: %q", msg)
	}
	if driverLib.err != nil && !strings.Contains(msg, "libcuda.so.1") {
		t.Errorf("driver missing but the error does not name libcuda.so.1: %q", msg)
	}
	if _, err := Open(-1); err == nil {
		t.Error("Open(-1) succeeded")
	}
}

// openGPU opens device 0 or skips the test, saying what is missing.
func openGPU(t *testing.T) Device {
	t.Helper()
	d, err := Open(0)
	if err != nil {
		t.Skipf("skipping: no usable GPU here (%v)", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func f32bytes(v []float32) []byte { return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)) }

// TestGPU exercises the real device end to end; it runs only with a GPU.
func TestGPU(t *testing.T) {
	t.Setenv("CRSC_CACHE_DIR", t.TempDir())
	d := openGPU(t)
	info := d.Info()
	t.Logf("%s; libraries %v", info, info.Libraries)
	for _, k := range []string{"driver", "cublas", "nvrtc", "nvrtc-version", "driver-version"} {
		if info.Libraries[k] == "" {
			t.Errorf("Info().Libraries[%q] is empty", k)
		}
	}
	if !strings.HasPrefix(info.Arch, "sm_") || info.TotalMem <= 0 {
		t.Errorf("bad Info %+v", info)
	}

	t.Run("copies", func(t *testing.T) {
		// Larger than the staging buffer, with a partial last chunk.
		n := stagingSize + stagingSize/3 + 5
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(i*31 + i>>16)
		}
		a, err := d.Alloc(int64(n))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Free(a)
		b, err := d.Alloc(int64(n))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Free(b)
		check(t, d.CopyToDevice(a, src))
		check(t, d.CopyDevice(b, a, int64(n)))
		check(t, d.Zero(b+100, 50))
		got := make([]byte, n)
		check(t, d.CopyToHost(got, b))
		for i := range got {
			want := src[i]
			if i >= 100 && i < 150 {
				want = 0
			}
			if got[i] != want {
				t.Fatalf("byte %d = %d, want %d", i, got[i], want)
			}
		}
		free, total, err := d.MemInfo()
		if err != nil || free <= 0 || total < free {
			t.Errorf("MemInfo = %d, %d, %v", free, total, err)
		}
		if err := d.Free(a + 1); err == nil {
			t.Error("freeing an interior pointer succeeded")
		}
	})

	t.Run("kernel", func(t *testing.T) {
		m, err := d.Compile("sum", testKernel)
		if err != nil {
			t.Fatal(err)
		}
		const n, block = 10000, 256
		x := make([]float32, n)
		var want float32
		for i := range x {
			x[i] = float32(i % 7)
			want += 2 * x[i]
		}
		xp, _ := d.Alloc(4 * n)
		out, _ := d.Alloc(4)
		defer d.Free(xp)
		defer d.Free(out)
		check(t, d.CopyToDevice(xp, f32bytes(x)))
		grid, blk := Grid1D(n, block)
		for _, shared := range []uint32{4 * block, 64 << 10} { // the second needs the >48 KiB opt-in
			check(t, d.Zero(out, 4))
			check(t, d.Launch(m, "sum", grid, blk, shared, xp, out, int64(n)))
			check(t, d.Synchronize())
			got := make([]float32, 1)
			check(t, d.CopyToHost(f32bytes(got), out))
			if got[0] != want {
				t.Errorf("shared %d: sum = %v, want %v", shared, got[0], want)
			}
		}
		if err := d.Launch(m, "sum", grid, blk, 4*block, xp, out, n); err == nil || !strings.Contains(err.Error(), "argument 2") {
			t.Errorf("int argument: %v", err)
		}
		if err := d.Launch(m, "nosuch", grid, blk, 0); err == nil || !strings.Contains(err.Error(), "CUDA_ERROR_NOT_FOUND") {
			t.Errorf("missing kernel: %v", err)
		}
	})

	t.Run("gemm", func(t *testing.T) {
		// Same layout as TestColMajorGemmMapping, on the device: host "memory"
		// indices become device addresses base + 4*index.
		const M, N, K = 33, 65, 17
		mem := make([]float32, 20000)
		for i := range mem {
			mem[i] = float32((i*7)%11 - 5)
		}
		base, err := d.Alloc(int64(4 * len(mem)))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Free(base)
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, batch := range []int{1, 3} {
					_, rowA, _, rowB := GemmArgs{TransA: ta, TransB: tb, M: M, N: N, K: K}.Stored()
					g := GemmArgs{TransA: ta, TransB: tb, M: M, N: N, K: K, Alpha: 1.5, Beta: 0.5,
						A: 10, B: 5000, C: 12000, LDA: rowA + 1, LDB: rowB + 3, LDC: N + 2,
						Batch: batch, StrideA: 0, StrideB: 1500, StrideC: int64(M * (N + 2))}
					want := append([]float32(nil), mem...)
					refRowMajorGemm(want, g)
					dev := g
					dev.A, dev.B, dev.C = base+4*g.A, base+4*g.B, base+4*g.C
					check(t, d.CopyToDevice(base, f32bytes(mem)))
					check(t, d.Gemm(dev))
					got := make([]float32, len(mem))
					check(t, d.CopyToHost(f32bytes(got), base))
					for i := range got {
						if got[i] != want[i] {
							t.Fatalf("transA=%v transB=%v batch=%d: elem %d = %v, want %v", ta, tb, batch, i, got[i], want[i])
						}
					}
				}
			}
		}
	})

	check(t, d.Close())
	check(t, d.Close())
	if _, err := d.Alloc(4); err != errClosed {
		t.Errorf("Alloc after Close: %v", err)
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
