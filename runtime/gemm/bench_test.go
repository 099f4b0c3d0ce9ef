package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"
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
	// The same at 1024 rows, crsc train's BERT-base step at batch 8 × 128.
	{"NN/1024x768x768", false, false, 1024, 768, 768},
	{"NN/1024x3072x768", false, false, 1024, 3072, 768},
	{"NN/1024x768x3072", false, false, 1024, 768, 3072},
	{"NT/1024x768x768", false, true, 1024, 768, 768},
	{"NT/1024x768x3072", false, true, 1024, 768, 3072},
	{"NT/1024x3072x768", false, true, 1024, 3072, 768},
	{"TN/768x768x1024", true, false, 768, 768, 1024},
	{"TN/768x3072x1024", true, false, 768, 3072, 1024},
	{"TN/3072x768x1024", true, false, 3072, 768, 1024},
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

// BenchmarkSgemmRotate compares the built-in kernels with OpenBLAS on the
// BERT shapes in one run: for each shape it runs every side in turn (openblas,
// then each built-in kernel the CPU has) for several rounds, so that noise
// from other work on the machine hits all sides alike. In a round the sides
// take turns call by call, in random order, for about 150 ms each, and a
// side's result is its fastest call. It reports per side the median GFLOP/s over rounds
// [min–max] and the median [min–max] of the ratio to OpenBLAS in the same
// round. Run it with -benchtime 1x; rounds come
// from CRSC_BENCH_ROUNDS (default 5) and shapes can be filtered as usual:
//
//	go test -run '^$' -bench 'SgemmRotate/TN' -benchtime 1x -v ./runtime/gemm
func BenchmarkSgemmRotate(b *testing.B) {
	SetThreads(runtime.GOMAXPROCS(0))
	defer SetThreads(0)
	rounds := 5
	if v, err := strconv.Atoi(os.Getenv("CRSC_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	type side struct {
		name string
		f    sgemmFunc
	}
	var sides []side
	if bl, err := OpenBLAS(); err == nil {
		bl.SetThreads(Threads())
		sides = append(sides, side{implOpenBLAS, bl.Sgemm})
	}
	for _, im := range builtinImpls() {
		if im.name == implGeneric {
			continue // an order of magnitude slower; not worth the minutes
		}
		sides = append(sides, side{im.name, func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
			g := gemmArgs{transA, transB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc, nil}
			g.run(Threads(), im)
		}})
	}
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			lda, ldb := s.k, s.n
			if s.transA {
				lda = s.m
			}
			if s.transB {
				ldb = s.k
			}
			a, bb, c := randSlice(rng, s.m*s.k), randSlice(rng, s.k*s.n), make([]float32, s.m*s.n)
			flop := 2 * float64(s.m) * float64(s.n) * float64(s.k)
			gflops := make([][]float64, len(sides)) // [side][round]
			for range b.N {
				for _, sd := range sides {
					sd.f(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n) // warm up
				}
				for range rounds {
					// Within a round the sides take turns call by call,
					// and each keeps its fastest call: a burst of other
					// work on the shared machine then slows every side's
					// calls alike instead of all of one side's, and only
					// ever slows a call down. Each turn goes in a fresh
					// (seeded) random order, so no side always follows
					// the same one: OpenBLAS's threads spin for a while
					// after a call, which would tax one side only.
					best := make([]time.Duration, len(sides))
					for i := range best {
						best[i] = time.Duration(math.MaxInt64)
					}
					start := time.Now()
					for reps := 0; reps < 2 || time.Since(start) < time.Duration(len(sides))*150*time.Millisecond; reps++ {
						for _, si := range rng.Perm(len(sides)) {
							t0 := time.Now()
							sides[si].f(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
							best[si] = min(best[si], time.Since(t0))
						}
					}
					for si := range sides {
						gflops[si] = append(gflops[si], flop/best[si].Seconds()/1e9)
					}
				}
			}
			line := s.name
			for si, sd := range sides {
				med := median(gflops[si])
				b.ReportMetric(med, sd.name+"-GFLOP/s")
				line += fmt.Sprintf("  %s %.0f [%.0f–%.0f]", sd.name, med, slices.Min(gflops[si]), slices.Max(gflops[si]))
				if sides[0].name == implOpenBLAS && si > 0 {
					ratios := make([]float64, len(gflops[si]))
					for r := range ratios {
						ratios[r] = gflops[si][r] / gflops[0][r]
					}
					b.ReportMetric(median(ratios), sd.name+"/openblas")
					line += fmt.Sprintf(" ×%.2f [%.2f–%.2f]", median(ratios), slices.Min(ratios), slices.Max(ratios))
				}
			}
			b.Log(line)
		})
	}
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkKernel times each micro-kernel alone on one core with its packed
// panels in L1/L2: the ceiling the blocking and packing around it can reach.
func BenchmarkKernel(b *testing.B) {
	for _, im := range builtinImpls() {
		b.Run(im.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			k := im.kc
			// Several A panels against one B panel, as the macro-kernel
			// runs them.
			const panels = 8
			a, bb := randSlice(rng, panels*k*im.mr), randSlice(rng, k*im.nr)
			c := make([]float32, panels*im.mr*im.nr)
			for b.Loop() {
				for i := range panels {
					im.kernel(k, a[i*k*im.mr:], bb, c[i*im.mr*im.nr:], im.nr, 1, 1)
				}
			}
			b.ReportMetric(2*float64(panels*k*im.mr*im.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
