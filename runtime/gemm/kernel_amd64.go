//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

// The assembly kernel itself only uses AVX and FMA3 instructions; requiring
// AVX2 as well keeps to the x86-64-v3 level the runtime targets. x/sys/cpu
// also verifies that the OS saves YMM registers across context switches.
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
