package cuda

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// In these tests "device memory" is one []float32 and a Ptr is an index
// into it, so colMajorGemm's output can drive a CPU model of cuBLAS.

// refColMajorGemm is cublasSgemmStridedBatched's definition, column-major.
func refColMajorGemm(mem []float32, transa, transb, m, n, k int, alpha float32, a Ptr, lda int, sa int64,
	b Ptr, ldb int, sb int64, beta float32, c Ptr, ldc int, sc int64, batch int) {
	for p := 0; p < batch; p++ {
		A, B, C := int64(a)+int64(p)*sa, int64(b)+int64(p)*sb, int64(c)+int64(p)*sc
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var sum float32
				for l := 0; l < k; l++ {
					av := mem[A+int64(i+l*lda)]
					if transa == cublasOpT {
						av = mem[A+int64(l+i*lda)]
					}
					bv := mem[B+int64(l+j*ldb)]
					if transb == cublasOpT {
						bv = mem[B+int64(j+l*ldb)]
					}
					sum += av * bv
				}
				ci := C + int64(i+j*ldc)
				mem[ci] = alpha*sum + beta*mem[ci]
			}
		}
	}
}

// refRowMajorGemm is GemmArgs' definition, row-major, computed directly.
func refRowMajorGemm(mem []float32, g GemmArgs) {
	for p := 0; p < max(g.Batch, 1); p++ {
		A, B, C := int64(g.A)+int64(p)*g.StrideA, int64(g.B)+int64(p)*g.StrideB, int64(g.C)+int64(p)*g.StrideC
		for i := 0; i < g.M; i++ {
			for j := 0; j < g.N; j++ {
				var sum float32
				for l := 0; l < g.K; l++ {
					av := mem[A+int64(i*g.LDA+l)]
					if g.TransA {
						av = mem[A+int64(l*g.LDA+i)]
					}
					bv := mem[B+int64(l*g.LDB+j)]
					if g.TransB {
						bv = mem[B+int64(j*g.LDB+l)]
					}
					sum += av * bv
				}
				ci := C + int64(i*g.LDC+j)
				mem[ci] = g.Alpha*sum + g.Beta*mem[ci]
			}
		}
	}
}

func TestColMajorGemmMapping(t *testing.T) {
	const M, N, K = 3, 5, 4
	type shape struct {
		batch                     int
		strideA, strideB, strideC int64
	}
	shapes := []shape{
		{0, 0, 0, 0},    // plain Sgemm (zero value Batch)
		{1, 0, 0, 0},    // plain Sgemm
		{3, 40, 40, 40}, // strided batch
		{3, 0, 40, 40},  // A broadcast over the batch
		{2, 40, 0, 45},  // B broadcast, C with a gap between matrices
	}
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			for _, s := range shapes {
				name := fmt.Sprintf("transA=%v/transB=%v/batch=%d/strides=%d,%d,%d", ta, tb, s.batch, s.strideA, s.strideB, s.strideC)
				t.Run(name, func(t *testing.T) {
					// Row lengths as stored, padded by 2 to catch ld mix-ups.
					_, rowA, _, rowB := GemmArgs{TransA: ta, TransB: tb, M: M, N: N, K: K}.Stored()
					g := GemmArgs{TransA: ta, TransB: tb, M: M, N: N, K: K, Alpha: 1.5, Beta: 0.5,
						A: 10, B: 200, C: 400, LDA: rowA + 2, LDB: rowB + 2, LDC: N + 2,
						Batch: s.batch, StrideA: s.strideA, StrideB: s.strideB, StrideC: s.strideC}
					if err := checkGemm(g); err != nil {
						t.Fatal(err)
					}
					// Small integers: every sum is exact, so results compare equal.
					mem := make([]float32, 600)
					for i := range mem {
						mem[i] = float32((i*7)%11 - 5)
					}
					want := append([]float32(nil), mem...)
					refRowMajorGemm(want, g)

					transa, transb, m, n, k, lda, ldb, ldc, a, b, sa, sb := colMajorGemm(g)
					refColMajorGemm(mem, transa, transb, m, n, k, g.Alpha, a, lda, sa, b, ldb, sb, g.Beta, g.C, ldc, g.StrideC, max(g.Batch, 1))
					for i := range mem {
						if mem[i] != want[i] {
							t.Fatalf("mem[%d] = %v, want %v", i, mem[i], want[i])
						}
					}
				})
			}
		}
	}
}

func TestCheckGemm(t *testing.T) {
	ok := GemmArgs{M: 2, N: 3, K: 4, A: 1, B: 2, C: 3, LDA: 4, LDB: 3, LDC: 3}
	with := func(f func(*GemmArgs)) GemmArgs { g := ok; f(&g); return g }
	tests := []struct {
		name string
		g    GemmArgs
		err  string // "" = valid
	}{
		{"valid", ok, ""},
		{"valid transposed", with(func(g *GemmArgs) { g.TransA, g.TransB, g.LDA, g.LDB = true, true, 2, 4 }), ""},
		{"empty needs no pointers", GemmArgs{M: 0, N: 3, K: 4, LDA: 4, LDB: 3, LDC: 3}, ""},
		{"K=0 needs no A or B", with(func(g *GemmArgs) { g.K, g.A, g.B, g.LDA = 0, 0, 0, 1 }), ""},
		{"broadcast A", with(func(g *GemmArgs) { g.Batch, g.StrideA, g.StrideB, g.StrideC = 4, 0, 12, 6 }), ""},
		{"negative M", with(func(g *GemmArgs) { g.M = -1 }), "negative dimension"},
		{"LDA below K", with(func(g *GemmArgs) { g.LDA = 3 }), "LDA=3 is less than the row length 4"},
		{"LDA below M when transposed", with(func(g *GemmArgs) { g.TransA, g.LDA = true, 1 }), "LDA=1 is less than the row length 2"},
		{"LDB below K when transposed", with(func(g *GemmArgs) { g.TransB = true }), "LDB=3 is less than the row length 4"},
		{"LDC below N", with(func(g *GemmArgs) { g.LDC = 2 }), "LDC=2"},
		{"zero LD", with(func(g *GemmArgs) { g.K, g.LDA = 0, 0 }), "LDA=0"},
		{"nil C", with(func(g *GemmArgs) { g.C = 0 }), "nil matrix pointer"},
		{"nil A", with(func(g *GemmArgs) { g.A = 0 }), "nil matrix pointer"},
		{"negative batch", with(func(g *GemmArgs) { g.Batch = -2 }), "negative Batch"},
		{"negative stride", with(func(g *GemmArgs) { g.Batch, g.StrideA, g.StrideC = 2, -8, 6 }), "negative stride"},
		{"zero StrideC", with(func(g *GemmArgs) { g.Batch, g.StrideA, g.StrideB = 2, 8, 12 }), "StrideC=0"},
		{"overlapping C", with(func(g *GemmArgs) { g.Batch, g.StrideC = 2, 5 }), "StrideC=5 is less than one C matrix (6 elements)"},
		{"too big for int32", with(func(g *GemmArgs) { g.N, g.LDB, g.LDC = math.MaxInt32+1, math.MaxInt32+1, math.MaxInt32+1 }), "32-bit"},
	}
	for _, tc := range tests {
		err := checkGemm(tc.g)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.err)
		}
	}
}
