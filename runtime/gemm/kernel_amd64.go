//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

// The assembly kernel needs AVX2 for 256-bit integer-free float ops and FMA
// for VFMADD231PS; the OS must also save YMM state, which x/sys/cpu checks.
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kernel6x16 is implemented in kernel_amd64.s.
//
//go:noescape
func kernel6x16(k int, a, b, c *float32, ldc int, alpha, beta float32)

func kernelAVX2(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	// The slice expressions double as bounds checks for what the assembly
	// will touch.
	_ = a[k*mr-1]
	_ = b[k*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	kernel6x16(k, &a[0], &b[0], &c[0], ldc, alpha, beta)
}
