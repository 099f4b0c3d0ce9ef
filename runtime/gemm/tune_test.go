package gemm

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

func TestTune(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	reps := 15
	if v := os.Getenv("THREADS"); v != "" {
		var n int
		fmt.Sscanf(v, "%d", &n)
		SetThreads(n)
		defer SetThreads(0)
	}
	fmt.Sscanf(os.Getenv("TUNE"), "%d", &reps)
	filter := os.Getenv("SHAPES")
	bl, _ := OpenBLAS()
	if bl != nil {
		bl.SetThreads(Threads())
	}
	for _, s := range benchShapes {
		if filter != "" && !strings.Contains(s.name, filter) {
			continue
		}
		rng := rand.New(rand.NewPCG(1, 1))
		m, n, k := s.m, s.n, s.k
		lda, ldb := k, n
		if s.transA {
			lda = m
		}
		if s.transB {
			ldb = k
		}
		a, bb, c := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
		best := [2]time.Duration{1 << 62, 1 << 62}
		fs := []sgemmFunc{Sgemm}
		if bl != nil && os.Getenv("NOBLAS") == "" {
			fs = append(fs, bl.Sgemm)
		}
		for range reps {
			for i, f := range fs {
				t0 := time.Now()
				f(s.transA, s.transB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
				best[i] = min(best[i], time.Since(t0))
			}
		}
		fl := 2 * float64(m) * float64(n) * float64(k) / 1e9
		fmt.Printf("%-20s crsc %6.1f  openblas %6.1f  ratio %.2f\n", s.name, fl/best[0].Seconds(), fl/best[1].Seconds(), best[1].Seconds()/best[0].Seconds())
	}
}
