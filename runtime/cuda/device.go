package cuda

import (
	_ "embed"
	"fmt"
)

// Ptr is an address in device memory (for the emulator, in its host heap).
type Ptr uintptr

// Dim3 is a grid or block size.
type Dim3 struct{ X, Y, Z uint32 }

// Grid1D is the one-dimensional launch shape covering n items with blocks
// of the given size.
func Grid1D(n, block int) (grid, blk Dim3) {
	if n < 1 {
		n = 1
	}
	return Dim3{uint32((n + block - 1) / block), 1, 1}, Dim3{uint32(block), 1, 1}
}

// Info describes an opened device.
type Info struct {
	Name         string // "NVIDIA H100 80GB HBM3", or "CPU emulator"
	Arch         string // NVRTC target, e.g. "sm_90"
	Major, Minor int    // compute capability
	TotalMem     int64
	// Libraries maps each loaded library ("driver", "cublas", "nvrtc") to
	// the file it came from, and "nvrtc-version" to NVRTC's version.
	Libraries map[string]string
}

func (i Info) String() string {
	return fmt.Sprintf("%s (%s, %.1f GiB)", i.Name, i.Arch, float64(i.TotalMem)/(1<<30))
}

// Module is a compiled and loaded set of kernels.
type Module interface {
	// Name is the name it was compiled under (for error messages).
	Name() string
}

// GemmArgs describes C = Alpha·op(A)·op(B) + Beta·C on row-major float32
// matrices: op(A) is M×K, op(B) is K×N, C is M×N. LDA, LDB and LDC are the
// row-major leading dimensions (the row length of A, B and C as stored).
// With Batch > 1 the product repeats over Batch matrices that are
// StrideA, StrideB and StrideC elements apart (a stride of 0 reuses the same
// matrix, as broadcasting needs).
type GemmArgs struct {
	TransA, TransB            bool
	M, N, K                   int
	Alpha, Beta               float32
	A, B, C                   Ptr
	LDA, LDB, LDC             int
	Batch                     int
	StrideA, StrideB, StrideC int64
}

// Stored returns the shapes (rows, columns) of A and B as stored: op(A) is
// M×K, so A is K×M when TransA, and likewise B. Their columns are the
// least LDA and LDB can be.
func (g GemmArgs) Stored() (ar, ac, br, bc int) {
	ar, ac, br, bc = g.M, g.K, g.K, g.N
	if g.TransA {
		ar, ac = g.K, g.M
	}
	if g.TransB {
		br, bc = g.N, g.K
	}
	return ar, ac, br, bc
}

// Device is one GPU, or the CPU emulator that runs the same kernel sources
// in tests. Implementations are safe for use from any goroutine: the real
// device runs every call on one goroutine locked to its OS thread, as the
// driver's per-thread context requires.
type Device interface {
	Info() Info
	// Alloc returns size bytes of device memory (not zeroed); Free returns it.
	Alloc(size int64) (Ptr, error)
	Free(p Ptr) error
	// CopyToDevice copies len(src) bytes from the host to dst; CopyToHost
	// copies len(dst) bytes from src; CopyDevice copies within the device.
	CopyToDevice(dst Ptr, src []byte) error
	CopyToHost(dst []byte, src Ptr) error
	CopyDevice(dst, src Ptr, size int64) error
	// Zero sets size bytes at p to zero.
	Zero(p Ptr, size int64) error
	// Compile builds CUDA C source (Prelude is prepended) for this device
	// and loads it. Real devices cache the compiled code on disk, keyed by
	// source, architecture and compiler version.
	Compile(name, source string) (Module, error)
	// Launch runs kernel of m. Each argument is a Ptr, int32, uint32,
	// int64, uint64 or float32, passed by value in order.
	Launch(m Module, kernel string, grid, block Dim3, sharedBytes uint32, args ...any) error
	// Gemm runs a (batched) float32 matrix product (cuBLAS on a GPU).
	Gemm(g GemmArgs) error
	// Synchronize waits for all queued work and reports its first error.
	Synchronize() error
	// MemInfo reports free and total device memory.
	MemInfo() (free, total int64, err error)
	// Close releases the device (its memory, modules and handles).
	Close() error
}

// Prelude is prepended to every kernel source, by NVRTC and by the CPU
// emulator alike, so one source serves both. See prelude.cuh for what
// kernel sources may use.
//
//go:embed prelude.cuh
var Prelude string
