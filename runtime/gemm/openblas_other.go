//go:build !((linux || darwin || freebsd || netbsd) && !android && (amd64 || arm64))

package gemm

import "errors"

// BLAS is unavailable on this platform; see openblas.go.
type BLAS struct{}

// OpenBLAS always fails here: purego cannot pass float arguments on this
// platform, so there is no way to call cblas_sgemm without cgo.
func OpenBLAS() (*BLAS, error) {
	return nil, errors.New("gemm: OpenBLAS loading is not supported on this platform")
}

// SetThreads is a no-op; the type cannot be obtained on this platform.
func (bl *BLAS) SetThreads(n int) {}

// Sgemm panics; the type cannot be obtained on this platform.
func (bl *BLAS) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	panic("gemm: OpenBLAS not supported on this platform")
}
