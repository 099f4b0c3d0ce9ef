//go:build (linux || darwin || freebsd || netbsd) && !android && (amd64 || arm64)

package gemm

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/ebitengine/purego"
)

// BLAS is a handle on a dynamically loaded OpenBLAS. It exists so the
// benchmarks can compare against a well-tuned reference, and so a deployment
// can opt into OpenBLAS with CRSC_GEMM=openblas without needing cgo.
type BLAS struct {
	sgemm      func(order, transA, transB, m, n, k int32, alpha float32, a *float32, lda int32, b *float32, ldb int32, beta float32, c *float32, ldc int32)
	setThreads func(n int32)
}

// CBLAS enum values from cblas.h.
const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

var (
	blasOnce sync.Once
	blasLib  *BLAS
	blasErr  error
)

// openblasNames lists the sonames tried in order; Debian ships the first.
var openblasNames = []string{"libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"}

// OpenBLAS loads libopenblas once and returns a handle to it. A missing
// library or symbol is reported as an error, never a panic, because OpenBLAS
// is an optional comparison point, not a dependency.
func OpenBLAS() (*BLAS, error) {
	blasOnce.Do(func() { blasLib, blasErr = loadOpenBLAS() })
	return blasLib, blasErr
}

func loadOpenBLAS() (*BLAS, error) {
	var lib uintptr
	var errs []error
	for _, name := range openblasNames {
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			lib = h
			break
		}
		errs = append(errs, err)
	}
	if lib == 0 {
		return nil, fmt.Errorf("gemm: OpenBLAS not available (install libopenblas0): %v", errs)
	}
	bl := &BLAS{}
	for _, sym := range []struct {
		name string
		fn   any
	}{{"cblas_sgemm", &bl.sgemm}, {"openblas_set_num_threads", &bl.setThreads}} {
		if _, err := purego.Dlsym(lib, sym.name); err != nil {
			return nil, fmt.Errorf("gemm: OpenBLAS loaded but %s is missing: %v", sym.name, err)
		}
		purego.RegisterLibFunc(sym.fn, lib, sym.name)
	}
	bl.SetThreads(Threads())
	return bl, nil
}

// SetThreads sets OpenBLAS's own thread count (openblas_set_num_threads), so a
// comparison against our kernel uses the same number of cores.
func (bl *BLAS) SetThreads(n int) {
	if n < 1 {
		n = 1
	}
	bl.setThreads(int32(n))
}

// Sgemm has the same contract as the package-level Sgemm and calls
// cblas_sgemm in row-major order.
func (bl *BLAS) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		// cblas rejects some legal-for-us strides when k == 0; the result is
		// just beta*C, which needs no BLAS.
		scaleC(m, n, beta, c, ldc)
		return
	}
	for _, v := range []int{m, n, k, lda, ldb, ldc} {
		if v > math.MaxInt32 {
			panic("gemm: dimension too large for 32-bit OpenBLAS interface")
		}
	}
	ta, tb := int32(cblasNoTrans), int32(cblasNoTrans)
	if transA {
		ta = cblasTrans
	}
	if transB {
		tb = cblasTrans
	}
	bl.sgemm(cblasRowMajor, ta, tb, int32(m), int32(n), int32(k), alpha, &a[0], int32(lda), &b[0], int32(ldb), beta, &c[0], int32(ldc))
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
}
