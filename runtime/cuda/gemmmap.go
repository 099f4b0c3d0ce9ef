package cuda

import (
	"fmt"
	"math"
)

// cuBLAS is column-major; GemmArgs are row-major. A row-major R×C matrix with
// leading dimension L occupies memory exactly as its transpose does in
// column-major order (C×R, leading dimension L). So the row-major product
//
//	C = op(A)·op(B)             (M×N)
//
// is, read column-major, Cᵀ = op(B)ᵀ·op(A)ᵀ (N×M): one cuBLAS call with the
// operands swapped (B first), M and N swapped, each operand keeping its own
// transpose flag and leading dimension, and nothing copied.

// cuBLAS operation codes (cublasOperation_t).
const (
	cublasOpN = 0
	cublasOpT = 1
)

// colMajorGemm maps row-major g onto the column-major call that computes it:
// gemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, C, ldc), with
// strideA/strideB the batch strides of a and b (C keeps g.LDC, g.StrideC).
func colMajorGemm(g GemmArgs) (transa, transb int, m, n, k, lda, ldb, ldc int, a, b Ptr, strideA, strideB int64) {
	op := func(t bool) int {
		if t {
			return cublasOpT
		}
		return cublasOpN
	}
	return op(g.TransB), op(g.TransA), g.N, g.M, g.K, g.LDB, g.LDA, g.LDC, g.B, g.A, g.StrideB, g.StrideA
}

// checkGemm validates g before it reaches cuBLAS, whose own errors
// (CUBLAS_STATUS_INVALID_VALUE) do not say which argument was wrong.
func checkGemm(g GemmArgs) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("cuda: Gemm(M=%d N=%d K=%d transA=%v transB=%v): %s",
			g.M, g.N, g.K, g.TransA, g.TransB, fmt.Sprintf(format, args...))
	}
	if g.M < 0 || g.N < 0 || g.K < 0 {
		return bad("negative dimension")
	}
	for _, v := range []int{g.M, g.N, g.K, g.LDA, g.LDB, g.LDC, g.Batch} {
		if v > math.MaxInt32 {
			return bad("dimension %d exceeds cuBLAS's 32-bit int", v)
		}
	}
	_, rowA, _, rowB := g.Stored()
	for _, c := range []struct {
		name   string
		ld, at int
	}{{"LDA", g.LDA, rowA}, {"LDB", g.LDB, rowB}, {"LDC", g.LDC, g.N}} {
		if c.ld < max(1, c.at) {
			return bad("%s=%d is less than the row length %d", c.name, c.ld, max(1, c.at))
		}
	}
	if g.M == 0 || g.N == 0 {
		return nil // nothing to compute; pointers may be anything
	}
	if g.C == 0 || (g.K > 0 && (g.A == 0 || g.B == 0)) {
		return bad("nil matrix pointer")
	}
	if g.Batch < 0 {
		return bad("negative Batch %d", g.Batch)
	}
	if g.Batch > 1 {
		if g.StrideA < 0 || g.StrideB < 0 {
			return bad("negative stride (StrideA=%d StrideB=%d)", g.StrideA, g.StrideB)
		}
		// Output matrices must not overlap, or batches race on C; inputs
		// may (a stride of 0 broadcasts one matrix).
		if span := int64(g.M-1)*int64(g.LDC) + int64(g.N); g.StrideC < span {
			return bad("StrideC=%d is less than one C matrix (%d elements), so batches would overwrite each other", g.StrideC, span)
		}
	}
	return nil
}
