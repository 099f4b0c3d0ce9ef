package gemm

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// BERT-base training shapes with 4096 token rows (batch·sequence): the
// forward projections (NN), the input gradient dX = G·Wᵀ (NT) and the weight
// gradient dW = Xᵀ·G (TN).
var benchShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	{"NN/4096x768x768", false, false, 4096, 768, 768},
	{"NN/4096x3072x768", false, false, 4096, 3072, 768},
	{"NN/4096x768x3072", false, false, 4096, 768, 3072},
	{"NT/4096x768x768", false, true, 4096, 768, 768},
	{"NT/4096x768x3072", false, true, 4096, 768, 3072},
	{"NT/4096x3072x768", false, true, 4096, 3072, 768},
	{"TN/768x768x4096", true, false, 768, 768, 4096},
	{"TN/768x3072x4096", true, false, 768, 3072, 4096},
	{"TN/3072x768x4096", true, false, 3072, 768, 4096},
}

type sgemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

func BenchmarkSgemm(b *testing.B) {
	// Follow -cpu so single- and multi-core numbers come from one command.
	SetThreads(runtime.GOMAXPROCS(0))
	defer SetThreads(0)
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			b.Run("crsc", func(b *testing.B) { benchSgemm(b, Sgemm, s.transA, s.transB, s.m, s.n, s.k) })
			b.Run("openblas", func(b *testing.B) {
				bl, err := OpenBLAS()
				if err != nil {
					b.Skipf("no OpenBLAS to compare against: %v", err)
				}
				bl.SetThreads(Threads())
				benchSgemm(b, bl.Sgemm, s.transA, s.transB, s.m, s.n, s.k)
			})
		})
	}
}

func benchSgemm(b *testing.B, f sgemmFunc, transA, transB bool, m, n, k int) {
	rng := rand.New(rand.NewPCG(1, 1))
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	a, bb, c := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
	f(transA, transB, m, n, k, 1, a, lda, bb, ldb, 0, c, n) // warm up pools and pages
	b.ResetTimer()
	for b.Loop() {
		f(transA, transB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// Attention-sized batched GEMMs (12 heads × 8 sequences, 128 tokens, head
// size 64): scores Q·Kᵀ and context P·V.
func BenchmarkSgemmBatched(b *testing.B) {
	SetThreads(runtime.GOMAXPROCS(0))
	defer SetThreads(0)
	for _, s := range []struct {
		name           string
		transB         bool
		m, n, k, batch int
	}{
		{"QKt/128x128x64*96", true, 128, 128, 64, 96},
		{"PV/128x64x128*96", false, 128, 64, 128, 96},
	} {
		b.Run(s.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			ldb := s.n
			if s.transB {
				ldb = s.k
			}
			a := randSlice(rng, s.batch*s.m*s.k)
			bb := randSlice(rng, s.batch*s.k*s.n)
			c := make([]float32, s.batch*s.m*s.n)
			for b.Loop() {
				SgemmBatched(false, s.transB, s.m, s.n, s.k, 1, a, s.k, s.m*s.k, bb, ldb, s.k*s.n, 0, c, s.n, s.m*s.n, s.batch)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k*s.batch)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
