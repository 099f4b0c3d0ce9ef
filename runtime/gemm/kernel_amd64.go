//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

// The AVX2 kernel itself only uses AVX and FMA3 instructions; requiring AVX2
// as well keeps to the x86-64-v3 level the runtime targets. x/sys/cpu also
// verifies that the OS saves YMM (and, for AVX-512, ZMM and opmask)
// registers across context switches.
var (
	haveAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	haveAVX512 = cpu.X86.HasAVX512F
)

// kernel6x16 is implemented in kernel_amd64.s.
//
//go:noescape
func kernel6x16(k int, a, b, c *float32, ldc int, alpha, beta float32)

// kernel12x32 is implemented in kernel512_amd64.s.
//
//go:noescape
func kernel12x32(k int, a, b, c *float32, ldc int, alpha, beta float32)

func kernelAVX2(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	// The slice expressions double as bounds checks for what the assembly
	// will touch.
	const mr, nr = 6, 16
	_ = a[k*mr-1]
	_ = b[k*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	kernel6x16(k, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

func kernelAVX512(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	const mr, nr = 12, 32
	_ = a[k*mr-1]
	_ = b[k*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	kernel12x32(k, &a[0], &b[0], &c[0], ldc, alpha, beta)
}
