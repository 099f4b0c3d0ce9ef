package emu

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"crsc/runtime/cuda"
)

// refGemm is the naive reference: float64 sums over row-major storage.
func refGemm(g cuda.GemmArgs, a, b, c []float32) []float32 {
	out := append([]float32(nil), c...)
	for bt := 0; bt < max(g.Batch, 1); bt++ {
		A, B, C := a[int64(bt)*g.StrideA:], b[int64(bt)*g.StrideB:], out[int64(bt)*g.StrideC:]
		for i := 0; i < g.M; i++ {
			for j := 0; j < g.N; j++ {
				s := 0.0
				for k := 0; k < g.K; k++ {
					ai, bi := i*g.LDA+k, k*g.LDB+j
					if g.TransA {
						ai = k*g.LDA + i
					}
					if g.TransB {
						bi = j*g.LDB + k
					}
					av, bv := A[ai], B[bi]
					s += float64(av) * float64(bv)
				}
				v := float64(g.Alpha) * s
				if g.Beta != 0 {
					v += float64(g.Beta) * float64(C[i*g.LDC+j])
				}
				C[i*g.LDC+j] = float32(v)
			}
		}
	}
	return out
}

func TestGemm(t *testing.T) {
	d := open(t)
	nan := float32(math.NaN())
	type tcase struct {
		name               string
		transA, transB     bool
		m, n, k, batch     int
		alpha, beta        float32
		padA, padB, padC   int  // extra elements per stored row
		broadcastA, broadB bool // stride 0
		cInit              float32
	}
	var tests []tcase
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			tests = append(tests,
				tcase{name: "plain", transA: ta, transB: tb, m: 5, n: 7, k: 3, batch: 1, alpha: 1, cInit: nan},
				tcase{name: "batched broadcast A, beta0 NaN C", transA: ta, transB: tb, m: 4, n: 6, k: 9, batch: 3, alpha: 0.5, broadcastA: true, padA: 2, padC: 1, cInit: nan},
				tcase{name: "batched broadcast B, beta1", transA: ta, transB: tb, m: 3, n: 8, k: 5, batch: 4, alpha: -2, beta: 1, broadB: true, padB: 3, cInit: 0.25},
				tcase{name: "alpha1 beta0.5 padded", transA: ta, transB: tb, m: 17, n: 13, k: 33, batch: 2, alpha: 1, beta: 0.5, padA: 1, padB: 1, padC: 4, cInit: -1},
			)
		}
	}
	tests = append(tests, tcase{name: "K=0 scales C", m: 3, n: 3, k: 0, batch: 1, alpha: 1, beta: 2, padA: 1, cInit: 1.5})
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/tA=%v,tB=%v", tc.name, tc.transA, tc.transB), func(t *testing.T) {
			g := cuda.GemmArgs{TransA: tc.transA, TransB: tc.transB, M: tc.m, N: tc.n, K: tc.k,
				Alpha: tc.alpha, Beta: tc.beta, LDC: tc.n + tc.padC, Batch: tc.batch}
			ar, ac, br, bc := g.Stored()
			g.LDA, g.LDB = ac+tc.padA, bc+tc.padB
			g.StrideA, g.StrideB, g.StrideC = int64(ar*g.LDA), int64(br*g.LDB), int64(tc.m*g.LDC)
			if tc.broadcastA {
				g.StrideA = 0
			}
			if tc.broadB {
				g.StrideB = 0
			}
			na, nb, nc := int(g.StrideA)*tc.batch+ar*g.LDA, int(g.StrideB)*tc.batch+br*g.LDB, int(g.StrideC)*tc.batch
			a, b, c := ramp(max(na, 1), 7), ramp(max(nb, 1), 8), make([]float32, nc)
			for i := range c {
				c[i] = tc.cInit
			}
			g.A, g.B, g.C = upload(t, d, a), upload(t, d, b), upload(t, d, c)
			if err := d.Gemm(g); err != nil {
				t.Fatal(err)
			}
			got, want := download(t, d, g.C, nc), refGemm(g, a, b, c)
			for i := range want {
				// Padding elements keep their value, NaN included.
				if !(got[i] == want[i] || math.IsNaN(float64(want[i])) && math.IsNaN(float64(got[i])) ||
					math.Abs(float64(got[i]-want[i])) <= 1e-5*(1+math.Abs(float64(want[i])))) {
					t.Fatalf("C[%d] = %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestGemmErrors(t *testing.T) {
	d := open(t)
	p := allocN(t, d, 16)
	ok := cuda.GemmArgs{M: 4, N: 4, K: 4, Alpha: 1, A: p, B: p, C: p, LDA: 4, LDB: 4, LDC: 4}
	tests := []struct {
		name string
		edit func(g *cuda.GemmArgs)
		want string
	}{
		{"small LDA", func(g *cuda.GemmArgs) { g.LDA = 3 }, "leading dimensions"},
		{"small LDB transposed", func(g *cuda.GemmArgs) { g.TransB, g.K, g.LDB = true, 2, 1 }, "leading dimensions"},
		{"C too large", func(g *cuda.GemmArgs) { g.LDC = 5 }, "Gemm C"},
		{"batch outside", func(g *cuda.GemmArgs) { g.Batch, g.StrideA = 2, 16 }, "Gemm A"},
		{"negative", func(g *cuda.GemmArgs) { g.K = -1 }, "negative"},
		{"null C", func(g *cuda.GemmArgs) { g.C = 0 }, "Gemm C"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := ok
			tc.edit(&g)
			if err := d.Gemm(g); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if err := d.Gemm(ok); err != nil {
		t.Fatal(err)
	}
}
